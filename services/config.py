"""Service configuration read from environment variables, declared as pydantic settings.

The variable names are the contract in docker-compose.chaos.yml (the `x-chaoskit` env of
each service), plus HTTP_PORT, HTTP_HOST and SERVICE_NAME, which every service takes.
Each variable is a field whose alias is its name, whose constraints are its bounds and
whose description says what is allowed; each service's settings class inherits the
fields it shares with the others. A bad value stops the service before it touches
Kafka or Redis, with one line on stderr that names the variable, the value and what is
allowed, and exit code 2: a chaos run must fail loudly at start rather than misbehave
later under a fault.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Self, TypeVar

from pydantic import AfterValidator, AnyUrl, Field, TypeAdapter, UrlConstraints, ValidationError, create_model
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

CONFIG_ERROR_EXIT_CODE = 2

T = TypeVar("T")


class ConfigError(ValueError):
    """One bad environment variable; str() is the one-line message printed at start."""

    def __init__(self, name: str, value: str | None, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        shown = "<unset>" if value is None else repr(value)
        super().__init__(f"config error: {name}={shown} is not allowed; expected {allowed}")


def number_in(minimum: float, maximum: float, *, exclusive_minimum: bool = False) -> Any:
    """Field metadata for a finite float in [minimum, maximum] (or (minimum, maximum]).

    The description is the "expected ..." of the error line, so it is built from the
    same bounds pydantic checks.
    """
    low = "(" if exclusive_minimum else "["
    bound = {"gt": minimum} if exclusive_minimum else {"ge": minimum}
    described = f"a number in {low}{minimum:g}, {maximum:g}]"
    return Field(le=maximum, allow_inf_nan=False, description=described, **bound)


def integer_in(minimum: int, maximum: int) -> Any:
    """Field metadata for an int in [minimum, maximum], described that way (see `number_in`)."""
    return Field(ge=minimum, le=maximum, description=f"an integer in [{minimum}, {maximum}]")


_BOOTSTRAP_ALLOWED = "a comma-separated list of host:port with ports in [1, 65535]"


def _check_bootstrap(value: str) -> str:
    """librdkafka takes almost anything here and fails later, one connection at a time."""
    for item in value.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(_BOOTSTRAP_ALLOWED)
    return value


def _url_allowed(schemes: tuple[str, ...]) -> str:
    return f"a {'/'.join(schemes)} URL with a host, e.g. {schemes[0]}://127.0.0.1:8080"


def _url_check(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """pydantic's URL type checks the value, but the services get the string back.

    They append paths to it and hand it to clients, and a normalised form (an added
    `/`, a dropped default port) would make their logs differ from the configuration
    they were given; only a trailing `/` is dropped, so paths join cleanly.
    """
    adapter = TypeAdapter(Annotated[AnyUrl, UrlConstraints(allowed_schemes=list(schemes), host_required=True)])

    def check(value: str) -> str:
        try:
            port = adapter.validate_python(value).port
        except ValidationError:
            raise ValueError(_url_allowed(schemes)) from None
        if port == 0:
            raise ValueError(_url_allowed(schemes))
        return value.rstrip("/")

    return check


_REDIS = ("redis", "rediss")
_HTTP = ("http", "https")

Bootstrap = Annotated[str, AfterValidator(_check_bootstrap), Field(description=_BOOTSTRAP_ALLOWED)]
RedisUrl = Annotated[str, AfterValidator(_url_check(_REDIS)), Field(description=_url_allowed(_REDIS))]
HttpUrl = Annotated[str, AfterValidator(_url_check(_HTTP)), Field(description=_url_allowed(_HTTP))]
Topic = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._-]{1,249}$", description="a Kafka topic name of 1-249 characters from [A-Za-z0-9._-]"),
]
Text = Annotated[str, Field(description="a non-empty string")]


class _BlankIsUnset(EnvSettingsSource):
    """The environment with every value trimmed and blank ones left out.

    `FOO=` in a compose file then means "use the default" (or "missing" when there is
    none) rather than a confusing parse error. pydantic-settings' `env_ignore_empty`
    only drops "", not "  ".
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        trimmed = {name: value.strip() for name, value in self._environ.items()}
        return {name: value for name, value in trimmed.items() if value}


class ServiceSettings(BaseSettings):
    """Settings read from one environment mapping, each field under its variable's name.

    Only the environment counts (no .env file, no secrets directory): the compose file
    and the topology are the whole configuration of a run.
    """

    model_config = SettingsConfigDict(
        alias_generator=str.upper, case_sensitive=True, frozen=True, extra="ignore", validate_default=True
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from `environ` (default: the process environment), or ConfigError."""
        environ = os.environ if environ is None else environ
        try:
            return cls.model_validate(_BlankIsUnset(cls, environ)())
        except ValidationError as exc:
            raise cls._config_error(exc.errors()[0], environ) from None

    @classmethod
    def _config_error(cls, error: ErrorDetails, environ: Mapping[str, str]) -> ConfigError:
        """pydantic's error as the variable's name, its value and what is allowed.

        A ValueError raised by one of the validators here carries the allowed text
        itself (it may depend on another variable, as the cap does on the base);
        pydantic's own constraint errors are explained by the field's description.
        """
        # the loc is the alias for a value from the environment, the field's name for a default
        loc = error["loc"][0]
        field = next(f for key, f in cls.model_fields.items() if loc in (key, f.alias))
        name = str(field.alias)
        own = error["type"] == "value_error"
        allowed = str(error["ctx"]["error"]) if own else field.description or error["msg"]
        if field.is_required():
            allowed += " (required)"
        raw = environ.get(name)
        if raw is not None and raw.strip():
            shown: str | None = raw.strip()
        elif error["type"] == "missing":
            shown = raw
        else:  # a default that another variable makes invalid
            shown = f"{error['input']:g}" if isinstance(error["input"], float) else str(error["input"])
        return ConfigError(name, shown, allowed)


class CommonConfig(ServiceSettings):
    """What every service takes: its name in logs and where it serves /health.

    Each service's class gives SERVICE_NAME its default.
    """

    service_name: Text
    http_host: Text = "127.0.0.1"
    http_port: Annotated[int, integer_in(1, 65535)]

    @property
    def common(self) -> CommonConfig:
        """These settings under the name the services (and the planted bugs) read them by."""
        return self


class Environ(dict[str, str]):
    """The environment `load_config` hands to a factory: a plain mapping, plus `number`.

    `number` reads a script's one extra knob with the same checks and error line as a
    settings field; the planted bug fixtures/broken/workflow_commit_first.py reads its
    APPLY_DELAY_S so, next to its service's settings.
    """

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        knob = create_model(
            "Knob",
            __base__=ServiceSettings,
            value=(Annotated[float, number_in(minimum, maximum)], Field(default, alias=name)),
        )
        value: float = knob.from_env(self).value
        return value


def load_config(factory: Callable[[Environ], T], environ: Mapping[str, str] | None = None) -> T:
    """Build a service config or stop the process with the one-line error and exit code 2."""
    try:
        return factory(Environ(os.environ if environ is None else environ))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        raise SystemExit(CONFIG_ERROR_EXIT_CODE) from None

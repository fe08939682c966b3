"""The system description, read from ``docker-compose.chaos.yml``.

The compose file is the single description of the system for both runtimes. Plain
Compose keys stay for ``docker compose``; chaoskit reads the ``x-chaoskit`` extensions:
at the top level the Kafka ``topics`` and the proxied ``links`` (``client->component``),
and per service its ``kind`` and, for services under test, how to run it as a local
process. Validation happens here, before anything starts, and every error names the
field, the value and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chaoskit.errors import ConfigError, did_you_mean

ComponentKind = Literal["kafka", "redis", "toxiproxy", "service", "compose-only"]
INFRA_KINDS: tuple[str, ...] = ("kafka", "redis", "toxiproxy")
_LINK_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*->\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*$")
_TEMPLATE_RE = re.compile(r"\{(link|direct):([A-Za-z0-9_.-]+)\}|\{python\}|\{port\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TopicRole = Literal["requests", "processed", "dlq", "alerts"]


class TopicSpec(_Strict):
    """A topic the runtime creates; ``role`` tells the history recorder what it carries."""

    partitions: int = Field(default=1, ge=1, le=1000)
    role: TopicRole | None = None


class ServiceExtension(_Strict):
    """``services.<name>.x-chaoskit``."""

    kind: ComponentKind
    command: list[str] | None = None
    health: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("health")
    @classmethod
    def _health_is_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"must be an HTTP path starting with '/', got {value!r}")
        return value


class TopExtension(_Strict):
    """The top-level ``x-chaoskit`` block."""

    topics: dict[str, TopicSpec] = Field(default_factory=dict)
    links: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """A client->component connection that gets its own Toxiproxy proxy."""

    client: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.client}->{self.target}"

    @property
    def proxy_name(self) -> str:
        """Toxiproxy proxy name: '>' would need escaping in the API's URL paths."""
        return f"{self.client}--{self.target}"


@dataclass(frozen=True)
class Component:
    name: str
    kind: str
    command: tuple[str, ...] = ()
    health: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topology:
    """A validated system description. Build it with :func:`load_topology`."""

    name: str
    path: Path
    components: dict[str, Component]
    links: tuple[Link, ...]
    topics: dict[str, int]
    topic_roles: dict[str, str]

    def component(self, name: str) -> Component:
        """The component ``name``; a typo is refused with its likely intent and every name there is."""
        try:
            return self.components[name]
        except KeyError:
            raise ConfigError(
                f"unknown component {name!r}{did_you_mean(name, self.components)}; "
                f"the topology {self.path.name} has {', '.join(sorted(self.components))}"
            ) from None

    def of_kind(self, kind: str) -> Component | None:
        return next((c for c in self.components.values() if c.kind == kind), None)

    @property
    def services(self) -> list[Component]:
        return [c for c in self.components.values() if c.kind == "service"]

    def link(self, client: str, target: str) -> Link:
        for link in self.links:
            if link.client == client and link.target == target:
                return link
        self.component(client)
        self.component(target)
        names = [link.name for link in self.links]
        hint = did_you_mean(f"{client}->{target}", names)
        raise ConfigError(
            f"no proxied link {client}->{target} in {self.path.name}{hint}; the links are: {', '.join(names) or 'none'}"
        )

    def links_to(self, target: str) -> list[Link]:
        return [link for link in self.links if link.target == target]

    def links_from(self, client: str) -> list[Link]:
        return [link for link in self.links if link.client == client]

    def summary(self) -> list[str]:
        """What was read, one line per fact, for ``chaoskit check``: a reader compares it with
        what they meant to write (a link that is missing is not an error, just a fault that
        cannot be aimed)."""
        lines = [f"{self.name} ({self.path}): {len(self.components)} components"]

        def fact(label: str, values: list[str]) -> None:
            lines.append(f"  {label + ':':<13}{', '.join(values) or 'none'}")

        for kind in (*INFRA_KINDS, "service"):
            fact(kind, sorted(c.name for c in self.components.values() if c.kind == kind))
        fact("links", [link.name for link in self.links])
        roles = {name: f", role {role}" for role, name in self.topic_roles.items()}
        fact(
            "topics",
            [
                f"{name} ({count} partition{'s' if count != 1 else ''}{roles.get(name, '')})"
                for name, count in self.topics.items()
            ],
        )
        fact("roles unset", [role for role in get_args(TopicRole) if role not in self.topic_roles])
        return lines

    def start_order(self) -> list[Component]:
        """Services in depends_on order (infrastructure is started separately)."""
        ordered: list[Component] = []
        seen: set[str] = set()

        def visit(comp: Component, path: tuple[str, ...]) -> None:
            if comp.name in seen:
                return
            if comp.name in path:
                cycle = " -> ".join((*path, comp.name))
                raise ConfigError(f"services.*.depends_on has a cycle: {cycle}")
            for dep in comp.depends_on:
                dep_comp = self.components[dep]
                if dep_comp.kind == "service":
                    visit(dep_comp, (*path, comp.name))
            seen.add(comp.name)
            ordered.append(comp)

        for comp in self.services:
            visit(comp, ())
        return ordered


def _format_validation(model: type[BaseModel], where: str, err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"])
        field = f"{where}.{loc}" if loc else where
        value = item.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        message = f"{field}: {item['msg']}{shown}"
        if item["type"] == "extra_forbidden":
            allowed = _fields_at(model, item["loc"])
            key = str(item["loc"][-1])
            message = f"{field}: unknown field {key!r}{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
        parts.append(message)
    return "; ".join(parts)


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed where ``loc`` ends (``topics.orders.colour`` -> TopicSpec's),
    so an unknown key is answered with the keys that would have been read."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            current = current.model_fields[str(part)].annotation
        else:  # a dict[str, Model]: ``part`` is one of its keys
            args = get_args(current)
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _parse(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise ConfigError(f"invalid topology: {_format_validation(model, where, err)}") from None


def _depends_on(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    if isinstance(raw, dict) and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    raise ConfigError(
        f"invalid topology: {where}.depends_on must be a list of service names or a mapping "
        f"of service name to condition (got {raw!r})"
    )


def parse_topology(data: Any, path: Path) -> Topology:
    """Validate a parsed compose document and build the Topology."""
    if not isinstance(data, dict):
        raise ConfigError(f"invalid topology {path}: the file must be a YAML mapping, got {type(data).__name__}")
    raw_services = data.get("services")
    if not isinstance(raw_services, dict) or not raw_services:
        raise ConfigError(
            f"invalid topology {path}: 'services' must be a non-empty mapping of service name to definition"
        )
    top: TopExtension = _parse(TopExtension, data.get("x-chaoskit"), "x-chaoskit")

    components: dict[str, Component] = {}
    # services for `docker compose` alone (e.g. a one-shot topic creator): chaoskit skips
    # them and the depends_on that name them
    compose_only = {
        name
        for name, raw in raw_services.items()
        if isinstance(raw, dict)
        and isinstance(raw.get("x-chaoskit"), dict)
        and raw["x-chaoskit"].get("kind") == "compose-only"
    }
    for name, raw in raw_services.items():
        where = f"services.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ConfigError(f"invalid topology: service name {name!r} must match [A-Za-z0-9][A-Za-z0-9_.-]*")
        if not isinstance(raw, dict):
            raise ConfigError(f"invalid topology: {where} must be a mapping, got {raw!r}")
        if "x-chaoskit" not in raw:
            raise ConfigError(
                f"invalid topology: {where} has no 'x-chaoskit' block; add one with "
                f"kind: kafka | redis | toxiproxy | service"
            )
        _check_image_or_build(raw, where)
        ext: ServiceExtension = _parse(ServiceExtension, raw["x-chaoskit"], f"{where}.x-chaoskit")
        if ext.kind == "compose-only":
            continue
        if ext.kind == "service" and not ext.command:
            raise ConfigError(
                f"invalid topology: {where}.x-chaoskit.command is required for kind 'service' "
                f"(how to run it as a local process, e.g. ['{{python}}', '-m', 'my.module'])"
            )
        components[name] = Component(
            name=name,
            kind=ext.kind,
            command=tuple(ext.command or ()),
            health=ext.health,
            env=tuple(sorted(ext.env.items())),
            depends_on=tuple(d for d in _depends_on(raw.get("depends_on"), where) if d not in compose_only),
        )

    for kind in INFRA_KINDS:
        found = [c.name for c in components.values() if c.kind == kind]
        if kind in ("kafka", "toxiproxy") and not found:
            raise ConfigError(f"invalid topology: no service has x-chaoskit.kind: {kind}; chaoskit needs exactly one")
        if len(found) > 1:
            raise ConfigError(f"invalid topology: services {found} all have kind {kind}; exactly one is allowed")

    for comp in components.values():
        for dep in comp.depends_on:
            if dep not in components:
                raise ConfigError(
                    f"invalid topology: services.{comp.name}.depends_on names {dep!r}, which is not a service"
                    f"{did_you_mean(dep, components)}; the services are {', '.join(sorted(components))}"
                )

    roles = [spec.role for spec in top.topics.values() if spec.role]
    if len(roles) != len(set(roles)):
        raise ConfigError(f"invalid topology: x-chaoskit.topics gives the same role to two topics (roles: {roles})")
    links = tuple(_parse_link(text, i, components) for i, text in enumerate(top.links))
    if len({link.name for link in links}) != len(links):
        raise ConfigError("invalid topology: x-chaoskit.links lists the same link twice")

    topology = Topology(
        name=str(data.get("name") or path.stem),
        path=path,
        components=components,
        links=links,
        topics={name: spec.partitions for name, spec in top.topics.items()},
        topic_roles={spec.role: name for name, spec in top.topics.items() if spec.role},
    )
    for comp in topology.services:
        _check_templates(topology, comp)
    topology.start_order()
    return topology


def _check_image_or_build(raw: dict[str, Any], where: str) -> None:
    """Refuse what ``docker compose`` itself refuses: a service with nothing to run.

    The process runtime never reads ``image`` or ``build``, so without this check a topology
    would pass here and fail only when someone runs the docker runtime or ``docker compose``
    on the same file. ``extends`` may bring either from another service, as in Compose.
    """
    if "extends" in raw:
        return
    image, build = raw.get("image"), raw.get("build")
    if image is None and build is None:
        raise ConfigError(
            f"invalid topology: {where}: needs image or build, as docker compose requires "
            f"(e.g. image: redis:7.0.15, or build: . for a service built from this repository)"
        )
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise ConfigError(f"invalid topology: {where}.image must be an image name (a non-empty str), got {image!r}")
    if build is not None and not isinstance(build, (str, dict)):
        raise ConfigError(
            f"invalid topology: {where}.build must be a context path (a str) or a mapping "
            f"with context/dockerfile, got {build!r}"
        )


def _parse_link(text: str, index: int, components: dict[str, Component]) -> Link:
    where = f"x-chaoskit.links[{index}]"
    match = _LINK_RE.match(text)
    if not match:
        raise ConfigError(f"invalid topology: {where} must look like 'client->component', got {text!r}")
    client, target = match.groups()
    for role, name in (("client", client), ("component", target)):
        if name not in components:
            raise ConfigError(
                f"invalid topology: {where} ({text!r}) names {role} {name!r}, which is not a service"
                f"{did_you_mean(name, components)}; the services are {', '.join(sorted(components))}"
            )
    if components[client].kind != "service":
        raise ConfigError(
            f"invalid topology: {where} ({text!r}): the client must be a service under test "
            f"(kind: service), {client!r} is kind {components[client].kind}"
        )
    if components[target].kind == "toxiproxy" or client == target:
        raise ConfigError(f"invalid topology: {where} ({text!r}) cannot target {target!r}")
    return Link(client, target)


def _check_templates(topology: Topology, comp: Component) -> None:
    values = [*(v for _, v in comp.env), *comp.command]
    for value in values:
        for match in re.finditer(r"\{[^}]*\}", value):
            token = match.group(0)
            parsed = _TEMPLATE_RE.fullmatch(token)
            if not parsed:
                raise ConfigError(
                    f"invalid topology: services.{comp.name}.x-chaoskit has template {token!r}; "
                    f"allowed are {{python}}, {{port}}, {{link:COMPONENT}} and {{direct:COMPONENT}}"
                )
            if parsed.group(1) == "link":
                target = parsed.group(2)
                if not any(link.client == comp.name and link.target == target for link in topology.links):
                    raise ConfigError(
                        f"invalid topology: services.{comp.name}.x-chaoskit uses {token} but "
                        f"x-chaoskit.links has no '{comp.name}->{target}'"
                    )
            elif parsed.group(1) == "direct":
                topology.component(parsed.group(2))


def load_topology(path: str | Path) -> Topology:
    """Read and validate a compose file; raises ConfigError naming the bad field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"topology file {str(path)!r} does not exist (--chaos-topology / CHAOSKIT_TOPOLOGY)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"topology file {path} is not valid YAML: {err}") from None
    return parse_topology(data, path.resolve())

"""The one adapter between chaoskit and the Toxiproxy server's HTTP API.

It lives with the runtime, which starts the server and creates a proxy per link; the
faults (a layer above) use it to add toxics and cut links.

It uses the project's chosen client, ``toxiproxy-python`` 0.1.1, and mends where that
client falls short against Toxiproxy 2.12:

* it has no request timeouts: every call here passes ``timeout=`` through its
  ``APIConsumer`` (a hung API call, Toxiproxy issue #412, must not hang a chaos run);
* its API address is class-level global state: calls retarget it under a lock;
* it lets 403/500/503 pass silently: any status >= 400 raises ``ToxiproxyError`` here;
* it cannot update a toxic and enables proxies with the deprecated POST: those two use
  ``PATCH`` directly (the documented method since Toxiproxy 2.6);
* ``version()`` returns raw bytes: it is parsed here;
* its ``populate()`` is a client-side loop that recreates proxies given by hostname:
  the server's ``POST /populate`` is used instead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from toxiproxy.api import APIConsumer, validate_response
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaoskit.errors import ChaoskitError

_API_LOCK = threading.Lock()
DEFAULT_TIMEOUT_S = 5.0


class ToxiproxyError(ChaoskitError):
    """A Toxiproxy API call failed (status, timeout or connection)."""


@dataclass(frozen=True)
class ProxySpec:
    name: str
    listen: str
    upstream: str
    enabled: bool = True


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProxyState:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...]


def _toxic(raw: dict[str, Any]) -> Toxic:
    return Toxic(
        name=raw["name"],
        type=raw["type"],
        stream=raw.get("stream", "downstream"),
        toxicity=float(raw.get("toxicity", 1.0)),
        attributes=dict(raw.get("attributes") or {}),
    )


class ToxiproxyAPI:
    """A client for one Toxiproxy server; every call has a timeout."""

    def __init__(self, host: str, port: int, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            if method == "patch":
                # toxiproxy-python has no PATCH: same validation, direct request.
                resp = validate_response(requests.patch(self.url + path, timeout=self.timeout_s, **kwargs))
            else:
                with _API_LOCK:
                    APIConsumer.host, APIConsumer.port = self.host, self.port
                    resp = getattr(APIConsumer, method)(path, timeout=self.timeout_s, **kwargs)
        except (ProxyExists, NotFound, InvalidToxic) as err:
            raise ToxiproxyError(f"Toxiproxy {method.upper()} {path} refused: {_message(err)}") from None
        except requests.RequestException as err:
            raise ToxiproxyError(f"Toxiproxy {method.upper()} {path} at {self.url} failed: {err}") from None
        if resp.status_code >= 400:
            raise ToxiproxyError(f"Toxiproxy {method.upper()} {path} answered {resp.status_code}: {resp.text.strip()}")
        answer: requests.Response = resp
        return answer

    # -- server ---------------------------------------------------------------------------
    def version(self) -> str:
        return str(self._call("get", "/version").json()["version"])

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        self._call("post", "/reset")

    # -- proxies --------------------------------------------------------------------------
    def populate(self, proxies: list[ProxySpec]) -> None:
        body = [{"name": p.name, "listen": p.listen, "upstream": p.upstream, "enabled": p.enabled} for p in proxies]
        self._call("post", "/populate", json=body)

    def proxies(self) -> dict[str, ProxyState]:
        raw = self._call("get", "/proxies").json()
        return {
            name: ProxyState(
                name=name,
                listen=p["listen"],
                upstream=p["upstream"],
                enabled=bool(p["enabled"]),
                toxics=tuple(_toxic(t) for t in p.get("toxics") or ()),
            )
            for name, p in raw.items()
        }

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self._call("patch", f"/proxies/{quote(proxy)}", json={"enabled": enabled})

    def delete_proxy(self, proxy: str) -> None:
        self._call("delete", f"/proxies/{quote(proxy)}")

    # -- toxics ---------------------------------------------------------------------------
    def add_toxic(self, proxy: str, toxic: Toxic) -> None:
        body = {
            "name": toxic.name,
            "type": toxic.type,
            "stream": toxic.stream,
            "toxicity": toxic.toxicity,
            "attributes": toxic.attributes,
        }
        self._call("post", f"/proxies/{quote(proxy)}/toxics", json=body)

    def update_toxic(self, proxy: str, name: str, attributes: dict[str, Any], toxicity: float | None = None) -> None:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        self._call("patch", f"/proxies/{quote(proxy)}/toxics/{quote(name)}", json=body)

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("delete", f"/proxies/{quote(proxy)}/toxics/{quote(name)}")

    def toxics(self, proxy: str) -> list[Toxic]:
        return [_toxic(t) for t in self._call("get", f"/proxies/{quote(proxy)}/toxics").json()]


def _message(err: Exception) -> str:
    raw = err.args[0] if err.args else err
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    return str(raw).strip()

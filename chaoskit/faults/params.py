"""Checks of fault parameters and targets, run before anything is touched.

Every check raises ``ConfigError`` with one paragraph that names the call, the field, the
value and what is allowed (``latency(ms=-5): ms must be >= 0``), so a typo in an experiment
fails at once instead of half-applying a fault or aiming it outside the topology.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from chaoskit.errors import BlastRadiusError, ConfigError, did_you_mean
from chaoskit.topology import Link, Topology

Direction = Literal["downstream", "upstream", "both"]
DIRECTIONS: tuple[str, ...] = ("downstream", "upstream", "both")


class TargetError(ConfigError, BlastRadiusError):
    """A fault aimed at something the topology does not have (or must not be faulted).

    Both a ``ConfigError`` (bad input, caught before anything starts) and a
    ``BlastRadiusError`` (the chaos tool refusing a target outside its environment).
    """


def number(call: str, field: str, value: Any, *, minimum: float = 0, whole: bool = False, unit: str = "") -> float:
    """A finite real number >= ``minimum``; ``whole`` for Toxiproxy's integer attributes.

    ``unit`` says what the number means (``"milliseconds"``) and ends every message.
    """
    allowed = f"{field} must be {'a whole' if whole else 'a'} number >= {minimum:g}"
    meaning = f" ({unit})" if unit else ""
    shown = f"{call}({field}={value!r})"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{shown}: {allowed}{meaning}, got a {type(value).__name__}")
    if not math.isfinite(value):
        raise ConfigError(f"{shown}: {allowed}{meaning}, got a non-finite value")
    if value < minimum:
        raise ConfigError(f"{shown}: {field} must be >= {minimum:g}{meaning}")
    if whole and value != int(value):
        raise ConfigError(f"{shown}: {allowed}{meaning}; Toxiproxy takes integers")
    return int(value) if whole else float(value)


def whole(call: str, field: str, value: Any, *, minimum: int = 0, unit: str = "") -> int:
    return int(number(call, field, value, minimum=minimum, whole=True, unit=unit))


def toxicity(call: str, value: Any) -> float:
    """Toxiproxy's toxicity: the fraction of connections the toxic applies to."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(
            f"{call}(toxicity={value!r}): toxicity must be a number between 0 and 1 "
            f"(the fraction of connections the toxic applies to; 1 = every connection)"
        )
    return float(value)


def direction(call: str, value: Any) -> Direction:
    if value not in DIRECTIONS:
        hint = did_you_mean(value, DIRECTIONS, cutoff=0.5) if isinstance(value, str) else ""
        raise ConfigError(
            f"{call}(direction={value!r}): unknown direction{hint}; direction must be one of 'downstream' "
            f"(component -> client, the responses), 'upstream' (client -> component, the requests) or 'both'"
        )
    return value  # type: ignore[no-any-return]


def streams(value: Direction) -> tuple[str, ...]:
    """The Toxiproxy streams a direction covers (one toxic each)."""
    return ("upstream", "downstream") if value == "both" else (value,)


def choice(call: str, field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise ConfigError(f"{call}({field}={value!r}): unknown {field}{hint}; {field} must be one of {listed}")
    return str(value)


def arguments(call: str, signature: inspect.Signature, kwargs: Mapping[str, Any], problem: TypeError) -> str:
    """Why ``call``'s arguments do not fit its ``signature`` (the method's, ``self`` first).

    Python would say ``unexpected keyword argument 'milis'`` and stop; an experiment's
    author needs the parameters there are and the one they probably meant.
    """
    empty = inspect.Parameter.empty
    shown = [p.replace(annotation=empty) for p in signature.parameters.values() if p.name != "self"]
    usage = f"{call}{signature.replace(parameters=shown, return_annotation=empty)}"
    names = [p.name for p in shown]
    unknown = [name for name in kwargs if name not in names]
    if unknown:
        refused = "; ".join(f"unknown parameter {name!r}{did_you_mean(name, names, cutoff=0.5)}" for name in unknown)
        given = ", ".join(f"{name}={kwargs[name]!r}" for name in unknown)
        return f"{call}({given}): {refused}; the parameters are: {usage}"
    return f"{call}(): {problem}; call it as {usage}"


def link(topology: Topology, call: str, client: Any, component: Any) -> Link:
    """The proxied link ``client->component``, or an error that lists the links there are."""
    for name, value in (("client", client), ("component", component)):
        if not isinstance(value, str):
            raise ConfigError(f"{call}({name}={value!r}): {name} must be a component name (a str)")
    try:
        return topology.link(client, component)
    except ConfigError as err:
        message = f"{call}({client!r}, {component!r}): {err}"
        if "the links are" not in message:
            message += f"; the links are: {', '.join(link.name for link in topology.links) or 'none'}"
        raise TargetError(message) from None


def links(topology: Topology, call: str, given: Any) -> list[Link]:
    """Links given as ``("client", "component")`` pairs or ``"client->component"`` strings."""
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ConfigError(
            f"{call}(links={given!r}): links must be a list of (client, component) pairs or 'client->component' strings"
        )
    found: list[Link] = []
    for i, item in enumerate(given):
        if isinstance(item, str) and "->" in item:
            client, component = (part.strip() for part in item.split("->", 1))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            client, component = item
        else:
            raise ConfigError(
                f"{call}(links[{i}]={item!r}): each link must be a (client, component) pair "
                f"or a 'client->component' string"
            )
        resolved = link(topology, call, client, component)
        if resolved not in found:
            found.append(resolved)
    if not found:
        raise ConfigError(f"{call}(links=[]): name at least one link to cut")
    return found


def component(topology: Topology, call: str, name: Any) -> str:
    """A component process faults may hit: never Toxiproxy, which carries the faults themselves."""
    if not isinstance(name, str):
        raise ConfigError(f"{call}(component={name!r}): component must be a component name (a str)")
    try:
        comp = topology.component(name)
    except ConfigError as err:
        raise TargetError(f"{call}({name!r}): {err}") from None
    if comp.kind == "toxiproxy":
        raise TargetError(
            f"{call}({name!r}): {name} is the Toxiproxy server that carries the network faults; "
            f"fault the links through it instead (down, partition, isolate)"
        )
    return name

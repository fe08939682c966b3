"""Which image runs each component, and where its programs are inside that image.

Two sets, chosen with ``CHAOSKIT_DOCKER_IMAGES``:

* ``local``: every component runs from ``chaoskit/base:local`` (``images/build.sh``: Java
  17, redis-server, Python with the services' packages, the pinned Kafka jars and
  toxiproxy-server), and services run the code of the topology's directory, bind-mounted
  read-only, as the process runtime does. This is the default when that image exists, as
  on machines with no registry access. ``CHAOSKIT_IMAGE_BASE`` names another such image.
* ``compose``: the images the compose file names (``apache/kafka:4.3.1``,
  ``redis:7.0.15``, ``ghcr.io/shopify/toxiproxy:2.12.0``); a service with ``build:`` uses
  the image ``docker compose build`` gives it (``<project>-<service>``), with its code
  inside. Missing public images are pulled.

``CHAOSKIT_IMAGE_KAFKA``, ``CHAOSKIT_IMAGE_REDIS`` and ``CHAOSKIT_IMAGE_TOXIPROXY`` override
one kind in either set.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import docker
import yaml
from docker.errors import DockerException, ImageNotFound

from chaoskit.errors import ConfigError, MissingToolError
from chaoskit.topology import Topology

LOCAL_IMAGE = "chaoskit/base:local"
IMAGE_SETS = ("local", "compose")


@dataclass(frozen=True)
class Images:
    """Images per component and the in-image paths the container commands need."""

    kafka: str
    redis: str
    toxiproxy: str
    services: dict[str, str] = field(default_factory=dict)
    java: str = "java"
    kafka_libs: str = "/opt/kafka/libs"
    toxiproxy_server: str = "/usr/local/bin/toxiproxy-server"
    python: str = "/opt/venv/bin/python"
    mount_source: bool = True
    pull: bool = False
    built: frozenset[str] = frozenset()
    set_name: str = "local"

    @classmethod
    def local(cls, topology: Topology, image: str = LOCAL_IMAGE) -> Images:
        return cls(kafka=image, redis=image, toxiproxy=image, services={c.name: image for c in topology.services})

    @classmethod
    def compose(cls, topology: Topology) -> Images:
        """The compose file's own images: what ``docker compose up`` would run."""
        raw = yaml.safe_load(topology.path.read_text()) or {}
        declared: dict[str, Any] = raw.get("services") or {}
        project = str(raw.get("name") or topology.path.parent.name)
        images: dict[str, str] = {}
        built: set[str] = set()
        for name in topology.components:
            spec = declared.get(name) or {}
            if spec.get("image"):
                images[name] = str(spec["image"])
            elif spec.get("build"):
                images[name] = f"{project}-{name}"
                built.add(images[name])
            else:
                raise ConfigError(
                    f"invalid topology for the docker runtime: services.{name} has neither 'image' nor 'build' "
                    f"in {topology.path.name} (CHAOSKIT_DOCKER_IMAGES=compose runs the compose file's images)"
                )
        by_kind = {c.kind: images[c.name] for c in topology.components.values()}
        return cls(
            kafka=by_kind["kafka"],
            redis=by_kind.get("redis", ""),
            toxiproxy=by_kind["toxiproxy"],
            services={c.name: images[c.name] for c in topology.services},
            toxiproxy_server="/toxiproxy",
            python="python",
            mount_source=False,
            pull=True,
            built=frozenset(built),
            set_name="compose",
        )

    @classmethod
    def from_env(cls, topology: Topology, client: docker.DockerClient) -> Images:
        chosen = os.environ.get("CHAOSKIT_DOCKER_IMAGES", "").strip()
        base = os.environ.get("CHAOSKIT_IMAGE_BASE", "").strip() or LOCAL_IMAGE
        if chosen and chosen not in IMAGE_SETS:
            raise ConfigError(
                f"CHAOSKIT_DOCKER_IMAGES={chosen!r} is not an image set; allowed: {', '.join(IMAGE_SETS)}"
            )
        if not chosen:
            chosen = "local" if _exists(client, base) else "compose"
        images = cls.local(topology, base) if chosen == "local" else cls.compose(topology)

        def override(kind: str, current: str) -> str:
            return os.environ.get(f"CHAOSKIT_IMAGE_{kind.upper()}", "").strip() or current

        return replace(
            images,
            kafka=override("kafka", images.kafka),
            redis=override("redis", images.redis),
            toxiproxy=override("toxiproxy", images.toxiproxy),
        )

    def to_json(self) -> dict[str, Any]:
        """For the environment record, so an attached runtime re-creates with the same images."""
        return {**asdict(self), "built": sorted(self.built)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Images:
        return cls(**{**raw, "built": frozenset(raw.get("built", ()))})

    def for_kind(self, kind: str, component: str) -> str:
        if kind == "service":
            return self.services[component]
        return str(getattr(self, kind))

    def ensure(self, client: docker.DockerClient, topology: Topology) -> None:
        """Every image present (pulled when the set allows), or one error naming them all."""
        missing = []
        for ref in sorted({self.for_kind(c.kind, c.name) for c in topology.components.values()}):
            if _exists(client, ref):
                continue
            if self.pull and ref not in self.built:
                try:
                    client.images.pull(ref)
                    continue
                except DockerException as err:
                    missing.append(f"{ref} (pull failed: {err})")
                    continue
            missing.append(ref)
        if missing:
            hint = (
                "build chaoskit's local image with images/build.sh"
                if self.set_name == "local"
                else f"pull them and build the services with `docker compose -f {topology.path.name} build`, "
                f"or build chaoskit's local image with images/build.sh (CHAOSKIT_DOCKER_IMAGES=local)"
            )
            raise MissingToolError(f"container image(s) not available: {', '.join(missing)}; {hint}")


def _exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False

"""The Docker Engine API connection and the labels that mark what chaoskit created.

Every container (and network) chaoskit creates carries ``io.chaoskit.project`` (the topology name),
``io.chaoskit.env`` (the environment id) and ``io.chaoskit.component`` (an extra instance's
own name, with ``io.chaoskit.instance-of`` naming its service), plus the owning
run (pid and start time) and whether it is kept. The labels alone are enough to sweep a
crashed run's containers, even when its environment record is gone (another runtime's
sweep, or a wiped temp dir, may have removed it).
"""

from __future__ import annotations

import os
from collections import defaultdict

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from chaoskit.errors import MissingToolError
from chaoskit.runtime import podman
from chaoskit.runtime.state import ProcessRecord

PROJECT = "io.chaoskit.project"
ENV = "io.chaoskit.env"
COMPONENT = "io.chaoskit.component"
OWNER_PID = "io.chaoskit.owner-pid"
OWNER_START = "io.chaoskit.owner-start"
KEEP = "io.chaoskit.keep"
# On an extra instance of a service (its component label is the instance's name).
INSTANCE_OF = "io.chaoskit.instance-of"
# The component label of the bridge mode's network-namespace holder (not a valid
# topology name, so it never collides with a component).
NETNS = "_netns"
API_TIMEOUT_S = 120


class DockerUnavailable(MissingToolError):
    """No Docker Engine API answers where chaoskit looked."""


def api_url() -> str:
    """Where chaoskit looks: ``$DOCKER_HOST``; else chaoskit's Podman socket if it exists;
    else Docker's default socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    sock = podman.socket_path()
    return f"unix://{sock}" if sock.exists() else "unix:///var/run/docker.sock"


def connect(timeout_s: float = API_TIMEOUT_S) -> docker.DockerClient:
    """A client for the Docker Engine API, or DockerUnavailable naming the way out.

    ``DOCKER_HOST`` goes through ``from_env`` so ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``
    apply; the CLI context is ignored (``use_context=False``): docker 7.2 would otherwise
    prefer it when ``DOCKER_HOST`` is unset, and chaoskit's socket must win then.
    """
    url = api_url()
    try:
        if os.environ.get("DOCKER_HOST"):
            client = docker.from_env(timeout=int(timeout_s), use_context=False)
        else:
            client = docker.DockerClient(base_url=url, timeout=int(timeout_s))
        client.ping()
    except DockerException as err:
        raise DockerUnavailable(
            f"no Docker Engine API answers at {url} ({err}). The docker runtime needs one: set "
            f"DOCKER_HOST to a Docker or Podman API socket (on a machine without Docker, images/build.sh "
            f"starts Podman's on unix://{podman.socket_path()}), or use the process runtime "
            f"(--chaos-runtime=process), which needs no Docker."
        ) from None
    return client


def labels_for(
    project: str, env_id: str, component: str, owner: ProcessRecord | None, keep: bool, instance_of: str | None = None
) -> dict[str, str]:
    labels = {PROJECT: project, ENV: env_id, COMPONENT: component, KEEP: "true" if keep else "false"}
    if instance_of is not None:
        labels[INSTANCE_OF] = instance_of
    if owner is not None:
        labels[OWNER_PID] = str(owner.pid)
        labels[OWNER_START] = repr(owner.create_time)
    return labels


def containers(client: docker.DockerClient, env_id: str | None = None) -> list[Container]:
    """Containers chaoskit made: of one environment, or of all (any ``io.chaoskit.env``)."""
    wanted = f"{ENV}={env_id}" if env_id else ENV
    return client.containers.list(all=True, filters={"label": wanted})


def by_environment(client: docker.DockerClient) -> dict[str, list[Container]]:
    grouped: dict[str, list[Container]] = defaultdict(list)
    for container in containers(client):
        grouped[container.labels[ENV]].append(container)
    return dict(grouped)


def orphaned(labels: dict[str, str]) -> bool:
    """The label twin of ``EnvRecord.orphaned``: an owner that is gone, and not kept."""
    if labels.get(KEEP) == "true" or OWNER_PID not in labels:
        return False
    try:
        owner = ProcessRecord(pid=int(labels[OWNER_PID]), create_time=float(labels[OWNER_START]))
    except (KeyError, ValueError):
        return False
    return owner.process() is None


def remove(found: list[Container]) -> None:
    """Force-remove containers (a paused or running one too), ignoring ones already gone.
    A network-namespace holder goes last: engines refuse to remove it while others use it."""
    for container in sorted(found, key=lambda c: c.labels.get(COMPONENT) == NETNS):
        try:
            container.remove(force=True, v=True)
        except NotFound:
            continue
        except APIError as err:
            if err.status_code != 404 and "no such container" not in str(err).lower():
                raise


def remove_networks(client: docker.DockerClient, env_id: str | None = None) -> None:
    """Remove the networks chaoskit made: of one environment, or all."""
    wanted = f"{ENV}={env_id}" if env_id else ENV
    for network in client.networks.list(filters={"label": wanted}):
        try:
            network.remove()
        except NotFound:
            continue

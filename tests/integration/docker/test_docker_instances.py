"""Extra instances of a service on the docker runtime, on the reference system, in both
network modes: a container per instance sharing the service's proxied links, its own
port, log and name; faults by instance name; removal, reset and down sweep them."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import requests

from chaoskit.deploy import Fleet
from chaoskit.deploy.metrics import read_metrics
from chaoskit.errors import ChaoskitError, ComponentStartError, ConfigError
from chaoskit.observe.logs import read_logs
from chaoskit.runtime import docker_api
from chaoskit.runtime.docker import BRIDGE_INSTANCE_PORTS, DockerRuntime
from chaoskit.runtime.docker_components import InstanceContainer
from chaoskit.runtime.docker_images import Images
from chaoskit.runtime.health import http_ok, wait_for
from chaoskit.runtime.plan import make_plan, ports_needed
from chaoskit.runtime.state import EnvRecord
from chaoskit.topology import load_topology

pytestmark = [pytest.mark.integration, pytest.mark.docker]
ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "docker-compose.chaos.yml"
MINIMAL = ROOT / "fixtures" / "topologies" / "minimal.yml"
SERVICE = "workflow-service"
CANARY = "workflow-service#canary"
# What an instance's environment may differ in from its service's.
OWN_ENV = {"HTTP_PORT", "SERVICE_NAME", "SERVICE_VERSION", "CHAOSKIT_LOG", "HOSTNAME"}


@pytest.fixture(scope="module", params=["host", "bridge"])
def system(engine, request):
    """The reference system in each network mode; its teardown checks nothing is left."""
    rt = DockerRuntime(load_topology(REFERENCE), owner_pid=os.getpid(), client=engine, network=request.param)
    rt.up()
    env_id = rt.env_id
    try:
        yield rt
    finally:
        rt.down()
    assert docker_api.containers(engine, env_id) == [], "down left containers of the environment behind"


@pytest.fixture(autouse=True)
def _reset(request):
    if "system" in request.fixturenames:
        request.getfixturevalue("system").reset()


def labelled(engine, rt: DockerRuntime, name: str) -> list:
    return engine.containers.list(
        all=True, filters={"label": [f"{docker_api.ENV}={rt.env_id}", f"{docker_api.COMPONENT}={name}"]}
    )


def post_document(rt: DockerRuntime, key: str) -> str:
    answer = requests.post(
        f"http://{rt.endpoint('order-service')}/documents",
        json={"key": key, "content": "hello", "version": 1},
        timeout=15,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["event_id"]


def kinds_at(rt: DockerRuntime, name: str, events: set[str]) -> set[str]:
    """The history kinds ``name``'s log records for ``events``."""
    found = read_logs([rt.log_path(name)]).observations
    return {o.kind.value for o in found if o.event_id in events and o.where == name}


def until_instance_records(rt: DockerRuntime, name: str, kinds: set[str], what: str, timeout_s: float = 90) -> str:
    """Post documents (new keys, so they spread over the partitions) until ``name`` logs
    one of ``kinds`` for one of them; returns that kind."""
    sent: set[str] = set()

    def seen() -> str | None:
        sent.add(post_document(rt, f"inst-{uuid.uuid4().hex[:10]}"))
        return next(iter(kinds_at(rt, name, sent) & kinds), None)

    return wait_for(seen, timeout_s, what, interval_s=0.5)


def test_an_instance_runs_next_to_its_service_sharing_its_links(system, engine):
    endpoint = system.add_instance(SERVICE, CANARY, {"SERVICE_VERSION": "v9"})
    assert endpoint != system.endpoint(SERVICE)
    assert http_ok(f"http://{endpoint}/health")
    assert read_metrics(endpoint).version == "v9"
    assert system.instances() == {CANARY: endpoint} == system.instances(SERVICE)
    assert system.instances("order-service") == {}

    [container] = labelled(engine, system, CANARY)
    assert container.name == f"chaoskit-{system.env_id}-workflow-service.canary"
    assert container.labels[docker_api.INSTANCE_OF] == SERVICE
    [base] = labelled(engine, system, SERVICE)

    def env(c) -> dict[str, str]:
        return dict(item.split("=", 1) for item in c.attrs["Config"]["Env"])

    mine, its = env(container), env(base)
    assert mine["SERVICE_NAME"] == CANARY and mine["SERVICE_VERSION"] == "v9"
    assert mine["HTTP_PORT"] == endpoint.rsplit(":", 1)[1]
    shared = {k: v for k, v in its.items() if k not in OWN_ENV}
    assert {k: mine.get(k) for k in shared} == shared, "the instance does not share the service's links"
    assert mine["KAFKA_BOOTSTRAP_SERVERS"] == system.endpoint("kafka", SERVICE)

    # it joins the service's consumer group (as itself) and processes events end to end
    Fleet(system).wait_serving(CANARY, "the instance owning partitions", timeout_s=60)
    assert until_instance_records(system, CANARY, {"applied"}, "the instance applying a document") == "applied"
    lines = [json.loads(line) for line in system.logs(CANARY).splitlines() if line.startswith("{")]
    assert lines and {line["service"] for line in lines} == {CANARY}

    status = json.loads(json.dumps(system.status()))["components"]
    assert status[CANARY]["instance_of"] == SERVICE and status[CANARY]["state"] == "healthy"
    assert status[CANARY]["endpoints"] == {"direct": endpoint}
    assert status[CANARY]["log"] == str(system.log_path(CANARY))
    attached = DockerRuntime.attach(EnvRecord.load(system.dir), system.topology)
    assert attached.instances() == {CANARY: endpoint}
    assert attached.status()["components"][CANARY]["state"] == "healthy"


def test_a_link_fault_hits_the_instance_too(system):
    system.add_instance(SERVICE, CANARY)
    Fleet(system).wait_serving(CANARY, "the instance owning partitions", timeout_s=60)
    proxy = system.plan.proxies[f"{SERVICE}->document-service"].proxy
    system.toxiproxy.set_enabled(proxy, False)
    try:
        kind = until_instance_records(
            system, CANARY, {"failed", "dead-lettered"}, "the instance failing with its document-service link cut"
        )
    finally:
        system.toxiproxy.set_enabled(proxy, True)
    assert kind in {"failed", "dead-lettered"}


def test_faults_by_instance_name(system):
    endpoint = system.add_instance(SERVICE, CANARY)
    system.pause(CANARY)
    entry = system.status()["components"][CANARY]
    assert entry["state"] == "stopped" and entry.get("paused") is True
    assert not http_ok(f"http://{endpoint}/health", timeout_s=1), "a frozen instance answered"
    system.resume(CANARY)
    assert wait_for(lambda: http_ok(f"http://{endpoint}/health"), 30, "the resumed instance answering")
    system.kill(CANARY)
    assert system.status()["components"][CANARY]["state"] == "stopped"
    assert not http_ok(f"http://{endpoint}/health")
    system.start(CANARY)
    assert system.status()["components"][CANARY]["state"] == "healthy"
    system.stop(CANARY)
    assert system.status()["components"][CANARY]["state"] == "stopped"
    assert CANARY in system.instances()  # stopped, not removed


def test_remove_keeps_the_log_and_reset_removes_every_instance(system, engine):
    system.add_instance(SERVICE, CANARY)
    log = system.log_path(CANARY)
    assert log.exists() and log.read_text(), "the instance wrote no log"
    system.remove_instance(CANARY)
    assert labelled(engine, system, CANARY) == [] and system.instances() == {}
    assert CANARY not in system.status()["components"]
    assert log.exists() and log in system.service_logs() and system.logs(CANARY)

    # the same name again, then two more, then a reset
    for name in (CANARY, "workflow-service#2", "redriver#2"):
        system.add_instance(name.split("#")[0], name)
    assert set(system.instances()) == {CANARY, "workflow-service#2", "redriver#2"}
    assert set(system.instances("redriver")) == {"redriver#2"}
    system.reset()
    assert system.instances() == {}
    for name in (CANARY, "workflow-service#2", "redriver#2"):
        assert labelled(engine, system, name) == []
        assert system.log_path(name) in system.service_logs()
    assert {c["state"] for c in system.status()["components"].values()} == {"healthy"}


def test_bad_instance_requests_are_clear_errors(system, engine):
    with pytest.raises(ChaoskitError, match="kind kafka"):
        system.add_instance("kafka", "kafka#2")
    with pytest.raises(ConfigError, match="unknown component"):
        system.add_instance("nope", "nope#2")
    with pytest.raises(ConfigError, match="instance name"):
        system.add_instance(SERVICE, "workflow service/2")
    with pytest.raises(ChaoskitError, match="already exists"):
        system.add_instance(SERVICE, "redriver")
    with pytest.raises(ChaoskitError, match="no instance"):
        system.remove_instance(CANARY)
    with pytest.raises(ConfigError, match="unknown component"):
        system.kill(CANARY)
    system.add_instance(SERVICE, CANARY)
    with pytest.raises(ChaoskitError, match="already exists"):
        system.add_instance(SERVICE, CANARY)
    if system.network == "bridge":  # the holder's published spares are the limit there
        spares = system.record.extra["instance_ports"]
        assert len(spares) == BRIDGE_INSTANCE_PORTS and system.instances()[CANARY].endswith(f":{spares[0]}")
        system.record.extra["instance_ports"] = spares[:1]
        try:
            with pytest.raises(ChaoskitError, match="no free instance port.*host network mode"):
                system.add_instance(SERVICE, "workflow-service#3")
        finally:
            system.record.extra["instance_ports"] = spares
    # '#' and '.' both become '.' in a container name: the second gets a hash, not a clash
    system.add_instance(SERVICE, "workflow-service.canary")
    names = {c.name for c in docker_api.containers(engine, system.env_id)}
    assert f"chaoskit-{system.env_id}-workflow-service.canary" in names
    assert any(n.startswith(f"chaoskit-{system.env_id}-workflow-service.canary-") for n in names)


def test_an_instance_that_does_not_start_is_named_and_removed(system, engine):
    with pytest.raises(ComponentStartError) as info:
        system.add_instance(SERVICE, CANARY, {"FAIL_RATE": "often"})
    assert info.value.component == CANARY and "FAIL_RATE" in info.value.log_tail, info.value.log_tail
    assert system.instances() == {} and labelled(engine, system, CANARY) == []


def test_an_instance_gets_its_own_port_in_templates(tmp_path):
    """``{port}`` in a service's command is the instance's port (no engine needed)."""
    topology = load_topology(MINIMAL)
    plan = make_plan(topology, list(range(21000, 21000 + ports_needed(topology))))
    comp = topology.component("consumer")
    unit = InstanceContainer(
        comp, topology, plan, Images.local(topology), tmp_path, name="consumer#2", port=29999, overrides={"X": "1"}
    )
    spec = unit.spec()
    assert spec.argv[-1] == "29999" and str(plan.direct["consumer"]) not in spec.argv
    assert spec.environment["SERVICE_NAME"] == "consumer#2" and spec.environment["X"] == "1"
    assert spec.environment["CHAOSKIT_LOG"] == str(tmp_path / "logs" / "consumer#2.log")

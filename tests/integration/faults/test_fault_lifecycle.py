"""Every fault heals: on exceptions, on Ctrl-C, at the end of a schedule, and despite
Toxiproxy errors in other heals. What is left is read back from the Toxiproxy API.

Schedule timings are checked for order only; each step is never injected before its time
(that is how the scheduler waits), and nothing is asserted about how late it may be.
"""

from __future__ import annotations

import signal
import time

import pytest
from fault_probes import all_clear, pings, proxy_states, refused

from chaoskit.faults import HealError
from chaoskit.runtime.health import wait_for
from chaoskit.runtime.toxiproxy import ToxiproxyAPI, ToxiproxyError

pytestmark = pytest.mark.integration


def many(faults):
    """One of each kind that touches Toxiproxy, overlapping on purpose."""
    return [
        faults.latency("producer", "redis", ms=50),
        faults.bandwidth("producer", "kafka", kbps=1000),
        faults.down("producer", "redis"),
        faults.partition([("producer", "redis"), ("consumer", "kafka")]),
        faults.broker_loss(mode="cut"),
    ]


def nested(faults, body):
    made = many(faults)
    with made[0], made[1], made[2], made[3], made[4]:
        assert sum(not enabled for enabled, _ in proxy_states(faults.runtime).values()) == 3
        body()


def test_an_exception_in_the_block_heals_every_fault(faults, env):
    def fail() -> None:
        raise RuntimeError("the experiment broke")

    with pytest.raises(RuntimeError, match="the experiment broke"):
        nested(faults, fail)
    assert all_clear(env) and faults.active == []


def test_keyboard_interrupt_in_the_block_heals_every_fault(faults, env):
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nested(faults, interrupt)
    assert all_clear(env) and faults.active == []


def test_sigint_in_the_block_heals_every_fault(faults, env):
    with pytest.raises(KeyboardInterrupt):
        nested(faults, lambda: signal.raise_signal(signal.SIGINT))
    assert all_clear(env) and faults.active == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_during_a_schedule_stops_it_and_heals(faults, env):
    steps = [(0, faults.down("producer", "redis"), 30), (0.1, faults.latency("producer", "kafka", ms=100), 30)]
    with pytest.raises(KeyboardInterrupt), faults.schedule(steps) as schedule:
        wait_for(lambda: len(schedule.fired) == 2, 10, "both steps injected")
        signal.raise_signal(signal.SIGINT)
    assert all_clear(env) and faults.active == [] and schedule.done


def test_a_schedule_fires_its_steps_in_order_and_heals_them_all(faults, env, timeline):
    redis_via = env.endpoint("redis", "producer")
    latency = faults.latency("producer", "redis", ms=100)
    down = faults.down("producer", "kafka")
    partition = faults.partition([("producer", "redis")])
    steps = [(0.6, partition, 0.4), (0.0, latency, 0.8), (0.3, down, 0.4)]
    with faults.schedule(steps) as schedule:
        wait_for(lambda: refused(redis_via), 10, "the partition to cut producer->redis")
        schedule.wait(30)
    assert [(action, fault) for _, action, fault in schedule.fired] == [
        ("inject", latency),
        ("inject", down),
        ("inject", partition),
        ("heal", down),
        ("heal", latency),
        ("heal", partition),
    ]
    at = {fault: at_s for at_s, fault, _ in steps}
    for offset, action, fault in schedule.fired:
        if action == "inject":
            assert offset >= at[fault] - 0.01, "a step never fires before its time"
    windows = timeline.windows()
    assert [w.name for w in windows] == ["latency", "down", "partition"]
    assert all(w.healed_at is not None and w.injected_at < w.healed_at for w in windows)
    assert all_clear(env) and faults.active == [] and pings(redis_via)


def test_run_schedule_blocks_until_the_end(faults, env):
    start = time.monotonic()
    faults.run_schedule([(0.2, faults.down("producer", "redis"), 0.2)])
    assert time.monotonic() - start >= 0.4
    assert all_clear(env)


def test_a_toxiproxy_error_in_one_heal_does_not_stop_the_others(faults, env):
    cut = faults.down("producer", "redis").inject()
    latency = faults.latency("producer", "redis", ms=50).inject()
    down = faults.down("producer", "kafka").inject()
    slow = faults.bandwidth("consumer", "kafka", kbps=10).inject()
    env.toxiproxy.delete_proxy("producer--redis")  # behind the faults' back
    try:
        with pytest.raises(HealError) as info:
            faults.heal_all()
        ((what, error),) = info.value.failures
        assert "enable proxy producer--redis" in what and isinstance(error, ToxiproxyError)
        assert proxy_states(env) == {"producer--kafka": (True, 0), "consumer--kafka": (True, 0)}
        assert faults.active == [cut], "the toxic went with its proxy, so the latency counts as healed"
        assert not (latency.active or down.active or slow.active)
    finally:
        env.toxiproxy.populate([env.plan.proxies["producer->redis"].spec()])
    cut.heal()  # the retry enables the recreated proxy
    assert faults.active == [] and all_clear(env) and pings(env.endpoint("redis", "producer"))


def test_every_toxiproxy_call_has_a_timeout(env):
    host, port = env.toxiproxy.host, env.toxiproxy.port
    env.pause("toxiproxy")
    try:
        start = time.monotonic()
        with pytest.raises(ToxiproxyError, match="timed out"):
            ToxiproxyAPI(host, port, timeout_s=0.5).proxies()
        assert time.monotonic() - start < 5, "a hung server does not hang the caller"
    finally:
        env.resume("toxiproxy")

"""Properties: every history of a correct system passes every check, and breaking one
event in a history makes the matching check fail naming exactly that event."""

from checks_model import BASE_S, CAP_S, FACTOR, MAX_ATTEMPTS, TOLERANCE_S, Model, models
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chaoskit.checks import Slo, check_convergence, check_delivery, check_dlq, check_ordering, check_retry, check_slo
from chaoskit.checks.retry import backoff_s
from chaoskit.observe.history import History, Kind, Observation, is_effect

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICY = {"base_s": BASE_S, "factor": FACTOR, "cap_s": CAP_S, "max_attempts": MAX_ATTEMPTS, "tolerance_s": TOLERANCE_S}


def effects(model: Model) -> list[int]:
    return [i for i, o in enumerate(model.observations) if o.kind is Kind.APPLIED and is_effect(o.detail)]


@BOUNDED
@given(models)
def test_a_correct_system_passes_every_check(model):
    history = model.history()
    results = [
        check_delivery(history, model.final_state, model.timeline),
        check_dlq(history, model.timeline),
        check_retry(history, **POLICY, timeline=model.timeline),
        check_ordering(history, model.timeline),
        check_convergence(model.final_state, [(model.end + 0.5, model.final_state)], bound_s=1.0, since=model.end),
        check_slo(model.samples, model.timeline, Slo(1.0, {99: 1e9})),
    ]
    failed = [r.explain() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


@BOUNDED
@given(models, st.data())
def test_removing_an_effect_makes_delivery_name_exactly_that_event(model, data):
    candidates = effects(model)
    assume(candidates)
    removed = model.observations[data.draw(st.sampled_from(candidates))]
    history = History(o for o in model.observations if o is not removed)

    result = check_delivery(history, model.final_state, model.timeline)

    assert not result.ok
    assert [o.event_id for o in result.offenders] == [removed.event_id]
    assert removed.event_id in result.summary and removed.event_id in result.explain()


@BOUNDED
@given(models, st.data(), st.floats(0.001, 2.0))
def test_duplicating_an_effect_makes_delivery_name_exactly_that_event(model, data, later_s):
    candidates = effects(model)
    assume(candidates)
    original = model.observations[data.draw(st.sampled_from(candidates))]
    copy = Observation(original.time + later_s, *original[1:])
    history = History([*model.observations, copy])

    result = check_delivery(history, model.final_state, model.timeline)

    assert not result.ok
    assert [o.event_id for o in result.offenders] == [original.event_id]
    assert "applied with effect 2 times" in result.offenders[0].observed


@BOUNDED
@given(models, st.data(), st.floats(0.0, 0.95))
def test_a_retry_sooner_than_its_backoff_makes_retry_name_exactly_that_event(model, data, fraction):
    retries = [i for i, o in enumerate(model.observations) if o.kind is Kind.ATTEMPTED and o.detail["attempt"] > 1]
    assume(retries)
    index = data.draw(st.sampled_from(retries))
    retry = model.observations[index]
    failed = next(
        o
        for o in model.observations
        if o.event_id == retry.event_id and o.kind is Kind.FAILED and o.detail["attempt"] == retry.detail["attempt"] - 1
    )
    allowed = backoff_s(failed.detail["attempt"], BASE_S, FACTOR, CAP_S) - TOLERANCE_S
    early = Observation(failed.time + allowed * fraction, *retry[1:])
    observations = [early if i == index else o for i, o in enumerate(model.observations)]

    result = check_retry(History(observations), **POLICY, timeline=model.timeline)

    assert not result.ok
    assert {o.event_id for o in result.offenders} == {retry.event_id}
    assert f"attempt {retry.detail['attempt']} at least" in result.offenders[0].expected

"""CheckResult: a one-line summary, then one line per offender, capped for huge failures."""

from chaoskit.checks.result import CheckResult, Offender, name_ids


def offender(n: int) -> Offender:
    return Offender(f"e{n}", f"t{n}", "applied once", "applied 2 times", '"down x" [1.0s–2.0s]' if n % 2 else None)


def test_explain_lists_offenders_up_to_the_limit():
    result = CheckResult("delivery", False, "2 applied twice", tuple(offender(n) for n in range(5)))
    text = result.explain(limit=2)
    assert text.splitlines() == [
        "FAILED delivery: 2 applied twice",
        "  - e0 (trace t0): expected applied once; observed applied 2 times; outside any fault window",
        '  - e1 (trace t1): expected applied once; observed applied 2 times; fell in fault window "down x" [1.0s–2.0s]',
        "  … and 3 more offenders",
    ]
    assert str(result) == result.explain()


def test_a_phase_offender_has_no_event_and_a_missing_trace_says_none():
    assert Offender(None, None, "during faults: p99 ≤ 5ms", "p99 = 9ms", None).line() == (
        "expected during faults: p99 ≤ 5ms; observed p99 = 9ms; outside any fault window"
    )
    assert Offender("e1", None, "x", "y").line().startswith("e1 (trace none): ")


def test_summary_names_the_first_ids():
    assert name_ids([offender(n) for n in range(5)]) == "e0, e1, e2 +2 more"
    assert name_ids([offender(0)]) == "e0"

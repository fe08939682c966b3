"""Project-wide pytest setup for experiments/ and tests/.

The chaoskit plugin itself is loaded through its ``pytest11`` entry point (installed by
``pip install -e .``), exactly as it is for users; this file only registers the
Hypothesis profiles the suites use: ``chaos`` (few, bounded examples for schedules that
run real faults) next to Hypothesis' own ``ci`` profile, which it selects under CI=true.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "chaos",
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

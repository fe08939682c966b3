"""chaoskit's pytest plugin: options, fixtures and markers for chaos experiments."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaos experiments against an event system")
    group.addoption("--chaos-runtime", choices=["process", "docker"], default=None,
                    help="how components run: local processes (default) or containers")
    group.addoption("--chaos-topology", default=None, help="the compose file (default docker-compose.chaos.yml)")
    group.addoption("--chaos-seed", type=int, default=None, help="seed for random fault schedules")
    group.addoption("--chaos-keep", action="store_true", default=None,
                    help="leave the environment up after the run for inspection")
    parser.addini("chaos_runtime", "default for --chaos-runtime", default="process")
    parser.addini("chaos_topology", "default for --chaos-topology", default="docker-compose.chaos.yml")
    parser.addini("chaos_seed", "default for --chaos-seed", default="")
    parser.addini("chaos_keep", "default for --chaos-keep", type="bool", default=False)

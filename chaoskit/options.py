"""The resolved ``--chaos-*`` options of a run, and where the plugin keeps them.

The key lives here, below both the main plugin (which stashes the options) and the
Allure plugin (which reads them), so neither reaches into the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class ChaosOptions:
    runtime: str
    topology: Path
    seed: int
    keep: bool
    load_workers: int = 0  # Locust workers per load run; 0: one load process


OPTIONS = pytest.StashKey[ChaosOptions]()

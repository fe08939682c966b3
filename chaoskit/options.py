"""The resolved ``--chaos-*`` options of a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChaosOptions:
    runtime: str
    topology: Path
    seed: int
    keep: bool

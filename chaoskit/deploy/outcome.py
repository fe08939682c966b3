"""What a deploy ended with: promoted or rolled back, why, the figures, and when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoskit.deploy.assignment import Assignment
from chaoskit.deploy.decision import Action
from chaoskit.deploy.fleet import Member
from chaoskit.deploy.revert import RollbackOutcome


@dataclass(frozen=True)
class DeployOutcome:
    """One canary or rolling deploy (times are epoch seconds).

    ``new_members`` lists every instance of the new version the deploy started, kept
    even after a rollback removed them: their logs are the evidence the rollback check
    reads (the canary's first bad event).
    """

    strategy: str
    component: str
    version: str
    stable_version: str
    action: Action
    reason: str
    figures: Mapping[str, Any]
    started_at: float
    decided_at: float
    finished_at: float
    new_members: tuple[Member, ...]
    serving: Assignment | None
    rollback: RollbackOutcome | None = None
    decisions: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def rolled_back(self) -> bool:
        return self.action is Action.ROLLBACK

    @property
    def new_instances(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.new_members)

    @property
    def new_logs(self) -> dict[str, Path]:
        return {m.name: m.log_path for m in self.new_members}

    def summary(self) -> str:
        """One line for reports: ``canary v2-bad: rollback after 4.1 s (rollback: canary error rate ...)``."""
        took = self.finished_at - self.started_at
        head = f"{self.strategy} {self.version} (stable {self.stable_version})"
        return f"{head}: {self.action} after {took:.1f} s — {self.reason}"

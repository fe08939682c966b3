"""The ``chaos`` marker's vocabulary, in one place: the plugin validates markers against
it, the Allure plugin labels results with it, and the gate policy names severities from it.
"""

from __future__ import annotations

FIELDS = ("title", "hypothesis", "severity", "tags", "feature", "story", "budget_s", "provokes")
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")

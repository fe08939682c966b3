"""Reporting: Allure results for every experiment, the HTML report, and the release gate.

``report_experiment(record)`` files one experiment's evidence; ``step`` and the
``attach_*`` helpers are the pieces it is made of, for experiments that want more.
matplotlib is imported only when a report is really being collected.
"""

from chaoskit.report.attachments import attach_csv, attach_file, attach_json, attach_png, attach_text
from chaoskit.report.experiment_page import report_experiment
from chaoskit.report.record import CheckOutcome, ExperimentRecord
from chaoskit.report.steps import step

__all__ = [
    "CheckOutcome",
    "ExperimentRecord",
    "attach_csv",
    "attach_file",
    "attach_json",
    "attach_png",
    "attach_text",
    "report_experiment",
    "step",
]

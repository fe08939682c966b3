"""``chaoskit report``: the Allure results of a run as an HTML report, with trends.

Allure 2 draws its trend charts (pass rate, durations, categories over runs) from a
``history`` folder it writes into every report; it only carries it forward if that
folder is copied into the next run's results before generating. This module does that
copy, so running ``chaoskit report`` after each nightly run is all a team needs for
trends, as long as ``reports/allure-report`` is kept between runs (CI: cache or
publish it).

The normal report is a folder (``index.html`` + data loaded with XHR: open it through
a web server, e.g. ``allure open`` or ``python -m http.server``); ``single_file_dir``
also writes a self-contained ``index.html`` that opens from disk or a CI artifact.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from chaoskit.errors import ConfigError
from chaoskit.install import Progress
from chaoskit.report.allure_cli import install_allure, print_progress, run_allure

REPORT_NAME = "chaoskit"


def generate_report(
    results_dir: Path, report_dir: Path, single_file_dir: Path | None = None, say: Progress = print_progress
) -> Path:
    """Generate ``report_dir`` (and ``single_file_dir`` if given) from ``results_dir``;
    returns the report's ``index.html``."""
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    if not any(results_dir.glob("*-result.json")):
        raise ConfigError(
            f"no Allure results in {results_dir} (no *-result.json): run the experiments first, "
            f"e.g. `scripts/experiments.sh` or `pytest experiments --alluredir {results_dir}`"
        )
    binary = install_allure(say)
    carried = carry_history(report_dir, results_dir)
    if carried:
        say(f"allure: carried the trend history of {report_dir} forward")
    run_allure(
        binary,
        ["generate", "--clean", "--name", REPORT_NAME, "-o", str(report_dir), str(results_dir)],
        f"generating the Allure report into {report_dir}",
    )
    if single_file_dir is not None:
        run_allure(
            binary,
            [
                "generate",
                "--clean",
                "--single-file",
                "--name",
                REPORT_NAME,
                "-o",
                str(single_file_dir),
                str(results_dir),
            ],
            f"generating the single-file Allure report into {single_file_dir}",
        )
    return report_dir / "index.html"


def carry_history(report_dir: Path, results_dir: Path) -> bool:
    """Copy the previous report's ``history`` into the results; False if there was none."""
    previous = report_dir / "history"
    if not previous.is_dir():
        return False
    target = results_dir / "history"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(previous, target)
    return True

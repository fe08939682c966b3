#!/usr/bin/env bash
# The main job: the chaos experiment suite against the reference event system, then the
# Allure HTML report (reports/allure-report) and the release gate's verdict
# (reports/gate.json, reports/gate.md). Exit code: the gate's (0 pass, 1 hold, 4 experiment error, 5 interrupted, 3 the
# environment could not start). Extra arguments go to pytest, e.g. `-k latency`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/chaoskit run "$@"

#!/usr/bin/env bash
# The main job: the chaos experiment suite against the reference event system, with the
# Allure results left under reports/. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rm -rf reports/allure-results
exec .venv/bin/pytest experiments --alluredir reports/allure-results "$@"

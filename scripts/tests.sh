#!/usr/bin/env bash
# The framework's own tests (unit and integration, on real Kafka, Redis and Toxiproxy),
# after the guard rails: ruff (lint and format) and mypy (strict over chaoskit/).
# Extra arguments go to pytest, e.g. `scripts/tests.sh -k faults -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
echo "[tests] ruff check, ruff format --check, mypy" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest tests "$@"

#!/usr/bin/env bash
# The framework's own tests (unit and integration, on real Kafka, Redis and Toxiproxy).
# Extra arguments go to pytest, e.g. `scripts/tests.sh -k faults -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest tests "$@"

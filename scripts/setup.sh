#!/usr/bin/env bash
# Prepares a fresh machine for chaoskit, idempotently: the .venv at the repository root with
# chaoskit installed in editable mode, then the pinned components (Kafka, Toxiproxy, Redis)
# through `chaoskit install`. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { say "error: $1 is not on PATH; $2"; exit 3; }
}

PYTHON=${PYTHON:-python3}
need "$PYTHON" "chaoskit needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"
"$PYTHON" - <<'PY' || { say "error: $("$PYTHON" --version 2>&1) is too old; chaoskit needs Python >= 3.11 (set PYTHON=...)"; exit 3; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.chaoskit-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing chaoskit and its dependencies into .venv (pip install -e .)"
  .venv/bin/python -m pip install --disable-pip-version-check -q -e .
  echo "$want" > "$stamp"
else
  say "chaoskit already installed in .venv"
fi

say "installing the pinned components (chaoskit install)"
.venv/bin/chaoskit install

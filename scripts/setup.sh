#!/usr/bin/env bash
# Prepares a fresh machine for chaoskit, idempotently: the .venv at the repository root with
# chaoskit installed in editable mode (with its dev tools: ruff, mypy, pre-commit), then the
# pinned components (Kafka, Toxiproxy, Redis, the Allure CLI) through `chaoskit install`.
# With --tests it also installs what only the framework's own tests use, once, so that no
# test installs anything: Debian's chromium (the report's end-to-end check) and Podman with
# the local chaoskit/base image (images/build.sh; the docker runtime's tests).
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { say "error: $1 is not on PATH; $2"; exit 3; }
}

FOR_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --tests) FOR_TESTS=1 ;;
    *) say "error: unknown argument '$arg'; allowed: --tests"; exit 2 ;;
  esac
done

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
  say "installing chaoskit, its dependencies and dev tools into .venv (pip install -e '.[dev]')"
  .venv/bin/python -m pip install --disable-pip-version-check -q -e '.[dev]'
  echo "$want" > "$stamp"
else
  say "chaoskit already installed in .venv"
fi

say "installing the pinned components (chaoskit install)"
.venv/bin/chaoskit install

[ "$FOR_TESTS" = 1 ] || exit 0

apt_install() {  # apt_install <command> <package>...: install the packages unless <command> is there
  local cmd=$1; shift
  if command -v "$cmd" >/dev/null 2>&1; then
    say "$cmd: $(command -v "$cmd")"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 \
    || { say "error: $cmd is not installed and apt-get is not available; install $* with your package manager"; exit 3; }
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  say "installing $* with apt-get (for the tests) ..."
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
    || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null; } \
    || { say "error: apt-get install $* failed (needs root or passwordless sudo)"; exit 3; }
  say "$cmd: $(command -v "$cmd")"
}

apt_install chromium chromium
say "Podman and the chaoskit/base image (images/build.sh)"
bash images/build.sh

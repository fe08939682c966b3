"""Helpers for the report's end-to-end tests: the pinned Allure CLI, headless Chromium,
and a throwaway web server for the report (Allure loads its data with XHR, which
Chromium refuses on file://)."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from chaoskit.install import cache_dir
from chaoskit.report.allure_cli import install_allure

_CACHE = cache_dir()  # read before pytester moves HOME


@pytest.fixture(autouse=True)
def _real_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester moves HOME; keep the Allure CLI where it is cached."""
    monkeypatch.setenv("CHAOSKIT_CACHE", str(_CACHE))


@pytest.fixture(scope="session")
def allure_binary() -> Path:
    os.environ.setdefault("CHAOSKIT_CACHE", str(_CACHE))
    return install_allure()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, which ``scripts/setup.sh --tests`` installs. Missing, the test
    fails saying so: a skipped end-to-end check would read as a green one."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: run scripts/setup.sh --tests (it installs it once)", pytrace=False)
    return found


class Browser:
    """Headless Chromium runs, one process per page, with a private profile."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary = binary
        self.profile = profile

    def _args(self) -> list[str]:
        return [
            self.binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={self.profile}",
            "--virtual-time-budget=10000",
        ]

    def dump_dom(self, url: str) -> str:
        """The page's DOM after its scripts ran (virtual time lets XHR-loaded data render)."""
        proc = subprocess.run(
            [*self._args(), "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    def screenshot(self, url: str, out: Path) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        proc = subprocess.run(
            [*self._args(), "--window-size=1400,900", f"--screenshot={out}", url],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert proc.returncode == 0 and out.exists(), proc.stderr[-2000:]
        return out


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Browser:
    return Browser(chromium, tmp_path / "chromium-profile")


@pytest.fixture
def serve() -> Callable[[Path], AbstractContextManager[str]]:
    """``with serve(directory) as base_url: ...``"""
    return _serve


@contextmanager
def _serve(directory: Path, deadline_s: float = 15.0) -> Iterator[str]:
    """``python -m http.server`` on a free port of 127.0.0.1 (the server picks it and
    says which); stopped when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + deadline_s
        line = ""
        while "port" not in line:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"http.server did not report its port within {deadline_s} s")
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"http.server exited with {proc.returncode} before serving")
        port = int(line.split(" port ")[1].split()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

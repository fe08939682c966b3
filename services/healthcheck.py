"""`python -m services.healthcheck URL`: exit 0 when URL answers 200, else 1.

Used by the compose health checks; the service images have no curl, and this needs
nothing beyond the standard library.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_S = 2.0


def check(url: str, timeout_s: float = TIMEOUT_S) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m services.healthcheck URL\n")
        return 2
    return 0 if check(args[0]) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Attachments to the running test's Allure result, safe to call anywhere.

Without ``--alluredir`` nothing listens and the calls do nothing. With it, but outside
a running test (a session fixture's teardown, a background thread after the test ended),
allure-commons has no item to attach to and raises KeyError (or StopIteration from its
thread lookup); these helpers drop the attachment with a warning instead of failing the
experiment over its report.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import allure
from allure_commons.types import AttachmentType


def attach_text(name: str, text: str) -> None:
    _safely(name, lambda: allure.attach(text, name=name, attachment_type=AttachmentType.TEXT))


def attach_json(name: str, obj: Any) -> None:
    """``obj`` as indented JSON; values JSON cannot hold (Paths, datetimes) become strings."""
    body = json.dumps(obj, indent=2, default=str, ensure_ascii=False)
    _safely(name, lambda: allure.attach(body, name=name, attachment_type=AttachmentType.JSON))


def attach_csv(name: str, rows: Iterable[Mapping[str, Any]], header: Sequence[str] | None = None) -> None:
    """Rows of dicts as CSV (Allure shows it as a table); see ``csv_text`` for the header."""
    body = csv_text(rows, header)
    _safely(name, lambda: allure.attach(body, name=name, attachment_type=AttachmentType.CSV))


def attach_png(name: str, png: bytes) -> None:
    _safely(name, lambda: allure.attach(png, name=name, attachment_type=AttachmentType.PNG))


def attach_file(name: str, path: Path, mime_type: str = "text/plain", extension: str | None = None) -> None:
    """Copy ``path`` into the results; the extension defaults to the file's own."""
    ext = extension or path.suffix.lstrip(".") or "txt"
    _safely(name, lambda: allure.attach.file(str(path), name=name, attachment_type=mime_type, extension=ext))


def csv_text(rows: Iterable[Mapping[str, Any]], header: Sequence[str] | None = None) -> str:
    """CSV of ``rows``; without ``header`` the columns are every key seen, in first-seen order."""
    rows = list(rows)
    columns = list(header) if header is not None else list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _safely(name: str, attach: Callable[[], None]) -> None:
    try:
        attach()
    except (KeyError, StopIteration):
        warnings.warn(f"chaoskit: attachment {name!r} dropped: no Allure test is running to attach it to", stacklevel=3)

"""The public API is what the docs and the shipped experiments use: ``from chaoskit import
...`` with names from ``chaoskit.PUBLIC``, never a module path (which would make every
internal move a breaking change for users who copied an example)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import chaoskit

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"```python[^\n]*\n(.*?)```", re.DOTALL)


def sources() -> list[tuple[str, str]]:
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted(ROOT.glob("experiments/*.py"))]
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, block in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8"))):
            found.append((f"{doc.relative_to(ROOT)} block {n + 1}", block))
    return found


@pytest.mark.parametrize(("where", "code"), sources(), ids=[w for w, _ in sources()])
def test_docs_and_experiments_import_public_names_from_chaoskit_only(where: str, code: str) -> None:
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "chaoskit":
            if node.module != "chaoskit":
                problems.append(f"line {node.lineno}: from {node.module} import ... (use `from chaoskit import ...`)")
            else:
                problems += [
                    f"line {node.lineno}: {a.name} is not public" for a in node.names if a.name not in chaoskit.PUBLIC
                ]
        elif isinstance(node, ast.Import):
            problems += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("chaoskit.")]
    assert not problems, f"{where}: " + "; ".join(problems)


def test_every_public_name_resolves_and_importing_chaoskit_imports_nothing_else() -> None:
    assert sorted(chaoskit.__all__) == sorted(chaoskit.PUBLIC)
    assert all(hasattr(chaoskit, name) for name in chaoskit.PUBLIC)
    code = "import sys, chaoskit; print(sorted(m for m in sys.modules if m.startswith(('chaoskit.', 'requests', 'confluent'))))"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out

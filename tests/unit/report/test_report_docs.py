"""The user docs cannot rot: every ```python block compiles and its imports resolve;
every ```python runnable block runs (those stay server-free)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DOCS = sorted((ROOT / "docs").glob("*.md"))
_FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.name}:{line}", match.group("info").strip(), match.group("code")))
    return found


BLOCKS = blocks()


def test_the_docs_exist_and_have_examples() -> None:
    assert {d.name for d in DOCS} >= {"getting-started.md", "faults.md", "checks.md", "ci.md"}
    assert sum(info == "runnable" for _, info, _ in BLOCKS) >= 5


@pytest.mark.parametrize(("where", "info", "code"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_python_blocks_compile_and_their_imports_resolve(where: str, info: str, code: str) -> None:
    assert info in ("", "runnable"), f"{where}: unknown fence info {info!r} (use ```python or ```python runnable)"
    tree = ast.parse(code, filename=where)
    imports = ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[])
    exec(compile(imports, where, "exec"), {})


@pytest.mark.parametrize(
    ("where", "code"),
    [(w, c) for w, i, c in BLOCKS if i == "runnable"],
    ids=[w for w, i, _ in BLOCKS if i == "runnable"],
)
def test_runnable_blocks_run(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})


def test_doc_links_point_at_files_that_exist() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"


def test_nightly_workflow_runs_the_suite_and_fails_on_the_gate() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly-chaos.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    steps = workflow["jobs"]["chaos"]["steps"]
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    assert uses["actions/setup-python"]["python-version"] == "3.11"
    assert uses["actions/setup-java"]["java-version"] == "17"
    assert "actions/setup-go" in uses and "actions/setup-node" in uses and "actions/checkout" in uses
    runs = {s.get("name", s.get("id")): s for s in steps}
    assert runs["Experiments"]["run"] == "scripts/experiments.sh"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    assert 'reports/gate.md >> "$GITHUB_STEP_SUMMARY"' in runs["Gate summary"]["run"]
    assert "chaoskit gate" in runs["Release gate"]["run"] and "exit_code=$?" in runs["Release gate"]["run"]
    verdict = steps[-1]
    assert (
        verdict["if"] == "always()"
        and "steps.gate.outputs.exit_code" in verdict["run"]
        and 'exit "$code"' in verdict["run"]
    )


_DOCUMENTED_CALL = re.compile(r"`(?P<name>\w+)\((?P<params>[^`]*)\)`")


def documented_calls(doc: str) -> list[tuple[str, list[str]]]:
    """Signatures written in backticks, ``name(a, b=1)``, as (name, parameter names)."""
    calls = []
    for match in _DOCUMENTED_CALL.finditer((ROOT / "docs" / doc).read_text(encoding="utf-8")):
        params = [p.split("=")[0].strip().lstrip("*") for p in match.group("params").split(",") if p.strip()]
        calls.append((match.group("name"), params))
    return calls


@pytest.mark.parametrize(("doc", "module"), [("faults.md", "chaoskit.faults:Faults"), ("checks.md", "chaoskit.checks")])
def test_documented_signatures_match_the_code(doc: str, module: str) -> None:
    """Every ``name(params)`` the reference documents for the API exists with those parameters."""
    import importlib
    import inspect

    path, _, attr = module.partition(":")
    api = importlib.import_module(path)
    api = getattr(api, attr) if attr else api

    def lookup(name: str) -> object:
        """On the API object, or (checks) in the module named for the check, e.g. check_rollback."""
        found = getattr(api, name, None)
        if found is None and not attr and name.startswith("check_"):
            try:
                found = getattr(importlib.import_module(f"{path}.{name.removeprefix('check_')}"), name, None)
            except ModuleNotFoundError:
                found = None
        return found

    checked = 0
    for name, params in documented_calls(doc):
        target = lookup(name)
        if target is None or not callable(target):
            continue
        real = [p for p in inspect.signature(target).parameters if p != "self"]
        assert all(p in real for p in params), (
            f"{doc}: {name}({', '.join(params)}) but the code has {name}({', '.join(real)})"
        )
        checked += 1
    assert checked >= 8

"""The package's shape, as DESIGN.md draws it: no import circles among chaoskit's modules,
and no module importing from a layer above its own.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy or
type-only import is still a dependency a reader has to hold in their head. Read with
``ast``, so nothing is imported and the test is fast.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "chaoskit"

# Lower numbers are lower layers. The longest matching prefix decides a module's layer.
LAYERS: dict[str, int] = {
    "chaoskit.errors": 0,
    "chaoskit.options": 0,
    "chaoskit.marker": 0,
    "chaoskit.guard": 0,
    "chaoskit.topology": 0,
    "chaoskit.install": 1,
    "chaoskit.runtime": 1,
    "chaoskit.faults": 2,
    "chaoskit.observe": 2,
    "chaoskit.load": 2,
    "chaoskit.checks": 3,
    "chaoskit.verdicts": 4,
    "chaoskit.report.series": 4,
    "chaoskit.deploy": 4,
    "chaoskit.report": 4,
    "chaoskit.experiment": 5,
    "chaoskit.exploration": 5,
    "chaoskit.deploy.__main__": 6,
    "chaoskit.report.commands": 6,
    "chaoskit.report.allure_plugin": 6,
    "chaoskit.pytest_plugin": 6,
    "chaoskit.cli": 6,
    "chaoskit": 7,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The chaoskit modules ``path`` imports (a name imported from a package counts as the
    submodule when there is one of that name, else as the package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "chaoskit":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "chaoskit")
    return out


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imported(path, known) if m in known and m != name} for name, path in known.items()}


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer(target) > layer(module) and not module.startswith(target + ".")  # a package's own __init__
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circles() -> None:
    deps = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in deps[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    for node in deps:
        if node not in index:
            visit(node)
    assert not circles, circles


def test_every_module_has_a_layer() -> None:
    assert all(layer(name) >= 0 for name in modules())

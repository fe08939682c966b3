"""The broken topology is the reference topology with one planted bug, and stays so: any
other difference would make "the real service passes, the broken one fails" compare
two different systems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chaoskit.topology import load_topology

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "docker-compose.chaos.yml"
BROKEN = ROOT / "fixtures" / "broken" / "topology.yml"


def without_paths(document: dict[str, Any]) -> dict[str, Any]:
    """The document minus what legitimately differs: its name, the paths relative to the file
    (build contexts, mounted files) and workflow-service's command."""
    document = dict(document, name=None)
    services = {}
    for name, service in document["services"].items():
        service = {key: value for key, value in service.items() if key not in ("build", "volumes")}
        if name == "workflow-service":
            service["command"] = None
            service["x-chaoskit"] = dict(service["x-chaoskit"], command=None)
        services[name] = service
    document["services"] = services
    return document


def test_the_broken_topology_differs_from_the_reference_only_in_workflow_services_command() -> None:
    reference = yaml.safe_load(REFERENCE.read_text())
    broken = yaml.safe_load(BROKEN.read_text())
    assert without_paths(broken) == without_paths(reference)
    command = load_topology(BROKEN).component("workflow-service").command
    assert command == ("{python}", "workflow_commit_first.py")
    assert (BROKEN.parent / command[1]).is_file()

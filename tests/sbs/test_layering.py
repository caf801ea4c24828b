"""The sbs app sits above the registry and datasets: they never import it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BELOW = ("core", "providers", "lifecycle", "datasets", "registry")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_app_below_it_imports_sbs():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for app in BELOW
        for path in sorted((ROOT / app).rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] == "sbs"
    ]
    assert offenders == []


def test_sbs_imports_nothing_above_it():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "sbs").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in ("risks", "reports")
    ]
    assert offenders == []

"""The datasets app sits below the registry: the registry reads datasets, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_datasets_module_imports_the_registry():
    offenders = []
    for path in sorted((ROOT / "datasets").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "registry"]
    assert offenders == []


def test_the_check_compares_against_the_golden_sets_the_registry_cites(db, engineer):
    from datasets.selectors import goldens_cited
    from registry import services
    from tests.conftest import evaluation_payload, model_payload, version_payload

    model = services.model_create(actor=engineer, **model_payload())
    version = services.version_register(
        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload()
    )

    cited = goldens_cited(sha256=version.training_file_sha256)

    assert cited == [evaluation_payload()["golden_set_sha256"]]
    assert goldens_cited(sha256="0" * 64) == []

"""``crds/*.yaml`` are exactly what the models generate: change a model and forget to regenerate
(``canary crds --output-dir crds``), and this fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from canary.cli import render_crd
from canary.models.base import KubeModel
from canary.models.crd import SchemaError, all_crds, openapi_schema

CRDS = Path(__file__).resolve().parents[3] / "crds"


def test_every_crd_file_is_generated() -> None:
    assert sorted(p.name for p in CRDS.glob("*.yaml") if p.name != "kustomization.yaml") == sorted(all_crds())


@pytest.mark.parametrize("name", sorted(all_crds()))
def test_committed_crd_equals_the_generated_one(name: str) -> None:
    generated = all_crds()[name]
    committed_text = (CRDS / name).read_text()
    assert yaml.safe_load(committed_text) == generated, (
        f"crds/{name} is stale: run canary crds --output-dir crds"
    )
    assert committed_text == render_crd(generated)


def test_every_field_has_a_description() -> None:
    """Descriptions come from attribute docstrings; kubectl explain shows them."""
    missing: list[str] = []

    def walk(node: dict[str, object], path: str) -> None:
        props = node.get("properties")
        if isinstance(props, dict):
            for key, sub in props.items():
                assert isinstance(sub, dict)
                if "description" not in sub and key not in ("metadata",):
                    missing.append(f"{path}.{key}")
                walk(sub, f"{path}.{key}")
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, f"{path}[]")

    for name, crd in all_crds().items():
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], name)
    assert missing == []


def test_a_union_without_a_structural_form_is_refused() -> None:
    class Bad(KubeModel):
        spec: int | bool
        """a union Kubernetes cannot express"""

    with pytest.raises(SchemaError, match=r"Bad\.spec"):
        openapi_schema(Bad)

"""``canary convert`` rewrites Flagger manifests: the apiVersion of Canary, MetricTemplate and
AlertProvider, the deprecated canaryAnalysis, comments and other documents kept; what canary refuses
is named on stderr with its field, and the exit code says so."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from canary.cli import main
from canary.models.canary import Canary

FIXTURE = Path(__file__).resolve().parents[1] / "models" / "fixtures" / "flagger-canary.yaml"

MIXED = """\
# my app
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: a, namespace: t}
spec:
  provider: appmesh  # the mesh
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}
  service: {port: 80}
  canaryAnalysis: {interval: 5min, stepWeight: 10}
---
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: errors}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: sum(rate(x[{{ interval }}]))
---
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
"""


def test_a_valid_flagger_canary_only_changes_its_api_version() -> None:
    result = CliRunner().invoke(main, ["convert", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    converted = yaml.safe_load(result.stdout)
    original = yaml.safe_load(FIXTURE.read_text())
    assert converted == {**original, "apiVersion": "canary.dev/v1alpha1"}
    assert result.stdout.startswith("# A Canary written for Flagger")  # comments kept
    Canary.model_validate(converted)
    assert "apiVersion flagger.app/v1beta1 -> canary.dev/v1alpha1" in result.stderr


def test_mixed_file_notes_every_change_and_refusal(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(MIXED)
    result = CliRunner().invoke(main, ["convert", str(source)])
    assert result.exit_code == 1
    docs = list(yaml.safe_load_all(result.stdout))
    assert [d["apiVersion"] for d in docs] == ["canary.dev/v1alpha1", "canary.dev/v1alpha1", "v1"]
    assert "analysis" in docs[0]["spec"]
    assert "canaryAnalysis" not in docs[0]["spec"]
    assert "# the mesh" in result.stdout
    assert result.stdout.startswith("# my app")
    assert "Canary t/a: spec.canaryAnalysis (deprecated) renamed to spec.analysis" in result.stderr
    assert "Canary t/a: spec.provider:" in result.stderr
    assert "Canary t/a: spec.analysis.interval:" in result.stderr
    assert "MetricTemplate errors: apiVersion" in result.stderr
    assert "ConfigMap" not in result.stderr


def test_no_flagger_documents(tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = CliRunner().invoke(main, ["convert", str(source)])
    assert result.exit_code == 0
    assert "nothing to convert" in result.stderr

"""``canary convert`` rewrites Flagger manifests: the apiVersion of Canary, MetricTemplate and
AlertProvider, the deprecated canaryAnalysis, comments and other documents kept; what canary refuses
is named on stderr with its field, and the exit code says so."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from canary.adapters.routers.registry import router_for
from canary.cli import main
from canary.models.canary import Canary, Provider
from canary.models.providers import UNSUPPORTED

FIXTURE = Path(__file__).resolve().parents[1] / "models" / "fixtures" / "flagger-canary.yaml"

MIXED = """\
# my app
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: a, namespace: t}
spec:
  provider: consul  # the mesh
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


#: every provider value Flagger v1.44 routes (pkg/router/factory.go), with the value a suffix selects
FLAGGER_PROVIDERS = {
    "kubernetes": "kubernetes",
    "istio": "istio",
    "linkerd": "linkerd",
    "appmesh": "appmesh",
    "appmesh:v1beta2": "appmesh:v1beta2",
    "contour": "contour",
    "gloo": "gloo",
    "nginx": "nginx",
    "skipper": "skipper",
    "traefik": "traefik",
    "apisix": "apisix",
    "osm": "osm",
    "kuma": "kuma",
    "knative": "knative",
    "smi:v1alpha1": "smi:v1alpha1",
    "smi:v1alpha2": "smi:v1alpha2",
    "smi:v1alpha3": "smi:v1alpha3",
    "smi:v1alpha3:osm": "smi:v1alpha3",
    "smi:v1alpha2:linkerd": "smi:v1alpha2",
    "gloo:edge": "gloo",
    "gatewayapi:v1": "gatewayapi:v1",
    "gatewayapi:v1beta1": "gatewayapi:v1beta1",
}


def _canary_with(provider: str) -> str:
    # Flagger's knative provider goes with a Knative Service target, and that needs no service block.
    target = (
        "  targetRef: {apiVersion: serving.knative.dev/v1, kind: Service, name: a}\n"
        if provider == "knative"
        else "  targetRef: {apiVersion: apps/v1, kind: Deployment, name: a}\n  service: {port: 80}\n"
    )
    return (
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: a, namespace: t}\n"
        f"spec:\n  provider: {provider!r}\n" + target
    )


def test_every_flagger_provider_value_converts_or_is_refused_with_the_reason(tmp_path: Path) -> None:
    routed, refused = [], []
    for value, selects in FLAGGER_PROVIDERS.items():
        source = tmp_path / "in.yaml"
        source.write_text(_canary_with(value))
        result = CliRunner().invoke(main, ["convert", str(source)])
        converted = yaml.safe_load(result.stdout)
        assert converted["spec"]["provider"] == selects, value
        Canary.model_validate(converted)  # the schema takes it: the apply never fails on it
        if value != selects:
            assert f"spec.provider {value} -> {selects}" in result.stderr
        if Provider(selects) in UNSUPPORTED:
            assert result.exit_code == 1, value
            assert f"Canary t/a: spec.provider: canary has no {selects} router" in result.stderr
            refused.append(selects)
        else:
            assert result.exit_code == 0, (value, result.stderr)
            router_for(selects)  # and a router serves it
            routed.append(selects)
    assert sorted(set(refused)) == sorted(p.value for p in UNSUPPORTED)
    assert {"traefik", "skipper", "osm", "smi:v1alpha2", "smi:v1alpha3"} <= set(routed)

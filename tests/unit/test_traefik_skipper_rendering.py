"""The traefik and skipper routers without a cluster: the TraefikService (weighted, or mirroring) and
the Skipper canary Ingress (Flagger's annotations) they write, and what they read back.  That the API
server takes these objects is tests/operator/test_routers_against_upstream_crds.py's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canary.adapters.routers.base import Found, RouteContext
from canary.adapters.routers.ingress import ingress_ref
from canary.adapters.routers.skipper import PREDICATE, WEIGHTS, SkipperRouter
from canary.adapters.routers.traefik import TraefikRouter
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec

INGRESS_REF = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "front"}


def context(provider: str, analysis: dict[str, Any] | None = None) -> RouteContext:
    spec = make_spec(
        analysis or {"stepWeight": 10},
        provider=provider,
        service={"port": 9898, "name": "web"},
        ingressRef=INGRESS_REF,
    )
    return RouteContext(spec, "shop", "web", "app", "web")


# ---------------------------------------------------------------------------------------- traefik
def test_traefik_weights_the_primary_and_canary_services_on_the_service_port() -> None:
    ctx = context("traefik")
    ((ref, obj),) = TraefikRouter().render(ctx, Routes(70, 30), {})
    assert (ref.group, ref.version, ref.kind, ref.name) == ("traefik.io", "v1alpha1", "TraefikService", "web")
    assert obj["spec"] == {
        "weighted": {
            "services": [
                {"name": "web-primary", "namespace": "shop", "port": 9898, "weight": 70},
                {"name": "web-canary", "namespace": "shop", "port": 9898, "weight": 30},
            ]
        }
    }
    assert TraefikRouter().read(ctx, {ref: obj}) == Routes(70, 30)


def test_traefik_lists_the_canary_only_while_it_has_a_weight() -> None:
    """Traefik drops a TraefikService one of whose Services has no endpoints (the idle canary)."""
    ctx = context("traefik")
    ((ref, obj),) = TraefikRouter().render(ctx, Routes(100, 0), {})
    assert obj["spec"]["weighted"]["services"] == [
        {"name": "web-primary", "namespace": "shop", "port": 9898, "weight": 100}
    ]
    assert TraefikRouter().read(ctx, {ref: obj}) == Routes(100, 0)
    ((_, promoted),) = TraefikRouter().render(ctx, Routes(0, 100), {})
    assert [s["name"] for s in promoted["spec"]["weighted"]["services"]] == ["web-primary", "web-canary"]


@pytest.mark.parametrize(("mirror_weight", "percent"), [(None, 100), (25, 25)])
def test_traefik_mirrors_to_the_canary_while_the_primary_serves(
    mirror_weight: int | None, percent: int
) -> None:
    analysis: dict[str, Any] = {"iterations": 3, "mirror": True}
    if mirror_weight is not None:
        analysis["mirrorWeight"] = mirror_weight
    ctx = context("traefik", analysis)
    ((ref, obj),) = TraefikRouter().render(ctx, Routes(100, 0, mirrored=True), {})
    assert obj["spec"] == {
        "mirroring": {
            "name": "web-primary",
            "namespace": "shop",
            "port": 9898,
            "mirrors": [{"name": "web-canary", "namespace": "shop", "port": 9898, "percent": percent}],
        }
    }
    assert TraefikRouter().read(ctx, {ref: obj}) == Routes(100, 0, mirrored=True)
    # the promotion's switch replaces the mirroring spec with weights
    ((_, switched),) = TraefikRouter().render(ctx, Routes(0, 100), {})
    assert "mirroring" not in switched["spec"]
    assert TraefikRouter().read(ctx, {ref: switched}) == Routes(0, 100)


def test_traefik_hands_everything_back_to_the_apex_service_and_keeps_the_object() -> None:
    ctx = context("traefik")
    keep, delete = TraefikRouter().handback(ctx, {})
    ((_, obj),) = keep
    assert obj["spec"]["weighted"]["services"] == [
        {"name": "web", "namespace": "shop", "port": 9898, "weight": 100}
    ]
    assert delete == []


# ---------------------------------------------------------------------------------------- skipper
def _source(backend: str = "web", predicate: str | None = None) -> dict[str, Any]:
    annotations = {"kubernetes.io/ingress.class": "skipper"}
    if predicate is not None:
        annotations[PREDICATE] = predicate
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 9898}}},
    }
    return {
        "metadata": {"name": "front", "namespace": "shop", "annotations": annotations},
        "spec": {"rules": [{"host": "web.example", "http": {"paths": [path]}}]},
    }


def _found(source: dict[str, Any]) -> Found:
    return {ingress_ref("front"): source}


def test_skipper_clones_the_ingress_with_both_backends_and_flaggers_annotations() -> None:
    ctx = context("skipper")
    ((ref, clone),) = SkipperRouter().render(ctx, Routes(90, 10), _found(_source(predicate="Host(/x/)")))
    assert ref.name == "front-canary"
    paths = clone["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["web-primary", "web-canary"]
    annotations = clone["metadata"]["annotations"]
    assert json.loads(annotations[WEIGHTS]) == {"web-primary": 90, "web-canary": 10}
    assert annotations[PREDICATE] == "Weight(100) && Host(/x/)"  # the clone wins, the source's kept
    assert annotations["kubernetes.io/ingress.class"] == "skipper"
    assert SkipperRouter().read(ctx, {ref: clone}) == Routes(90, 10)


def test_skipper_disables_the_clone_while_the_canary_has_no_traffic() -> None:
    ctx = context("skipper")
    ((ref, clone),) = SkipperRouter().render(ctx, Routes(100, 0), _found(_source()))
    assert clone["metadata"]["annotations"][PREDICATE] == "False()"
    assert SkipperRouter().read(ctx, {ref: clone}) == Routes(100, 0)
    ((_, again),) = SkipperRouter().render(ctx, Routes(50, 50), _found(_source()))
    assert again["metadata"]["annotations"][PREDICATE] == "Weight(100)"


def test_skipper_refuses_an_ingress_that_does_not_send_to_the_apex_service() -> None:
    with pytest.raises(InvalidSpec, match=r"^spec\.ingressRef: Ingress front has no path whose backend is"):
        SkipperRouter().render(context("skipper"), Routes(90, 10), _found(_source(backend="other")))
    with pytest.raises(InvalidSpec, match=r"^spec\.ingressRef: Ingress front not found"):
        SkipperRouter().render(context("skipper"), Routes(90, 10), {})


def test_skipper_reads_weights_it_cannot_parse_as_all_on_the_primary() -> None:
    ctx = context("skipper")
    ref = SkipperRouter().refs(ctx)[0]
    broken = {"metadata": {"annotations": {WEIGHTS: "not json", PREDICATE: "Weight(100)"}}}
    assert SkipperRouter().read(ctx, {ref: broken}) == Routes(100, 0)
    assert SkipperRouter().read(ctx, {}) == Routes(100, 0)

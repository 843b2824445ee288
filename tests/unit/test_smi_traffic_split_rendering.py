"""The SMI TrafficSplit routers (linkerd, osm, smi:v1alpha2, smi:v1alpha3) without a cluster: the
TrafficSplit they write, the weights they read back, and the refusal of A/B matches (a TrafficSplit
cannot look at headers)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.adapters.kube.primary import CANARY_LABEL
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.registry import providers_with
from canary.adapters.routers.smi import TrafficSplitRouter, TrafficSplitV1alpha3Router
from canary.core.capabilities import refusal
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec

ROUTER = TrafficSplitRouter()


def context(analysis: dict[str, Any] | None = None, **service: Any) -> RouteContext:
    spec = make_spec(analysis or {"stepWeight": 10}, provider="linkerd", service={"port": 80, **service})
    return RouteContext(spec, "shop", "web", "app", "web")


def test_the_split_sends_the_apex_to_primary_and_canary_by_integer_weight() -> None:
    split = ROUTER.traffic_split(context(name="front"), Routes(70, 30))
    assert split["apiVersion"] == "split.smi-spec.io/v1alpha2"
    assert split["kind"] == "TrafficSplit"
    assert split["metadata"]["name"] == "front"
    assert split["metadata"]["namespace"] == "shop"
    assert split["spec"] == {
        "service": "front",
        "backends": [{"service": "front-primary", "weight": 70}, {"service": "front-canary", "weight": 30}],
    }
    assert "ownerReferences" not in split["metadata"]  # deleting a Canary must not collect routing


def test_apex_metadata_goes_on_the_split_without_overriding_the_canary_label() -> None:
    ctx = context(apex={"labels": {"team": "a", CANARY_LABEL: "other"}, "annotations": {"note": "x"}})
    meta = ROUTER.traffic_split(ctx, Routes(100, 0))["metadata"]
    assert meta["labels"]["team"] == "a"
    assert meta["labels"][CANARY_LABEL] == "web"
    assert meta["annotations"] == {"note": "x"}


@pytest.mark.parametrize(("weights", "routes"), [((60, 40), Routes(60, 40)), ((0, 100), Routes(0, 100))])
def test_reading_back_gives_the_weights_written(weights: tuple[int, int], routes: Routes) -> None:
    ctx = context()
    assert ROUTER._read(ROUTER.traffic_split(ctx, Routes(*weights)), ctx) == routes


def test_weights_written_by_someone_else_are_read_as_percentages() -> None:
    ctx = context()
    split = {
        "spec": {
            "backends": [{"service": "web-primary", "weight": 1}, {"service": "web-canary", "weight": 3}]
        }
    }
    assert ROUTER._read(split, ctx) == Routes(25, 75)
    assert ROUTER._read({"spec": {"backends": []}}, ctx) == Routes(100, 0)


def test_ab_matches_are_refused_naming_the_field() -> None:
    ab = {"iterations": 3, "match": [{"headers": {"x-canary": {"exact": "yes"}}}]}
    message = refusal(context(ab).spec, "linkerd", ROUTER.capabilities, providers_with())
    assert message is not None
    assert message.startswith("spec.analysis.match[0].headers: the linkerd provider has no header match")


def test_canary_and_blue_green_are_accepted() -> None:
    for analysis in ({"stepWeight": 10}, {"iterations": 3}):
        assert refusal(context(analysis).spec, "linkerd", ROUTER.capabilities, providers_with()) is None


def test_smi_v1alpha3_writes_the_same_backends_in_its_own_version() -> None:
    ctx = context({"stepWeight": 10})
    v2 = ROUTER.traffic_split(ctx, Routes(70, 30))
    v3 = TrafficSplitV1alpha3Router().traffic_split(ctx, Routes(70, 30))
    assert v2["apiVersion"] == "split.smi-spec.io/v1alpha2"
    assert v3["apiVersion"] == "split.smi-spec.io/v1alpha3"
    assert v3["spec"] == v2["spec"]

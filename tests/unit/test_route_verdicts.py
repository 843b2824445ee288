"""Reading the data plane's word from the status implementations write: a Gateway API route's
``status.parents[].conditions`` (Accepted, ResolvedRefs) and Contour's HTTPProxy ``Valid`` condition,
for the object's current generation only; nothing said is None."""

from __future__ import annotations

from typing import Any

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.contour import ContourRouter
from canary.adapters.routers.gatewayapi import route_verdict
from canary.core.observations import RouteVerdict
from tests.unit.core.sim import make_spec

TRAEFIK = "traefik.io/gateway-controller"


def _route(generation: int, *parents: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "generation": generation},
        "status": {"parents": list(parents)},
    }


def _parent(gateway: str, *conditions: tuple[str, str, str, int]) -> dict[str, Any]:
    return {
        "parentRef": {"name": gateway, "kind": "Gateway"},
        "controllerName": TRAEFIK,
        "conditions": [
            {"type": t, "status": st, "reason": r, "message": f"{r} says so", "observedGeneration": g}
            for t, st, r, g in conditions
        ],
    }


def test_accepted_by_every_parent_that_reported() -> None:
    route = _route(
        3, _parent("gw", ("Accepted", "True", "Accepted", 3), ("ResolvedRefs", "True", "ResolvedRefs", 3))
    )
    assert route_verdict(route) == RouteVerdict(True, f"HTTPRoute web accepted by {TRAEFIK} (Gateway gw)")


def test_not_accepted_names_who_what_and_why() -> None:
    route = _route(
        2,
        _parent("gw", ("Accepted", "True", "Accepted", 2), ("ResolvedRefs", "True", "ResolvedRefs", 2)),
        _parent("edge", ("Accepted", "False", "NoMatchingListenerHostname", 2)),
    )
    assert route_verdict(route) == RouteVerdict(
        False,
        f"HTTPRoute web: {TRAEFIK} reports Accepted=False for Gateway edge (NoMatchingListenerHostname): "
        "NoMatchingListenerHostname says so",
    )


def test_unresolved_references_are_not_accepted_either() -> None:
    route = _route(
        1, _parent("gw", ("Accepted", "True", "Accepted", 1), ("ResolvedRefs", "False", "BackendNotFound", 1))
    )
    verdict = route_verdict(route)
    assert verdict is not None
    assert not verdict.accepted
    assert "ResolvedRefs=False for Gateway gw (BackendNotFound)" in verdict.message


def test_what_was_said_about_an_earlier_generation_is_not_a_verdict() -> None:
    stale = _route(5, _parent("gw", ("Accepted", "False", "NotAllowedByListeners", 4)))
    assert route_verdict(stale) is None
    assert route_verdict({"metadata": {"name": "web", "generation": 1}}) is None  # no status yet


def _proxy(generation: int, status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "generation": generation}, "status": status}


def test_contour_reports_an_orphaned_proxy_as_not_accepted() -> None:
    ctx = RouteContext(make_spec({"stepWeight": 10}, provider="contour"), "shop", "web", "app", "web")
    ref = ContourRouter().ref(ctx)
    orphaned = {
        "currentStatus": "orphaned",
        "description": "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
        "conditions": [
            {
                "type": "Valid",
                "status": "False",
                "observedGeneration": 1,
                "reason": "Orphaned",
                "message": "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
                "errors": [
                    {
                        "type": "Orphaned",
                        "reason": "Orphaned",
                        "message": "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
                    }
                ],
            }
        ],
    }
    verdict = ContourRouter().verdict(ctx, {ref: _proxy(1, orphaned)})
    assert verdict == RouteVerdict(
        False,
        "HTTPProxy web: Contour reports Valid=False: Orphaned: this HTTPProxy is not part of a delegation "
        "chain from a root HTTPProxy",
    )
    valid = {
        "currentStatus": "valid",
        "description": "Valid HTTPProxy",
        "conditions": [{"type": "Valid", "status": "True", "observedGeneration": 2}],
    }
    assert ContourRouter().verdict(ctx, {ref: _proxy(2, valid)}) == RouteVerdict(
        True, "HTTPProxy web: valid (Valid HTTPProxy)"
    )
    assert ContourRouter().verdict(ctx, {ref: _proxy(3, valid)}) is None  # about generation 2
    assert ContourRouter().verdict(ctx, {}) is None

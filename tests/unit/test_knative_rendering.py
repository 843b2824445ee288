"""The knative provider without a cluster: the traffic it writes, the weights it reads back, Knative's
word on them, a revision's readiness, and the spec rules that pair a Knative Service with it.

The same code runs against Knative Serving's own controller in tests/e2e/test_knative.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from canary.adapters.gitops.manifests import set_images
from canary.adapters.kube.knative import pin_patch, primary_revision, revision_readiness
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.knative import KnativeRouter
from canary.core.observations import Routes
from canary.models.canary import Canary, CanarySpec
from canary.operator.tick import images_of
from tests.unit.core.sim import make_spec

ROUTER = KnativeRouter()
KNATIVE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "web"}


def _ctx(primary: str = "web-00001", canary: str = "web-00002") -> RouteContext:
    return RouteContext(
        make_spec({"stepWeight": 10}, provider="knative"), "shop", "web", "", "", revisions=(primary, canary)
    )


def _service(traffic: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"image": "example.com/web:1"}]}}}
    if traffic is not None:
        spec["traffic"] = traffic
    return {
        "metadata": {"name": "web", "generation": 3},
        "spec": spec,
        "status": {"observedGeneration": 3, **status},
    }


def _found(service: dict[str, Any] | None) -> dict[Any, Any]:
    return {ROUTER.refs(_ctx())[0]: service}


def _traffic(routes: Routes, ctx: RouteContext | None = None) -> list[dict[str, Any]]:
    ((ref, body),) = ROUTER.render(ctx or _ctx(), routes, {})
    assert not ref.owned
    assert (ref.group, ref.plural, ref.name) == ("serving.knative.dev", "services", "web")
    assert set(body) == {"spec"}
    traffic: list[dict[str, Any]] = body["spec"]["traffic"]
    return traffic


def test_the_split_names_both_revisions_and_never_the_latest() -> None:
    assert _traffic(Routes(70, 30)) == [
        {"revisionName": "web-00001", "percent": 70, "latestRevision": False},
        {"revisionName": "web-00002", "percent": 30, "latestRevision": False},
    ]
    assert _traffic(Routes(100, 0)) == [
        {"revisionName": "web-00001", "percent": 100, "latestRevision": False}
    ]
    assert _traffic(Routes(0, 100)) == [
        {"revisionName": "web-00002", "percent": 100, "latestRevision": False}
    ]
    # after a promotion the two are one revision: one entry, all of it
    assert _traffic(Routes(50, 50), _ctx("web-00002", "web-00002")) == [
        {"revisionName": "web-00002", "percent": 100, "latestRevision": False}
    ]


@pytest.mark.parametrize(("primary", "canary"), [(100, 0), (95, 5), (60, 40), (0, 100)])
def test_every_weight_written_is_read_back(primary: int, canary: int) -> None:
    written = _traffic(Routes(primary, canary))
    assert ROUTER.read(_ctx(), _found(_service(written))) == Routes(primary, canary)


def test_traffic_not_on_the_primary_reads_as_the_canarys() -> None:
    # Flagger's shape (latestRevision: true for the canary), resolved through the status
    flagger = [{"latestRevision": True, "percent": 20}, {"revisionName": "web-00001", "percent": 80}]
    assert ROUTER.read(_ctx(), _found(_service(flagger, latestReadyRevisionName="web-00002"))) == Routes(
        80, 20
    )
    # no spec.traffic: Knative sends everything to the latest ready revision
    assert ROUTER.read(_ctx(), _found(_service(latestReadyRevisionName="web-00001"))) == Routes(100, 0)
    assert ROUTER.read(_ctx(), _found(_service(latestReadyRevisionName="web-00002"))) == Routes(0, 100)
    # after a promotion, what still goes to the old primary is not the primary's
    old = [{"revisionName": "web-00001", "percent": 50}, {"revisionName": "web-00002", "percent": 50}]
    assert ROUTER.read(_ctx("web-00002", "web-00002"), _found(_service(old))) == Routes(50, 50)
    assert ROUTER.read(_ctx(), _found(None)) == Routes(100, 0)


def test_the_handback_is_knatives_default() -> None:
    ((_, body),), deleted = ROUTER.handback(_ctx(), {})
    assert body == {"spec": {"traffic": [{"latestRevision": True, "percent": 100}]}}
    assert deleted == []


def _condition(status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": "RoutesReady", "status": status, "reason": reason, "message": message}


def test_knatives_word_on_the_routes() -> None:
    ready = ROUTER.verdict(_ctx(), _found(_service(conditions=[_condition("True")])))
    assert ready is not None
    assert ready.accepted
    missing = _condition("Unknown", "RevisionMissing", 'Revision "web-00002" is not yet ready.')
    held = ROUTER.verdict(_ctx(), _found(_service(conditions=[missing])))
    assert held is not None
    assert not held.accepted
    assert held.message == (
        'Knative Service web: Knative reports RoutesReady=Unknown (RevisionMissing): Revision "web-00002" is '
        "not yet ready."
    )
    failed = ROUTER.verdict(_ctx(), _found(_service(conditions=[_condition("False", "Oops", "bad")])))
    assert failed is not None
    assert not failed.accepted
    # programming the ingress, or about an older generation: no word yet
    programming = _condition("Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.")
    assert ROUTER.verdict(_ctx(), _found(_service(conditions=[programming]))) is None
    stale = _service(conditions=[_condition("True")])
    stale["status"]["observedGeneration"] = 2
    assert ROUTER.verdict(_ctx(), _found(stale)) is None


def _revision(generation: int = 1, observed: int | None = 1, **ready: str) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", **ready}] if ready else []}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "web-00002", "generation": generation}, "status": status}


def test_a_revisions_readiness() -> None:
    assert revision_readiness(_revision(status="True"), "web-00002").ready
    unknown = revision_readiness(_revision(status="Unknown", reason="Deploying"), "web-00002")
    assert (unknown.exists, unknown.ready, unknown.deadline_exceeded) == (True, False, False)
    assert unknown.message == "revision web-00002 is not ready yet (Deploying)"
    failed = revision_readiness(_revision(status="False", reason="ExitCode1", message="boom"), "web-00002")
    assert (failed.ready, failed.deadline_exceeded) == (False, True)  # Knative gave up on it
    assert failed.message == "revision web-00002 failed (ExitCode1: boom)"
    assert not revision_readiness(_revision(2, 1, status="True"), "web-00002").ready  # not observed yet
    assert not revision_readiness(None, "web-00002").exists


def test_the_primary_annotation_ours_then_flaggers() -> None:
    assert primary_revision({"metadata": {"annotations": {"flagger.app/primary-revision": "a"}}}) == "a"
    both = {"canary.dev/primary-revision": "b", "flagger.app/primary-revision": "a"}
    assert primary_revision({"metadata": {"annotations": both}}) == "b"
    assert primary_revision({"metadata": {}}) is None
    assert pin_patch("web-00001") == {
        "metadata": {"annotations": {"canary.dev/primary-revision": "web-00001"}},
        "spec": {"traffic": [{"revisionName": "web-00001", "percent": 100, "latestRevision": False}]},
    }


def _spec(**spec: Any) -> CanarySpec:
    return Canary.model_validate({"spec": spec}).spec


def test_a_knative_service_target_goes_with_the_knative_provider_and_needs_no_service() -> None:
    spec = _spec(provider="knative", targetRef=KNATIVE)  # Flagger's knative tutorial has no service block
    assert spec.target_ref.knative
    assert spec.apex_service == "web"
    assert _spec(targetRef=KNATIVE).target_ref.knative  # the provider may come from the controller's flag
    refused = {
        "a Knative Service target with another provider": (
            {"provider": "istio", "targetRef": KNATIVE},
            "spec.provider: a Knative Service target is routed by Knative (provider knative), not by istio",
        ),
        "the knative provider with a Deployment": (
            {
                "provider": "knative",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "service": {"port": 80},
            },
            "spec.provider: the knative provider routes a Knative Service's revisions",
        ),
        "an autoscaler for a Knative Service": (
            {
                "provider": "knative",
                "targetRef": KNATIVE,
                "autoscalerRef": {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "name": "w",
                },
            },
            "spec.autoscalerRef: a Knative Service scales its own revisions",
        ),
        "a plain Service target": (
            {"targetRef": {"apiVersion": "v1", "kind": "Service", "name": "web"}},
            "spec.targetRef: a Service target must be a Knative Service",
        ),
        "a Deployment without a service": (
            {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
            "service\n  Field required",
        ),
    }
    for case, (body, message) in refused.items():
        with pytest.raises(ValidationError) as error:
            _spec(**body)
        assert message in str(error.value), case


def test_a_promotion_writes_the_image_into_a_knative_service_manifest() -> None:
    manifest = (
        "apiVersion: serving.knative.dev/v1\n"
        "kind: Service\n"
        "metadata:\n  name: web\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        "        - image: example.com/web:1 # the release\n"
        "---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: other\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - image: example.com/web:1\n"
    )
    edit = set_images(manifest, {"example.com/web": "example.com/web:2"})
    assert edit.text == manifest.replace("example.com/web:1 # the release", "example.com/web:2 # the release")
    assert edit.changed == ["Service/web container ?: example.com/web:1 -> example.com/web:2"]
    # the unnamed container of a Knative Service is named as Knative's webhook names it
    service = {"spec": {"template": {"spec": {"containers": [{"image": "example.com/web:2"}]}}}}
    assert images_of(service) == {"user-container": "example.com/web:2"}

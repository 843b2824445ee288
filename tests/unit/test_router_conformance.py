"""One table of scenarios, run against every router the registry serves, without a cluster.

Each router is driven through a store that applies what it renders as the applier would (an owned
object replaced, a fragment of an object someone else made merged into it), and must:

* read back every weight it was asked to render (all or nothing for a router without weights);
* read 100/0 from nothing, so a canary whose routing objects are not made yet is taken for idle;
* render the same objects for the same input, each for one of its refs, carrying the canary's
  label and no ownerReference (deleting a Canary must never garbage-collect routing);
* mirror, when it can and is asked to, and read the mirroring back;
* hand everything back to the apex Service when the Canary is deleted;
* keep the weights on a reconcile (render what it reads).

The per-provider tests (test_*_rendering.py) check the shape of each provider's objects.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.adapters.routers.applier import Traffic
from canary.adapters.routers.base import JSON, Ref, RouteContext, Router
from canary.adapters.routers.registry import router_for, served
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec

PROVIDERS = [p.value for p in served()]
STEPS = [(100, 0), (90, 10), (75, 25), (50, 50), (0, 100)]


def _service(provider: str) -> dict[str, Any]:
    service: dict[str, Any] = {"port": 80, "name": "web"}
    if provider.startswith("gatewayapi"):
        service["gatewayRefs"] = [{"name": "public", "namespace": "gateways"}]
    return service


def context(provider: str, analysis: dict[str, Any] | None = None) -> RouteContext:
    extra: dict[str, Any] = {}
    if "spec.ingressRef" in router_for(provider).reads:  # nginx and skipper clone it
        extra["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}
    spec = make_spec(analysis or {"stepWeight": 10}, provider=provider, service=_service(provider), **extra)
    # A Knative Service target names its two revisions; a Deployment's Pods are told apart by label.
    revisions = ("web-00001", "web-00002") if provider == "knative" else None
    return RouteContext(spec, "shop", "web", "app", "web", revisions=revisions)


class Store:
    """The objects of one namespace, written as the applier writes them."""

    def __init__(self, router: Router, ctx: RouteContext) -> None:
        self.router, self.ctx = router, ctx
        self.objects: dict[Ref, JSON | None] = {ref: None for ref in router.refs(ctx)}
        for ref in [*router.inputs(ctx), *router.refs(ctx)]:
            if ref.kind == "Ingress" and not ref.name.endswith("-canary"):
                self.objects[ref] = _ingress()
            elif not ref.owned:
                self.objects[ref] = {
                    "metadata": {"name": ref.name},
                    "spec": {"selector": {"app": "web-primary"}},
                }

    def found(self) -> dict[Ref, JSON | None]:
        return copy.deepcopy(self.objects)

    def apply(self, routes: Routes) -> list[tuple[Ref, JSON]]:
        rendered = self.router.render(self.ctx, routes, self.found())
        for ref, body in rendered:
            self.write(ref, body)
        return rendered

    def write(self, ref: Ref, body: JSON) -> None:
        """As the API server ends up after the applier's create or merge patch."""
        existing = self.objects[ref]
        if not ref.owned:
            self.objects[ref] = _merge(existing, body)
            return
        meta = {k: body["metadata"].get(k) or {} for k in ("labels", "annotations")}
        base = existing or {**body, "metadata": {**body["metadata"], "labels": {}, "annotations": {}}}
        self.objects[ref] = {**_merge(base, {"metadata": meta}), "spec": body["spec"]}

    def routes(self) -> Routes:
        return self.router.read(self.ctx, self.found())


def _ingress() -> JSON:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "annotations": {"kubernetes.io/ingress.class": "nginx"},
        },
        "spec": {
            "rules": [
                {
                    "host": "web.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


def _merge(have: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(have, dict):
        return patch
    out = dict(have)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(have.get(k), v)
    return out


def _names(node: Any) -> set[str]:
    """Every string in ``node`` (the Services an object routes to are among them)."""
    if isinstance(node, dict):
        return set().union(*(_names(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node)) if node else set()
    return {node} if isinstance(node, str) else set()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_weight_written_is_read_back(provider: str) -> None:
    router, ctx = router_for(provider), context(provider)
    store = Store(router, ctx)
    assert store.routes() == Routes(100, 0)  # nothing made yet: idle
    weighted = Capability.WEIGHTS in router.capabilities
    for primary, canary in STEPS if weighted else [(100, 0), (0, 100), (100, 0)]:
        store.apply(Routes(primary, canary))
        assert store.routes() == Routes(primary, canary)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rendering_is_deterministic_labelled_and_never_owned(provider: str) -> None:
    router, ctx = router_for(provider), context(provider)
    store = Store(router, ctx)
    first = router.render(ctx, Routes(80, 20), store.found())
    assert first == router.render(ctx, Routes(80, 20), store.found())
    refs = router.refs(ctx)
    for ref, body in first:
        assert ref in refs
        meta = body.get("metadata") or {}
        assert "ownerReferences" not in meta
        if ref.owned:
            assert (body["apiVersion"], body["kind"]) == (ref.api_version, ref.kind)
            assert (meta["name"], meta["namespace"]) == (ref.name, "shop")
            assert meta["labels"]["canary.dev/canary"] == "web"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reconcile_keeps_the_weights(provider: str) -> None:
    router, ctx = router_for(provider), context(provider)
    store = Store(router, ctx)
    store.apply(Routes(60, 40) if Capability.WEIGHTS in router.capabilities else Routes(0, 100))
    before = store.routes()
    store.apply(store.routes())
    assert store.routes() == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_mirroring_where_the_router_can(provider: str) -> None:
    router = router_for(provider)
    ctx = context(provider, {"iterations": 3, "mirror": True})
    if Capability.MIRRORING not in router.capabilities:
        # The machine never asks such a router to mirror: a spec asking it is refused first.
        with pytest.raises(InvalidSpec, match=r"^spec\.analysis\.mirror: "):
            Traffic(kube=None, router=router, provider=provider).check(ctx)  # type: ignore[arg-type]
        return
    store = Store(router, ctx)
    store.apply(Routes(100, 0, mirrored=True))
    assert store.routes() == Routes(100, 0, mirrored=True)
    store.apply(Routes(100, 0))
    assert store.routes() == Routes(100, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_handback_sends_everything_to_the_apex_service(provider: str) -> None:
    router, ctx = router_for(provider), context(provider)
    store = Store(router, ctx)
    store.apply(Routes(50, 50) if Capability.WEIGHTS in router.capabilities else Routes(0, 100))
    keep, delete = router.handback(ctx, store.found())
    for ref in delete:
        assert ref.owned, "a router deletes only what it made"
        store.objects[ref] = None
    for ref, body in keep:
        store.write(ref, body)
    for ref, body in store.objects.items():
        if body is None or not ref.owned or ref in router.inputs(ctx):
            continue
        names = _names(body.get("spec"))
        assert ctx.primary_service not in names, (ref, body)
        assert ctx.canary_service not in names, (ref, body)
        assert ctx.apex in names, (ref, body)

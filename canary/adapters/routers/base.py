"""What a router is: pure functions from a Canary's spec and weights to routing objects, and back.

A router renders the objects that route a canary's traffic (``render``), reads the weights back from
them (``read``), says which objects those are (``refs``, and ``inputs`` for objects it only reads,
such as the Ingress the nginx router clones), what a Canary being deleted leaves behind
(``handback``), what the data plane says of them (``verdict``: an HTTPRoute's Accepted and
ResolvedRefs conditions, an HTTPProxy's Valid), and what it can do (``capabilities``, which the
decision core receives instead of a provider's name).  It makes no request:
``canary.adapters.routers.applier`` gets what the refs name, calls the router, and creates or
patches what differs, the same way for every router.

Routers are the source of truth for weights: the status only records what was last written.  Like
every routing object here, a rendered object carries the canary's label but no ownerReference:
deleting a Canary must never garbage-collect what routes traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from canary.adapters.kube.cache import Resource
from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.session import Session
from canary.core.capabilities import Capability
from canary.core.observations import Routes, RouteVerdict
from canary.models.canary import CanarySpec


@dataclass(frozen=True)
class RouteContext:
    """What a router needs to know about one Canary."""

    spec: CanarySpec
    namespace: str
    canary: str
    #: the selector label of the target's Pods and its value, e.g. ("app", "podinfo")
    label: str
    value: str
    #: cookies of the current run when ``analysis.sessionAffinity`` is set (gatewayapi, istio)
    session: Session | None = None
    #: a Knative Service target's (primary revision, canary revision); None for a Deployment
    revisions: tuple[str, str] | None = None

    @property
    def apex(self) -> str:
        return self.spec.apex_service

    @property
    def primary_service(self) -> str:
        return f"{self.apex}-primary"

    @property
    def canary_service(self) -> str:
        return f"{self.apex}-canary"

    def apex_metadata(self) -> dict[str, Any]:
        """Metadata of a routing object named after the apex: ``service.apex`` labels and annotations,
        the canary's label on top."""
        apex_meta = self.spec.service.apex
        return {
            "name": self.apex,
            "namespace": self.namespace,
            "labels": {
                **((apex_meta.labels if apex_meta else None) or {}),
                CANARY_LABEL: self.canary,
                **MANAGED_BY,
            },
            "annotations": dict((apex_meta.annotations if apex_meta else None) or {}),
        }


JSON = dict[str, Any]


@dataclass(frozen=True)
class Ref:
    """One object a router renders or reads, in the Canary's namespace."""

    group: str
    version: str
    plural: str
    kind: str
    name: str
    #: True: the router creates the object and its spec is wholly the router's.  False: someone else
    #: made it (the apex Service) and the router only merges the fields it renders, to move traffic.
    owned: bool = True

    @property
    def resource(self) -> Resource:
        return Resource(self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def body(self, metadata: JSON, spec: JSON) -> JSON:
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata, "spec": spec}


#: what the applier found for each ref (None: the object does not exist)
Found = Mapping[Ref, JSON | None]
#: objects to write: each with the ref it is rendered for, in the order they are to be written
Rendered = list[tuple[Ref, JSON]]


#: the spec fields that place a route (where it attaches, which requests it takes), which only some
#: providers read: a spec setting one its router does not read is refused (``Traffic.check``)
PLACEMENT_FIELDS = (
    "spec.service.gateways",
    "spec.service.gatewayRefs",
    "spec.service.hosts",
    "spec.service.delegation",
    "spec.service.match",
    "spec.ingressRef",
)


def placement(spec: CanarySpec) -> list[str]:
    """The ``PLACEMENT_FIELDS`` that ``spec`` sets (an empty list or ``delegation: false`` sets nothing)."""
    svc = spec.service
    values = (svc.gateways, svc.gateway_refs, svc.hosts, svc.delegation, svc.match, spec.ingress_ref)
    return [field for field, value in zip(PLACEMENT_FIELDS, values, strict=True) if value]


class Router(Protocol):
    capabilities: ClassVar[frozenset[Capability]]
    #: which of ``PLACEMENT_FIELDS`` the router reads
    reads: ClassVar[frozenset[str]]

    def refs(self, ctx: RouteContext) -> list[Ref]:
        """The objects the router renders."""

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        """Objects the router reads but never writes."""

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        """The objects sending ``routes.primary``/``routes.canary`` percent of traffic (and mirroring
        if asked); InvalidSpec for a spec they cannot express."""

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        """The weights the objects carry now (100/0 when they do not exist yet)."""

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """For a Canary being deleted (revertOnDeletion), once the apex Service selects the target
        again: what to rewrite so that everything goes to the apex Service, and what to delete."""

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """What the data plane reports about the objects' current generation (their status), or
        None when it reports nothing (the kind has no status, or nobody has written it yet)."""

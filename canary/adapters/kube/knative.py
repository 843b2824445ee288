"""A Knative Service as the target: its revisions are the primary and the canary.

Who calls this: ``canary.operator.tick``, in place of ``Workloads``, for a Canary whose
``spec.targetRef`` is a Knative Service (``serving.knative.dev/v1``, kind ``Service``).  Knative makes
a new Revision, named ``<service>-00001``, ``-00002``, ..., each time the Service's template changes;
nothing is copied and no Deployment or Service is generated.  The primary is the revision named by
the annotation ``canary.dev/primary-revision`` on the Knative Service (Flagger's
``flagger.app/primary-revision`` is read when ours is absent, so a canary taken over from Flagger
keeps its primary); the canary is the latest created revision (``status.latestCreatedRevisionName``),
and its name is the revision the analysis runs on (``status.lastAppliedSpec``).

Bootstrap, once: the annotation is set to the latest *ready* revision and the Service's
``spec.traffic`` is pinned to it (100 percent, by name), in one patch.  From then on a template change
makes a revision that gets no traffic until the analysis gives it some (``canary.adapters.routers.
knative`` writes ``spec.traffic``).  Unlike Flagger, the canary is routed by its revision's name, not
by ``latestRevision: true``: a revision created in the middle of an analysis gets no traffic that was
meant for the one analysed, and promotion names the revision that passed, not whichever is latest.

Promotion moves the annotation to the analysed revision.  Knative scales revisions itself, so parking
or waking the canary does nothing here, and a ``spec.autoscalerRef`` is refused.  A Canary deleted
with revertOnDeletion gives the Service back to Knative's default (all traffic to the latest ready
revision, written by the router) and removes the annotation.
"""

from __future__ import annotations

from typing import Any

from canary.adapters.kube.cache import Resource
from canary.adapters.kube.client import JSON, KubeClient
from canary.adapters.kube.workloads import WorkloadView
from canary.core.observations import Readiness
from canary.models.canary import KNATIVE_PORT, CanaryService, CanarySpec

SERVICES = Resource("serving.knative.dev", "v1", "services")
REVISIONS = Resource("serving.knative.dev", "v1", "revisions")
PRIMARY_ANNOTATION = "canary.dev/primary-revision"
#: Flagger's annotation, read when ours is absent
FLAGGER_PRIMARY_ANNOTATION = "flagger.app/primary-revision"
#: the keys of ``WorkloadView.reads`` a watch event of these kinds wakes (``canary.operator.handlers``)
SERVICE_KEY, REVISION_KEY = "kservice", "revision"


def primary_revision(service: JSON) -> str | None:
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    return annotations.get(PRIMARY_ANNOTATION) or annotations.get(FLAGGER_PRIMARY_ANNOTATION) or None


def revision_readiness(revision: JSON | None, name: str) -> Readiness:
    """Whether a Revision serves, from its ``Ready`` condition for its current generation.  Ready=False
    is Knative giving up on it (a container that cannot start, its progress deadline)."""
    what = f"revision {name}"
    if revision is None:
        return Readiness.missing(what)
    meta, status = revision.get("metadata") or {}, revision.get("status") or {}
    if status.get("observedGeneration") != meta.get("generation"):
        return Readiness(True, False, False, f"{what}: Knative has not observed it yet")
    ready = {c.get("type"): c for c in status.get("conditions") or []}.get("Ready") or {}
    why = f"{ready.get('reason', '')}: {ready.get('message', '')}".strip(": ")
    if ready.get("status") == "True":
        return Readiness(True, True)
    if ready.get("status") == "False":
        return Readiness(True, False, True, f"{what} failed ({why})")
    return Readiness(True, False, False, f"{what} is not ready yet" + (f" ({why})" if why else ""))


def pin_patch(revision: str) -> JSON:
    """The bootstrap: ``revision`` is the primary and takes all traffic."""
    return {
        "metadata": {"annotations": {PRIMARY_ANNOTATION: revision}},
        "spec": {"traffic": [{"revisionName": revision, "percent": 100, "latestRevision": False}]},
    }


class KnativeTarget:
    """``Workloads`` for a Knative Service (same methods, called by the tick the same way)."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def _get(self, resource: Resource, namespace: str, name: str) -> JSON | None:
        return self.kube.get_custom(resource.group, resource.version, resource.plural, namespace, name)

    def _patch(self, namespace: str, name: str, patch: JSON) -> JSON:
        return self.kube.patch_custom(
            SERVICES.group, SERVICES.version, SERVICES.plural, namespace=namespace, name=name, patch=patch
        )

    def observe(self, spec: CanarySpec, namespace: str) -> WorkloadView:
        name = spec.target_ref.name
        service = self._get(SERVICES, namespace, name)
        view = WorkloadView(
            target=service,
            primary=None,
            target_readiness=Readiness.missing(f"Knative Service {name}"),
            primary_readiness=Readiness.missing("the primary revision"),
            reads={f"{SERVICE_KEY}/{name}"},
        )
        if service is None:
            view.invalid = f"spec.targetRef: Knative Service {name} not found in namespace {namespace}"
            return view
        if spec.service != CanaryService(port=KNATIVE_PORT):
            view.invalid = (
                "spec.service: a Knative Service target has no generated Services (Knative routes by "
                "revision): remove spec.service"
            )
            return view
        status = service.get("status") or {}
        pinned = primary_revision(service)
        primary = pinned or status.get("latestReadyRevisionName")
        # Until the primary is pinned, the revision is the one that serves: a newer one, not yet ready,
        # is a new revision for the first analysis, not the promoted one.
        latest = status.get("latestCreatedRevisionName") if pinned else primary
        if not latest or not primary:
            waiting = Readiness(True, False, False, f"Knative has not made a ready revision of {name} yet")
            view.target_readiness = view.primary_readiness = waiting
            return view  # no revision: nothing to bootstrap yet (the tick sees no target hash)
        canary = self._get(REVISIONS, namespace, latest)
        view.primary = canary if primary == latest else self._get(REVISIONS, namespace, primary)
        view.reads |= {f"{REVISION_KEY}/{latest}", f"{REVISION_KEY}/{primary}"}
        view.target_readiness = revision_readiness(canary, latest)
        view.primary_readiness = revision_readiness(view.primary, primary)
        view.revision = latest
        view.revisions = (primary, latest)
        view.primary_name = f"revision {primary}"
        return view

    def bootstrap(self, spec: CanarySpec, namespace: str, canary: str, view: WorkloadView) -> None:
        """Name the primary and pin the traffic to it, once (a later template change then gets none)."""
        if view.target is None or view.revisions is None:
            return
        if primary_revision(view.target) is None and view.primary_readiness.ready:
            view.target = self._patch(namespace, spec.target_ref.name, pin_patch(view.revisions[0]))

    def promote(self, view: WorkloadView, canary: str) -> None:
        """The analysed revision becomes the primary (the router then gives it all the traffic)."""
        if view.target is None or view.revision is None:
            return
        meta = view.target["metadata"]
        patch = {"metadata": {"annotations": {PRIMARY_ANNOTATION: view.revision}}}
        view.target = self._patch(meta["namespace"], meta["name"], patch)

    def scale_target(self, spec: CanarySpec, namespace: str, replicas: int) -> None:
        """Nothing: Knative scales each revision by its traffic (one with none goes to its minimum)."""

    def set_images(
        self, spec: CanarySpec, namespace: str, view: WorkloadView, images: tuple[tuple[str, str], ...]
    ) -> None:
        """Nothing: the state machine refuses ``canary set image`` for a Knative Service (edit it)."""

    def restore(self, spec: CanarySpec, namespace: str, view: WorkloadView, revision: str) -> None:
        """Nothing: the state machine refuses ``canary undo`` for a Knative Service."""

    def point_apex_at_target(self, spec: CanarySpec, namespace: str, view: WorkloadView) -> None:
        """Nothing: there is no apex Service; the router hands the traffic back to Knative."""

    def remove_generated(self, spec: CanarySpec, namespace: str, view: WorkloadView) -> None:
        """Remove the primary annotation (ours and Flagger's): nothing else was generated."""
        if view.target is None:
            return
        annotations: dict[str, Any] = {PRIMARY_ANNOTATION: None, FLAGGER_PRIMARY_ANNOTATION: None}
        present = (view.target.get("metadata") or {}).get("annotations") or {}
        if any(key in present for key in annotations):
            self._patch(namespace, spec.target_ref.name, {"metadata": {"annotations": annotations}})

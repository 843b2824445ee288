"""Observe and change the target, the primary and their Services, for one Canary.

Who calls this: ``canary.operator.tick``.  ``observe`` gathers what the decision core needs
(readiness, the revision hash, tracked configs); ``bootstrap`` creates what must exist before any
decision (the primary, cloned from the target on first sight, and the three Services); the other
methods execute the core's actions.  Building objects is left to the pure modules beside this one.

A KEDA ScaledObject of the target is paused whenever the target is scaled to zero and resumed
before it is scaled up, in ``scale_target``: every path that parks or wakes the target (a tick's
actions, a Canary's deletion) goes through it, so the scaler never fights the controller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from canary.adapters.kube import primary as build
from canary.adapters.kube.cache import Resource
from canary.adapters.kube.client import JSON, KubeClient
from canary.adapters.kube.readiness import deployment_readiness
from canary.adapters.kube.revision import config_checksum, is_tracked, revision_hash
from canary.adapters.kube.services import generated_services, takeover_patch
from canary.core.errors import InvalidSpec
from canary.core.observations import Readiness
from canary.models.canary import CanarySpec

#: The kinds ``spec.autoscalerRef`` may name, as the API serves them.
AUTOSCALERS = {
    "HorizontalPodAutoscaler": Resource("autoscaling", "v2", "horizontalpodautoscalers"),
    "ScaledObject": Resource("keda.sh", "v1alpha1", "scaledobjects"),
}


@dataclass
class WorkloadView:
    """What one observation found."""

    target: JSON | None
    primary: JSON | None
    target_readiness: Readiness
    primary_readiness: Readiness
    revision: str | None = None
    tracked_configs: dict[str, str] = field(default_factory=dict)
    #: configs whose content the revision covers: (kind, name) -> the object
    configs: dict[tuple[str, str], JSON] = field(default_factory=dict)
    invalid: str | None = None
    #: the objects this observation read ("deployment/NAME", "configmap/NAME", "secret/NAME"): a
    #: change to any of them may change the next decision
    reads: set[str] = field(default_factory=set)
    #: the label that tells the target's Pods apart and its value, e.g. ("app", "podinfo"); empty for
    #: a Knative Service (its revisions are told apart by name)
    selector: tuple[str, str] = ("", "")
    #: a Knative Service's (primary revision, canary revision); None for a Deployment
    revisions: tuple[str, str] | None = None
    #: what messages call the primary, when not ``<target>-primary``
    primary_name: str | None = None

    @property
    def primary_replicas(self) -> int:
        if self.primary is None:
            return 1
        return max(int(self.primary.get("spec", {}).get("replicas") or 1), 1)


def _satisfies(obj: Any, patch: Any) -> bool:
    """True when a merge ``patch`` would change nothing in ``obj`` (so no request is needed)."""
    if isinstance(patch, dict):
        if obj is None:
            obj = {}  # merging a map into a missing field creates only what the map holds
        return isinstance(obj, dict) and all(_satisfies(obj.get(k), v) for k, v in patch.items())
    return bool(obj == patch)


class Workloads:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def observe(self, spec: CanarySpec, namespace: str) -> WorkloadView:
        name = spec.target_ref.name
        target = self.kube.get_deployment(namespace, name)
        primary = self.kube.get_deployment(namespace, build.primary_name(name))
        view = WorkloadView(
            target=target,
            primary=primary,
            target_readiness=deployment_readiness(target, spec.canary_ready_threshold),
            primary_readiness=deployment_readiness(primary, spec.primary_ready_threshold),
            reads={f"deployment/{name}", f"deployment/{build.primary_name(name)}"},
        )
        if target is None:
            view.invalid = f"spec.targetRef: Deployment {name} not found in namespace {namespace}"
            return view
        try:
            view.selector = build.selector_label(target)
        except build.SelectorLabelMissing as e:
            view.invalid = str(e)
            return view
        for kind, ref in build.referenced_configs(target):
            view.reads.add(f"{kind}/{ref}")
            obj = self.kube.get_config(kind, namespace, ref)
            if obj is not None and is_tracked(kind, obj):
                view.configs[(kind, ref)] = obj
                view.tracked_configs[f"{kind}/{ref}"] = config_checksum(obj)
        view.revision = revision_hash(target["spec"]["template"], view.tracked_configs)
        return view

    # ------------------------------------------------------------------------------ bootstrap
    def bootstrap(self, spec: CanarySpec, namespace: str, canary: str, view: WorkloadView) -> None:
        """Create the primary (once) and make the Services match the spec (every tick)."""
        target = view.target
        if target is None or view.revision is None:
            return
        if view.primary is None:
            self._copy_configs(view, canary)
            replicas = int(target.get("spec", {}).get("replicas") or 1)
            body = build.primary_deployment(
                target, canary=canary, revision=view.revision, replicas=replicas, copied=set(view.configs)
            )
            self.kube.create_deployment(body)
            view.primary = body
            view.primary_readiness = Readiness(exists=True, ready=False, message="just created")
        self._sync_autoscaler(spec, namespace, canary)
        label, value = build.selector_label(target)
        wanted_services = generated_services(
            spec, namespace=namespace, canary=canary, label=label, value=value, target=target
        )
        for wanted in wanted_services:
            name = wanted["metadata"]["name"]
            existing = self.kube.get_service(namespace, name)
            if existing is None:
                self.kube.create_service(wanted)
                continue
            patch = takeover_patch(existing, wanted)
            if name == spec.apex_service and build.CANARY_LABEL in (existing["metadata"].get("labels") or {}):
                # The apex selector belongs to the router (blue/green moves it); set it only on take-over.
                patch["spec"].pop("selector")
            if not _satisfies(existing, patch):
                self.kube.patch_service(namespace, name, patch)

    def _sync_autoscaler(self, spec: CanarySpec, namespace: str, canary: str) -> None:
        """Keep ``<autoscaler>-primary`` equal to the target's autoscaler, aimed at the primary."""
        ref = spec.autoscaler_ref
        if ref is None:
            return
        scaler = AUTOSCALERS[ref.kind]
        source = self.kube.get_custom(scaler.group, scaler.version, scaler.plural, namespace, ref.name)
        if source is None:
            raise InvalidSpec(f"spec.autoscalerRef: {ref.kind} {ref.name} not found in namespace {namespace}")
        bounds = ref.primary_scaler_replicas
        min_replicas = bounds.min_replicas if bounds else None
        max_replicas = bounds.max_replicas if bounds else None
        if ref.kind == "ScaledObject":
            wanted = build.primary_scaled_object(
                source,
                canary=canary,
                target=spec.target_ref.name,
                queries=ref.primary_scaler_queries or {},
                min_replicas=min_replicas,
                max_replicas=max_replicas,
            )
        else:
            wanted = build.primary_autoscaler(
                source, canary=canary, min_replicas=min_replicas, max_replicas=max_replicas
            )
        self.kube.ensure_spec(scaler.group, scaler.version, scaler.plural, wanted)

    def _copy_configs(self, view: WorkloadView, canary: str) -> None:
        for (kind, _), obj in view.configs.items():
            self.kube.apply_config(kind, build.config_copy(kind, obj, canary))

    # ------------------------------------------------------------------------------ actions
    def promote(self, view: WorkloadView, canary: str) -> None:
        """Copy the target's pod template (and configs) to the primary: a rolling update of it."""
        target = view.target
        if target is None or view.primary is None or view.revision is None:
            return
        self._copy_configs(view, canary)
        spec = target["spec"]
        # A merge patch would merge lists (containers) key by key and keep removed fields: replace
        # the template wholesale with a JSON patch instead.
        template = build.primary_template(target, view.revision, set(view.configs))
        ops: list[dict[str, Any]] = [{"op": "replace", "path": "/spec/template", "value": template}]
        ops += [
            {"op": "add", "path": f"/spec/{key}", "value": spec[key]}
            for key in ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit")
            if key in spec
        ]
        meta = target["metadata"]
        primary = build.primary_name(meta["name"])
        self.kube.patch_deployment(meta["namespace"], primary, ops)
        record = build.promoted_template_record(target, view.revision)
        self.kube.patch_deployment(meta["namespace"], primary, {"metadata": {"annotations": record}})

    def set_images(
        self, spec: CanarySpec, namespace: str, view: WorkloadView, images: tuple[tuple[str, str], ...]
    ) -> None:
        """``canary set image``: the target's named containers get these images."""
        if view.target is not None:
            self.kube.patch_deployment(
                namespace, spec.target_ref.name, build.image_patch(view.target, images)
            )

    def restore(self, spec: CanarySpec, namespace: str, view: WorkloadView, revision: str) -> None:
        """``canary undo``: the target's pod template becomes the one the primary records for
        ``revision``; nothing when the record is another revision's."""
        record = build.recorded_template(view.primary)
        if record is None or record[0] != revision:
            return
        ops = [{"op": "replace", "path": "/spec/template", "value": record[1]}]
        self.kube.patch_deployment(namespace, spec.target_ref.name, ops)

    def scale_target(self, spec: CanarySpec, namespace: str, replicas: int) -> None:
        # The scaler changes first: a running one would scale a parked target back up, a paused one
        # would hold a woken target at zero.
        self._pause_target_scaler(spec, namespace, paused=replicas == 0)
        self.kube.scale_deployment(namespace, spec.target_ref.name, replicas)

    def _pause_target_scaler(self, spec: CanarySpec, namespace: str, *, paused: bool) -> None:
        """Pause (or resume) the target's ScaledObject; an HPA has no pause and needs none here."""
        ref = spec.autoscaler_ref
        if ref is None or ref.kind != "ScaledObject":
            return
        scaler = AUTOSCALERS[ref.kind]
        scaled_object = self.kube.get_custom(scaler.group, scaler.version, scaler.plural, namespace, ref.name)
        if scaled_object is None:
            return  # nothing to pause; a tick reports the missing scaler as an invalid spec
        patch = build.scaler_pause_patch(scaled_object, paused=paused)
        if patch is not None:
            self.kube.patch_custom(
                scaler.group, scaler.version, scaler.plural, namespace=namespace, name=ref.name, patch=patch
            )

    # ------------------------------------------------------------------------------ deletion
    def point_apex_at_target(self, spec: CanarySpec, namespace: str, view: WorkloadView) -> None:
        """Give the apex Service back: its original selector if we took it over, else the target's Pods."""
        if view.target is None:
            return
        label, value = build.selector_label(view.target)
        apex = self.kube.get_service(namespace, spec.apex_service)
        if apex is None:
            return
        original = (apex["metadata"].get("annotations") or {}).get(build.ORIGINAL_SELECTOR_ANNOTATION)
        selector = json.loads(original) if original else {label: value}
        # A JSON merge patch would merge the old selector's keys into the new one; replace it instead.
        ops: list[dict[str, Any]] = [{"op": "replace", "path": "/spec/selector", "value": selector}]
        self.kube.patch_service(namespace, spec.apex_service, ops)

    def remove_generated(self, spec: CanarySpec, namespace: str, view: WorkloadView) -> None:
        """Delete the primary, its config copies, its autoscaler and the -primary/-canary Services."""
        target = spec.target_ref.name
        self.kube.delete("deployment", namespace, build.primary_name(target))
        for suffix in ("-primary", "-canary"):
            self.kube.delete("service", namespace, f"{spec.apex_service}{suffix}")
        for kind, name in view.configs:
            self.kube.delete(kind, namespace, f"{name}-primary")
        if spec.autoscaler_ref is not None:
            scaler = AUTOSCALERS[spec.autoscaler_ref.kind]
            self.kube.delete_custom(
                scaler.group, scaler.version, scaler.plural, namespace, f"{spec.autoscaler_ref.name}-primary"
            )

"""One tick of one Canary: parse -> observe -> decide -> act -> patch status once.

Who calls this: the per-canary daemon in ``canary.operator.handlers`` (in a worker thread: the
kubernetes client is synchronous).  What it owns: the sequence, and the mapping of failures a user
can cause (an invalid spec, an unknown provider) to a ``Ready=False`` condition plus a Warning event.
It makes no rollout decision itself: ``canary.core.machine.step`` does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from canary.adapters.gitops.revision import git_revision
from canary.adapters.gitops.writer import GitOpsWriter
from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.events import EventRecorder
from canary.adapters.kube.leader import LeaderElector
from canary.adapters.kube.primary import selector_label
from canary.adapters.kube.workloads import Workloads, WorkloadView
from canary.adapters.metrics.analysis import AnalysisContext
from canary.adapters.recorder import MetricsRecorder
from canary.adapters.routers.base import RouteContext, Router
from canary.adapters.routers.registry import UnknownProvider, router_for
from canary.adapters.routers.session import session_for
from canary.core.actions import (
    EventType,
    PromoteToPrimary,
    Reason,
    RecordEvent,
    RunPostRolloutHooks,
    ScaleTarget,
    SetWeights,
    normal,
    warning,
)
from canary.core.errors import Conflict, InvalidSpec
from canary.core.machine import Decided, NeedChecks, parse_timestamp, step, timestamp
from canary.core.observations import CheckKind, CheckOutcome, Observations, Routes
from canary.models.canary import Canary, CanarySpec, CanaryStatus, Condition, Phase, Provider
from canary.operator.checks import CheckRunner
from canary.operator.notices import Notices
from canary.operator.settings import Settings

DEFAULT_INTERVAL = 60.0
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickResult:
    #: seconds until the next due tick
    interval: float
    #: objects whose change should wake this canary at once (see ``WorkloadView.reads``); None: the
    #: tick observed nothing (a standby replica), keep what the last one read
    reads: frozenset[str] | None = None


def _time(value: str | None) -> datetime | None:
    return parse_timestamp(value) if value else None


def images_of(deployment: dict[str, Any] | None) -> dict[str, str]:
    """Container name -> image of a Deployment's pod template (init containers included)."""
    if deployment is None:
        return {}
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    return {c["name"]: c["image"] for c in containers if c.get("name") and c.get("image")}


def merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``before`` into ``after``: maps are patched key by key (null deletes a
    key, at any depth); anything else is replaced whole."""
    patch: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = merge_patch(old, value)
            if inner:
                patch[key] = inner
        elif value != old:
            patch[key] = value
    patch.update({k: None for k in before if k not in after})
    return patch


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for e in error.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class Controller:
    def __init__(
        self,
        kube: KubeClient,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        checks: CheckRunner | None = None,
        leader: LeaderElector | None = None,
        recorder: MetricsRecorder | None = None,
        gitops: GitOpsWriter | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.leader = leader
        self.recorder = recorder
        self.workloads = Workloads(kube)
        self.events = EventRecorder(kube, settings.identity)
        self.checks = checks or CheckRunner()
        self.gitops = gitops or GitOpsWriter(
            settings.gitops_workdir, lambda namespace, name: kube.get_config("secret", namespace, name)
        )
        self.notices = Notices(
            self.checks.webhooks,
            self.events,
            event_webhook=settings.event_webhook,
            clock=clock,
            read_secret=lambda namespace, name: kube.get_config("secret", namespace, name),
            read_alert_provider=lambda namespace, name: kube.get_custom(
                "canary.dev", "v1alpha1", "alertproviders", namespace, name
            ),
            cluster=settings.cluster_name,
        )

    def leading(self) -> bool:
        return self.leader is None or self.leader.is_leader()

    def tick(self, namespace: str, name: str, *, due: bool) -> TickResult:
        if not self.leading():
            return TickResult(1.0)  # a standby replica watches; it checks again in a second
        body = self.kube.get_canary(namespace, name)
        if body is None or body.get("metadata", {}).get("deletionTimestamp"):
            return TickResult(DEFAULT_INTERVAL)  # gone, or being finalized by ``finalize``
        now = self.clock()
        try:
            canary = Canary.model_validate(body)
        except ValidationError as e:
            self._invalid(body, f"invalid spec: {describe_validation_error(e)}", now)
            return TickResult(DEFAULT_INTERVAL)
        spec = canary.spec
        provider = spec.provider or self.settings.default_provider
        try:
            router = router_for(provider, self.kube)
        except UnknownProvider as e:
            self._invalid(body, f"spec.provider: {e}", now)
            return TickResult(spec.interval_seconds(self.settings.min_interval))

        view = self.workloads.observe(spec, namespace)
        ctx: RouteContext | None = None
        routes: Routes | None = None
        if view.invalid is None and view.target is not None:
            try:
                self.workloads.bootstrap(spec, namespace, name, view)
            except InvalidSpec as e:
                view.invalid = str(e)
        if view.invalid is None and view.target is not None:
            label, value = selector_label(view.target)
            ctx = RouteContext(spec, namespace, name, label, value, session_for(spec, canary.status))
            # Routing objects are taken over only once the primary can serve (no downtime).
            if canary.status.phase not in (Phase.NONE, Phase.INITIALIZING) or view.primary_readiness.ready:
                try:
                    router.reconcile(ctx)
                    routes = router.get_routes(ctx)
                except InvalidSpec as e:
                    view.invalid = str(e)
                    ctx = None
        obs = Observations(
            target=view.target_readiness,
            primary=view.primary_readiness,
            target_hash=view.revision,
            tracked_configs=view.tracked_configs,
            routes=routes,
            scale_up_replicas=view.primary_replicas,
            invalid_spec=view.invalid,
            due=due,
            git_revision=self._git_revision(spec, view),
            images=images_of(view.target),
            primary_images=images_of(view.primary),
        )
        generation = body.get("metadata", {}).get("generation")
        result = self._decide(
            canary,
            namespace=namespace,
            name=name,
            obs=obs,
            provider=provider,
            now=now,
            generation=generation,
            checksum=view.revision or "",
        )
        self._act(result, body, spec=spec, route_ctx=ctx, router=router, view=view, now=now)
        version = body.get("metadata", {}).get("resourceVersion")
        if not self._patch_status(namespace, name, body.get("status") or {}, result.status, version):
            return TickResult(1.0, frozenset(view.reads))  # decide again in a second, from fresh state
        if self.recorder is not None:
            self.recorder.record(
                name=name,
                namespace=namespace,
                target=spec.target_ref.name,
                strategy=spec.strategy.value,
                before=canary.status.phase,
                after=result.status.phase,
                weight=result.status.canary_weight,
                seconds=(self.clock() - now).total_seconds(),
            )
        return TickResult(spec.interval_seconds(self.settings.min_interval), frozenset(view.reads))

    def _decide(
        self,
        canary: Canary,
        *,
        namespace: str,
        name: str,
        obs: Observations,
        provider: Provider,
        now: datetime,
        generation: int | None,
        checksum: str,
    ) -> Decided:
        """``step`` until it decides, running the checks and the Git write it asks for on the way."""
        spec, status = canary.spec, canary.status
        result = step(spec, status, obs, now, provider=provider, generation=generation)
        while isinstance(result, NeedChecks):
            if CheckKind.GIT_WRITE in result.kinds and result.write is not None and spec.gitops is not None:
                obs = obs.with_git(self.gitops.write(namespace, name, spec.gitops, result.write))
            else:
                context = AnalysisContext(
                    spec,
                    namespace,
                    name,
                    provider,
                    now,
                    interval=spec.interval_seconds(self.settings.min_interval),
                    started=_time(status.analysis_start_time),
                    phase=status.phase.value,
                    checksum=checksum,
                )
                obs = obs.with_checks(self._run_checks(result.kinds, context))
            result = step(spec, status, obs, now, provider=provider, generation=generation)
        return result

    def _git_revision(self, spec: CanarySpec, view: WorkloadView) -> str | None:
        if spec.gitops is None or view.target is None:
            return None
        return git_revision(spec.gitops, view.target, self.kube.get_custom)

    def _run_checks(
        self, kinds: tuple[CheckKind, ...], ctx: AnalysisContext
    ) -> dict[CheckKind, CheckOutcome]:
        outcomes = {k: self.checks.run(k, ctx) for k in kinds}
        if self.recorder is not None and CheckKind.ANALYSIS in outcomes:
            self.recorder.analysis(ctx.name, ctx.namespace, outcomes[CheckKind.ANALYSIS])
        return outcomes

    def _act(
        self,
        result: Decided,
        body: dict[str, Any],
        *,
        spec: CanarySpec,
        route_ctx: RouteContext | None,
        router: Router,
        view: WorkloadView,
        now: datetime,
    ) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        phase, checksum = result.status.phase.value, view.revision or ""
        if route_ctx is not None:  # the routes follow this tick's status (a new run: new session cookies)
            route_ctx = dataclasses.replace(route_ctx, session=session_for(spec, result.status))
        for action in result.actions:
            if isinstance(action, SetWeights) and route_ctx is not None:
                router.set_routes(route_ctx, Routes(action.primary, action.canary, action.mirrored))
            elif isinstance(action, ScaleTarget):
                self.workloads.scale_target(spec, namespace, action.replicas)
            elif isinstance(action, PromoteToPrimary):
                self.workloads.promote(view, name)
            elif isinstance(action, RecordEvent):
                self.events.record(body, action, now)
                self.notices.event(body, spec, action, phase=phase, checksum=checksum, now=now)
                self.notices.alert(body, spec, result.status, action, now)
            elif isinstance(action, RunPostRolloutHooks):
                self.notices.post_rollout(body, spec, action.phase, checksum)

    def _patch_status(
        self, namespace: str, name: str, stored: dict[str, Any], new: CanaryStatus, version: str | None
    ) -> bool:
        """Write the new status (one patch); False if the Canary changed since ``version`` was read.

        The patch is computed against the status as stored, not as parsed: a field the model defaults
        (a weight of 0) but the server has never been sent must still be written."""
        before, after = stored, new.wire()
        if before == after:
            return True
        patch = merge_patch(before, after)
        try:
            self.kube.patch_canary_status(namespace, name, patch, resource_version=version)
        except Conflict as e:
            log.info("%s; deciding again", e)
            return False
        return True

    def _invalid(self, body: dict[str, Any], message: str, now: datetime) -> None:
        """Report a spec only the controller could reject: Ready=False/InvalidSpec and a Warning event."""
        self.events.record(body, warning(Reason.INVALID_SPEC, message), now)
        status = dict(body.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
        previous = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if previous and previous.get("status") == "False" and previous.get("message") == message:
            return
        stamp = timestamp(now)
        ready = Condition(
            type="Ready",
            status="False",
            reason="InvalidSpec",
            message=message,
            last_update_time=stamp,
            last_transition_time=stamp,
        )
        meta = body["metadata"]
        self.kube.patch_canary_status(
            meta["namespace"], meta["name"], {"conditions": [*conditions, ready.wire()]}
        )

    # ------------------------------------------------------------------------------ deletion
    def finalize(self, namespace: str, name: str) -> bool:
        """Handle the deletion of a Canary; True once it may go (its finalizer can be removed).

        Without revertOnDeletion the primary keeps serving: all traffic is routed to it and the
        target stays parked.  With it, the target is scaled up and, once ready (within
        progressDeadlineSeconds), the apex Service and the route are handed back to it and the
        primary is removed; a target that never becomes ready leaves the primary serving instead.
        Either way the application never loses its serving Pods.
        """
        if not self.leading():
            return False  # only the leader hands traffic back; a standby waits
        body = self.kube.get_canary(namespace, name)
        if body is None:
            return True
        now = self.clock()
        try:
            canary = Canary.model_validate(body)
            router = router_for(canary.spec.provider or self.settings.default_provider, self.kube)
        except (ValidationError, UnknownProvider):
            return True  # never worked: nothing to hand back
        spec = canary.spec
        view = self.workloads.observe(spec, namespace)
        if view.target is None or view.invalid is not None or view.primary is None:
            return True
        label, value = selector_label(view.target)
        ctx = RouteContext(spec, namespace, name, label, value)
        target = spec.target_ref.name

        def primary_keeps_serving(message: str, kind: EventType = EventType.NORMAL) -> bool:
            with contextlib.suppress(InvalidSpec):
                router.set_routes(ctx, Routes(100, 0))
            self.workloads.scale_target(spec, namespace, 0)
            self.events.record(body, RecordEvent(kind, Reason.TERMINATED, message), now)
            return True

        if not spec.revert_on_deletion:
            return primary_keeps_serving(
                f"Canary deleted: {target}-primary keeps serving all traffic; {target} stays scaled to zero "
                "(set spec.revertOnDeletion to hand traffic back to it instead)"
            )
        status = canary.status
        if status.phase is not Phase.TERMINATING:
            self.workloads.scale_target(spec, namespace, view.primary_replicas)
            self.events.record(
                body,
                normal(
                    Reason.TERMINATING,
                    f"Canary deleted: scaling {target} up to take traffic back (revertOnDeletion)",
                ),
                now,
            )
            self.kube.patch_canary_status(
                namespace, name, {"phase": Phase.TERMINATING.value, "lastTransitionTime": timestamp(now)}
            )
            return False
        if not view.target_readiness.ready:
            started = parse_timestamp(status.last_transition_time) if status.last_transition_time else now
            if (now - started).total_seconds() < spec.progress_deadline:
                return False
            return primary_keeps_serving(
                f"Canary deleted, but {target} did not become ready within {spec.progress_deadline}s "
                f"({view.target_readiness.message}): {target}-primary keeps serving and stays in place",
                kind=EventType.WARNING,
            )
        self.workloads.point_apex_at_target(spec, namespace, view)
        with contextlib.suppress(InvalidSpec):
            router.finalize(ctx)
        self.workloads.remove_generated(spec, namespace, view)
        self.events.record(
            body,
            normal(
                Reason.TERMINATED,
                f"Canary deleted: traffic handed back to {target}; {target}-primary removed",
            ),
            now,
        )
        return True

"""One tick of one Canary, one way: parse -> observe -> decide -> act on traffic -> patch status once
-> events, notifications and the slow side effects, from lanes of their own.

Who calls this: the per-canary daemon in ``canary.operator.handlers`` (in a worker thread: the
kubernetes client is synchronous), and its deletion handler, which drives the Terminating phases with
the same ticks.  What it owns: the sequence, and the one boundary where errors become what a user
reads: a spec the models refuse or an unknown provider (``InvalidSpec``), a kind that is not installed
(``MissingKind``) or that RBAC forbids (``Forbidden``) are each a ``Ready=False`` condition with that
reason plus a Warning event naming the field, or the kind and the verb.  It makes no rollout
decision itself: ``canary.core.machine.step`` does, through ``canary.core.driver.decide``.

Why this order: the routing and scaling that take a failing release away from users go first, then
the status patch that records the verdict; nothing slow sits in between.  A Git write is handed to
the Git lane (``canary.operator.outbox``) after the patch and its outcome is recorded by a later
tick; post-rollout hooks and notifications go to the dispatcher's lanes.  So a Git remote that hangs,
or a receiver that never answers, delays only itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from canary.adapters.gitops.revision import git_revision
from canary.adapters.gitops.writer import GitOpsWriter
from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.events import EventRecorder
from canary.adapters.kube.knative import KnativeTarget
from canary.adapters.kube.leader import LeaderElector
from canary.adapters.kube.primary import recorded_template
from canary.adapters.kube.revision import revision_hash
from canary.adapters.kube.workloads import Workloads, WorkloadView
from canary.adapters.metrics.analysis import AnalysisContext
from canary.adapters.notify import Notifier
from canary.adapters.recorder import MetricsRecorder
from canary.adapters.routers.applier import Traffic
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.registry import UnknownProvider, router_for
from canary.adapters.routers.session import session_for
from canary.core.actions import (
    HandBack,
    PromoteToPrimary,
    Reason,
    RecordEvent,
    RestoreTarget,
    RunPostRolloutHooks,
    ScaleTarget,
    SetTargetImages,
    SetWeights,
    TrafficAction,
    WriteGit,
    warning,
)
from canary.core.driver import decide
from canary.core.errors import Conflict, Forbidden, InvalidSpec, MissingKind, NotFound
from canary.core.machine import Decided, not_ready, parse_timestamp, samples_since
from canary.core.observations import CheckKind, CheckOutcome, Observations, Routes, RouteVerdict
from canary.models.canary import Canary, CanarySpec, CanaryStatus, Phase, Provider, knative_mismatch
from canary.models.requests import REQUEST_ANNOTATION, BadRequest, Request, parse_request
from canary.operator.checks import CheckRunner
from canary.operator.notices import Notices
from canary.operator.outbox import GitLane
from canary.operator.settings import Settings

DEFAULT_INTERVAL = 60.0
log = logging.getLogger(__name__)


#: After a promotion by hand routes all traffic to the primary, the canary is scaled down this soon.
BY_HAND_DRAIN_SECONDS = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickResult:
    #: seconds until the next due tick
    interval: float
    #: objects whose change should wake this canary at once (see ``WorkloadView.reads``); None: the
    #: tick observed nothing (a standby replica), keep what the last one read
    reads: frozenset[str] | None = None
    #: the Canary is gone, or its deletion is done: its finalizer may be removed
    finalized: bool = False
    #: tick again in ``interval`` seconds even after a woken tick (whose interval is otherwise not
    #: taken): the decision was not recorded (the Canary changed meanwhile, the Lease was lost), or a
    #: promotion by hand takes its next step without waiting for the analysis interval
    again: bool = False


def _status_of(body: dict[str, Any]) -> CanaryStatus | None:
    """The stored status, parsed; None when even that fails (only conditions are written then)."""
    try:
        return CanaryStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return None


def images_of(deployment: dict[str, Any] | None) -> dict[str, str]:
    """Container name -> image of a Deployment's (or a Knative Service's or Revision's) pod spec,
    init containers included."""
    if deployment is None:
        return {}
    spec = deployment.get("spec") or {}
    # A Deployment or a Knative Service holds a pod template; a Knative Revision is a pod spec itself.
    pod = (spec.get("template") or {}).get("spec") or {} if "template" in spec else spec
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    # Knative lets a lone container go unnamed (its webhook names it user-container).
    return {c.get("name") or "user-container": c["image"] for c in containers if c.get("image")}


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
        notifier: Notifier | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.leader = leader
        self.recorder = recorder
        self.workloads = Workloads(kube)
        self.knative = KnativeTarget(kube)
        self.events = EventRecorder(kube, settings.identity)
        self.checks = checks or CheckRunner()
        read_secret = lambda namespace, name: kube.get_config("secret", namespace, name)  # noqa: E731
        writer = gitops or GitOpsWriter(
            settings.gitops_workdir,
            read_secret,
            command_timeout=settings.git_command_timeout,
            write_deadline=settings.git_write_deadline,
            forge_timeout=settings.forge_timeout,
        )
        #: wakes a canary (namespace, name) from any thread; set by the handlers once the loop runs
        self.wake: Callable[[str, str], None] | None = None
        self.git = GitLane(writer, on_done=self._git_done)
        self.notices = Notices(
            self.checks.webhooks,
            self.events,
            event_webhook=settings.event_webhook,
            clock=clock,
            read_secret=read_secret,
            read_alert_provider=lambda namespace, name: kube.get_custom(
                "canary.dev", "v1alpha1", "alertproviders", namespace, name
            ),
            cluster=settings.cluster_name,
            notifier=notifier,
        )
        self._guard = threading.Lock()
        self._ticking: dict[tuple[str, str], threading.Lock] = {}
        #: canaries this process has ticked (the first due tick of each keeps to the last one's rhythm)
        self._seen: set[tuple[str, str]] = set()

    def _git_done(self, namespace: str, name: str) -> None:
        if self.wake is not None:
            self.wake(namespace, name)

    def leading(self) -> bool:
        return self.leader is None or self.leader.is_leader()

    def _one_at_a_time(self, namespace: str, name: str) -> threading.Lock:
        """One tick of a canary at a time in this process (its daemon and its deletion handler)."""
        with self._guard:
            return self._ticking.setdefault((namespace, name), threading.Lock())

    def forget(self, namespace: str, name: str) -> None:
        with self._guard:
            self._ticking.pop((namespace, name), None)
            self._seen.discard((namespace, name))

    def _first_wait(
        self, namespace: str, name: str, status: CanaryStatus, interval: float, now: datetime
    ) -> float:
        """Seconds until this process's first due tick of a canary: the rest of the interval since the
        canary last changed.  A controller that starts (a restart, a new leader after a failover) would
        otherwise check and step at once, sooner than an interval after the previous leader did."""
        with self._guard:
            if (namespace, name) in self._seen:
                return 0.0
            self._seen.add((namespace, name))
        if status.last_transition_time is None or status.phase not in _TIMED:
            return 0.0
        elapsed = (now - parse_timestamp(status.last_transition_time)).total_seconds()
        return max(0.0, interval - elapsed)

    # ------------------------------------------------------------------------------ the tick
    def tick(self, namespace: str, name: str, *, due: bool, finalizing: bool = False) -> TickResult:
        """One tick.  ``finalizing``: the deletion handler asks; otherwise a Canary being deleted is
        left to it."""
        if not self.leading():
            return TickResult(1.0)  # a standby replica watches; it checks again in a second
        with self._one_at_a_time(namespace, name):
            return self._tick(namespace, name, due=due, finalizing=finalizing)

    def _tick(self, namespace: str, name: str, *, due: bool, finalizing: bool) -> TickResult:
        body = self.kube.get_canary(namespace, name)
        if body is None:
            return TickResult(DEFAULT_INTERVAL, finalized=True)
        deleting = bool(body.get("metadata", {}).get("deletionTimestamp"))
        if deleting and not finalizing:
            return TickResult(DEFAULT_INTERVAL)  # the deletion handler drives it now
        now = self.clock()
        try:
            canary = Canary.model_validate(body)
        except ValidationError as e:
            if deleting:
                return TickResult(DEFAULT_INTERVAL, finalized=True)  # never worked: nothing to hand back
            self._report(body, Reason.INVALID_SPEC, f"invalid spec: {describe_validation_error(e)}", now)
            return TickResult(DEFAULT_INTERVAL)
        spec = canary.spec
        interval = spec.interval_seconds(self.settings.min_interval)
        provider = spec.provider or self.settings.default_provider
        try:
            router = Traffic(self.kube, router_for(provider), str(provider))
        except UnknownProvider as e:
            if deleting:
                return TickResult(interval, finalized=True)
            self._report(body, Reason.INVALID_SPEC, f"spec.provider: {e}", now)
            return TickResult(interval)
        if (Provider(provider) is Provider.KNATIVE) != spec.target_ref.knative:
            # The schema checks a provider the spec names; this is the controller's default one.
            if deleting:
                return TickResult(interval, finalized=True)
            mismatch = knative_mismatch(str(provider), spec.target_ref.knative)
            self._report(body, Reason.INVALID_SPEC, mismatch, now)
            return TickResult(interval)
        try:
            return self._run(body, canary, router, provider, due=due, deleting=deleting, now=now)
        except MissingKind as e:
            self._report(body, Reason.MISSING_KIND, str(e), now)
        except Forbidden as e:
            self._report(body, Reason.FORBIDDEN, str(e), now)
        return TickResult(interval)

    def _run(
        self,
        body: dict[str, Any],
        canary: Canary,
        router: Traffic,
        provider: Provider,
        *,
        due: bool,
        deleting: bool,
        now: datetime,
    ) -> TickResult:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        spec, status = canary.spec, canary.status
        interval = spec.interval_seconds(self.settings.min_interval)
        wait = self._first_wait(namespace, name, status, interval, now) if due else 0.0
        if wait > 0:
            due = False  # this tick reacts to what changed; the check comes when the interval is up
        view, ctx, routes, verdict = self._observe(spec, status, namespace, name, router, deleting=deleting)
        pending = status.gitops.pending if status.gitops is not None else None
        git = self.git.observe(namespace, name, pending)
        request = self._request(body, now)
        obs = Observations(
            target=view.target_readiness,
            primary=view.primary_readiness,
            target_hash=view.revision,
            tracked_configs=view.tracked_configs,
            routes=routes,
            route=verdict,
            scale_up_replicas=view.primary_replicas,
            invalid_spec=view.invalid,
            due=due,
            git_revision=None if deleting else self._git_revision(spec, view),
            images=images_of(view.target),
            primary_images=images_of(view.primary),
            primary_name=view.primary_name,
            git=git.outcome,
            git_in_flight=git.in_flight,
            deleting=deleting,
            request=request,
            target_generation=(view.target or {}).get("metadata", {}).get("generation"),
            promoted_template=(recorded_template(view.primary) or (None,))[0],
        )
        context = AnalysisContext(
            spec,
            namespace,
            name,
            provider,
            now,
            interval=interval,
            started=samples_since(status),
            phase=status.phase.value,
            checksum=view.revision or "",
            revisions=view.revisions,
        )
        result = decide(
            spec,
            status,
            obs,
            now,
            capabilities=router.capabilities,
            generation=body.get("metadata", {}).get("generation"),
            run_checks=lambda kinds: self._run_checks(kinds, context),
        )
        decided = time.monotonic()
        if not self.leading():
            # The Lease was lost while the checks ran: another replica may be acting on this canary now.
            return TickResult(1.0, frozenset(view.reads), again=True)
        try:
            self._move_traffic(
                result,
                spec=spec,
                namespace=namespace,
                name=name,
                route_ctx=ctx,
                router=router,
                view=view,
                deleting=deleting,
            )
        except LostLease as e:
            log.warning("%s/%s: %s", namespace, name, e)
            return TickResult(1.0, frozenset(view.reads), again=True)
        if any(isinstance(a, ScaleTarget) for a in result.actions):
            result = self._own_scale_seen(result, spec, namespace, view)
        if _rolled_back(status, result):
            seconds = time.monotonic() - decided
            log.info(
                "rollback of %s/%s: all traffic on the primary %.4fs after the decision",
                namespace,
                name,
                seconds,
            )
            if self.recorder is not None:
                self.recorder.rollback_route.observe(seconds)
        version = body.get("metadata", {}).get("resourceVersion")
        if not self._patch_status(namespace, name, body, result.status, version):
            return TickResult(1.0, frozenset(view.reads), again=True)  # again in a second, from fresh state
        if git.outcome is not None:
            self.git.recorded(namespace, name)
        answered = result.status.last_request
        if request is not None and answered is not None and answered.id == request.id:
            self._clear_request(namespace, name, body)
        self._after_patch(result, body, spec, view)
        if self.recorder is not None:
            self.recorder.record(
                name=name,
                namespace=namespace,
                target=spec.target_ref.name,
                strategy=spec.strategy.value,
                before=status.phase,
                after=result.status.phase,
                weight=result.status.canary_weight,
                seconds=(self.clock() - now).total_seconds(),
            )
        if result.status.promoted_by is not None and result.status.phase in (
            Phase.PROMOTING,
            Phase.FINALISING,
        ):
            # A promotion by hand does not wait for the interval: the next step (finalising, once the
            # primary has all traffic) comes after a short drain of the canary's requests, woken or due.
            return TickResult(min(interval, BY_HAND_DRAIN_SECONDS), frozenset(view.reads), again=True)
        return TickResult(wait or interval, frozenset(view.reads), finalized=result.finalized)

    def _own_scale_seen(
        self, result: Decided, spec: CanarySpec, namespace: str, view: WorkloadView
    ) -> Decided:
        """Scaling the target bumps its generation: the status records the generation after that
        scale, so ``canary status`` does not wait for a tick to notice the controller's own change.
        Only when the Deployment still holds the template this tick decided on (a change someone made
        meanwhile is not counted as seen)."""
        if spec.target_ref.knative or view.revision is None:
            return result
        after = self.kube.get_deployment(namespace, spec.target_ref.name) or {}
        template = after.get("spec", {}).get("template")
        if template is None or revision_hash(template, view.tracked_configs) != view.revision:
            return result
        generation = after.get("metadata", {}).get("generation")
        return dataclasses.replace(
            result, status=result.status.model_copy(update={"target_generation": generation})
        )

    def _request(self, body: dict[str, Any], now: datetime) -> Request | None:
        """The request a person wrote on the Canary; one that cannot be read is refused at once (a
        Warning event naming the field) and removed."""
        try:
            return parse_request(body.get("metadata", {}).get("annotations"))
        except BadRequest as e:
            self.events.record(body, warning(Reason.REQUEST_REFUSED, f"request refused: {e}"), now)
            meta = body["metadata"]
            self._clear_request(meta["namespace"], meta["name"], body)
            return None

    def _clear_request(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        raw = (body.get("metadata", {}).get("annotations") or {}).get(REQUEST_ANNOTATION)
        if raw is None:
            return
        try:
            self.kube.clear_canary_request(namespace, name, raw)
        except Exception as e:  # the answer is in the status; the next tick removes it again
            log.warning("%s/%s: removing the answered request failed: %s", namespace, name, e)

    def _observe(
        self,
        spec: CanarySpec,
        status: CanaryStatus,
        namespace: str,
        name: str,
        router: Traffic,
        *,
        deleting: bool,
    ) -> tuple[WorkloadView, RouteContext | None, Routes | None, RouteVerdict | None]:
        """The workloads (created first if missing), the routes (taken over once the primary serves)
        and the data plane's verdict on them.  While deleting, nothing is created or taken over: only
        what is there is read."""
        targets = self.targets(spec)
        view = targets.observe(spec, namespace)
        if view.invalid is not None or view.target is None:
            return view, None, None, None
        label, value = view.selector
        if deleting:
            ctx = RouteContext(spec, namespace, name, label, value, revisions=view.revisions)
            return view, ctx, None, None
        if spec.target_ref.knative and view.revisions is None:
            return view, None, None, None  # Knative has made no revision yet: nothing to route
        try:
            targets.bootstrap(spec, namespace, name, view)
        except InvalidSpec as e:
            view.invalid = str(e)
            return view, None, None, None
        ctx = RouteContext(spec, namespace, name, label, value, session_for(spec, status), view.revisions)
        routes, verdict = None, None
        # Routing objects are taken over only once the primary can serve (no downtime).
        if status.phase not in (Phase.NONE, Phase.INITIALIZING) or view.primary_readiness.ready:
            try:
                router.reconcile(ctx)
                routes, verdict = router.observe(ctx)
            except InvalidSpec as e:
                view.invalid = str(e)
                return view, None, None, None
        return view, ctx, routes, verdict

    def targets(self, spec: CanarySpec) -> Workloads | KnativeTarget:
        """What observes and changes the target: a Deployment's workloads, or a Knative Service's."""
        return self.knative if spec.target_ref.knative else self.workloads

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

    # ------------------------------------------------------------------------------ acting
    def _move_traffic(
        self,
        result: Decided,
        *,
        spec: CanarySpec,
        namespace: str,
        name: str,
        route_ctx: RouteContext | None,
        router: Traffic,
        view: WorkloadView,
        deleting: bool,
    ) -> None:
        """The traffic actions, in order, before anything else; the first that fails stops the rest
        (parking the canary while the route still sends it traffic would be an outage)."""
        if route_ctx is not None and not deleting:  # a new run: new session cookies
            route_ctx = dataclasses.replace(route_ctx, session=session_for(spec, result.status))
        for action in result.actions:
            if not isinstance(action, TrafficAction):
                continue
            if not self.leading():
                raise LostLease(f"the Lease was lost before {type(action).__name__}: another replica leads")
            if isinstance(action, SetWeights) and route_ctx is not None:
                routes = Routes(action.primary, action.canary, action.mirrored)
                if deleting:
                    # A route that cannot be built, was never made (a spec refused until now), or whose
                    # kind is no longer installed carries no traffic: there is nothing to move.
                    with contextlib.suppress(InvalidSpec, NotFound, MissingKind):
                        router.set_routes(route_ctx, routes)
                else:
                    router.set_routes(route_ctx, routes)
            elif isinstance(action, HandBack):
                self.targets(spec).point_apex_at_target(spec, namespace, view)
                if route_ctx is not None:
                    with contextlib.suppress(InvalidSpec, NotFound, MissingKind):
                        router.finalize(route_ctx)
                self.targets(spec).remove_generated(spec, namespace, view)
            else:
                self._act_on_workloads(action, spec, namespace, name, view)

    def _act_on_workloads(
        self, action: TrafficAction, spec: CanarySpec, namespace: str, name: str, view: WorkloadView
    ) -> None:
        targets = self.targets(spec)
        if isinstance(action, ScaleTarget):
            targets.scale_target(spec, namespace, action.replicas)
        elif isinstance(action, PromoteToPrimary):
            targets.promote(view, name)
        elif isinstance(action, SetTargetImages):
            targets.set_images(spec, namespace, view, action.images)
        elif isinstance(action, RestoreTarget):
            targets.restore(spec, namespace, view, action.revision)

    def _after_patch(
        self, result: Decided, body: dict[str, Any], spec: CanarySpec, view: WorkloadView
    ) -> None:
        """What the status patch recorded, told to the world: the slow side effects are handed to
        their lanes first (that only enqueues), then events and notifications, stamped as they go."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        phase, checksum = result.status.phase.value, view.revision or ""
        for action in result.actions:
            if isinstance(action, WriteGit) and spec.gitops is not None:
                self.git.submit(namespace, name, spec.gitops, action.write)
            elif isinstance(action, RunPostRolloutHooks):
                self.notices.post_rollout(body, spec, action.phase, checksum)
        for action in result.actions:
            if isinstance(action, RecordEvent):
                now = self.clock()
                self.events.record(body, action, now)
                self.notices.event(body, spec, action, phase=phase, checksum=checksum, now=now)
                self.notices.alert(body, spec, result.status, action, now)

    def _patch_status(
        self, namespace: str, name: str, body: dict[str, Any], new: CanaryStatus, version: str | None
    ) -> bool:
        """Write the new status (one patch); False if the Canary changed since ``version`` was read
        in what the decision depends on.

        The patch is computed against the status as stored, not as parsed: a field the model defaults
        (a weight of 0) but the server has never been sent must still be written.  A Canary whose
        resourceVersion moved only because of its metadata (kopf's bookkeeping annotation, the removal
        of an answered request) still holds the spec, status and request this tick decided from: the
        patch is made on that version instead of the decision being lost (its actions are done)."""
        before, after = body.get("status") or {}, new.wire()
        if before == after:
            return True
        patch = merge_patch(before, after)
        if not self.leading():
            return False  # another replica leads now: it decides from the state as it is
        for attempt in (1, 2):
            try:
                self.kube.patch_canary_status(namespace, name, patch, resource_version=version)
                return True
            except Conflict as e:
                fresh = self.kube.read_canary(namespace, name) if attempt == 1 else None
                if fresh is None or not _same_decision_inputs(body, fresh):
                    log.info("%s; deciding again", e)
                    return False
                version = fresh.get("metadata", {}).get("resourceVersion")
            except NotFound:
                return False  # deleted meanwhile: the next tick finds it gone
        return False

    def _report(self, body: dict[str, Any], reason: Reason, message: str, now: datetime) -> None:
        """A tick that could not decide: Ready=False with ``reason`` and a Warning event (built by the
        machine's ``not_ready``); only the conditions are written."""
        status = _status_of(body) or CanaryStatus()
        result = not_ready(status, reason, message, now)
        for event in result.events:
            self.events.record(body, event, now)
        conditions = result.status.wire().get("conditions")
        if conditions != (body.get("status") or {}).get("conditions"):
            meta = body["metadata"]
            self.kube.patch_canary_status(meta["namespace"], meta["name"], {"conditions": conditions})


#: phases whose due ticks check and step (their rhythm is the analysis interval)
_TIMED = frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING})


class LostLease(Exception):
    """This replica stopped leading in the middle of a tick (a pause past its Lease): it writes no more."""


def _same_decision_inputs(read: dict[str, Any], fresh: dict[str, Any]) -> bool:
    """True when ``fresh`` differs from ``read`` in nothing a decision reads: spec, status, deletion
    and the request by hand."""

    def inputs(body: dict[str, Any]) -> tuple[Any, ...]:
        meta = body.get("metadata") or {}
        request = (meta.get("annotations") or {}).get(REQUEST_ANNOTATION)
        return (body.get("spec"), body.get("status"), meta.get("deletionTimestamp"), request)

    return inputs(read) == inputs(fresh)


def _rolled_back(before: CanaryStatus, result: Decided) -> bool:
    """This tick decided a rollback: the run failed and all traffic went back to the primary."""
    return (
        result.status.phase is Phase.FAILED
        and before.phase is not Phase.FAILED
        and any(isinstance(a, SetWeights) and a.primary == 100 for a in result.actions)
    )

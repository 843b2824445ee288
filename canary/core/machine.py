"""The rollout state machine: one tick of a Canary as a pure function.

Who calls this: ``canary.operator`` once per tick (and right after a watched change of the target).
What it owns: every rollout decision, deletion included.  ``step(spec, status, observations, now)``
returns either ``Decided`` (the complete new status and the actions to execute) or ``NeedChecks``: the
machine reached a check that has side effects (a webhook that runs a load test, a metric query), so
the operator runs exactly those checks and calls ``step`` again with their outcomes
(``canary.core.driver.decide`` is that loop, bounded, for the operator and the simulator alike).  The
function is deterministic, so the second call follows the same path and goes further; no check is
ever run that the machine did not reach (the sans-I/O pattern: no I/O here, and no speculative hooks
there).

Slow I/O is never a check.  A Git write the machine owes (``status.gitops.pending``, the outbox) is a
``WriteGit`` action, made on its own lane after the routing, the scaling and the status patch; its
outcome comes back as an observation (``Observations.git``) of a later tick, which records it.  So the
tick that decides a rollback sends all traffic to the primary whatever the Git remote does.

The order of one tick follows Flagger (see docs/architecture.md), with its known bugs fixed:

* a canary is rolled back in the tick whose failed check reaches ``threshold`` (Flagger waits for the
  next tick, so it rolls back after threshold + 1 ticks);
* ``maxWeight`` caps the weight (``canary.core.weights``);
* the progress deadline bounds the wait for a canary that never becomes ready, measured from the first
  tick it was seen unready (``status.canaryUnreadySince``), not only from the Deployment's own
  ProgressDeadlineExceeded condition, which a crash-looping Pod never triggers;
* a primary that fails to become ready during promotion does not leave users on a broken primary: all
  traffic goes to the (healthy) canary and the canary is marked Failed;
* deleting a Canary never takes the application down (``Terminating``/``Terminated`` below).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from canary.core.actions import (
    Action,
    HandBack,
    PromoteToPrimary,
    Reason,
    RecordEvent,
    RestoreTarget,
    RunPostRolloutHooks,
    ScaleTarget,
    SetTargetImages,
    SetWeights,
    Severity,
    WriteGit,
    normal,
    warning,
)
from canary.core.capabilities import Capability
from canary.core.observations import Cause, CheckKind, CheckOutcome, Observations, RouteVerdict
from canary.core.weights import next_canary_weight, next_primary_weight_during_promotion
from canary.models.canary import (
    AnalysisStatus,
    CanarySpec,
    CanaryStatus,
    Condition,
    HookType,
    Phase,
    Strategy,
)
from canary.models.gitops import GitOpsStatus, GitWrite, GitWriteKind, OnRollback
from canary.models.requests import Request, RequestAction, RequestStatus

#: Blue/green iterations a router without weights (the kubernetes provider) uses when the spec asks
#: for weights (Flagger: 10).
KUBERNETES_DEFAULT_ITERATIONS = 10


@dataclass(frozen=True)
class Decided:
    status: CanaryStatus
    actions: tuple[Action, ...]

    @property
    def events(self) -> tuple[RecordEvent, ...]:
        return tuple(a for a in self.actions if isinstance(a, RecordEvent))

    @property
    def finalized(self) -> bool:
        """The deletion is done: the finalizer may be removed."""
        return self.status.phase is Phase.TERMINATED


@dataclass(frozen=True)
class NeedChecks:
    kinds: tuple[CheckKind, ...]


Step = Decided | NeedChecks


def timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def samples_since(status: CanaryStatus) -> datetime | None:
    """Where this run's metric samples begin: when its canary first got traffic (or, before that,
    when the run started).  Stamps are whole seconds, rounded down, so a second is added to the
    traffic stamp: the previous revision's last requests, a moment before, are never counted."""
    started = parse_timestamp(status.analysis_start_time) if status.analysis_start_time else None
    if status.canary_traffic_since is None:
        return started
    traffic = parse_timestamp(status.canary_traffic_since) + timedelta(seconds=1)
    return traffic if started is None or traffic > started else started


class _Need(Exception):
    """Control flow inside this module: a check is needed; never escapes ``step()``."""

    def __init__(self, kind: CheckKind) -> None:
        self.kind = kind


@dataclass
class _Tick:
    spec: CanarySpec
    status: CanaryStatus
    obs: Observations
    now: datetime
    #: what the canary's router can do (``canary.core.capabilities``): decisions follow it
    capabilities: frozenset[Capability]
    updates: dict[str, Any] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    failure: str | None = None
    invalid: str | None = None
    #: the Analysis condition (status, reason, message) when this tick ran the analysis
    analysis: tuple[Literal["True", "False", "Unknown"], str, str] | None = None
    #: the GitOps condition (status, reason, message) when this tick wrote (or tried to write) to Git
    git: tuple[Literal["True", "False", "Unknown"], str, str] | None = None

    # ------------------------------------------------------------------ helpers
    def set(self, **fields: Any) -> None:
        self.updates.update(fields)

    def emit(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def gitops(self) -> GitOpsStatus:
        """status.gitops as this tick has left it so far."""
        current = self.updates.get("gitops", self.status.gitops)
        return current if current is not None else GitOpsStatus()

    def set_gitops(self, **fields: Any) -> None:
        self.set(gitops=self.gitops().model_copy(update=fields))

    def check(self, kind: CheckKind) -> CheckOutcome:
        outcome = self.obs.checks.get(kind)
        if outcome is None:
            raise _Need(kind)
        return outcome

    def unless_muted(self, kind: HookType) -> Severity | None:
        """A warning notification, unless every hook of ``kind`` sets muteAlert."""
        hooks = self.spec.webhooks_of(kind)
        return None if hooks and all(w.mute_alert for w in hooks) else Severity.WARN

    def hooks(self, kind: HookType) -> bool:
        return bool(self.spec.webhooks_of(kind))

    @property
    def target(self) -> str:
        return self.spec.target_ref.name

    @property
    def primary(self) -> str:
        """The primary as messages name it: ``<target>-primary``, or what the observation says it is
        (a Knative Service's primary revision)."""
        return self.obs.primary_name or f"{self.target}-primary"

    @property
    def all_at_once(self) -> bool:
        """The router cannot split by weight (the kubernetes provider): it moves all traffic at once."""
        return Capability.WEIGHTS not in self.capabilities

    def strategy(self) -> Strategy:
        # A router that cannot split traffic by weight cannot split it by request either: blue/green only.
        return Strategy.BLUE_GREEN if self.all_at_once else self.spec.strategy

    def iterations(self) -> int:
        analysis = self.spec.effective_analysis
        configured = analysis.iterations if analysis is not None and analysis.iterations else 0
        if self.all_at_once and configured < 1:
            return KUBERNETES_DEFAULT_ITERATIONS
        return configured

    def mirroring(self) -> bool:
        analysis = self.spec.effective_analysis
        return bool(analysis and analysis.mirror) and Capability.MIRRORING in self.capabilities

    def elapsed_since(self, value: str | None) -> float:
        return 0.0 if value is None else (self.now - parse_timestamp(value)).total_seconds()

    # ------------------------------------------------------------------ result
    def finish(self, generation: int | None) -> Decided:
        old = self.status
        fields = {
            **self.updates,
            "observed_generation": generation,
            "target_generation": self.obs.target_generation,
        }
        sends = any(isinstance(a, SetWeights) and (a.canary > 0 or a.mirrored) for a in self.actions)
        if sends and self.updates.get("canary_traffic_since", old.canary_traffic_since) is None:
            fields["canary_traffic_since"] = timestamp(self.now)
        new = old.model_copy(update=fields)
        changed = any(
            getattr(new, f) != getattr(old, f)
            for f in ("phase", "canary_weight", "iterations", "failed_checks", "last_applied_spec")
        )
        conditions = _conditions(
            old,
            new.phase,
            self.now,
            failure=self.failure,
            invalid=self.invalid,
            target=self.target,
            analysis=self.analysis,
            git=self.git,
            routed=_routed(self.obs.route),
        )
        new = new.model_copy(
            update={
                "conditions": conditions,
                "last_transition_time": timestamp(self.now)
                if changed or old.last_transition_time is None
                else old.last_transition_time,
            }
        )
        return Decided(new, tuple(self.actions))


def step(
    spec: CanarySpec,
    status: CanaryStatus,
    obs: Observations,
    now: datetime,
    *,
    capabilities: frozenset[Capability],
    generation: int | None = None,
) -> Step:
    """Decide one tick.  Pure: no I/O, no clock, no logging.  ``capabilities``: what the router can do."""
    tick = _Tick(spec, status, obs, now, capabilities)
    try:
        _run(tick)
    except _Need as need:
        return NeedChecks((need.kind,))
    return tick.finish(generation)


# ---------------------------------------------------------------------------------------------- phases
def _run(t: _Tick) -> None:
    if t.obs.deleting:
        if (r := _unanswered(t)) is not None:
            _answer(t, r, False, "the Canary is being deleted")
        _terminate(t)
        return
    acted = _requested(t)
    if t.spec.suspend:
        if not acted:
            t.emit(normal(Reason.SUSPENDED, "Skipping this tick: the canary is suspended (spec.suspend)"))
        return
    if t.obs.invalid_spec is not None or not t.obs.target.exists or t.obs.target_hash is None:
        t.invalid = t.obs.invalid_spec or f"spec.targetRef: Deployment {t.target} not found in this namespace"
        t.emit(warning(Reason.INVALID_SPEC, t.invalid))
        return
    phase = t.status.phase
    if t.obs.git_revision is not None and (t.gitops().applied_revision, t.gitops().applied_spec) != (
        t.obs.git_revision,
        t.obs.target_hash,
    ):
        t.set_gitops(applied_revision=t.obs.git_revision, applied_spec=t.obs.target_hash)
    if acted:
        pass  # the request was this tick's decision
    elif phase in (Phase.NONE, Phase.INITIALIZING):
        _initialize(t)
    elif phase in (Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED, Phase.WAITING):
        _maybe_start(t)
    elif phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION):
        _analyse(t)
    elif phase is Phase.PROMOTING:
        _promote(t)
    elif phase is Phase.FINALISING:
        _finalise(t)
    # Terminating / Terminated are reached only through a deletion (``_terminate``).
    _settle_git(t)


# -------------------------------------------------------------------------------- requests by hand
def _unanswered(t: _Tick) -> Request | None:
    r = t.obs.request
    if r is None or (t.status.last_request is not None and t.status.last_request.id == r.id):
        return None
    return r


def _answer(t: _Tick, r: Request, accepted: bool, message: str) -> None:
    """Record the answer in status.lastRequest, with an event naming who asked."""
    what = r.what
    t.set(
        last_request=RequestStatus(
            id=r.id, action=what, by=r.by, accepted=accepted, message=message, at=timestamp(t.now)
        )
    )
    if accepted:
        t.emit(normal(Reason.REQUESTED, f"{what} asked by {r.by}: {message}"))
    else:
        t.emit(warning(Reason.REQUEST_REFUSED, f"{what} asked by {r.by} refused: {message}"))


def _requested(t: _Tick) -> bool:
    """Answer a person's request; True when acting on it is this tick's decision."""
    r = _unanswered(t)
    if r is None:
        return False
    if r.action in (RequestAction.PAUSE, RequestAction.RESUME):
        return _suspension_by_hand(t, r)
    if t.spec.suspend:
        _answer(t, r, False, "the canary is suspended (spec.suspend): resume it first")
        return False
    if t.obs.invalid_spec is not None or not t.obs.target.exists or t.obs.target_hash is None:
        _answer(t, r, False, "the spec is invalid or the target is missing (see the Ready condition)")
        return False
    if r.action is RequestAction.PROMOTE:
        return _promote_by_hand(t, r)
    if r.action is RequestAction.ABORT:
        return _abort_by_hand(t, r)
    if r.action is RequestAction.SET_IMAGE:
        return _set_image_by_hand(t, r)
    if r.action is RequestAction.UNDO:
        return _undo_by_hand(t, r)
    return _retry_by_hand(t, r)


def _edits_refused(t: _Tick, what: str) -> str | None:
    """Why the target's spec may not be edited by hand now, if it may not."""
    if t.obs.primary_name is not None:
        return f"not for a Knative Service target: edit {t.target} itself"
    if t.spec.gitops is not None:
        return (
            f"spec.gitops: Git is the source of truth; {what} in {t.spec.gitops.path} (the agent would undo "
            "an edit of the cluster)"
        )
    if t.status.phase in (Phase.PROMOTING, Phase.FINALISING):
        return f"the promotion is under way ({t.status.phase.value}): ask again once it is done"
    return None


def _set_image_by_hand(t: _Tick, r: Request) -> bool:
    refused = _edits_refused(t, "commit the image")
    unknown = sorted(c for c, _ in r.images if c not in t.obs.images)
    if refused is None and unknown:
        has = ", ".join(sorted(t.obs.images))
        refused = f"{t.target} has no container {', '.join(unknown)} (it has {has})"
    if refused is not None:
        _answer(t, r, False, refused)
        return False
    _answer(t, r, True, f"{t.target} gets the new image; its new revision starts by itself")
    t.emit(SetTargetImages(r.images))
    return True


def _undo_by_hand(t: _Tick, r: Request) -> bool:
    s = t.status
    promoted = s.last_promoted_spec
    refused = _edits_refused(t, "undo is a Git revert: canary undo writes it when spec.gitops is set")
    if refused is None and t.obs.target_hash == promoted:
        refused = "the target already runs the last promoted revision"
    if refused is None and (promoted is None or t.obs.promoted_template != promoted):
        refused = (
            f"{t.primary} records no pod template for the last promoted revision (primaries promoted by an "
            "older canary do not): undo by hand once with kubectl"
        )
    if refused is not None or promoted is None:
        _answer(t, r, False, refused or "nothing was promoted yet")
        return False
    if s.phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.WAITING):
        _rollback(t, Reason.ABORTED, f"Undone by {r.by}: rolling back revision {s.last_applied_spec}")
    _answer(t, r, True, f"{t.target} back to the last promoted revision {promoted}")
    t.emit(RestoreTarget(promoted))
    return True


def _suspension_by_hand(t: _Tick, r: Request) -> bool:
    """pause and resume: ``canary pause`` sets spec.suspend with the request, ``resume`` clears it."""
    suspended = bool(t.spec.suspend)
    if r.action is RequestAction.PAUSE:
        if suspended:
            _answer(t, r, True, "suspended: no step, check or promotion until resumed")
        else:
            _answer(t, r, False, "spec.suspend is not true (canary pause sets it)")
        return suspended
    if suspended:
        _answer(t, r, False, "spec.suspend is still true (canary resume clears it)")
    else:
        _answer(t, r, True, f"resumed in phase {t.status.phase.value or 'None'}")
    return False


def _abort_by_hand(t: _Tick, r: Request) -> bool:
    phase = t.status.phase
    if phase is Phase.PROMOTING:
        _answer(t, r, False, f"the promotion has started: {t.primary} is already being updated")
        return False
    if phase not in (Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.WAITING):
        _answer(t, r, False, f"no rollout to abort: the canary is {phase.value or 'None'}")
        return False
    _answer(t, r, True, f"all traffic back on {t.primary}")
    _rollback(t, Reason.ABORTED, f"Aborted by {r.by}: rolling back revision {t.status.last_applied_spec}")
    return True


def _retry_by_hand(t: _Tick, r: Request) -> bool:
    h, s = t.obs.target_hash, t.status
    if s.phase is not Phase.FAILED:
        _answer(t, r, False, f"nothing to retry: the canary is {s.phase.value or 'None'}, not Failed")
        return False
    if h != s.last_applied_spec or h == s.last_promoted_spec:
        _answer(t, r, False, "the target no longer runs the failed revision: a new revision starts by itself")
        return False
    gitops = t.spec.gitops
    if gitops is not None and gitops.on_rollback is not OnRollback.NONE:
        _answer(
            t,
            r,
            False,
            "the failed revision is reverted in Git (spec.gitops.onRollback): release it again in Git "
            "(canary release --revision)",
        )
        return False
    _answer(t, r, True, f"retrying revision {h}")
    _start_run(t, f"Retrying revision {h} of {t.target}: scaling it up")
    return True


def _promote_by_hand(t: _Tick, r: Request) -> bool:
    """promote: the next step now (a weight step, or one iteration), skipping its analysis; --full (or
    at the last step, or waiting for approval to promote) promotes now; waiting for approval to start,
    it starts the rollout."""
    phase = t.status.phase
    running = phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION)
    if phase is Phase.WAITING:
        _answer(t, r, True, f"starting the rollout of revision {t.obs.target_hash} (the approval is skipped)")
        _start_run(t, f"New revision {t.obs.target_hash} of {t.target} started by {r.by}: scaling it up")
        return True
    if not running:
        _answer(t, r, False, f"nothing to promote: the canary is {phase.value or 'None'}")
        return False
    if t.obs.target_hash != t.status.last_applied_spec:
        _answer(t, r, False, "the target changed since this run started: its new revision restarts the run")
        return False
    if not t.obs.target.ready:
        _answer(t, r, False, f"{t.target} is not ready yet: {t.obs.target.message}")
        return False
    why = f"promoted by {r.by}"
    if r.full or phase is Phase.WAITING_PROMOTION:
        _answer(t, r, True, "promoting now, skipping the remaining steps and the analysis")
        _promote_by(t, r.by)
        return True
    if t.strategy() is Strategy.CANARY:
        current = t.status.canary_weight
        if current < t.spec.max_weight and (nxt := next_canary_weight(t.spec, current)) > current:
            _answer(t, r, True, f"canary weight {current}% -> {nxt}% without waiting for the analysis")
            _raise_weight(t, current, nxt, why)
            return True
    else:
        total, done = t.iterations(), t.status.iterations
        if done < total:
            _answer(t, r, True, f"iteration {done + 1} of {total} counted without its analysis")
            t.set(iterations=done + 1)
            _iteration_event(t, done + 1, total, f"Iteration {done + 1} of {total} ({why})")
            return True
    _answer(t, r, True, "the last step is reached: promoting now")
    _promote_by(t, r.by)
    return True


def _promote_by(t: _Tick, who: str) -> None:
    """A promotion by hand: all traffic to the primary once it is ready, without the interval."""
    t.set(promoted_by=who)
    _start_promotion(t, f"promoted by {who}")


def _initialize(t: _Tick) -> None:
    if t.status.phase is Phase.NONE:
        t.set(phase=Phase.INITIALIZING)
        doing = (
            f"Pinning the traffic of {t.target} to {t.primary}"
            if t.obs.primary_name
            else f"Creating {t.primary} and the services for {t.target}"
        )
        t.emit(normal(Reason.INITIALIZING, doing))
    if not t.obs.primary.ready:
        if _deadline_passed(t, t.status.primary_unready_since, t.obs.primary.deadline_exceeded):
            _fail(
                t,
                Reason.DEADLINE_EXCEEDED,
                f"{t.primary} did not become ready within {t.spec.progress_deadline}s: "
                f"{t.obs.primary.message}",
                weights=None,
            )
            return
        _wait_for_ready(t, "primary_unready_since", t.primary, t.obs.primary.message)
        return
    t.emit(SetWeights(100, 0), ScaleTarget(0))
    _new_run(t, Phase.INITIALIZED)
    t.set(last_promoted_spec=t.obs.target_hash)
    if t.obs.git_revision is not None:
        t.set_gitops(promoted_revision=t.obs.git_revision)
    t.emit(normal(Reason.INITIALIZED, f"Initialization done: {t.primary} serves all traffic", Severity.INFO))


def _maybe_start(t: _Tick) -> None:
    h = t.obs.target_hash
    s = t.status
    if h == s.last_promoted_spec:
        # Going back to the promoted spec is not a new revision; remember it so that re-applying a
        # failed revision afterwards counts as new again.
        if s.last_applied_spec != h:
            t.set(last_applied_spec=h, tracked_configs=t.obs.tracked_configs or None)
        return
    if h == s.last_applied_spec and s.phase is not Phase.WAITING:
        return  # nothing new (a Failed revision stays failed until the target changes)
    if s.phase is Phase.WAITING and t.hooks(HookType.ROLLBACK) and t.check(CheckKind.ROLLBACK).passed:
        # Flagger documents the rollback hook in Waiting but never calls it there: the revision waiting
        # for approval is rejected; it was never scaled up, and stays Failed until the target changes.
        t.set(last_applied_spec=h, tracked_configs=t.obs.tracked_configs or None)
        _rollback(
            t,
            Reason.ROLLED_BACK,
            f"Revision {h} rejected while waiting for approval: a rollback webhook asked for it",
            alert=Severity.WARN,
        )
        return
    if t.hooks(HookType.CONFIRM_ROLLOUT):
        outcome = t.check(CheckKind.CONFIRM_ROLLOUT)
        if not outcome.passed:
            if s.phase is not Phase.WAITING:
                t.emit(
                    warning(
                        Reason.WAITING,
                        f"Waiting for approval to start the rollout: {outcome.describe()}",
                        t.unless_muted(HookType.CONFIRM_ROLLOUT),
                    )
                )
            t.set(phase=Phase.WAITING)
            return
    if t.all_at_once and t.spec.strategy is not Strategy.BLUE_GREEN:
        t.emit(
            warning(
                Reason.UNSUPPORTED,
                "The provider switches all traffic at once: running blue/green with "
                f"{t.iterations()} iterations (spec.analysis.stepWeight/match do not apply)",
            )
        )
    _start_run(t, f"New revision {h} of {t.target} detected: scaling it up")


def _analyse(t: _Tick) -> None:
    s = t.status
    h = t.obs.target_hash
    if h != s.last_applied_spec:
        t.emit(SetWeights(100, 0), ScaleTarget(t.obs.scale_up_replicas))
        _new_run(t, Phase.PROGRESSING)
        t.emit(normal(Reason.RESTARTED, f"New revision {h} of {t.target} during analysis: restarting it"))
        return
    if not t.obs.target.ready:
        if _deadline_passed(t, s.canary_unready_since, t.obs.target.deadline_exceeded):
            _rollback(
                t,
                Reason.DEADLINE_EXCEEDED,
                f"Rolling back: {t.target} did not become ready within progressDeadlineSeconds "
                f"({t.spec.progress_deadline}s): {t.obs.target.message}",
            )
            return
        _wait_for_ready(t, "canary_unready_since", t.target, t.obs.target.message)
        return
    t.set(canary_unready_since=None)
    if not t.obs.due:
        return  # checks and weight steps happen once per analysis interval

    if t.spec.skips_analysis:
        _start_promotion(t, "analysis is skipped (spec.skipAnalysis)")
        return
    if t.hooks(HookType.ROLLBACK) and t.check(CheckKind.ROLLBACK).passed:
        _rollback(t, Reason.ROLLED_BACK, "Rolling back: a rollback webhook asked for it", alert=Severity.WARN)
        return
    if not _checks_pass(t):
        return
    route = t.obs.route
    if route is not None and not route.accepted:
        # The data plane does not route by what was written: no weight moves until it does (the fix
        # is the user's: the Gateway, the route's references).  The checks still run, so a failing
        # canary is still rolled back, and one that gets no traffic holds until maxHeldChecks.
        t.emit(
            warning(
                Reason.ROUTE_NOT_ACCEPTED,
                f"Holding at {s.canary_weight}%: the data plane does not accept the route: {route.message}",
            )
        )
        return

    strategy = t.strategy()
    if strategy is Strategy.CANARY:
        _advance_canary(t)
    elif strategy is Strategy.AB_TESTING:
        _advance_ab(t)
    else:
        _advance_blue_green(t)


def _checks_pass(t: _Tick) -> bool:
    """Run this tick's checks; count a failure and roll back once ``threshold`` failures are reached."""
    s = t.status
    analysis = t.spec.effective_analysis
    mirrored = t.obs.routes.mirrored if t.obs.routes else False
    first = s.canary_weight == 0 and s.iterations == 0 and not (t.mirroring() and mirrored)
    if first:
        if s.failed_checks == 0:
            t.emit(
                normal(Reason.STARTED_ANALYSIS, f"Starting the analysis of revision {s.last_applied_spec}")
            )
        outcome = t.check(CheckKind.PRE_ROLLOUT) if t.hooks(HookType.PRE_ROLLOUT) else CheckOutcome.ok()
    elif (analysis is not None and analysis.metrics) or t.hooks(HookType.ROLLOUT):
        outcome = t.check(CheckKind.ANALYSIS)
    else:
        outcome = CheckOutcome.ok()
    if not first and outcome.evidence:
        _record_analysis(t, outcome)
    if outcome.passed:
        return True
    reason = _REASONS.get(outcome.cause, Reason.HALTED) if outcome.cause else Reason.HALTED
    if outcome.held:
        held = s.held_checks + 1
        t.set(held_checks=held)
        limit = t.spec.max_held_checks
        if held >= limit:
            _rollback(
                t,
                Reason.ROLLED_BACK,
                f"Rolling back (failing safe): {held} of {limit} checks could not decide "
                f"(analysis.maxHeldChecks); last: {outcome.describe()}",
            )
        else:
            t.emit(
                warning(
                    reason, f"Holding at {s.canary_weight}% ({held} of {limit} held): {outcome.describe()}"
                )
            )
        return False
    failed = s.failed_checks + 1
    t.set(failed_checks=failed)
    threshold = t.spec.threshold
    if failed >= threshold:
        _rollback(
            t,
            Reason.ROLLED_BACK,
            f"Rolling back: {failed} of {threshold} checks failed; last: {outcome.describe()}",
        )
    else:
        t.emit(
            warning(
                reason,
                f"Halted at {s.canary_weight}%: check failed ({failed} of {threshold}): {outcome.describe()}",
            )
        )
    return False


_REASONS = {
    Cause.CHECK_FAILED: Reason.HALTED,
    Cause.OUT_OF_RANGE: Reason.OUT_OF_RANGE,
    Cause.QUERY_FAILED: Reason.QUERY_FAILED,
    Cause.INVALID_METRIC: Reason.INVALID_METRIC,
    Cause.REGRESSION: Reason.REGRESSION,
    Cause.NO_VALUES: Reason.NO_VALUES,
    Cause.INCONCLUSIVE: Reason.INCONCLUSIVE,
    Cause.MARGINAL: Reason.MARGINAL,
    Cause.UNAVAILABLE: Reason.METRICS_UNAVAILABLE,
}


def _record_analysis(t: _Tick, outcome: CheckOutcome) -> None:
    """Keep the evidence in the status (status.lastAnalysis and the Analysis condition)."""
    metrics = list(outcome.evidence)
    t.set(
        last_analysis=AnalysisStatus(
            time=timestamp(t.now), result=outcome.result, score=outcome.score, metrics=metrics
        )
    )
    if outcome.passed:
        t.analysis = ("True", "Passed", "; ".join(f"{e.name}: {e.message}" for e in outcome.evidence))
    else:
        cause = outcome.cause.value if outcome.cause else "Failed"
        t.analysis = ("False", cause, outcome.describe())


def _advance_canary(t: _Tick) -> None:
    current = t.status.canary_weight
    if current < t.spec.max_weight:
        if t.mirroring() and current == 0 and not (t.obs.routes and t.obs.routes.mirrored):
            t.emit(SetWeights(100, 0, mirrored=True))
            t.emit(normal(Reason.MIRRORING, f"Mirroring traffic to {t.target} before shifting any"))
            return
        nxt = next_canary_weight(t.spec, current)
        if nxt <= current:
            return
        if t.hooks(HookType.CONFIRM_TRAFFIC_INCREASE) and t.status.phase is not Phase.WAITING_PROMOTION:
            outcome = t.check(CheckKind.CONFIRM_TRAFFIC_INCREASE)
            if not outcome.passed:
                t.emit(
                    warning(
                        Reason.WAITING,
                        f"Waiting for approval to raise the weight to {nxt}%: {outcome.describe()}",
                        t.unless_muted(HookType.CONFIRM_TRAFFIC_INCREASE),
                    )
                )
                return
        _raise_weight(t, current, nxt)
        return
    _confirm_and_promote(t)


def _raise_weight(t: _Tick, current: int, nxt: int, why: str = "") -> None:
    t.emit(SetWeights(100 - nxt, nxt))
    t.set(canary_weight=nxt)
    t.emit(
        normal(Reason.WEIGHT_INCREASED, f"Canary weight {current}% -> {nxt}%" + (f" ({why})" if why else ""))
    )


def _advance_ab(t: _Tick) -> None:
    total = t.iterations()
    done = t.status.iterations
    if done < total:
        t.emit(SetWeights(0, 100))  # with spec.analysis.match, only matching requests reach the canary
        t.set(iterations=done + 1)
        _iteration_event(
            t, done + 1, total, f"A/B iteration {done + 1} of {total}: matching requests go to {t.target}"
        )
        return
    _confirm_and_promote(t)


def _iteration_event(t: _Tick, n: int, total: int, message: str) -> None:
    """Report the first and the last iteration of a run; the ones between show in status.iterations.

    One event per iteration would double the API writes of an iterating canary (its status patch is
    the other one); ``kubectl get canary -o wide`` shows the running count in its ITERATIONS column.
    """
    if n == 1 and total > 1:
        t.emit(
            normal(Reason.ITERATION, f"{message} (progress: status.iterations, kubectl get canary -o wide)")
        )
    elif n == total:
        t.emit(normal(Reason.ITERATION, message))


def _advance_blue_green(t: _Tick) -> None:
    total = t.iterations()
    done = t.status.iterations
    if done < total:
        if t.mirroring() and not (t.obs.routes and t.obs.routes.mirrored):
            t.emit(SetWeights(100, 0, mirrored=True))
        t.set(iterations=done + 1)
        _iteration_event(t, done + 1, total, f"Blue/green iteration {done + 1} of {total}")
        return
    if done == total:
        if not _promotion_confirmed(t):
            return
        t.emit(SetWeights(0, 100))
        t.set(iterations=done + 1, canary_weight=100)
        t.emit(
            normal(
                Reason.WEIGHT_INCREASED, f"Routing all traffic to {t.target} for one more analysed interval"
            )
        )
        return
    _start_promotion(t, f"{total} iterations passed and {t.target} served all traffic for one interval")


def _promotion_confirmed(t: _Tick) -> bool:
    if not t.hooks(HookType.CONFIRM_PROMOTION):
        return True
    outcome = t.check(CheckKind.CONFIRM_PROMOTION)
    if outcome.passed:
        return True
    if t.status.phase is not Phase.WAITING_PROMOTION:
        t.emit(
            warning(
                Reason.WAITING_PROMOTION,
                f"Waiting for approval to promote: {outcome.describe()}",
                t.unless_muted(HookType.CONFIRM_PROMOTION),
            )
        )
    t.set(phase=Phase.WAITING_PROMOTION)
    return False


def _confirm_and_promote(t: _Tick) -> None:
    if _promotion_confirmed(t):
        _start_promotion(t, "the analysis passed")


def _start_promotion(t: _Tick, why: str) -> None:
    t.emit(PromoteToPrimary())
    t.set(phase=Phase.PROMOTING, primary_unready_since=None)
    t.emit(
        normal(
            Reason.PROMOTING,
            f"Promoting revision {t.status.last_applied_spec}: {why}; "
            + ("making it the primary" if t.obs.primary_name else f"copying {t.target} to {t.primary}"),
        )
    )


def _promote(t: _Tick) -> None:
    if not t.obs.primary.ready:
        if _deadline_passed(t, t.status.primary_unready_since, t.obs.primary.deadline_exceeded):
            # The new primary is broken while the canary, which passed its analysis, is healthy: send
            # everyone to the canary rather than leave them on a broken primary.
            _fail(
                t,
                Reason.PROMOTION_FAILED,
                f"Promotion failed: {t.primary} did not become ready within "
                f"{t.spec.progress_deadline}s ({t.obs.primary.message}); all traffic stays on {t.target}",
                weights=SetWeights(0, 100),
            )
            return
        _wait_for_ready(t, "primary_unready_since", t.primary, t.obs.primary.message)
        return
    t.set(primary_unready_since=None)
    by_hand = t.status.promoted_by is not None
    if not t.obs.due and not by_hand:
        return
    routes = t.obs.routes
    primary = routes.primary if routes is not None else 100 - t.status.canary_weight
    nxt = 100 if t.all_at_once or by_hand else next_primary_weight_during_promotion(t.spec, primary)
    t.emit(SetWeights(nxt, 100 - nxt))
    t.set(canary_weight=100 - nxt)
    if nxt >= 100:
        t.set(phase=Phase.FINALISING)
        t.emit(normal(Reason.PROMOTING, f"Routing all traffic to {t.primary}"))
    else:
        t.emit(normal(Reason.PROMOTING, f"Primary weight {primary}% -> {nxt}%"))


def _finalise(t: _Tick) -> None:
    t.emit(ScaleTarget(0))
    t.set(phase=Phase.SUCCEEDED, last_promoted_spec=t.status.last_applied_spec, canary_weight=0, iterations=0)
    revision = _commit_of(t, t.status.last_applied_spec)
    if t.gitops().applied_revision is not None:
        # None when the commit was not seen with this spec: unknown is safer than an older commit,
        # which a later revert would undo too.
        t.set_gitops(promoted_revision=revision)
    if t.spec.gitops is not None and t.spec.gitops.next_environment() is not None:
        _owe(
            t,
            GitWriteKind.PROMOTE,
            git_revision=revision,
            images=dict(t.obs.images),
            reason=f"{t.target} revision {t.status.last_applied_spec} passed its analysis and was promoted",
        )
    t.emit(
        normal(
            Reason.PROMOTED,
            f"Promotion completed: revision {t.status.last_applied_spec} is the primary, with all traffic"
            if t.obs.primary_name
            else f"Promotion completed: {t.primary} runs revision {t.status.last_applied_spec}; "
            f"{t.target} scaled to zero",
            Severity.INFO,
        )
    )
    if t.hooks(HookType.POST_ROLLOUT):
        t.emit(RunPostRolloutHooks(Phase.SUCCEEDED.value))


# ---------------------------------------------------------------------------------------------- deletion
def _terminate(t: _Tick) -> None:
    """The Canary is being deleted; the application never loses its serving Pods.

    Without revertOnDeletion the primary keeps serving: all traffic is routed to it and the target
    stays parked.  With it, the target is scaled up (Terminating) and, once ready within
    progressDeadlineSeconds of that, the apex Service and the route are handed back to it and the
    primary is removed; a target that never becomes ready leaves the primary serving instead.
    Terminated lets the finalizer go.  An owed Git write is dropped with the Canary.
    """
    if t.status.phase is Phase.TERMINATED:
        return
    target = t.target
    if t.obs.invalid_spec is not None or not t.obs.target.exists or not t.obs.primary.exists:
        t.set(phase=Phase.TERMINATED)
        return  # it never worked: there is nothing to hand back
    if not t.spec.revert_on_deletion:
        _primary_keeps_serving(
            t,
            normal(
                Reason.TERMINATED,
                f"Canary deleted: {t.primary} keeps serving all traffic; {target} stays scaled to zero "
                "(set spec.revertOnDeletion to hand traffic back to it instead)",
            ),
        )
        return
    if t.status.phase is not Phase.TERMINATING:
        t.emit(ScaleTarget(t.obs.scale_up_replicas))
        t.set(phase=Phase.TERMINATING)
        t.emit(
            normal(
                Reason.TERMINATING,
                f"Canary deleted: scaling {target} up to take traffic back (revertOnDeletion)",
            )
        )
        return
    if not t.obs.target.ready:
        if t.elapsed_since(t.status.last_transition_time) < t.spec.progress_deadline:
            return
        _primary_keeps_serving(
            t,
            warning(
                Reason.TERMINATED,
                f"Canary deleted, but {target} did not become ready within {t.spec.progress_deadline}s "
                f"({t.obs.target.message}): {t.primary} keeps serving and stays in place",
            ),
        )
        return
    t.emit(HandBack())
    t.set(phase=Phase.TERMINATED, canary_weight=0)
    t.emit(normal(Reason.TERMINATED, f"Canary deleted: traffic handed back to {target}; {t.primary} removed"))


def _primary_keeps_serving(t: _Tick, event: RecordEvent) -> None:
    t.emit(SetWeights(100, 0), ScaleTarget(0))
    t.set(phase=Phase.TERMINATED, canary_weight=0)
    t.emit(event)


# ---------------------------------------------------------------------------------------------- helpers
def _start_run(t: _Tick, message: str) -> None:
    """Scale the target up and start a run of the observed revision (Progressing)."""
    t.emit(ScaleTarget(t.obs.scale_up_replicas))
    _new_run(t, Phase.PROGRESSING)
    t.emit(normal(Reason.NEW_REVISION, message, Severity.INFO))


def _new_run(t: _Tick, phase: Phase) -> None:
    """Start a run of the observed revision: counters, weights and waits start from zero."""
    _supersede_git(t)
    t.set(
        phase=phase,
        last_applied_spec=t.obs.target_hash,
        tracked_configs=t.obs.tracked_configs or None,
        canary_weight=0,
        failed_checks=0,
        held_checks=0,
        iterations=0,
        analysis_start_time=timestamp(t.now),
        canary_unready_since=None,
        primary_unready_since=None,
        canary_traffic_since=None,
        promoted_by=None,
        **_session_cookies(t),
    )


def _session_cookies(t: _Tick) -> dict[str, str | None]:
    """Cookies pinning clients to this run's canary (and to the primary), from the revision.

    Derived from the revision hash rather than drawn at random, so the decision stays a pure function
    of its inputs; a new revision gets a new cookie, and the last run's cookie is kept to be expired.
    """
    analysis = t.spec.effective_analysis
    affinity = analysis.session_affinity if analysis is not None else None
    if affinity is None or not t.obs.target_hash:
        return {}
    token = hashlib.sha256(f"canary-session/{t.obs.target_hash}".encode()).hexdigest()[:24]
    cookie = f"{affinity.cookie_name}={token}"
    previous = t.status.session_affinity_cookie
    return {
        "session_affinity_cookie": cookie,
        "primary_session_affinity_cookie": (
            f"{affinity.primary_cookie_name}={token}" if affinity.primary_cookie_name else None
        ),
        "previous_session_affinity_cookie": previous if previous and previous != cookie else None,
    }


def _deadline_passed(t: _Tick, since: str | None, kubernetes_gave_up: bool) -> bool:
    return kubernetes_gave_up or t.elapsed_since(since) >= t.spec.progress_deadline


def _wait_for_ready(t: _Tick, field_name: str, what: str, message: str) -> None:
    if getattr(t.status, field_name) is None:
        t.set(**{field_name: timestamp(t.now)})
        # Normal, not Warning: a rollout takes a while; only the deadline passing is a problem.
        t.emit(normal(Reason.WAITING_FOR_READY, f"Waiting for {what} to become ready: {message}"))


def _rollback(t: _Tick, reason: Reason, message: str, *, alert: Severity = Severity.ERROR) -> None:
    _fail(t, reason, message, weights=SetWeights(100, 0), alert=alert)


def _fail(
    t: _Tick, reason: Reason, message: str, *, weights: SetWeights | None, alert: Severity = Severity.ERROR
) -> None:
    if weights is not None:
        t.emit(weights)
    if weights is None or weights.primary == 100:
        t.emit(ScaleTarget(0))
        t.set(canary_weight=0)
    else:
        t.set(canary_weight=weights.canary)
    ran = t.status.phase not in (Phase.NONE, Phase.INITIALIZING)
    t.set(phase=Phase.FAILED, iterations=0, canary_unready_since=None, primary_unready_since=None)
    t.failure = message
    t.emit(warning(reason, message, alert))
    if ran and t.hooks(HookType.POST_ROLLOUT):
        t.emit(RunPostRolloutHooks(Phase.FAILED.value))
    gitops = t.spec.gitops
    rolled_back = weights is None or weights.primary == 100
    if ran and rolled_back and gitops is not None and gitops.on_rollback is not OnRollback.NONE:
        # Only what the failed revision changed is quarantined: images the primary does not run.
        failed = {c: i for c, i in t.obs.images.items() if t.obs.primary_images.get(c) != i}
        _owe(
            t,
            GitWriteKind.REVERT,
            git_revision=_commit_of(t, t.updates.get("last_applied_spec", t.status.last_applied_spec)),
            since_revision=t.gitops().promoted_revision,
            images=failed or None,
            reason=message,
        )


# ---------------------------------------------------------------------------------------------- Git
def _commit_of(t: _Tick, spec: str | None) -> str | None:
    """The commit behind ``spec`` (a target revision), if it was observed with that spec."""
    g = t.gitops()
    if g.applied_spec is None:  # recorded before applied_spec existed
        return g.applied_revision
    return g.applied_revision if g.applied_spec == spec else None


def _owe(t: _Tick, kind: GitWriteKind, **fields: Any) -> None:
    """Record a Git write as owed (the outbox): asked for in this tick, after its status patch, and
    retried until done."""
    revision = t.updates.get("last_applied_spec", t.status.last_applied_spec) or ""
    t.set_gitops(pending=GitWrite(kind=kind, revision=revision, since=timestamp(t.now), **fields))


def _supersede_git(t: _Tick) -> None:
    """A new revision was released (by the GitOps agent, from a newer commit) while a write about an
    older one is still owed: Git has moved on, so that write would describe the past.  It is dropped."""
    pending = t.gitops().pending
    if pending is None or pending.revision == t.obs.target_hash:
        return
    t.set_gitops(pending=None)
    message = (
        f"The {pending.kind.value} of revision {pending.revision} was not written to Git: revision "
        f"{t.obs.target_hash} was released since"
    )
    t.emit(normal(Reason.GIT_SUPERSEDED, message))
    t.git = ("Unknown", Reason.GIT_SUPERSEDED.value, message)


_WRITTEN: dict[str, tuple[Reason, Literal["True", "False"], Severity]] = {
    "committed": (Reason.GIT_COMMITTED, "True", Severity.INFO),
    "pullRequest": (Reason.PULL_REQUEST_OPENED, "True", Severity.INFO),
    "nothingToDo": (Reason.GIT_UP_TO_DATE, "True", Severity.INFO),
    "needsAttention": (Reason.GIT_NEEDS_ATTENTION, "False", Severity.WARN),
}


def _settle_git(t: _Tick) -> None:
    """Record the outcome of the owed Git write once the Git lane has made it; otherwise ask for it
    (in the tick that owes it, then once per interval), unless an attempt is under way."""
    pending = t.gitops().pending
    if pending is None:
        return
    if t.spec.gitops is None:
        t.set_gitops(pending=None)
        t.git = ("Unknown", "Disabled", f"spec.gitops removed: the {pending.kind.value} was not written")
        return
    outcome = t.obs.git
    if outcome is None:
        fresh = t.status.gitops is None or t.status.gitops.pending != pending
        if not t.obs.git_in_flight and (fresh or t.obs.due):
            t.emit(WriteGit(pending))
        return
    record = outcome.record
    if record is not None:
        reason, status, severity = _WRITTEN[record.result]
        record = record.model_copy(update={"time": timestamp(t.now), "evidence": pending.reason or None})
        t.set_gitops(pending=None, last_write=record)
        if record.kind is GitWriteKind.REVERT and record.result == "committed" and record.commit:
            # Our revert describes the promoted spec again: later reverts start after it.  (Not the
            # agent's revision when the target returns to the promoted spec: a stale read of the
            # target next to a fresh one of the agent would pair the promoted spec with a newer commit.)
            t.set_gitops(promoted_revision=record.commit)
        event = normal if status == "True" else warning
        t.emit(event(reason, record.message, severity))
        t.git = (status, reason.value, record.message)
        return
    error = outcome.error or "unknown error"
    t.set_gitops(pending=pending.model_copy(update={"attempts": pending.attempts + 1, "last_error": error}))
    message = (
        f"Could not write the {pending.kind.value} of revision {pending.revision} to Git "
        f"(retrying each interval): {error}"
    )
    if error != pending.last_error:
        t.emit(warning(Reason.GIT_WRITE_FAILED, message, Severity.WARN))
    t.git = ("False", Reason.GIT_WRITE_FAILED.value, message)


_PROMOTED: dict[Phase, tuple[Literal["True", "False", "Unknown"], str]] = {
    Phase.INITIALIZING: ("Unknown", "New Deployment detected, starting initialization"),
    Phase.INITIALIZED: ("True", "Deployment initialization completed"),
    Phase.WAITING: ("Unknown", "Waiting for approval"),
    Phase.WAITING_PROMOTION: ("Unknown", "Waiting for approval"),
    Phase.PROGRESSING: ("Unknown", "New revision detected, progressing canary analysis"),
    Phase.PROMOTING: ("Unknown", "Canary analysis completed, starting primary rolling update"),
    Phase.FINALISING: ("Unknown", "Canary analysis completed, routing all traffic to primary"),
    Phase.SUCCEEDED: ("True", "Canary analysis completed successfully, promotion finished"),
    Phase.FAILED: ("False", "Canary analysis failed, Deployment scaled to zero"),
}


def _routed(route: RouteVerdict | None) -> tuple[Literal["True", "False"], str, str] | None:
    """The Routed condition of the data plane's verdict (None: it said nothing)."""
    if route is None:
        return None
    return ("True", "Accepted", route.message) if route.accepted else ("False", "NotAccepted", route.message)


def _conditions(
    old: CanaryStatus,
    phase: Phase,
    now: datetime,
    *,
    failure: str | None,
    invalid: str | None,
    target: str,
    analysis: tuple[Literal["True", "False", "Unknown"], str, str] | None = None,
    git: tuple[Literal["True", "False", "Unknown"], str, str] | None = None,
    routed: tuple[Literal["True", "False", "Unknown"], str, str] | None = None,
) -> list[Condition]:
    current = {c.type: c for c in old.conditions or []}
    stamp = timestamp(now)
    wanted: list[Condition] = []
    if invalid is not None:
        wanted.append(Condition(type="Ready", status="False", reason="InvalidSpec", message=invalid))
    else:
        wanted.append(
            Condition(
                type="Ready", status="True", reason="Valid", message=f"Spec valid; target {target} found"
            )
        )
    if phase in _PROMOTED:
        status, message = _PROMOTED[phase]
        if phase is Phase.FAILED and failure:
            message = failure
        elif phase is Phase.FAILED and "Promoted" in current and current["Promoted"].reason == "Failed":
            message = current["Promoted"].message or message
        wanted.append(Condition(type="Promoted", status=status, reason=phase.value, message=message))
    elif "Promoted" in current:
        wanted.append(current["Promoted"])
    if analysis is not None:
        status, reason, message = analysis
        wanted.append(Condition(type="Analysis", status=status, reason=reason, message=message[:1024]))
    elif "Analysis" in current:
        wanted.append(current["Analysis"])
    if git is not None:
        status, reason, message = git
        wanted.append(Condition(type="GitOps", status=status, reason=reason, message=message[:1024]))
    elif "GitOps" in current:
        wanted.append(current["GitOps"])
    if routed is not None:  # the data plane's word on the routing objects, when it says one
        status, reason, message = routed
        wanted.append(Condition(type="Routed", status=status, reason=reason, message=message[:1024]))
    elif "Routed" in current:
        wanted.append(current["Routed"])
    return [_stamped(current.get(c.type), c, stamp) for c in wanted]


def _stamped(before: Condition | None, wanted: Condition, stamp: str) -> Condition:
    """``wanted`` as it goes into the status: unchanged (times and all) when it says what ``before``
    said; otherwise updated now, its transition time kept while its status stays the same."""
    if before is not None and (before.status, before.reason, before.message) == (
        wanted.status,
        wanted.reason,
        wanted.message,
    ):
        return before
    transition = (
        before.last_transition_time if before is not None and before.status == wanted.status else stamp
    )
    return wanted.model_copy(update={"last_update_time": stamp, "last_transition_time": transition})


def not_ready(status: CanaryStatus, reason: Reason, message: str, now: datetime) -> Decided:
    """A tick that could not decide: the spec is one the models refuse, or the provider unknown, or a
    kind the Canary needs is not installed or not allowed.  ``Ready=False`` with ``reason`` and
    ``message`` (naming the field, or the kind and the verb), a Warning event saying the same; the rest
    of the status is kept as it is, so a fixed spec or cluster picks up where it was."""
    ready = Condition(type="Ready", status="False", reason=reason.value, message=message[:1024])
    current = {c.type: c for c in status.conditions or []}
    conditions = [c for c in status.conditions or [] if c.type != "Ready"]
    conditions.insert(0, _stamped(current.get("Ready"), ready, timestamp(now)))
    return Decided(status.model_copy(update={"conditions": conditions}), (warning(reason, message),))

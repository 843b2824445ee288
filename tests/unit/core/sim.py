"""A tiny simulated world for driving ``canary.core.machine.step`` tick after tick, without a cluster.

The world holds what the real adapters would observe (target and primary revisions, readiness,
router weights) and applies the actions the machine returns, so a test reads as a rollout story:
the sequence of weights, events and phases.  Checks are answered by a function of the tick.  It
decides through ``canary.core.driver.decide``, the loop the operator uses.

Git writes go as they do in the operator: a ``WriteGit`` action is made on the Git lane after the
tick (here: at once, by ``git``, unless ``git_hangs``), and its outcome is observed by the next tick,
a woken one (the lane wakes the canary), which runs at once.  A hanging lane keeps the write in
flight.  ``delete()`` marks the Canary deleted; ticks then drive its Terminating phases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from canary.adapters.routers.registry import capabilities_of
from canary.core.actions import (
    Action,
    HandBack,
    PromoteToPrimary,
    RecordEvent,
    RestoreTarget,
    RunPostRolloutHooks,
    ScaleTarget,
    SetTargetImages,
    SetWeights,
    TrafficAction,
    WriteGit,
)
from canary.core.driver import decide
from canary.core.machine import Decided
from canary.core.observations import (
    CheckKind,
    CheckOutcome,
    GitOutcome,
    Observations,
    Readiness,
    Routes,
    RouteVerdict,
)
from canary.models.canary import Canary, CanarySpec, CanaryStatus, Phase, Provider
from canary.models.gitops import GitWrite, GitWriteRecord
from canary.models.requests import Request

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_spec(analysis: dict[str, Any] | None = None, **spec: Any) -> CanarySpec:
    target = (  # the knative provider goes with a Knative Service target
        {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "web"}
        if spec.get("provider") == "knative"
        else {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    )
    body: dict[str, Any] = {"targetRef": target, "service": {"port": 80}, **spec}
    if analysis is not None:
        body["analysis"] = {"interval": "10s", **analysis}
    return Canary.model_validate({"spec": body}).spec


Checks = Callable[[CheckKind, "World"], CheckOutcome]
GitWriter = Callable[[GitWrite, "World"], GitOutcome]


def git_commits(write: GitWrite, world: World) -> GitOutcome:
    """A Git that takes every write: a commit per write."""
    return GitOutcome(
        GitWriteRecord(
            kind=write.kind,
            revision=write.revision,
            result="committed",
            commit=f"c{len(world.git_writes) - 1}",
            message=f"{write.kind.value} committed",
        )
    )


def all_pass(kind: CheckKind, world: World) -> CheckOutcome:
    return (
        CheckOutcome.ok() if kind is not CheckKind.ROLLBACK else CheckOutcome.failed("rollback", "not asked")
    )


@dataclass
class World:
    spec: CanarySpec
    provider: Provider = Provider.GATEWAYAPI
    target_revision: str = "rev1"
    primary_revision: str | None = None
    target_replicas: int = 2
    #: ticks a freshly rolled-out primary needs before it reports ready
    primary_rollout_ticks: int = 1
    canary_ready: Callable[[World], bool] = lambda w: True
    canary_deadline_exceeded: bool = False
    checks: Checks = all_pass
    status: CanaryStatus = field(default_factory=CanaryStatus)
    routes: Routes = field(default_factory=lambda: Routes(100, 0))
    #: the data plane's verdict on the routing objects (None: it says nothing)
    route: RouteVerdict | None = None
    now: datetime = T0
    tick_no: int = 0
    primary_ready_at: int = 0
    events: list[RecordEvent] = field(default_factory=list)
    weights: list[tuple[int, int]] = field(default_factory=list)
    asked: list[CheckKind] = field(default_factory=list)
    #: the phase of each run that ended with a call of the post-rollout hooks
    post_rollout: list[str] = field(default_factory=list)
    #: the Git commit behind the target's spec, as spec.gitops.revisionFrom would read it
    git_revision: str | None = None
    images: dict[str, str] = field(default_factory=lambda: {"app": "example/web:1.0.0"})
    primary_images: dict[str, str] = field(default_factory=lambda: {"app": "example/web:1.0.0"})
    git: GitWriter = git_commits
    #: every Git write the machine asked for, in order
    git_writes: list[GitWrite] = field(default_factory=list)
    #: the Git lane never finishes a write (a remote that accepts connections and never answers)
    git_hangs: bool = False
    #: the outcome of the last write, for the next tick to observe; a write under way
    git_outcome: GitOutcome | None = None
    git_in_flight: bool = False
    #: the Canary is being deleted; ``handed_back``: the apex points at the target again
    deleting: bool = False
    handed_back: bool = False
    #: the actions of every tick, in order (a test of ordering reads them)
    history: list[tuple[Action, ...]] = field(default_factory=list)
    #: a person's request (the canary.dev/request annotation); removed once answered, as the operator does
    request: Request | None = None

    def observe(self) -> Observations:
        primary = (
            Readiness(exists=True, ready=self.tick_no >= self.primary_ready_at, message="rolling out")
            if self.primary_revision is not None
            else Readiness(exists=False, ready=False, message="not created yet")
        )
        target_ready = self.target_replicas > 0 and self.canary_ready(self)
        return Observations(
            target=Readiness(
                exists=True,
                ready=target_ready,
                deadline_exceeded=self.canary_deadline_exceeded,
                message="" if target_ready else "0 of 2 updated replicas are available",
            ),
            primary=primary,
            target_hash=self.target_revision,
            routes=self.routes,
            route=self.route,
            scale_up_replicas=2,
            git_revision=self.git_revision,
            images=dict(self.images),
            primary_images=dict(self.primary_images),
            git=self.git_outcome,
            git_in_flight=self.git_in_flight,
            deleting=self.deleting,
            request=self.request,
            promoted_template=self.primary_revision,  # the primary records what it was made from
        )

    def run_checks(self, kinds: tuple[CheckKind, ...]) -> dict[CheckKind, CheckOutcome]:
        self.asked.extend(kinds)
        return {k: self.checks(k, self) for k in kinds}

    def tick(self, *, due: bool = True) -> Decided:
        """One tick: observe, decide (running the checks the machine asks for), act: traffic first,
        then the rest, then the Git lane (whose outcome a woken tick records at once)."""
        if self.primary_revision is None and not self.deleting:
            # the operator's bootstrap creates the primary from the target
            self.primary_revision = self.target_revision
            self.primary_ready_at = self.tick_no + self.primary_rollout_ticks
        obs = dataclasses.replace(self.observe(), due=due)
        pending = self.status.gitops.pending if self.status.gitops else None
        if self.git_outcome is not None and not (pending and pending.same_write(self.git_writes[-1])):
            obs = dataclasses.replace(
                obs, git=None
            )  # about a write no longer owed: dropped, as the operator does
        self.git_outcome = None  # observed: recorded by this tick
        result = decide(
            self.spec,
            self.status,
            obs,
            self.now,
            capabilities=capabilities_of(self.provider),
            run_checks=self.run_checks,
        )
        self.history.append(result.actions)
        traffic = [a for a in result.actions if isinstance(a, TrafficAction)]
        rest = [a for a in result.actions if not isinstance(a, TrafficAction)]
        for action in [*traffic, *rest]:
            self._apply(action)
        self.status = result.status
        self._remove_answered_request()
        if due:
            self.tick_no += 1
            # At most a day per tick: a spec may ask for an interval of centuries, a datetime cannot hold it.
            self.now += timedelta(seconds=min(self.spec.analysis_interval_seconds, 86_400))
        if self.git_in_flight and not self.git_hangs:
            self.git_outcome = self.git(self.git_writes[-1], self)
            self.git_in_flight = False
            self.tick(due=False)  # the lane wakes the canary: its outcome is recorded at once
        return result

    def _apply(self, action: Action) -> None:
        if isinstance(action, SetWeights):
            self.routes = Routes(action.primary, action.canary, action.mirrored)
            self.weights.append((action.primary, action.canary))
        elif isinstance(action, ScaleTarget):
            self.target_replicas = action.replicas
        elif isinstance(action, PromoteToPrimary):
            self.primary_revision = self.target_revision
            self.primary_images = dict(self.images)
            self.primary_ready_at = self.tick_no + 1 + self.primary_rollout_ticks
        elif isinstance(action, SetTargetImages):
            self.images.update(dict(action.images))
            self.target_revision = "rev-" + ",".join(i for _, i in action.images)
        elif isinstance(action, RestoreTarget):
            self.target_revision = action.revision
            self.images = dict(self.primary_images)
        elif isinstance(action, RecordEvent):
            self.events.append(action)
        elif isinstance(action, RunPostRolloutHooks):
            self.post_rollout.append(action.phase)
        elif isinstance(action, HandBack):
            self.handed_back = True
            self.primary_revision = None
        elif isinstance(action, WriteGit):
            assert not self.git_in_flight, "a second write while one is under way"
            self.git_writes.append(action.write)
            self.git_in_flight = True

    def _remove_answered_request(self) -> None:
        answered = self.status.last_request
        if self.request is not None and answered is not None and answered.id == self.request.id:
            self.request = None

    def delete(self) -> None:
        self.deleting = True

    def run_until(self, *phases: Phase, limit: int = 60) -> list[Phase]:
        seen = []
        for _ in range(limit):
            self.tick()
            seen.append(self.status.phase)
            if self.status.phase in phases:
                return seen
        raise AssertionError(f"never reached {phases}; phases: {seen}; events: {self.reasons()}")

    def initialize(self) -> None:
        self.run_until(Phase.INITIALIZED)
        self.events.clear()
        self.weights.clear()
        self.asked.clear()
        self.history.clear()

    def reasons(self) -> list[str]:
        return [e.reason.value for e in self.events]

    def canary_weights(self) -> list[int]:
        return [c for _, c in self.weights]

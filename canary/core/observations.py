"""What the operator observed before a decision: plain, immutable values.

Who builds these: ``canary.operator`` through the adapters (workload readiness from the kube adapter,
weights from the router, check outcomes from the analysis).  Who reads them: ``canary.core.machine``.
Nothing here knows how it was observed; the core stays pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from canary.models.canary import MetricStatus
from canary.models.gitops import GitWriteRecord
from canary.models.requests import Request


@dataclass(frozen=True)
class Readiness:
    """Whether a Deployment is ready, from its status (see ``adapters.kube.readiness``)."""

    exists: bool
    ready: bool
    #: Kubernetes itself gave up: the Progressing condition says ProgressDeadlineExceeded.
    deadline_exceeded: bool = False
    #: Why it is not ready, for people ("2 of 3 updated replicas are available").
    message: str = ""

    @classmethod
    def missing(cls, what: str) -> Readiness:
        return cls(exists=False, ready=False, message=f"{what} not found")


@dataclass(frozen=True)
class Routes:
    """The weights the router reports (it, not the status, is the source of truth)."""

    primary: int
    canary: int
    mirrored: bool = False

    @classmethod
    def proportional(cls, primary: int, canary: int, mirrored: bool = False) -> Routes:
        """Weights as percentages of their sum (another writer may use 1:3); all to the primary when
        both are zero."""
        total = primary + canary
        if total == 0:
            return cls(100, 0, mirrored)
        return cls(round(100 * primary / total), round(100 * canary / total), mirrored)


@dataclass(frozen=True)
class RouteVerdict:
    """What the data plane says of the routing objects (a Gateway API implementation's HTTPRoute
    ``status.parents[].conditions``, Contour's HTTPProxy ``Valid``), for their current generation."""

    accepted: bool
    #: who said it and why, e.g. "HTTPRoute web: traefik.io/gateway-controller: Accepted=False
    #: (NoMatchingListenerHostname) for Gateway gw: ..."
    message: str


class CheckKind(StrEnum):
    """Side-effecting checks the machine may ask for.  Each is run only when the machine asks."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ANALYSIS = "analysis"  # rollout webhooks, then metrics
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    CONFIRM_PROMOTION = "confirm-promotion"
    ROLLBACK = "rollback"  # manual rollback hooks: a pass means "roll back"


class Cause(StrEnum):
    """Why a check did not pass; each has its own event reason, so they read differently."""

    CHECK_FAILED = "CheckFailed"  # a webhook said no
    OUT_OF_RANGE = "OutOfRange"  # a metric's value is outside its thresholdRange
    QUERY_FAILED = "QueryFailed"  # the query could not run: bad PromQL, provider down, several series
    INVALID_METRIC = "InvalidMetric"  # the metric cannot be built: template error, missing template
    REGRESSION = "Regression"  # the judge found the canary worse than the primary
    NO_VALUES = "NoValues"  # held: no data yet (no traffic)
    INCONCLUSIVE = "Inconclusive"  # held: too few samples to judge
    MARGINAL = "Marginal"  # held: the judge's score is between marginal and pass
    UNAVAILABLE = "Unavailable"  # held: the metrics provider did not answer (down, timed out, 5xx)


#: Causes that hold the weight instead of counting as a failed check: the canary's health is not known
#: (no data yet, too few samples, or a metrics provider that does not answer: blind, not bad), so it
#: neither advances nor counts as failing; ``maxHeldChecks`` of them in a run roll it back (fail safe).
HOLDING = frozenset({Cause.NO_VALUES, Cause.INCONCLUSIVE, Cause.MARGINAL, Cause.UNAVAILABLE})


@dataclass(frozen=True)
class CheckFailure:
    """One check that did not pass: which one, why, and what it saw, in words a person understands."""

    name: str
    message: str
    cause: Cause = Cause.CHECK_FAILED


def evidence(
    name: str, result: Literal["passed", "failed", "held"], message: str, **fields: float | int | None
) -> MetricStatus:
    """What one metric showed, as kept in status.lastAnalysis (value, judge's medians, shift...)."""
    return MetricStatus(name=name, result=result, message=message, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CheckOutcome:
    """The outcome of one kind of check.  ``held``: it could not decide (not passed, not failed)."""

    passed: bool
    failures: tuple[CheckFailure, ...] = ()
    held: bool = False
    evidence: tuple[MetricStatus, ...] = ()
    #: the judge's score, when metrics were compared
    score: float | None = None

    @classmethod
    def ok(cls) -> CheckOutcome:
        return cls(passed=True)

    @classmethod
    def failed(cls, name: str, message: str, cause: Cause = Cause.CHECK_FAILED) -> CheckOutcome:
        return cls(passed=False, failures=(CheckFailure(name, message, cause),))

    @classmethod
    def combine(
        cls, failures: list[CheckFailure], evidence: list[MetricStatus], score: float | None = None
    ) -> CheckOutcome:
        """Failed if any failure counts; held if every one holds; passed without any."""
        counted = [f for f in failures if f.cause not in HOLDING]
        if counted:
            return cls(False, tuple(counted), evidence=tuple(evidence), score=score)
        if failures:
            return cls(False, tuple(failures), held=True, evidence=tuple(evidence), score=score)
        return cls(True, evidence=tuple(evidence), score=score)

    @property
    def result(self) -> Literal["passed", "failed", "held"]:
        return "passed" if self.passed else "held" if self.held else "failed"

    @property
    def cause(self) -> Cause | None:
        return self.failures[0].cause if self.failures else None

    def describe(self) -> str:
        return "; ".join(f"{f.name}: {f.message}" for f in self.failures) or "passed"


@dataclass(frozen=True)
class GitOutcome:
    """What one attempt at the owed Git write did: done (a record of it), or failed (retried later).

    It arrives after the attempt, from the Git lane (``WriteGit`` runs after the tick's status patch),
    as an observation of a later tick; the core records it."""

    record: GitWriteRecord | None = None
    error: str | None = None


@dataclass(frozen=True)
class Observations:
    """Everything one tick knows about the world."""

    target: Readiness
    primary: Readiness
    #: Stable hash of the target's pod template and tracked configs (``None`` if the target is missing).
    target_hash: str | None
    tracked_configs: dict[str, str] = field(default_factory=dict)
    routes: Routes | None = None
    #: The data plane's word on the routing objects; None while it has said nothing about their
    #: current generation (no implementation writes status, or it has not yet).
    route: RouteVerdict | None = None
    #: Replicas to give the target when it is scaled up for a new revision.
    scale_up_replicas: int = 1
    checks: dict[CheckKind, CheckOutcome] = field(default_factory=dict)
    #: A problem with the spec only the controller can see (say, a selector without a known label),
    #: naming the field; reported as Ready=False/InvalidSpec and a Warning event.
    invalid_spec: str | None = None
    #: True on the tick the analysis interval is due.  Ticks woken by a watch (the target changed, a
    #: Deployment became ready) react at once but run no checks and move no weight.
    due: bool = True
    #: The Git commit behind the target's spec (spec.gitops.revisionFrom); None when unknown or while
    #: the GitOps agent is still applying.
    git_revision: str | None = None
    #: Container name -> image, of the target's and of the primary's pod templates.
    images: dict[str, str] = field(default_factory=dict)
    primary_images: dict[str, str] = field(default_factory=dict)
    #: The outcome of the owed Git write (status.gitops.pending), once the Git lane has made it.
    git: GitOutcome | None = None
    #: True while the owed Git write is being made on the Git lane: it is not asked for again.
    git_in_flight: bool = False
    #: The Canary is being deleted (its finalizer holds it until the machine reaches Terminated).
    deleting: bool = False
    #: What messages call the primary when it is not ``<target>-primary`` (a Knative Service's
    #: primary revision, "revision web-00001")
    primary_name: str | None = None
    #: What a person asked of this Canary (the canary.dev/request annotation), not answered yet.
    request: Request | None = None
    #: The target's metadata.generation (None for a missing target).
    target_generation: int | None = None
    #: The revision whose pod template the primary records as promoted (what ``canary undo`` restores).
    promoted_template: str | None = None

    def with_checks(self, outcomes: dict[CheckKind, CheckOutcome]) -> Observations:
        return dataclasses.replace(self, checks={**self.checks, **outcomes})

    def with_git(self, outcome: GitOutcome) -> Observations:
        return dataclasses.replace(self, git=outcome)

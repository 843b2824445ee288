"""What the decision core asks the operator to do: plain, immutable values.

Who builds these: ``canary.core.machine``.  Who executes them: ``canary.operator`` through adapters,
in two groups, so that a rollback never waits on slow I/O:

* ``TrafficAction``s (routing, scaling, promotion, hand-back) first, in the order given, before the
  tick's status patch: they are what takes a failing release away from users;
* everything else after the status patch: events and notifications (``RecordEvent``), and the
  ``SideEffect``s, which go to lanes of their own and are never waited for (``RunPostRolloutHooks``,
  ``WriteGit``, whose outcome comes back as an observation of a later tick).

Events are actions too, so a test of the core sees the whole user-visible story of a tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from canary.models.gitops import GitWrite


class Reason(StrEnum):
    """Event reasons: specific, so ``kubectl describe canary`` reads as a timeline."""

    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    NEW_REVISION = "NewRevision"
    RESTARTED = "Restarted"
    WAITING = "Waiting"
    WAITING_FOR_READY = "WaitingForReady"
    STARTED_ANALYSIS = "StartedAnalysis"
    WEIGHT_INCREASED = "WeightIncreased"
    ITERATION = "Iteration"
    MIRRORING = "Mirroring"
    HALTED = "Halted"
    OUT_OF_RANGE = "OutOfRange"
    QUERY_FAILED = "QueryFailed"
    INVALID_METRIC = "InvalidMetric"
    REGRESSION = "Regression"
    NO_VALUES = "NoValues"
    INCONCLUSIVE = "Inconclusive"
    MARGINAL = "Marginal"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    ROUTE_NOT_ACCEPTED = "RouteNotAccepted"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    PROMOTED = "Promoted"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    PROMOTION_FAILED = "PromotionFailed"
    DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    INVALID_SPEC = "InvalidSpec"
    MISSING_KIND = "MissingKind"
    FORBIDDEN = "Forbidden"
    SUSPENDED = "Suspended"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"
    UNSUPPORTED = "Unsupported"
    POST_ROLLOUT = "PostRollout"
    GIT_COMMITTED = "GitCommitted"
    PULL_REQUEST_OPENED = "PullRequestOpened"
    GIT_UP_TO_DATE = "GitUpToDate"
    GIT_NEEDS_ATTENTION = "GitNeedsAttention"
    GIT_WRITE_FAILED = "GitWriteFailed"
    GIT_SUPERSEDED = "GitSuperseded"
    REQUESTED = "Requested"
    REQUEST_REFUSED = "RequestRefused"
    ABORTED = "Aborted"


class Severity(StrEnum):
    """How urgent a notification is (AlertProvider routing, Flagger's levels)."""

    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Action:
    """Base of every action."""


@dataclass(frozen=True)
class TrafficAction(Action):
    """Moves traffic or replicas: executed first, before the status patch, in order."""


@dataclass(frozen=True)
class SideEffect(Action):
    """Slow I/O the tick never waits for: run from a lane after the status patch."""


@dataclass(frozen=True)
class SetWeights(TrafficAction):
    """Route ``primary`` and ``canary`` percent of traffic (summing to 100), optionally mirroring."""

    primary: int
    canary: int
    mirrored: bool = False


@dataclass(frozen=True)
class ScaleTarget(TrafficAction):
    """Set the target Deployment's replicas (0 parks it; the primary serves)."""

    replicas: int


@dataclass(frozen=True)
class PromoteToPrimary(TrafficAction):
    """Copy the target's pod template (and its ConfigMaps/Secrets) to the primary."""


@dataclass(frozen=True)
class SetTargetImages(TrafficAction):
    """A person's ``canary set image``: these containers of the target's pod template get these images."""

    images: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RestoreTarget(TrafficAction):
    """A person's ``canary undo``: the target's pod template becomes the one promoted as ``revision``
    (recorded on the primary when it was promoted)."""

    revision: str


@dataclass(frozen=True)
class HandBack(TrafficAction):
    """Deletion with revertOnDeletion, the target being ready: point the apex Service and the route
    back at the target, and remove the primary and what was generated for it."""


@dataclass(frozen=True)
class RunPostRolloutHooks(SideEffect):
    """The run ended (Succeeded or Failed): call the post-rollout hooks, without waiting for them."""

    phase: str


@dataclass(frozen=True)
class WriteGit(SideEffect):
    """Make the owed Git write (status.gitops.pending) on the Git lane; its outcome is observed later."""

    write: GitWrite


@dataclass(frozen=True)
class RecordEvent(Action):
    type: EventType
    reason: Reason
    message: str
    #: also notify (analysis.alerts) at this severity; None: an event only
    alert: Severity | None = None


def normal(reason: Reason, message: str, alert: Severity | None = None) -> RecordEvent:
    return RecordEvent(EventType.NORMAL, reason, message, alert)


def warning(reason: Reason, message: str, alert: Severity | None = None) -> RecordEvent:
    return RecordEvent(EventType.WARNING, reason, message, alert)

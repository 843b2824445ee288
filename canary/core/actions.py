"""What the decision core asks the operator to do: plain, immutable values, executed in order.

Who builds these: ``canary.core.machine``.  Who executes them: ``canary.operator`` through adapters.
Events are actions too, so a test of the core sees the whole user-visible story of a tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    PROMOTED = "Promoted"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    PROMOTION_FAILED = "PromotionFailed"
    DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    INVALID_SPEC = "InvalidSpec"
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
class SetWeights(Action):
    """Route ``primary`` and ``canary`` percent of traffic (summing to 100), optionally mirroring."""

    primary: int
    canary: int
    mirrored: bool = False


@dataclass(frozen=True)
class ScaleTarget(Action):
    """Set the target Deployment's replicas (0 parks it; the primary serves)."""

    replicas: int


@dataclass(frozen=True)
class PromoteToPrimary(Action):
    """Copy the target's pod template (and its ConfigMaps/Secrets) to the primary."""


@dataclass(frozen=True)
class RunPostRolloutHooks(Action):
    """The run ended (Succeeded or Failed): call the post-rollout hooks, without waiting for them."""

    phase: str


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

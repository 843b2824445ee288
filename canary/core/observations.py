"""What the operator observed before a decision: plain, immutable values.

Who builds these: ``canary.operator`` through the adapters (workload readiness from the kube adapter,
weights from the router, check outcomes from the analysis).  Who reads them: ``canary.core.machine``.
Nothing here knows how it was observed; the core stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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


class CheckKind(StrEnum):
    """Side-effecting checks the machine may ask for.  Each is run only when the machine asks."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ANALYSIS = "analysis"  # rollout webhooks, then metrics
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    CONFIRM_PROMOTION = "confirm-promotion"
    ROLLBACK = "rollback"  # manual rollback hooks: a pass means "roll back"


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: which one and what it saw, in words a person understands."""

    name: str
    message: str


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    failures: tuple[CheckFailure, ...] = ()

    @classmethod
    def ok(cls) -> CheckOutcome:
        return cls(passed=True)

    @classmethod
    def failed(cls, name: str, message: str) -> CheckOutcome:
        return cls(passed=False, failures=(CheckFailure(name, message),))

    def describe(self) -> str:
        return "; ".join(f"{f.name}: {f.message}" for f in self.failures) or "passed"


@dataclass(frozen=True)
class Observations:
    """Everything one tick knows about the world."""

    target: Readiness
    primary: Readiness
    #: Stable hash of the target's pod template and tracked configs (``None`` if the target is missing).
    target_hash: str | None
    tracked_configs: dict[str, str] = field(default_factory=dict)
    routes: Routes | None = None
    #: Replicas to give the target when it is scaled up for a new revision.
    scale_up_replicas: int = 1
    checks: dict[CheckKind, CheckOutcome] = field(default_factory=dict)
    #: A problem with the spec only the controller can see (say, a selector without a known label),
    #: naming the field; reported as Ready=False/InvalidSpec and a Warning event.
    invalid_spec: str | None = None
    #: True on the tick the analysis interval is due.  Ticks woken by a watch (the target changed, a
    #: Deployment became ready) react at once but run no checks and move no weight.
    due: bool = True

    def with_checks(self, outcomes: dict[CheckKind, CheckOutcome]) -> Observations:
        return Observations(
            target=self.target,
            primary=self.primary,
            target_hash=self.target_hash,
            tracked_configs=self.tracked_configs,
            routes=self.routes,
            scale_up_replicas=self.scale_up_replicas,
            checks={**self.checks, **outcomes},
            invalid_spec=self.invalid_spec,
            due=self.due,
        )

"""The one decide loop: ``step`` until it decides, running the checks it asks for on the way.

Who calls this: ``canary.operator.tick`` (its checks are webhooks and metric queries) and the
simulated world of the unit tests (its checks are functions of the tick), so both drive the machine
the same way.  Pure but for ``run_checks``, which the caller supplies.

Bounded: each call of ``step`` asks for one kind of check the observations do not hold yet, so a
machine that decides at all decides within ``len(CheckKind) + 1`` calls; more is a bug in the
machine, raised as ``RuntimeError`` rather than looping a worker forever.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from canary.core.capabilities import Capability
from canary.core.machine import Decided, step
from canary.core.observations import CheckKind, CheckOutcome, Observations
from canary.models.canary import CanarySpec, CanaryStatus

#: runs the checks the machine asks for, in order; returns their outcomes
RunChecks = Callable[[tuple[CheckKind, ...]], Mapping[CheckKind, CheckOutcome]]

LIMIT = len(CheckKind) + 1


def decide(
    spec: CanarySpec,
    status: CanaryStatus,
    obs: Observations,
    now: datetime,
    *,
    capabilities: frozenset[Capability],
    run_checks: RunChecks,
    generation: int | None = None,
) -> Decided:
    """One tick's decision: ``step`` with the outcomes of every check it reaches."""
    for _ in range(LIMIT):
        result = step(spec, status, obs, now, capabilities=capabilities, generation=generation)
        if isinstance(result, Decided):
            return result
        asked = [k for k in result.kinds if k not in obs.checks]
        if not asked:
            raise RuntimeError(f"the machine asked again for checks it was given: {result.kinds}")
        obs = obs.with_checks(dict(run_checks(tuple(asked))))
    raise RuntimeError(f"the machine did not decide within {LIMIT} steps")

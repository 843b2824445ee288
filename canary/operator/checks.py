"""Runs the checks the decision core asks for (webhooks and metrics).

Who calls this: ``canary.operator.tick`` when ``step`` returns ``NeedChecks``.

Metrics are evaluated by ``canary.adapters.metrics.analysis`` (queries, thresholds, the judge).
Webhooks are not evaluated yet (the webhooks issue brings them): a requested hook *fails*, naming
itself, so that a Canary that relies on one is held or rolled back, never promoted on a check nobody
ran.  (For a rollback hook a pass would mean "roll back"; it fails too, and the failing analysis rolls
the canary back anyway.)  In the analysis check, rollout hooks come first, as in Flagger.
"""

from __future__ import annotations

from canary.adapters.metrics.analysis import AnalysisContext, MetricAnalysis
from canary.core.observations import CheckFailure, CheckKind, CheckOutcome
from canary.models.canary import HookType

_HOOKS = {
    CheckKind.CONFIRM_ROLLOUT: (HookType.CONFIRM_ROLLOUT,),
    CheckKind.PRE_ROLLOUT: (HookType.PRE_ROLLOUT,),
    CheckKind.ANALYSIS: (HookType.ROLLOUT,),
    CheckKind.CONFIRM_TRAFFIC_INCREASE: (HookType.CONFIRM_TRAFFIC_INCREASE,),
    CheckKind.CONFIRM_PROMOTION: (HookType.CONFIRM_PROMOTION,),
    CheckKind.ROLLBACK: (HookType.ROLLBACK,),
}
NOT_EVALUATED = "not evaluated: this controller version does not run webhooks yet (failing safe)"


class CheckRunner:
    def __init__(self, metrics: MetricAnalysis | None = None) -> None:
        self.metrics = metrics

    def run(self, kind: CheckKind, ctx: AnalysisContext) -> CheckOutcome:
        analysis = ctx.spec.effective_analysis
        hooks = [
            w.name for w in (analysis.webhooks if analysis else None) or [] if w.hook_type in _HOOKS[kind]
        ]
        failures = [CheckFailure(", ".join(hooks), NOT_EVALUATED)] if hooks else []
        if kind is not CheckKind.ANALYSIS or not (analysis and analysis.metrics):
            return CheckOutcome.combine(failures, [])
        if self.metrics is None:
            names = ", ".join(m.name for m in analysis.metrics)
            return CheckOutcome.combine(
                [*failures, CheckFailure(names, "no metrics provider configured")], []
            )
        outcome = self.metrics.run(ctx)
        return CheckOutcome.combine([*failures, *outcome.failures], list(outcome.evidence), outcome.score)

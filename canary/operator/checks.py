"""Runs the checks the decision core asks for (webhooks and metrics).

Who calls this: ``canary.operator.tick`` when ``step`` returns ``NeedChecks``.

This version evaluates neither webhooks nor metrics: the analysis and webhooks issues bring them.
Until then every requested check *fails*, naming what could not be evaluated, so that a Canary that
relies on them is held or rolled back, never promoted on checks nobody ran.  (For a rollback hook a
pass would mean "roll back"; it fails too, and the failing analysis rolls the canary back anyway.)
"""

from __future__ import annotations

from canary.core.observations import CheckKind, CheckOutcome
from canary.models.canary import CanarySpec, HookType

_HOOKS = {
    CheckKind.CONFIRM_ROLLOUT: (HookType.CONFIRM_ROLLOUT,),
    CheckKind.PRE_ROLLOUT: (HookType.PRE_ROLLOUT,),
    CheckKind.ANALYSIS: (HookType.ROLLOUT,),
    CheckKind.CONFIRM_TRAFFIC_INCREASE: (HookType.CONFIRM_TRAFFIC_INCREASE,),
    CheckKind.CONFIRM_PROMOTION: (HookType.CONFIRM_PROMOTION,),
    CheckKind.ROLLBACK: (HookType.ROLLBACK,),
}


class CheckRunner:
    def run(self, kind: CheckKind, spec: CanarySpec) -> CheckOutcome:
        analysis = spec.effective_analysis
        hooks = [
            w.name for w in (analysis.webhooks if analysis else None) or [] if w.hook_type in _HOOKS[kind]
        ]
        metrics = (
            [m.name for m in (analysis.metrics if analysis else None) or []]
            if kind is CheckKind.ANALYSIS
            else []
        )
        names = ", ".join(hooks + metrics) or kind.value
        return CheckOutcome.failed(
            names,
            "not evaluated: this controller version does not run webhooks or metrics yet (failing safe)",
        )

"""Runs the checks the decision core asks for (webhooks and metrics).

Who calls this: ``canary.operator.tick`` when ``step`` returns ``NeedChecks``.

Webhooks (``canary.adapters.webhooks``) are called in the order of the spec; the first that does not
answer 2xx fails the check, naming itself, its status and its answer (as Flagger, which then does not
call the rest).  The rollback check is the inverse: it passes (the core then rolls back) as soon as one
rollback hook answers 2xx.  In the analysis check, rollout hooks come first, then the metrics
(``canary.adapters.metrics.analysis``: queries, thresholds, the judge), which are evaluated even when
a hook failed, so that the evidence is complete.
"""

from __future__ import annotations

from canary.adapters.metrics.analysis import AnalysisContext, MetricAnalysis
from canary.adapters.webhooks import SecretReader, TokenUnavailable, WebhookClient, hook_token, payload
from canary.core.observations import CheckFailure, CheckKind, CheckOutcome
from canary.models.canary import CanaryWebhook, HookType

_HOOKS = {
    CheckKind.CONFIRM_ROLLOUT: HookType.CONFIRM_ROLLOUT,
    CheckKind.PRE_ROLLOUT: HookType.PRE_ROLLOUT,
    CheckKind.ANALYSIS: HookType.ROLLOUT,
    CheckKind.CONFIRM_TRAFFIC_INCREASE: HookType.CONFIRM_TRAFFIC_INCREASE,
    CheckKind.CONFIRM_PROMOTION: HookType.CONFIRM_PROMOTION,
    CheckKind.ROLLBACK: HookType.ROLLBACK,
}


class CheckRunner:
    def __init__(
        self,
        metrics: MetricAnalysis | None = None,
        webhooks: WebhookClient | None = None,
        read_secret: SecretReader | None = None,
    ) -> None:
        self.metrics = metrics
        self.webhooks = webhooks or WebhookClient()
        self.read_secret = read_secret

    def run(self, kind: CheckKind, ctx: AnalysisContext) -> CheckOutcome:
        hooks = ctx.spec.webhooks_of(_HOOKS[kind])
        if kind is CheckKind.ROLLBACK:
            return self._rollback(hooks, ctx)
        failures = self._gate(hooks, ctx)
        analysis = ctx.spec.effective_analysis
        if kind is not CheckKind.ANALYSIS or not (analysis and analysis.metrics):
            return CheckOutcome.combine(failures, [])
        if self.metrics is None:
            names = ", ".join(m.name for m in analysis.metrics)
            return CheckOutcome.combine(
                [*failures, CheckFailure(names, "no metrics provider configured")], []
            )
        outcome = self.metrics.run(ctx)
        return CheckOutcome.combine([*failures, *outcome.failures], list(outcome.evidence), outcome.score)

    def _call(self, hook: CanaryWebhook, ctx: AnalysisContext) -> tuple[bool, str]:
        body = payload(ctx.name, ctx.namespace, ctx.phase, ctx.checksum, hook.metadata)
        try:
            token = hook_token(self.read_secret, ctx.namespace, hook)
        except TokenUnavailable as e:
            return False, str(e)
        answer = self.webhooks.call(hook, body, token)
        return answer.ok, answer.describe()

    def _gate(self, hooks: list[CanaryWebhook], ctx: AnalysisContext) -> list[CheckFailure]:
        for hook in hooks:
            ok, said = self._call(hook, ctx)
            if not ok:
                return [CheckFailure(hook.name, f"{hook.hook_type.value} webhook failed: {said}")]
        return []

    def _rollback(self, hooks: list[CanaryWebhook], ctx: AnalysisContext) -> CheckOutcome:
        answers = []
        for hook in hooks:
            ok, said = self._call(hook, ctx)
            if ok:
                return CheckOutcome.ok()  # this hook asks for a rollback
            answers.append(f"{hook.name}: {said}")
        return CheckOutcome.failed("rollback", "not signaling a rollback (" + "; ".join(answers) + ")")

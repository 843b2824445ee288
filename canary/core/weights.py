"""Traffic weight arithmetic: the next step up during analysis and down during promotion.

Who calls this: ``canary.core.machine``.  Pure functions of the spec and the current weight.

Fixes Flagger's overshoot: there, maxWeight 50 with stepWeight 20 goes 20, 40, 60 because the step is
added without the cap.  Here ``maxWeight`` is a cap: 20, 40, 50.
"""

from __future__ import annotations

from canary.models.canary import CanarySpec


def next_canary_weight(spec: CanarySpec, current: int) -> int:
    """The canary weight after one more step; ``current`` once the cap is reached."""
    cap = spec.max_weight
    if current >= cap:
        return current
    analysis = spec.effective_analysis
    if analysis is not None and not analysis.step_weight and analysis.step_weights:
        # The ladder's next rung above the current weight.
        following = next((w for w in analysis.step_weights if w > current), cap)
        return min(following, cap)
    step = analysis.step_weight if analysis is not None and analysis.step_weight else 0
    if step <= 0:
        return current
    return min(current + step, cap)


def next_primary_weight_during_promotion(spec: CanarySpec, primary: int) -> int:
    """The primary weight after one promotion step; all at once without ``stepWeightPromotion``."""
    analysis = spec.effective_analysis
    step = analysis.step_weight_promotion if analysis is not None and analysis.step_weight_promotion else 0
    if step <= 0:
        return 100
    return min(primary + step, 100)


def planned_checks(spec: CanarySpec) -> int:
    """How many passing analysis checks a run takes to reach promotion: one per weight step up to
    ``maxWeight`` (or per iteration for A/B testing and blue/green), the last one at the cap."""
    analysis = spec.effective_analysis
    if analysis is not None and analysis.iterations:
        return analysis.iterations
    weight, checks = 0, 0
    while checks <= 100:
        following = next_canary_weight(spec, weight)
        if following == weight:
            break
        weight, checks = following, checks + 1
    return max(checks, 1)

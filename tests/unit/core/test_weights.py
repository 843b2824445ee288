"""Weight steps: maxWeight is a cap (Flagger overshoots it), stepWeights is a ladder, promotion steps
move traffic back to the primary."""

from __future__ import annotations

import pytest

from canary.core.weights import next_canary_weight, next_primary_weight_during_promotion, planned_checks
from tests.unit.core.sim import make_spec


def ladder(spec_analysis: dict[str, object]) -> list[int]:
    spec = make_spec(spec_analysis)
    weights, current = [], 0
    while (nxt := next_canary_weight(spec, current)) != current:
        weights.append(nxt)
        current = nxt
    return weights


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        ({"stepWeight": 20, "maxWeight": 50}, [20, 40, 50]),  # Flagger: 20, 40, 60
        ({"stepWeight": 10, "maxWeight": 50}, [10, 20, 30, 40, 50]),
        ({"stepWeight": 30}, [30, 60, 90, 100]),
        ({"stepWeight": 100}, [100]),
        ({"stepWeights": [1, 5, 30, 80]}, [1, 5, 30, 80]),
        ({"stepWeights": [1, 5, 30, 80], "maxWeight": 20}, [1, 5, 30, 80]),  # Flagger ignores maxWeight here
        ({"stepWeight": 25, "stepWeights": [1, 2], "maxWeight": 60}, [25, 50, 60]),  # stepWeight wins
    ],
)
def test_weight_ladder(analysis: dict[str, object], expected: list[int]) -> None:
    assert ladder(analysis) == expected


def test_max_weight_is_never_exceeded() -> None:
    for step in range(1, 101):
        for cap in range(1, 101):
            assert max(ladder({"stepWeight": step, "maxWeight": cap})) == cap


@pytest.mark.parametrize(
    ("promotion_step", "start", "expected"),
    [(None, 50, 100), (20, 50, 70), (20, 90, 100), (50, 0, 50)],
)
def test_primary_weight_during_promotion(promotion_step: int | None, start: int, expected: int) -> None:
    analysis: dict[str, object] = {"stepWeight": 10}
    if promotion_step:
        analysis["stepWeightPromotion"] = promotion_step
    assert next_primary_weight_during_promotion(make_spec(analysis), start) == expected


def test_planned_checks_count_the_weight_steps_or_iterations() -> None:
    assert planned_checks(make_spec({"stepWeight": 10, "maxWeight": 50})) == 5
    assert planned_checks(make_spec({"stepWeight": 20, "maxWeight": 50})) == 3  # 20, 40, 50
    assert planned_checks(make_spec({"stepWeights": [1, 5, 25, 60]})) == 4
    assert planned_checks(make_spec({"iterations": 7})) == 7

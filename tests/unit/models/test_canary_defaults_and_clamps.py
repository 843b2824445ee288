"""Defaults and clamps of the Canary spec follow Flagger, read through the models' accessors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from canary.models.base import format_duration, parse_duration
from canary.models.canary import Canary, Provider, Strategy


def canary(analysis: dict[str, Any] | None = None, **spec: Any) -> Canary:
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "service": {"port": 80},
        **spec,
    }
    if analysis is not None:
        body["analysis"] = analysis
    return Canary.model_validate({"metadata": {"name": "web"}, "spec": body})


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [
        (None, 60.0),
        ("1m", 60.0),
        ("30s", 30.0),
        ("5s", 10.0),
        ("500ms", 10.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
    ],
)
def test_interval_defaults_to_60s_and_is_at_least_10s(interval: str | None, seconds: float) -> None:
    analysis = {"stepWeight": 10} | ({"interval": interval} if interval else {})
    assert canary(analysis).spec.analysis_interval_seconds == seconds


@pytest.mark.parametrize(("threshold", "effective"), [(None, 1), (0, 1), (-3, 1), (1, 1), (5, 5)])
def test_threshold_defaults_to_one(threshold: int | None, effective: int) -> None:
    analysis = {"stepWeight": 10} | ({"threshold": threshold} if threshold is not None else {})
    assert canary(analysis).spec.threshold == effective


def test_max_weight_defaults_to_100_and_follows_step_weights() -> None:
    assert canary({"stepWeight": 10}).spec.max_weight == 100
    assert canary({"stepWeight": 20, "maxWeight": 50}).spec.max_weight == 50
    assert canary({"stepWeights": [1, 5, 30], "maxWeight": 80}).spec.max_weight == 30
    assert canary({"stepWeight": 10, "stepWeights": [5, 30], "maxWeight": 80}).spec.max_weight == 80


def test_other_defaults() -> None:
    spec = canary({"stepWeight": 10}).spec
    assert spec.progress_deadline == 600
    assert spec.primary_ready_threshold == 100
    assert spec.canary_ready_threshold == 100
    assert spec.apex_service == "web"
    assert spec.skips_analysis is False
    assert canary(None).spec.skips_analysis is True
    assert canary({"stepWeight": 10}, skipAnalysis=True).spec.skips_analysis is True


def test_deprecated_canary_analysis_is_read_when_analysis_is_absent() -> None:
    spec = canary(None, canaryAnalysis={"interval": "20s", "stepWeight": 5}).spec
    assert spec.analysis_interval_seconds == 20.0
    assert spec.skips_analysis is False


@pytest.mark.parametrize(
    ("analysis", "strategy"),
    [
        ({"stepWeight": 10}, Strategy.CANARY),
        ({"iterations": 5}, Strategy.BLUE_GREEN),
        ({"iterations": 5, "match": [{"headers": {"x": {"exact": "y"}}}]}, Strategy.AB_TESTING),
        ({"stepWeight": 10, "match": [{"headers": {"x": {"exact": "y"}}}]}, Strategy.CANARY),
    ],
)
def test_strategy_is_derived_as_flagger_does(analysis: dict[str, Any], strategy: Strategy) -> None:
    assert canary(analysis).spec.strategy is strategy


def test_unknown_provider_is_refused_not_replaced() -> None:
    with pytest.raises(ValidationError, match="provider"):
        canary({"stepWeight": 10}, provider="appmesh:v1beta3")
    assert canary({"stepWeight": 10}, provider="appmesh").spec.provider is Provider.APPMESH  # Flagger's
    assert canary({"stepWeight": 10}, provider="gatewayapi:v1").spec.provider is Provider.GATEWAYAPI_V1
    assert Provider.GATEWAYAPI_V1.family == "gatewayapi"


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1m30s", 90), ("1.5h", 5400), ("250ms", 0.25)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5min", "10", "s", "1m 30s", "-5s"])
def test_parse_duration_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (10, "10s"), (90, "1m30s"), (3600, "1h"), (3661, "1h1m1s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert seconds == 0 or parse_duration(text) == seconds


_ENVS = [{"name": "dev", "path": "dev"}, {"name": "prod", "path": "prod"}]


@pytest.mark.parametrize(
    ("gitops", "message"),
    [
        ({"environments": _ENVS, "environment": "dev", "promote": {"path": "x"}}, "not both"),
        ({"environments": _ENVS}, "go together"),
        ({"environments": _ENVS, "environment": "prod"}, "whose path is spec.gitops.path"),
        ({"environments": [*_ENVS, {"name": "dev", "path": "x"}], "environment": "dev"}, "unique"),
    ],
)
def test_a_chain_read_from_a_file_is_checked_as_the_crd_checks_it(
    gitops: dict[str, Any], message: str
) -> None:
    body = {"repository": {"url": "https://git.example/config.git"}, "path": "dev", **gitops}
    with pytest.raises(ValidationError, match=message):
        canary({"stepWeight": 10}, gitops=body)

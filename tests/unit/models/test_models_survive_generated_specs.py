"""Generated specs, sensible and not, never crash the models: parsing either succeeds or raises a
ValidationError that names a field; a spec that parses has working accessors and round-trips."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from canary.models.canary import Canary

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
plausible = st.one_of(
    json_values,
    st.sampled_from(["10s", "1m", "5min", "", "-1s", "1h30m", "0s", "2.5m"]),
    st.integers(-5, 200),
    st.lists(st.integers(-5, 200), max_size=6),
)
analysis = st.dictionaries(
    st.sampled_from(
        [
            "interval",
            "iterations",
            "threshold",
            "maxWeight",
            "stepWeight",
            "stepWeights",
            "stepWeightPromotion",
            "mirror",
            "match",
            "metrics",
            "webhooks",
            "sessionAffinity",
            "primaryReadyThreshold",
            "canaryReadyThreshold",
        ]
    ),
    plausible,
    max_size=8,
)
specs = st.fixed_dictionaries(
    {
        "targetRef": st.one_of(
            json_values, st.just({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
        ),
        "service": st.one_of(json_values, st.builds(lambda p: {"port": p}, st.integers(-5, 70000))),
    },
    optional={
        "analysis": st.one_of(analysis, json_values),
        "provider": plausible,
        "progressDeadlineSeconds": plausible,
        "skipAnalysis": plausible,
        "suspend": plausible,
    },
)


@settings(max_examples=500, deadline=None)
@given(spec=specs)
def test_models_never_crash_on_generated_specs(spec: dict[str, Any]) -> None:
    errors: list[Any] | None = None
    try:
        canary = Canary.model_validate({"metadata": {"name": "x"}, "spec": spec})
    except ValidationError as e:
        errors = list(e.errors())
    if errors is not None:
        assert errors
        assert all(err["loc"] for err in errors)  # every error names a field
        return
    s = canary.spec
    assert s.analysis_interval_seconds >= 10
    assert s.threshold >= 1
    assert 0 <= s.max_weight <= 100
    assert s.strategy is not None
    assert s.progress_deadline >= 1
    assert Canary.model_validate(canary.wire()) == canary

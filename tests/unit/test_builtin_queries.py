"""The builtin metrics are Flagger's queries, selector for selector (compared with the queries in
Flagger's observers, whitespace-compacted), and the primary side selects the primary's workload; their
window never reaches back before the run started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from canary.adapters.metrics.analysis import OBSERVERS, AnalysisContext, _run_window
from canary.adapters.metrics.builtin import DURATION, SUCCESS_RATE, Observer, counts, query
from canary.adapters.metrics.templates import TemplateModel, render
from canary.models.canary import Canary, Provider

CANARY = TemplateModel("web", "shop", "web", "web", "web", "web", "1m")
PRIMARY = TemplateModel("web", "shop", "web-primary", "web", "web", "web", "1m")

FLAGGER = {
    (Observer.ISTIO, SUCCESS_RATE): (
        'sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="shop", '
        'destination_workload=~"web", response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{'
        'reporter="destination", destination_workload_namespace="shop", '
        'destination_workload=~"web"}[1m])) * 100'
    ),
    (Observer.ISTIO, DURATION): (
        "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{"
        'reporter="destination", destination_workload_namespace="shop", '
        'destination_workload=~"web"}[1m])) by (le))'
    ),
    (Observer.KUBERNETES, SUCCESS_RATE): (
        'sum(rate(http_request_duration_seconds_count{kubernetes_namespace="shop", '
        'kubernetes_pod_name=~"web-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*"}[1m])) / '
        'sum(rate(http_request_duration_seconds_count{kubernetes_namespace="shop", '
        'kubernetes_pod_name=~"web-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"}[1m])) * 100'
    ),
    (Observer.LINKERD, SUCCESS_RATE): (
        'sum(rate(response_total{namespace="shop", deployment=~"web", direction="inbound", '
        'classification!="failure"}[1m])) / sum(rate(response_total{namespace="shop", deployment=~"web", '
        'direction="inbound"}[1m])) * 100'
    ),
    (Observer.NGINX, DURATION): (
        'sum(rate(nginx_ingress_controller_response_duration_seconds_sum{namespace="shop", ingress="web", '
        'canary!=""}[1m])) / sum(rate(nginx_ingress_controller_response_duration_seconds_count{'
        'namespace="shop", ingress="web", canary!=""}[1m])) * 1000'
    ),
    (Observer.CONTOUR, DURATION): (
        "histogram_quantile(0.99, sum(rate(envoy_cluster_upstream_rq_time_bucket{"
        'envoy_cluster_name=~"shop_web-canary_[0-9a-zA-Z-]+"}[1m])) by (le))'
    ),
    (Observer.OSM, SUCCESS_RATE): (
        'sum(rate(osm_request_total{destination_namespace="shop", destination_kind="Deployment", '
        'destination_name="web", response_code!~"5.*"}[1m])) / sum(rate(osm_request_total{'
        'destination_namespace="shop", destination_kind="Deployment", destination_name="web"}[1m])) * 100'
    ),
    (Observer.OSM, DURATION): (
        "histogram_quantile(0.99, sum(rate(osm_request_duration_ms_bucket{"
        'destination_namespace="shop", destination_kind="Deployment", destination_name="web"}[1m])) by (le))'
    ),
}


@pytest.mark.parametrize(("key", "expected"), FLAGGER.items(), ids=[f"{p}-{m}" for p, m in FLAGGER])
def test_canary_side_is_flaggers_query(key: tuple[Observer, str], expected: str) -> None:
    provider, metric = key
    rendered = render(query(provider, metric), CANARY)
    # Flagger's label order differs in places (its filter comes last in some); compare label sets too.
    assert sorted(rendered.replace("{", ",").replace("}", ",").split(",")) == sorted(
        expected.replace("{", ",").replace("}", ",").split(",")
    )


def test_primary_side_selects_the_primary() -> None:
    assert 'kubernetes_pod_name=~"web-primary-[0-9a-zA-Z]+' in render(
        query(Observer.KUBERNETES, DURATION, "primary"), PRIMARY
    )
    assert 'canary=""' in render(query(Observer.NGINX, SUCCESS_RATE, "primary"), PRIMARY)
    assert "shop_web-primary_" in render(query(Observer.CONTOUR, SUCCESS_RATE, "primary"), PRIMARY)
    assert render(query(Observer.KUBERNETES, DURATION), CANARY).endswith(" * 1000")


def test_traefik_counts_the_weighted_backends_requests_from_zero() -> None:
    """Not Flagger's text: it takes rate() of the ``+Inf`` bucket and selects by the target's name.
    This selects by the apex Service's name (what the TraefikService's backends are named after) and
    counts ``traefik_service_requests_total`` so that a series created mid-window (Traefik creates
    code="500" at the first error) counts from zero instead of being missed."""
    rate = render(query(Observer.TRAEFIK, SUCCESS_RATE), CANARY)
    selector = 'service=~"shop-web-canary-[0-9a-zA-Z-]+@kubernetescrd"'

    def increase(series: str) -> str:
        return f"sum(clamp_min({series} - ({series} offset 1m * 1 or {series} * 0), 0))"

    good = f'traefik_service_requests_total{{{selector}, code!~"5.."}}'
    total = f"traefik_service_requests_total{{{selector}}}"
    assert rate == f"{increase(good)} / {increase(total)} * 100"
    assert [render(q, CANARY) for q in counts(Observer.TRAEFIK)] == [increase(good), increase(total)]
    assert "shop-web-primary-" in render(query(Observer.TRAEFIK, DURATION, "primary"), PRIMARY)
    assert render(query(Observer.TRAEFIK, DURATION), CANARY).endswith(" * 1000")


@pytest.mark.parametrize(
    ("provider", "observer"),
    [
        ("gatewayapi:v1", Observer.KUBERNETES),
        ("gatewayapi:v1beta1", Observer.KUBERNETES),
        ("traefik", Observer.TRAEFIK),
        ("osm", Observer.OSM),
        ("smi:v1alpha3", None),
        ("skipper", None),
    ],
)
def test_the_builtin_queries_follow_the_router_family(provider: str, observer: Observer | None) -> None:
    assert OBSERVERS.get(Provider(provider).family) is observer


def test_every_provider_has_both_metrics() -> None:
    for provider in Observer:
        for metric in (SUCCESS_RATE, DURATION):
            assert "{{ interval }}" in query(provider, metric)
    with pytest.raises(KeyError):
        query(Observer.ISTIO, "request-rate")


def test_a_builtin_query_never_reaches_back_before_the_run_started() -> None:
    """The previous revision's pods match the canary's pod pattern: their last samples must not count."""
    spec = Canary.model_validate(
        {
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "service": {"port": 80},
                "analysis": {
                    "interval": "10s",
                    "stepWeight": 20,
                    "metrics": [{"name": SUCCESS_RATE, "interval": "1m", "thresholdRange": {"min": 99}}],
                },
            }
        }
    ).spec
    metric = (spec.effective_analysis.metrics or [])[0] if spec.effective_analysis else None
    assert metric is not None
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def window(started: datetime | None) -> str:
        ctx = AnalysisContext(spec, "shop", "web", Provider.GATEWAYAPI, now, interval=10, started=started)
        return _run_window(ctx, metric)

    assert window(now - timedelta(seconds=20)) == "20s"
    assert window(now - timedelta(minutes=5)) == "1m"
    assert window(None) == "1m"
    assert window(now) == "1s"  # too short for two scrapes: no values, the check holds

"""The metrics adapter against a real Prometheus scraping stand-in workloads on 127.0.0.1: builtin
queries give the values the workloads were configured with (application metrics and Istio's), the
failure outcomes are told apart (a provider that does not answer holds the check: blind, not
failing), MetricTemplates render Flagger's variables and run on their own provider with credentials
from a Secret (through an authenticating proxy), and a bad template or a missing Secret is reported
by name without leaking the credentials."""

from __future__ import annotations

import base64
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from canary.adapters.kube.client import KubeClient
from canary.adapters.metrics.analysis import AnalysisContext, MetricAnalysis
from canary.adapters.metrics.builtin import DURATION, SUCCESS_RATE, Observer, query
from canary.adapters.metrics.prometheus import (
    Endpoint,
    MultipleSeries,
    NoValues,
    PrometheusProvider,
    ProviderUnavailable,
    QueryFailed,
)
from canary.adapters.metrics.templates import TemplateModel, render
from canary.core.observations import Cause
from canary.models.canary import Canary, Provider
from controlplane.localcluster import free_port
from controlplane.prometheus import AuthProxy, Prometheus
from tests.conftest import Cluster
from tests.support.standin import StandIn

TOKEN = "s3cret-token-value"


@pytest.fixture
def workload(prometheus: Prometheus, namespace: str) -> Iterator[StandIn]:
    """The canary side of ``api`` with 10% errors, 30 ms median latency, 200 requests sent."""
    standin = StandIn(namespace, "api", error_rate=0.1, latency_ms=30, seed=3).start()
    prometheus.add_targets(f"{namespace}-api", [standin.address], standin.target_labels("api-5d8f7-x2x7q"))
    prometheus.wait_for_target_up(standin.address)
    threads = [threading.Thread(target=_hit, args=(standin, 50)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(3)  # two scrapes after the last request
    yield standin
    prometheus.remove_targets(f"{namespace}-api")
    standin.stop()


def _hit(standin: StandIn, n: int) -> None:
    for _ in range(n):
        try:
            urllib.request.urlopen(f"http://{standin.address}/", timeout=5).read()
        except urllib.error.HTTPError as e:
            e.read()


def model(namespace: str, target: str = "api", interval: str = "1m") -> TemplateModel:
    return TemplateModel("api", namespace, target, "api", "api", "api", interval)


def test_builtin_queries_give_what_the_workload_served(
    prometheus: Prometheus, namespace: str, workload: StandIn
) -> None:
    provider = PrometheusProvider(Endpoint(prometheus.url))
    for observer in (Observer.KUBERNETES, Observer.ISTIO):
        rate = provider.instant(render(query(observer, SUCCESS_RATE), model(namespace)))
        assert 80 < rate < 97, (observer, rate)  # 10% errors configured, 200 requests
        p99 = provider.instant(render(query(observer, DURATION), model(namespace)))
        assert 30 < p99 < 200, (observer, p99)  # milliseconds; log-normal with a 30 ms median
    # The primary-side query selects the primary's pods, which serve nothing here.
    with pytest.raises(NoValues):
        provider.instant(
            render(query(Observer.KUBERNETES, SUCCESS_RATE, "primary"), model(namespace, "api-primary"))
        )


def test_no_values_query_failed_and_several_series_are_told_apart(
    prometheus: Prometheus, namespace: str, workload: StandIn
) -> None:
    provider = PrometheusProvider(Endpoint(prometheus.url))
    with pytest.raises(NoValues):
        provider.instant('sum(rate(http_request_duration_seconds_count{kubernetes_namespace="nowhere"}[1m]))')
    with pytest.raises(QueryFailed, match="refused the query"):
        provider.instant("sum(rate(http_request_duration_seconds_count[1m]")
    selector = f'kubernetes_namespace="{namespace}"'
    with pytest.raises(MultipleSeries, match="2 series"):
        provider.instant(f"sum by (status) (rate(http_request_duration_seconds_count{{{selector}}}[1m]))")
    down = PrometheusProvider(Endpoint(f"http://user:pw@127.0.0.1:{free_port()}"), timeout=2)
    with pytest.raises(ProviderUnavailable, match="unreachable") as caught:
        down.instant("vector(1)")
    assert isinstance(caught.value, QueryFailed)
    assert "pw" not in str(caught.value)
    failing = Failing(503)
    with pytest.raises(ProviderUnavailable, match="is failing"):
        PrometheusProvider(Endpoint(failing.url), timeout=2).instant("vector(1)")
    failing.server.shutdown()
    failing.server.server_close()
    end = datetime.now(UTC)
    assert provider.range("vector(1)", end - timedelta(seconds=20), end, 2) == [1.0] * 11
    counted = provider.range(
        f"sum(http_request_duration_seconds_count{{{selector}}})", end - timedelta(seconds=3), end, 1
    )
    assert counted[-1] == 200  # every request the fixture sent


class Failing:
    """An HTTP server that answers every request with ``status``."""

    def __init__(self, status: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"failing")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_check_against_a_provider_that_does_not_answer_is_held_not_failed(cluster: Cluster) -> None:
    spec = canary_spec([{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}])
    outcome = MetricAnalysis(KubeClient(cluster.api), f"http://127.0.0.1:{free_port()}").run(
        AnalysisContext(spec, "shop", "api", Provider.GATEWAYAPI, datetime.now(UTC), interval=10)
    )
    assert (outcome.passed, outcome.held) == (False, True)
    assert outcome.cause is Cause.UNAVAILABLE
    assert "unreachable" in outcome.describe()
    assert [e.result for e in outcome.evidence] == ["held"]


def canary_spec(metrics: list[dict[str, Any]]) -> Any:
    return Canary.model_validate(
        {
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                "service": {"port": 80},
                "analysis": {"interval": "10s", "stepWeight": 10, "metrics": metrics},
            }
        }
    ).spec


def test_metric_templates_run_on_their_provider_with_credentials_from_a_secret(
    cluster: Cluster, crds: None, prometheus: Prometheus, namespace: str, workload: StandIn
) -> None:
    proxy = AuthProxy(prometheus.url, TOKEN, {"X-Scope-OrgID": "team-a"})
    core = client.CoreV1Api(cluster.api)
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "prom-auth"}, "data": {"token": base64.b64encode(TOKEN.encode()).decode()}},
    )
    custom = client.CustomObjectsApi(cluster.api)
    query_text = (
        'sum(rate(http_request_duration_seconds_count{kubernetes_namespace="{{ namespace }}", '
        'kubernetes_pod_name=~"{{ target }}-.*", status="{{ variables.status }}"}[{{ interval }}]))'
    )
    for name, secret in (("errors", "prom-auth"), ("no-secret", "missing")):
        custom.create_namespaced_custom_object(
            "canary.dev",
            "v1alpha1",
            namespace,
            "metrictemplates",
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "MetricTemplate",
                "metadata": {"name": name},
                "spec": {
                    "provider": {
                        "type": "prometheus",
                        "address": proxy.url,
                        "secretRef": {"name": secret},
                        "headers": {"X-Scope-OrgID": ["team-a"]},
                    },
                    "query": query_text,
                },
            },
        )
    kube = KubeClient(cluster.api)
    analysis = MetricAnalysis(kube, prometheus.url)

    def run(metrics: list[dict[str, Any]]) -> Any:
        spec = canary_spec(metrics)
        return analysis.run(
            AnalysisContext(spec, namespace, "api", Provider.GATEWAYAPI, datetime.now(UTC), interval=10)
        )

    outcome = run(
        [
            {
                "name": "error-rps",
                "templateRef": {"name": "errors"},
                "templateVariables": {"status": "500"},
                "thresholdRange": {"max": 100},
            }
        ]
    )
    assert outcome.passed, outcome.describe()
    (evidence,) = outcome.evidence
    assert evidence.value is not None
    assert evidence.value > 0
    assert any(h.get("Authorization") == f"Bearer {TOKEN}" for h in proxy.seen)

    outcome = run([{"name": "error-rps", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}}])
    assert outcome.cause is Cause.INVALID_METRIC
    assert "variable 'status' is not set in templateVariables" in outcome.describe()

    outcome = run(
        [{"name": "error-rps", "templateRef": {"name": "no-secret"}, "templateVariables": {"status": "500"}}]
    )
    assert outcome.cause is Cause.INVALID_METRIC
    assert "Secret" in outcome.describe()
    assert "missing" in outcome.describe()

    outcome = run([{"name": "gone", "templateRef": {"name": "nope"}}])
    assert outcome.cause is Cause.INVALID_METRIC
    assert f"MetricTemplate {namespace}/nope not found" in outcome.describe()

    # A wrong token: refused by the server, reported as a failed query, and the token never shown.
    core.patch_namespaced_secret(
        "prom-auth", namespace, {"data": {"token": base64.b64encode(b"wrong-token").decode()}}
    )
    outcome = run(
        [{"name": "error-rps", "templateRef": {"name": "errors"}, "templateVariables": {"status": "500"}}]
    )
    assert outcome.cause is Cause.QUERY_FAILED
    assert "wrong-token" not in outcome.describe()
    assert TOKEN not in outcome.describe()


def test_the_standin_serves_its_declared_errors_and_exports_them() -> None:
    standin = StandIn("ns", "web", error_rate=1.0).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://{standin.address}/", timeout=5)
        assert failed.value.code == 500
        failed.value.close()
        with urllib.request.urlopen(f"http://{standin.address}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'http_request_duration_seconds_count{status="500"} 1.0' in metrics
        assert 'destination_workload="web"' in metrics
    finally:
        standin.stop()

"""Whole rollouts decided by metrics, with user traffic through a real data plane: the real controller
on the local control plane writes the HTTPRoute, a real Traefik (its Gateway API provider) splits
requests at a constant arrival rate between the stand-in Pods of the primary and the canary by the
real EndpointSlices, and a real Prometheus finds those Pods by Kubernetes service discovery and
scrapes each one's request histogram.  The release's own Pod template carries its behaviour, as a
faulty image would.  A healthy canary is promoted; one with 5% errors is rolled back; one whose
latency doubles is rolled back by the judge while its fixed threshold passes it; one that receives
no traffic (every request goes to the primary's Service by another route) never advances and is
rolled back once its held checks run out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.prometheus import Prometheus
from controlplane.standins import StandIns
from controlplane.traefik import LocalTraefik
from tests.conftest import Cluster
from tests.dataplane.conftest import Load, host_for, wait_for_split, workload
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    events,
    record_httproute,
    wait_for_phase,
)

APP = "shop"
METRICS = [
    {
        "name": "request-success-rate",
        "interval": "10s",
        "thresholdRange": {"min": 99},
        # Judged by its request counts (Fisher's exact test): at least 20 requests per side.
        "compare": {"minSamples": 20},
    },
    {
        "name": "request-duration",
        "interval": "10s",
        "thresholdRange": {"max": 500},
        # Judged against the primary: a p99 more than 50% above the primary's, beyond noise, fails.
        # Ten 2-second samples a side before the first judgement: with fewer, a doubled p99 can stay
        # short of significance (Holm across the two compared metrics) and the weight would move on.
        "compare": {"direction": "increase", "tolerance": 0.5, "minSamples": 10},
    },
]
ANALYSIS = {
    "interval": "2s",
    "stepWeight": 20,
    "maxWeight": 60,
    "threshold": 2,
    "maxHeldChecks": 30,
    "judge": {"step": "2s"},
    "metrics": METRICS,
}


OLD, NEW = "example.invalid/shop:1", "example.invalid/shop:2"
#: the primary's Pods answer in a median 20 ms (log-normal, sigma 0.3)
LATENCY = {"delay_ms": 20, "delay_sigma": 0.3}


@pytest.fixture
def analysed(
    cluster: Cluster,
    namespace: str,
    crds: None,
    prometheus: Prometheus,
    traefik: LocalTraefik,
    gateway: str,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """The stand-ins of the Pods (each a Prometheus target), the controller querying that
    Prometheus, and the load."""
    standins = StandIns(cluster.api, namespace, prometheus=prometheus)
    ctl = Controller(
        cluster, namespace, tmp_path / "controller.log", extra=("--metrics-server", prometheus.url)
    )
    ctl.start()
    stack: dict[str, Any] = {"controller": ctl, "load": None, "prometheus": prometheus, "traefik": traefik}
    try:
        yield stack
    finally:
        if stack["load"] is not None:
            stack["load"].stop()
        ctl.stop()
        standins.stop()
        print(f"--- controller log (tail) ---\n{ctl.log.read_text()[-6000:]}")  # shown on failure


def direct_route(namespace: str, host: str) -> dict[str, Any]:
    """An HTTPRoute of the test's own sending ``host`` to the primary's Service alone, as clients
    calling the primary directly do: the canary gets none of their requests whatever its weight."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "direct"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": [host],
            "rules": [{"backendRefs": [{"name": f"{APP}-primary", "port": 9898}]}],
        },
    }


def roll_out(
    cluster: Cluster,
    namespace: str,
    stack: dict[str, Any],
    analysis: dict[str, Any],
    *,
    release: dict[str, Any] | None = None,
    routed: bool = True,
    rate: float = 40,
) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """Initialize, start the load (through the canary's route, or through ``direct_route``), release
    a new image behaving as ``release`` says."""
    host = host_for(namespace)
    service = {"port": 9898, "targetPort": "http", "gatewayRefs": [{"name": "gw"}], "hosts": [host]}
    apply(
        cluster,
        namespace,
        workload(APP, OLD, scraped=True, **LATENCY),
        canary(APP, analysis, provider="gatewayapi", service=service),
    )
    wait_for_phase(cluster, namespace, APP, "Initialized", timeout=60)
    if not routed:
        host = f"direct.{host}"
        apply(cluster, namespace, direct_route(namespace, host))
    traefik: LocalTraefik = stack["traefik"]
    wait_for_split(traefik, host, {OLD: 100})
    stack["load"] = Load(traefik, host, rate=rate)
    time.sleep(3)  # the primary has samples before the canary starts
    recorder = record_httproute(cluster, namespace, APP)
    apply(cluster, namespace, workload(APP, NEW, scraped=True, **{**LATENCY, **(release or {})}))
    done = wait_for_phase(cluster, namespace, APP, "Succeeded", "Failed", timeout=180)
    return done, recorder.stop()


def metric(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in status["lastAnalysis"]["metrics"] if m["name"] == name)
    return found


def test_a_healthy_canary_is_promoted(cluster: Cluster, namespace: str, analysed: dict[str, Any]) -> None:
    done, seen = roll_out(cluster, namespace, analysed, ANALYSIS)
    assert done["status"]["phase"] == "Succeeded", events(cluster, namespace, APP)
    assert seen == [(100, 0), (80, 20), (60, 40), (40, 60), (100, 0)]
    status = done["status"]
    assert status["failedChecks"] == 0
    assert status["lastAnalysis"]["result"] == "passed"
    rate = metric(status, "request-success-rate")
    assert rate["result"] == "passed"
    assert rate["value"] >= 99
    assert rate["canarySamples"] >= 20  # requests, counted since the run started
    assert rate["pValue"] is not None
    duration = metric(status, "request-duration")
    assert duration["result"] == "passed"
    assert duration["canarySamples"] >= 10
    assert duration["primarySamples"] >= 10
    assert analysed["load"].served(NEW) > 0
    assert analysed["load"].failures == []  # every request was answered by a Pod


def test_a_canary_with_five_percent_errors_is_rolled_back(
    cluster: Cluster, namespace: str, analysed: dict[str, Any]
) -> None:
    done, seen = roll_out(cluster, namespace, analysed, ANALYSIS, release={"error_percent": 5})
    assert done["status"]["phase"] == "Failed"
    assert seen[-1] == (100, 0)
    reasons = [reason for _, reason, _ in events(cluster, namespace, APP)]
    assert "OutOfRange" in reasons
    assert reasons[-1] == "RolledBack"
    rolled_back = events(cluster, namespace, APP)[-1][2]
    assert "request-success-rate" in rolled_back
    assert "below the minimum 99" in rolled_back
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment(f"{APP}-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == OLD
    assert analysed["load"].seen[(NEW, 500)] > 0  # the faulty release met real requests


def test_a_canary_whose_latency_doubles_is_rolled_back_by_the_judge(
    cluster: Cluster, namespace: str, analysed: dict[str, Any]
) -> None:
    # Twice the median, at 80 requests a second: at 40 the p99s of the first 20% step were estimated
    # from too few requests and the judge once stayed short of significance (a fresh-clone run).
    done, _ = roll_out(cluster, namespace, analysed, ANALYSIS, release={"delay_ms": 40}, rate=80)
    status = done["status"]
    assert status["phase"] == "Failed", events(cluster, namespace, APP)
    reasons = [reason for _, reason, _ in events(cluster, namespace, APP)]
    assert "Regression" in reasons
    assert "OutOfRange" not in reasons  # the fixed threshold (p99 under 500 ms) passed it every time
    duration = metric(status, "request-duration")
    assert duration["result"] == "failed"
    assert duration["value"] < 500
    assert duration["canaryMedian"] > 1.5 * duration["primaryMedian"]
    assert duration["pValue"] < 0.02
    condition = next(c for c in status["conditions"] if c["type"] == "Analysis")
    assert (condition["status"], condition["reason"]) == ("False", "Regression")
    assert "request-duration" in condition["message"]


def test_a_canary_that_receives_no_traffic_never_advances(
    cluster: Cluster, namespace: str, analysed: dict[str, Any]
) -> None:
    done, seen = roll_out(cluster, namespace, analysed, {**ANALYSIS, "maxHeldChecks": 5}, routed=False)
    status = done["status"]
    assert status["phase"] == "Failed"
    assert max(c for _, c in seen) == 20  # the first step needs no metrics; nothing after it
    assert status["failedChecks"] == 0
    assert status["heldChecks"] == 5
    happened = events(cluster, namespace, APP)
    assert [r for _, r, _ in happened].count("NoValues") == 4
    assert "failing safe" in happened[-1][2]
    assert analysed["load"].served(NEW) == 0
    assert analysed["load"].served(OLD) > 0


def test_a_broken_template_is_reported_by_name_and_the_canary_does_not_advance(
    cluster: Cluster, namespace: str, analysed: dict[str, Any]
) -> None:
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": "latency"},
        "spec": {
            "provider": {"type": "prometheus", "address": analysed["prometheus"].url},
            "query": "histogram_quantile({{ variables.quantile }}, sum(rate("
            "http_request_duration_seconds_bucket"
            '{kubernetes_namespace="{{ namespace }}"}[{{ interval }}])) by (le))',
        },
    }
    apply(cluster, namespace, template)
    broken = {
        **ANALYSIS,
        "metrics": [{"name": "p95", "templateRef": {"name": "latency"}, "thresholdRange": {"max": 1}}],
    }
    done, seen = roll_out(cluster, namespace, analysed, broken)
    status = done["status"]
    assert status["phase"] == "Failed"
    assert max(c for _, c in seen) == 20
    warnings = [(r, m) for t, r, m in events(cluster, namespace, APP) if t == "Warning"]
    assert "InvalidMetric" in [r for r, _ in warnings], warnings
    message = next(m for r, m in warnings if r == "InvalidMetric")
    assert "p95" in message
    assert "variable 'quantile' is not set in templateVariables" in message
    condition = next(c for c in status["conditions"] if c["type"] == "Analysis")
    assert (condition["status"], condition["reason"]) == ("False", "InvalidMetric")
    assert "p95" in condition["message"]

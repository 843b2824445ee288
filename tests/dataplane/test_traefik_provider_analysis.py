"""The traefik provider end to end on a real Traefik: an IngressRoute sends to the TraefikService the
controller writes, Traefik splits real requests between the stand-in Pods, a real Prometheus scrapes
Traefik's own metrics, and the builtin request-success-rate and request-duration of the traefik
provider (``traefik_service_requests_total`` and ``..._request_duration_seconds_bucket`` of the
TraefikService's backends) decide: a healthy release is promoted, one answering 30% of its requests
with 500 is rolled back, and Traefik then serves the primary alone.  Throughout, under about 40
requests a second, every request is answered by a Pod (no 404 or 502 from Traefik) but the faulty
release's own 500s: through the promotion's primary rollout, the canary's scale-downs and the
rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.prometheus import Prometheus
from controlplane.standins import StandIns
from controlplane.traefik import LocalTraefik
from tests.conftest import Cluster
from tests.dataplane.conftest import Load, host_for, wait_for_split, workload
from tests.operator.conftest import Controller, apply, canary, events, wait_for_phase

OLD, NEW, FAULTY = "example.invalid/shop:1", "example.invalid/shop:2", "example.invalid/shop:3"
ANALYSIS = {
    "interval": "2s",
    "stepWeight": 25,
    "maxWeight": 50,
    "threshold": 2,
    "maxHeldChecks": 20,
    "metrics": [
        {"name": "request-success-rate", "interval": "10s", "thresholdRange": {"min": 95}},
        {"name": "request-duration", "interval": "10s", "thresholdRange": {"max": 500}},
    ],
}


def ingress_route(host: str) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "shop"},
        "spec": {
            "entryPoints": ["web"],
            "routes": [
                {
                    "match": f"Host(`{host}`)",
                    "kind": "Rule",
                    "services": [{"name": "shop", "kind": "TraefikService"}],
                }
            ],
        },
    }


def shop(image: str, error_percent: int = 0) -> dict[str, Any]:
    return workload("shop", image, error_percent=error_percent)


@pytest.fixture
def analysed(
    cluster: Cluster,
    namespace: str,
    crds: None,
    prometheus: Prometheus,
    traefik: LocalTraefik,
    tmp_path: Path,
) -> Iterator[Controller]:
    prometheus.add_targets("traefik", [traefik.metrics_target], {"job": "traefik"})
    prometheus.wait_for_target_up(traefik.metrics_target)
    ctl = Controller(
        cluster, namespace, tmp_path / "controller.log", extra=("--metrics-server", prometheus.url)
    )
    ctl.start()
    yield ctl
    ctl.stop()


def test_traefik_metrics_promote_a_healthy_release_and_roll_back_a_faulty_one(
    cluster: Cluster, namespace: str, traefik: LocalTraefik, standins: StandIns, analysed: Controller
) -> None:
    host = host_for(namespace)
    apply(cluster, namespace, shop(OLD), ingress_route(host), canary("shop", ANALYSIS, provider="traefik"))
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    wait_for_split(traefik, host, {OLD: 100})
    load = Load(traefik, host)
    try:
        apply(cluster, namespace, shop(NEW))
        done = wait_for_phase(cluster, namespace, "shop", "Succeeded", "Failed", timeout=180)
        assert done["status"]["phase"] == "Succeeded", events(cluster, namespace, "shop")
        wait_for_split(traefik, host, {NEW: 100})
        served_new = load.seen[(NEW, 200)]
        assert served_new > 0

        apply(cluster, namespace, shop(FAULTY, error_percent=30))
        wait_for_phase(cluster, namespace, "shop", "Progressing", timeout=60)
        done = wait_for_phase(cluster, namespace, "shop", "Failed", "Succeeded", timeout=180)
        assert done["status"]["phase"] == "Failed", events(cluster, namespace, "shop")
        wait_for_split(traefik, host, {NEW: 100})
    finally:
        load.stop()
    reasons = [(r, m) for _, r, m in events(cluster, namespace, "shop")]
    out_of_range = [m for r, m in reasons if r == "OutOfRange"]
    assert out_of_range, reasons
    assert "request-success-rate" in out_of_range[0]
    assert any(r == "RolledBack" for r, _ in reasons)
    assert load.seen[(FAULTY, 500)] > 0  # the faulty release met real requests, through Traefik
    print("\nrequests through Traefik by (image, status):", dict(load.seen))
    # Every request was answered by a Pod: none unroutable (404) or unreachable (502, 503) while the
    # controller promoted one release and rolled another back.
    unanswered = {k: n for k, n in load.seen.items() if k[1] != 200 and k != (FAULTY, 500)}
    assert unanswered == {}, (load.failures, standins.history)
    print("last analysis:", done["status"]["lastAnalysis"]["metrics"])

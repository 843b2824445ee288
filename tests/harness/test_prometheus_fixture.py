"""The Prometheus fixture scrapes exporters on 127.0.0.1 that tests add at run time, and the
prometheus-api-client library (what the controller will use) reads their values back."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
from prometheus_api_client import PrometheusConnect
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from controlplane.prometheus import Prometheus


@pytest.fixture
def exporter() -> Iterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{server.server_port}", registry
    server.shutdown()
    server.server_close()
    thread.join()


def test_scrapes_an_exporter_and_the_client_reads_its_value(
    prometheus: Prometheus, exporter: tuple[str, CollectorRegistry], request: pytest.FixtureRequest
) -> None:
    target, registry = exporter
    value = round(random.uniform(1, 1000), 3)  # a value no other test writes
    Gauge("canary_fixture_probe", "a value the test reads back", registry=registry).set(value)
    requests = Counter("canary_fixture_requests", "a counter", ["code"], registry=registry)
    requests.labels(code="200").inc(7)

    prometheus.add_targets(request.node.name, [target], {"job": "fixture-test", "service": "probe"})
    prometheus.wait_for_target_up(target)

    prom = PrometheusConnect(url=prometheus.url, disable_ssl=True)
    deadline = time.monotonic() + 20
    while True:
        result = prom.custom_query(
            f'canary_fixture_probe{{instance="{target}", job="fixture-test", service="probe"}}'
        )
        if result or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(result) == 1
    assert float(result[0]["value"][1]) == value

    total = prom.custom_query(f'sum(canary_fixture_requests_total{{instance="{target}", code="200"}})')
    assert float(total[0]["value"][1]) == 7.0
    prometheus.remove_targets(request.node.name)


def test_scrape_and_evaluation_interval_is_one_second(prometheus: Prometheus) -> None:
    cfg = prometheus.api("/api/v1/status/config")["yaml"]
    assert "scrape_interval: 1s" in cfg
    assert "evaluation_interval: 1s" in cfg

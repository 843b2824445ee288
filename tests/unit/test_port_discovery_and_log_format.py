"""``service.portDiscovery`` adds the target's container ports to the generated Services (sidecars and
the main port excepted); ``canary run --log-format json`` writes one JSON object per record."""

from __future__ import annotations

import json
import logging
from typing import Any

from canary.adapters.kube.services import generated_services
from canary.logs import JSONFormatter
from tests.unit.core.sim import make_spec


def target(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_port_discovery_adds_container_ports() -> None:
    app = {
        "name": "app",
        "ports": [
            {"containerPort": 9898, "name": "http"},
            {"containerPort": 9797, "name": "metrics"},
            {"containerPort": 9999},
            {"containerPort": 5353, "protocol": "UDP", "name": "dns"},
        ],
    }
    sidecar = {"name": "istio-proxy", "ports": [{"containerPort": 15090, "name": "http-envoy-prom"}]}
    spec = make_spec(None, service={"port": 9898, "portDiscovery": True})
    services = generated_services(
        spec, namespace="ns", canary="web", label="app", value="web", target=target(app, sidecar)
    )
    assert len(services) == 3
    for svc in services:
        assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
            ("http", 9898, "TCP"),
            ("metrics", 9797, "TCP"),
            ("tcp-app-2", 9999, "TCP"),
            ("dns", 5353, "UDP"),
        ]


def test_without_port_discovery_only_the_main_port() -> None:
    spec = make_spec(None, service={"port": 80})
    app = {"name": "app", "ports": [{"containerPort": 9797, "name": "metrics"}]}
    services = generated_services(
        spec, namespace="ns", canary="web", label="app", value="web", target=target(app)
    )
    assert [p["port"] for p in services[0]["spec"]["ports"]] == [80]


def test_json_log_lines() -> None:
    record = logging.LogRecord(
        "canary.x", logging.WARNING, __file__, 1, "tick of %s failed", ("ns/web",), None
    )
    record.k8s_ref = {"kind": "Canary", "namespace": "ns", "name": "web", "uid": "u"}
    line = json.loads(JSONFormatter().format(record))
    assert line["level"] == "warning"
    assert line["logger"] == "canary.x"
    assert line["message"] == "tick of ns/web failed"
    assert line["object"] == {"kind": "Canary", "namespace": "ns", "name": "web"}
    assert line["time"].endswith("+00:00")

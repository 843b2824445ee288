"""The demo's stand-ins without a cluster: the behaviour a pod template declares, the stand-in process
serving it, and the gateway's split following the weights exactly."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from kubernetes import client

from demo.fleet import Behaviour, behaviour_of, template_hash
from demo.gateway import Backend, Gateway, backends_of

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = {"acme/web:2": Behaviour(0.25, 40.0)}


def template(image: str, env: dict[str, str] | None = None) -> dict[str, object]:
    container: dict[str, object] = {"name": "web", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}


def test_the_image_catalogue_decides_unless_the_environment_says_otherwise() -> None:
    assert behaviour_of(template("acme/web:1"), CATALOGUE) == Behaviour(0.0, 20.0)
    assert behaviour_of(template("acme/web:2"), CATALOGUE) == Behaviour(0.25, 40.0)
    declared = template("acme/web:2", {"STANDIN_ERROR_RATE": "0.5"})
    assert behaviour_of(declared, CATALOGUE) == Behaviour(0.5, 40.0)
    declared = template("acme/web:1", {"STANDIN_LATENCY_MS": "250"})
    assert behaviour_of(declared, CATALOGUE) == Behaviour(0.0, 250.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STANDIN_ERROR_RATE": "lots"}, "STANDIN_ERROR_RATE='lots' is not a number"),
        ({"STANDIN_ERROR_RATE": "1.5"}, "STANDIN_ERROR_RATE='1.5' is outside 0..1"),
        ({"STANDIN_LATENCY_MS": "-3"}, "STANDIN_LATENCY_MS='-3' is outside"),
    ],
)
def test_a_bad_declaration_is_refused_with_its_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        behaviour_of(template("acme/web:1", env), CATALOGUE)


def test_the_template_hash_changes_with_what_is_served_only() -> None:
    a = template("acme/web:1")
    relabelled = {**a, "metadata": {"labels": {"app": "web-primary"}}}
    assert template_hash(a) == template_hash(relabelled)
    assert template_hash(a) != template_hash(template("acme/web:2"))


def test_the_standin_process_serves_its_declared_errors_and_exports_them() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo.standin", "--namespace", "ns", "--workload", "web", "--error-rate", "1"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        word, address = proc.stdout.readline().split()
        assert word == "listening"
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://{address}/", timeout=5)
        assert failed.value.code == 500
        failed.value.close()
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'http_request_duration_seconds_count{status="500"} 1.0' in metrics
        assert 'destination_workload="web"' in metrics
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def test_the_standin_refuses_a_bad_error_rate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "demo.standin", "--namespace", "n", "--workload", "w", "--error-rate", "2"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2
    assert "--error-rate must be within 0..1" in done.stderr


def test_the_catch_all_rule_carries_the_weights() -> None:
    route = {
        "spec": {
            "rules": [
                {"matches": [{"headers": [{"name": "x-canary"}]}], "backendRefs": [{"name": "c"}]},
                {
                    "backendRefs": [
                        {"name": "web-primary", "weight": 70},
                        {"name": "web-canary", "weight": 30},
                    ]
                },
            ]
        }
    }
    assert backends_of(route) == [("web-primary", 70), ("web-canary", 30)]
    assert backends_of({}) == []


def test_the_gateway_split_follows_the_weights_exactly() -> None:
    gateway = Gateway(client.ApiClient(), "ns", "web", lambda service: None)
    try:
        gateway.backends = [
            Backend("web-primary", 80, "127.0.0.1:1"),
            Backend("web-canary", 20, "127.0.0.1:2"),
        ]
        chosen = Counter(b.service for _ in range(1000) if (b := gateway.choose()) is not None)
        assert chosen == {"web-primary": 800, "web-canary": 200}
        # A backend with no stand-in (scaled to zero) gets nothing; with none left, nothing is chosen.
        gateway.backends = [Backend("web-primary", 100, "127.0.0.1:1"), Backend("web-canary", 0, None)]
        assert {gateway.choose().service for _ in range(10)} == {"web-primary"}  # type: ignore[union-attr]
        gateway.backends = [Backend("web-canary", 100, None)]
        assert gateway.choose() is None
        assert gateway.forward("/")[0] == 503
    finally:
        gateway.stop()

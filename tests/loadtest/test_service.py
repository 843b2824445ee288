"""The load tester as a process on 127.0.0.1: flagger-loadtester's gate API, gates that survive a
restart (on disk) and are shared between replicas (a ConfigMap on the real control plane), bearer
tokens limited to namespaces, clear 4xx answers to bad requests, cmd tasks without a shell whose
failure fails the next check, and a blocking load test with its report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from controlplane.hooks import HookServer
from controlplane.loadtester import LoadTester
from tests.conftest import Cluster

SHOP = {"name": "cart", "namespace": "shop"}


@pytest.fixture
def tester(tmp_path: Path) -> Iterator[LoadTester]:
    lt = LoadTester(
        tmp_path / "loadtest.log",
        "--state",
        f"file:{tmp_path / 'state' / 'gates.json'}",
        "--allow-cmd",
        "false",
        "--allow-cmd",
        "true",
        "--allow-cmd",
        "sh",
    ).start()
    yield lt
    lt.stop()


def test_gates_open_close_and_check(tester: LoadTester) -> None:
    assert tester.post("/gate/check", SHOP).status_code == 403  # closed by default
    assert tester.post("/gate/open", SHOP).status_code == 202
    ok = tester.post("/gate/check", SHOP)
    assert (ok.status_code, ok.text) == (200, "Approved")
    assert tester.post("/gate/check", {"name": "cart", "namespace": "other"}).status_code == 403
    assert tester.post("/gate/close", SHOP).status_code == 202
    assert tester.post("/gate/check", SHOP).status_code == 403
    assert tester.post("/gate/approve", SHOP).status_code == 200
    assert tester.post("/gate/halt", SHOP).status_code == 403
    assert tester.post("/rollback/check", SHOP).status_code == 403
    assert tester.post("/rollback/open", SHOP).status_code == 202
    assert tester.post("/rollback/check", SHOP).status_code == 200
    assert tester.post("/rollback/close", SHOP).status_code == 202
    assert tester.post("/rollback/check", SHOP).status_code == 403
    metrics = httpx.get(f"{tester.url}/metrics").text
    assert 'loadtest_gate_changes_total{action="open",gate="gate"} 1.0' in metrics


def test_open_gates_survive_a_restart(tmp_path: Path) -> None:
    state = f"file:{tmp_path / 'gates.json'}"
    first = LoadTester(tmp_path / "1.log", "--state", state).start()
    try:
        assert first.post("/gate/open", SHOP).status_code == 202
        assert first.post("/rollback/open", {"name": "till", "namespace": "shop"}).status_code == 202
    finally:
        first.stop()
    second = LoadTester(tmp_path / "2.log", "--state", state).start()
    try:
        assert second.post("/gate/check", SHOP).status_code == 200
        assert second.post("/rollback/check", {"name": "till", "namespace": "shop"}).status_code == 200
        assert second.post("/rollback/check", SHOP).status_code == 403
    finally:
        second.stop()


def test_replicas_share_gates_through_a_configmap(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    state = f"configmap:{namespace}/canary-loadtest-gates"
    env = {"KUBECONFIG": str(cluster.kubeconfig)}
    a = LoadTester(tmp_path / "a.log", "--state", state, env=env).start()
    b = LoadTester(tmp_path / "b.log", "--state", state, env=env).start()
    try:
        payload = {"name": "cart", "namespace": namespace}
        assert b.post("/gate/check", payload).status_code == 403
        assert a.post("/gate/open", payload).status_code == 202
        assert b.post("/gate/check", payload).status_code == 200
        # Concurrent changes through both replicas are all kept (optimistic concurrency, retried).
        names = [f"app{i}" for i in range(10)]
        for i, name in enumerate(names):
            (a if i % 2 else b).post("/rollback/open", {"name": name, "namespace": namespace})
        assert all(
            a.post("/rollback/check", {"name": n, "namespace": namespace}).status_code == 200 for n in names
        )
        b.post("/gate/close", payload)
        assert a.post("/gate/check", payload).status_code == 403
    finally:
        a.stop()
        b.stop()
    cm = client.CoreV1Api(cluster.api).read_namespaced_config_map("canary-loadtest-gates", namespace)
    assert set(cm.data) == {f"rollback..{namespace}..{n}" for n in names}


def test_tokens_limit_callers_to_their_namespaces(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# token namespaces\nshop-token shop\nteam-token team-*,staging\n")
    lt = LoadTester(tmp_path / "lt.log", "--state", "memory", "--tokens-file", str(tokens)).start()
    try:
        missing = lt.post("/gate/open", SHOP)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert lt.post("/gate/open", SHOP, token="wrong").status_code == 401
        forged = lt.post("/gate/open", SHOP, token="team-token")  # a payload naming someone else's namespace
        assert (forged.status_code, forged.text) == (403, "this token may not act on namespace shop")
        assert lt.post("/gate/open", SHOP, token="shop-token").status_code == 202
        assert (
            lt.post("/gate/check", {"name": "x", "namespace": "team-a"}, token="team-token").status_code
            == 403
        )
        assert (
            lt.post("/gate/open", {"name": "x", "namespace": "team-a"}, token="team-token").status_code == 202
        )
        assert httpx.get(f"{lt.url}/healthz").status_code == 200  # probes need no token
    finally:
        lt.stop()


def test_bad_requests_get_a_4xx_with_a_message(tester: LoadTester) -> None:
    def raw(path: str, content: bytes, method: str = "POST", **headers: str) -> httpx.Response:
        return httpx.request(method, f"{tester.url}{path}", content=content, headers=headers, timeout=10)

    cases = [
        (raw("/gate/check", b"{not json"), 400, "not JSON"),
        (raw("/gate/check", b"[1, 2]"), 400, "JSON object"),
        (tester.post("/gate/check", {"name": "Cart!", "namespace": "shop"}), 400, "name must be"),
        (tester.post("/gate/check", {"name": "cart"}), 400, "namespace must be"),
        (tester.post("/", {**SHOP, "metadata": {"cmd": 7}}), 400, "metadata must be an object of strings"),
        (tester.post("/", SHOP), 400, "metadata not found"),
        (tester.post("/", {**SHOP, "metadata": {"type": "rm"}}), 400, "unknown task type 'rm'"),
        (
            tester.post("/", {**SHOP, "metadata": {"cmd": "curl http://x"}}),
            403,
            "program 'curl' is not allowed",
        ),
        (tester.post("/", {**SHOP, "metadata": {"type": "bash", "cmd": "ls"}}), 403, "--enable-bash"),
        (
            tester.post("/", {**SHOP, "metadata": {"type": "kubectl", "cmd": "get pods"}}),
            403,
            "--allow-kubectl",
        ),
        (tester.post("/", {**SHOP, "metadata": {"cmd": "true 'unbalanced"}}), 400, "cannot be split"),
        (
            tester.post("/", {**SHOP, "metadata": {"type": "load", "rate": "x", "duration": "1s"}}),
            400,
            "not a number",
        ),
        (tester.post("/gate/peek", SHOP), 404, "use check, open or close"),
        (raw("/gate/check", b"", method="GET"), 405, "POST the webhook payload"),
        (raw("/gate/check", b"x" * 70_000), 413, "at most 65536 bytes"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert text in response.text
    assert httpx.get(f"{tester.url}/healthz").status_code == 200  # and it still serves


def test_a_failed_cmd_task_fails_the_next_check_of_that_task(tester: LoadTester, tmp_path: Path) -> None:
    failing = {**SHOP, "metadata": {"cmd": "sh -c 'echo broken >&2; exit 3'"}}
    assert tester.post("/", failing).status_code == 202  # asynchronous, as in Flagger
    deadline = time.monotonic() + 20
    while (answer := tester.post("/", failing)).status_code == 202:
        assert time.monotonic() < deadline, "the failure was never reported"
        time.sleep(0.2)
    assert answer.status_code == 500
    assert "sh exited with status 3: broken" in answer.text
    assert tester.post("/", failing).status_code == 202  # reported once; the next request runs it again
    passing = {**SHOP, "metadata": {"cmd": "true"}}
    for _ in range(3):
        assert tester.post("/", passing).status_code == 202
        time.sleep(0.2)


def test_a_blocking_load_test_reports_what_it_measured(tester: LoadTester) -> None:
    target = HookServer()
    target.answer_with("/", lambda body: (500, "boom") if len(target.calls) % 10 == 0 else (200, "ok"))
    try:
        task = {
            "type": "load",
            "url": f"{target.url}/",
            "rate": "50",
            "duration": "2s",
            "method": "POST",
            "body": "{}",
        }
        answer = tester.post("/", {**SHOP, "metadata": task})
        assert answer.status_code == 200, answer.text
        report = json.loads(answer.text)
        assert report["sent"] == report["requested"] == 100
        assert len(target.calls) == 100
        assert report["errors"] == 10
        assert report["statuses"] == {"200": 90, "500": 10}
        assert report["latencyMs"]["p50"] <= report["latencyMs"]["p99"]
        limited = tester.post("/", {**SHOP, "metadata": {**task, "duration": "1s", "maxErrorRate": "0.05"}})
        assert limited.status_code == 500
        assert "above maxErrorRate 0.05" in limited.text
        metrics = httpx.get(f"{tester.url}/metrics").text
        assert 'loadtest_load_requests_total{canary="cart",namespace="shop",status="500"} 15.0' in metrics
    finally:
        target.close()


def test_no_shell_interprets_a_cmd(tester: LoadTester, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    attempts = [
        f"true ; touch {marker}",
        f"true $(touch {marker})",
        f"true `touch {marker}`",
        f"true | touch {marker}",
        f"true && touch {marker}",
        f"true\ntouch {marker}",
        f"true; touch {marker}",  # 'true;' is not an allowed program: refused
    ]
    statuses = [tester.post("/", {**SHOP, "metadata": {"cmd": cmd}}).status_code for cmd in attempts]
    assert statuses == [202] * 6 + [403]
    time.sleep(1)  # let the asynchronous runs finish
    assert not marker.exists()

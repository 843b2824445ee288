"""Fixtures for driving the real controller (``canary run`` in a subprocess) on the local control
plane: CRDs installed once, one controller per test scoped to the test's namespace, and helpers to
create workloads and Canaries and to watch what the controller does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from controlplane.hooks import HookServer
from controlplane.localcluster import terminate
from tests.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]


class Controller:
    """``canary run`` as a subprocess; its log is printed when a test fails."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        log: Path,
        extra: tuple[str, ...] = (),
        kubeconfig: Path | None = None,
    ) -> None:
        self.cluster, self.namespace, self.log, self.extra = cluster, namespace, log, extra
        self.kubeconfig = kubeconfig or cluster.kubeconfig
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "canary",
                    "run",
                    "-n",
                    self.namespace,
                    "--min-analysis-interval",
                    "1",
                    "--log-level",
                    "info",
                    *self.extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 15)
        self.proc = None

    def kill(self) -> None:
        """Die the hard way (SIGKILL), as a node failure would."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    """An HTTP server on 127.0.0.1 answering webhooks (and recording them) as each test sets it."""
    server = HookServer()
    yield server
    server.close()


@pytest.fixture
def controller(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Controller]:
    ctl = Controller(cluster, namespace, tmp_path / "controller.log")
    ctl.start()
    yield ctl
    ctl.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        sys.stderr.write(f"--- controller log ---\n{ctl.log.read_text()[-8000:]}\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


# ------------------------------------------------------------------------------------------- builders
def deployment(
    name: str,
    image: str,
    *,
    replicas: int = 2,
    labels: dict[str, str] | None = None,
    env_from_configmap: str | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 9898}],
    }
    if env_from_configmap:
        container["envFrom"] = [{"configMapRef": {"name": env_from_configmap}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **(labels or {})}},
                "spec": {"containers": [container]},
            },
        },
    }


def canary(name: str, analysis: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898, "targetPort": "http"},
            "analysis": {"interval": "1s", **analysis},
            **spec,
        },
    }


def gateway_canary(name: str, analysis: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Canary routed by the gatewayapi provider through the Gateway ``gw``."""
    return canary(
        name, analysis, provider="gatewayapi", service={"port": 9898, "gatewayRefs": [{"name": "gw"}]}, **spec
    )


def apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    docs = "\n---\n".join(json.dumps(o) for o in objects)
    done = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=docs, check=False)
    if done.returncode != 0:
        raise AssertionError(f"kubectl apply failed: {done.stderr.strip()}")


def get_canary(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    api = client.CustomObjectsApi(cluster.api)
    body: dict[str, Any] = api.get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "canaries", name
    )
    return body


def wait_for_phase(
    cluster: Cluster, namespace: str, name: str, *phases: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = get_canary(cluster, namespace, name)
        if body.get("status", {}).get("phase") in phases:
            return body
        time.sleep(0.2)
    raise AssertionError(f"canary {name} never reached {phases}; status: {body.get('status')}")


def wait_for_condition(
    cluster: Cluster, namespace: str, name: str, kind: str, status: str, timeout: float = 60
) -> dict[str, Any]:
    """Wait until the Canary's condition ``kind`` has ``status``; the condition."""
    deadline = time.monotonic() + timeout
    while True:
        conditions = get_canary(cluster, namespace, name).get("status", {}).get("conditions") or []
        found = next((c for c in conditions if c["type"] == kind), None)
        if found is not None and found["status"] == status:
            return found
        assert time.monotonic() < deadline, f"{kind} never became {status}: {conditions}"
        time.sleep(0.2)


def wait_gone(cluster: Cluster, namespace: str, name: str, timeout: float = 60) -> None:
    api = client.CustomObjectsApi(cluster.api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            api.get_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries", name)
        except client.ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(0.2)
    raise AssertionError(f"canary {name} was never deleted")


def events(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str, str]]:
    items = (
        client.CoreV1Api(cluster.api)
        .list_namespaced_event(
            namespace, field_selector=f"involvedObject.kind=Canary,involvedObject.name={name}"
        )
        .items
    )
    items.sort(key=lambda e: (e.first_timestamp or e.event_time, e.metadata.creation_timestamp))
    return [(e.type, e.reason, e.message) for e in items]


def image_of(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The first container image of Deployment ``name``; None while it does not exist."""
    try:
        deployment = client.AppsV1Api(cluster.api).read_namespaced_deployment(name, namespace)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise
    return str(deployment.spec.template.spec.containers[0].image)


def set_image(cluster: Cluster, namespace: str, name: str, image: str) -> None:
    cluster.kubectl("set", "image", "-n", namespace, f"deployment/{name}", f"{name}={image}")


class Recorder:
    """Watches objects in a background thread and records a value on every change.

    A watch, not polling: every change is an event, so no short-lived state is missed.  It watches in
    one-second segments, each resuming at the last resourceVersion seen (no gap between them), so
    that ``stop()`` returns promptly; an error in the thread is raised again by ``stop()``.
    """

    def __init__(
        self, list_fn: Callable[..., Any], extract: Callable[[dict[str, Any]], Any], **kwargs: Any
    ) -> None:
        self.values: list[Any] = []
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(list_fn, extract, kwargs), daemon=True)
        self._thread.start()

    def _run(
        self, list_fn: Callable[..., Any], extract: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any]
    ) -> None:
        version: str | None = None
        try:
            while not self._stopping.is_set():
                extra = {"resource_version": version} if version else {}
                for event in watch.Watch().stream(list_fn, timeout_seconds=1, **kwargs, **extra):
                    obj = event["object"]
                    body = (
                        obj if isinstance(obj, dict) else client.ApiClient().sanitize_for_serialization(obj)
                    )
                    version = body["metadata"]["resourceVersion"]
                    value = extract(body)
                    if value is not None and (not self.values or self.values[-1] != value):
                        self.values.append(value)
        except BaseException as e:  # handed to the test thread by stop()
            self._error = e

    def stop(self) -> list[Any]:
        self._stopping.set()
        self._thread.join(15)
        assert not self._thread.is_alive(), "the watch did not stop"
        if self._error is not None:
            raise self._error
        return self.values


def httproute_weights(apex: str) -> Callable[[dict[str, Any]], tuple[int, int] | None]:
    """Extract (primary, canary) weights from the first rule of the HTTPRoute ``apex``."""

    def extract(route: dict[str, Any]) -> tuple[int, int] | None:
        rules = route.get("spec", {}).get("rules") or []
        if route.get("metadata", {}).get("name") != apex or not rules:
            return None
        refs = {b["name"]: b.get("weight", 1) for b in rules[0].get("backendRefs", [])}
        return refs.get(f"{apex}-primary", 0), refs.get(f"{apex}-canary", 0)

    return extract


def record_httproute(cluster: Cluster, namespace: str, apex: str) -> Recorder:
    """Record every weight change of the HTTPRoute ``apex``."""
    return Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        httproute_weights(apex),
        group="gateway.networking.k8s.io",
        version="v1",
        namespace=namespace,
        plural="httproutes",
    )


def wait_for_weight(cluster: Cluster, namespace: str, name: str, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while get_canary(cluster, namespace, name).get("status", {}).get("canaryWeight", 0) < at_least:
        assert time.monotonic() < deadline, f"canary {name} never reached {at_least}%"
        time.sleep(0.1)

"""The controller drives a whole Gateway API rollout with nothing but the permissions deploy/rbac.yaml
grants: it runs with a real ServiceAccount token (TokenRequest API) bound to that ClusterRole and
Role, never meets a Forbidden, and reports the rollout in its Prometheus metrics."""

from __future__ import annotations

import copy
import json
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from controlplane.localcluster import free_port
from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    gateway_canary,
    set_image,
    wait_for_phase,
)

REPO = Path(__file__).resolve().parents[2]


def bind_rbac(cluster: Cluster, namespace: str) -> None:
    docs = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()))
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "canary", "namespace": namespace}}
    ]
    for original in docs:
        doc = copy.deepcopy(original)
        if doc["kind"] == "ClusterRoleBinding":
            doc["metadata"]["name"] = f"canary-{namespace}"
        if doc["kind"] in ("Role", "RoleBinding"):
            doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
        objects.append(doc)
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))


def service_account_kubeconfig(cluster: Cluster, namespace: str, path: Path) -> Path:
    token = cluster.kubectl("create", "token", "canary", "-n", namespace, "--duration=1h").stdout.strip()
    config = json.loads(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "admin", "user": {"token": token}}]
    path.write_text(json.dumps(config))
    return path


def least_privileged_controller(
    cluster: Cluster, namespace: str, tmp_path: Path, extra: tuple[str, ...] = ()
) -> Controller:
    """A controller (not started) running as the ServiceAccount ``canary`` of ``namespace``, bound to
    deploy/rbac.yaml and nothing else."""
    bind_rbac(cluster, namespace)
    kubeconfig = service_account_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    return Controller(cluster, namespace, tmp_path / "controller.log", extra, kubeconfig=kubeconfig)


def assert_never_forbidden(controller: Controller) -> None:
    """The controller's log shows no request refused by RBAC."""
    log = controller.log.read_text()
    for refusal in ("Forbidden", " 403", "cannot watch"):
        assert refusal not in log, refusal


def test_whole_rollout_with_only_the_deployed_permissions(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path
) -> None:
    bind_rbac(cluster, namespace)
    kubeconfig = service_account_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    whoami = cluster.kubectl(
        "--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert whoami.stdout == f"system:serviceaccount:{namespace}:canary"
    port = free_port()
    controller = Controller(
        cluster,
        namespace,
        tmp_path / "controller.log",
        ("--metrics-address", f"127.0.0.1:{port}"),
        kubeconfig=kubeconfig,
    )
    controller.start()
    try:
        apply(
            cluster,
            namespace,
            deployment("web", "example.invalid/web:1"),
            gateway_canary("web", {"stepWeight": 50}),
        )
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
    finally:
        controller.stop()
    assert_never_forbidden(controller)
    labels = f'name="web",namespace="{namespace}"'
    assert f'canary_successes_total{{{labels},strategy="canary"}} 1.0' in metrics
    assert f"canary_status{{{labels}}} 1.0" in metrics
    assert f'canary_phase{{{labels},phase="Succeeded"}} 1.0' in metrics
    assert f'canary_weight{{namespace="{namespace}",workload="web-primary"}} 100.0' in metrics

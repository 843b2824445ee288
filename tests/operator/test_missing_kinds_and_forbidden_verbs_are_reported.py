"""A kind a Canary needs that the cluster does not serve, or a verb RBAC does not grant, is reported
on the Canary (Ready=False with reason MissingKind or Forbidden, and a Warning event naming the kind
and the verb), not only logged, and the Canary recovers by itself once the CRD is installed or the
verb granted."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from controlplane import crds as upstream_crds
from controlplane.localcluster import LocalCluster, scratch_dir, wait_for_crds
from tests.conftest import Cluster
from tests.deploy.test_runs_with_least_privilege import service_account_kubeconfig
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    events,
    gateway_canary,
    get_canary,
    wait_for_phase,
    wait_gone,
)
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def ready_condition(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    conditions = get_canary(cluster, namespace, name).get("status", {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), None)


@pytest.fixture
def bare_cluster() -> Iterator[Cluster]:
    """A control plane of its own with canary's CRDs only: no Gateway API."""
    workdir = scratch_dir("canary-test-bare-")
    local = LocalCluster(workdir)
    try:
        local.start()
        api = config.new_client_from_config(config_file=str(local.kubeconfig))
        bare = Cluster(local.kubeconfig, api, workdir / "kubectl-cache")
        bare.kubectl("apply", "--server-side", "-f", str(REPO / "crds" / "canaries.yaml"))
        wait_for_crds(bare.kubectl_argv(), "crd", "--all")
        bare.kubectl("create", "namespace", "shop")
        yield bare
        api.close()
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_router_kind_that_is_not_installed_is_reported_and_recovers_once_installed(
    bare_cluster: Cluster, tmp_path: Path
) -> None:
    ctl = Controller(bare_cluster, "shop", tmp_path / "controller.log")
    ctl.start()
    try:
        apply(
            bare_cluster,
            "shop",
            deployment("web", "example.invalid/web:1"),
            gateway_canary("web", {"stepWeight": 50}),
        )
        ready = wait_for(
            "Ready=False",
            lambda: (c := ready_condition(bare_cluster, "shop", "web")) and c["status"] == "False" and c,
            timeout=60,
        )
        assert ready["reason"] == "MissingKind"
        assert "httproutes.gateway.networking.k8s.io/v1" in ready["message"]
        assert "could not get it" in ready["message"]
        warned = [(t, m) for t, r, m in events(bare_cluster, "shop", "web") if r == "MissingKind"]
        assert warned
        assert warned[0][0] == "Warning"
        assert "httproutes.gateway.networking.k8s.io/v1" in warned[0][1]

        # A Canary whose router kind is not installed can still be deleted: no route carries traffic.
        apply(
            bare_cluster,
            "shop",
            deployment("old", "example.invalid/old:1"),
            gateway_canary("old", {"stepWeight": 50}),
        )
        wait_for(
            "Ready=False",
            lambda: (c := ready_condition(bare_cluster, "shop", "old")) and c["status"] == "False",
            timeout=60,
        )
        bare_cluster.kubectl("delete", "canary", "old", "-n", "shop", "--wait=false")
        wait_gone(bare_cluster, "shop", "old")
        assert (
            bare_cluster.kubectl("get", "deployment", "old-primary", "-n", "shop", check=False).returncode
            == 0
        )

        upstream_crds.install(bare_cluster.kubeconfig, "gateway-api")
        body = wait_for_phase(bare_cluster, "shop", "web", "Initialized", timeout=90)
        now = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
        assert (now["status"], now["reason"]) == ("True", "Valid")
    finally:
        ctl.stop()
    assert "Traceback" not in ctl.log.read_text()


def restricted_rbac(cluster: Cluster, namespace: str, role: str) -> dict[str, Any]:
    """deploy/rbac.yaml's ClusterRole under another name, without create and patch on HTTPRoutes, bound
    to a ServiceAccount of this namespace."""
    docs = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()))
    cluster_role = copy.deepcopy(next(d for d in docs if d["kind"] == "ClusterRole"))
    cluster_role["metadata"]["name"] = role
    for rule in cluster_role["rules"]:
        if rule["resources"] == ["httproutes"]:
            rule["verbs"] = [v for v in rule["verbs"] if v not in ("create", "patch", "update")]
    role_doc = copy.deepcopy(next(d for d in docs if d["kind"] == "Role"))
    role_doc["metadata"]["namespace"] = namespace
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "canary", "namespace": namespace},
        },
        cluster_role,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "canary", "namespace": namespace}],
        },
        role_doc,
    ]
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        b = copy.deepcopy(binding)
        b["metadata"]["namespace"] = namespace
        for subject in b.get("subjects", []):
            subject["namespace"] = namespace
        objects.append(b)
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
    return cluster_role


def test_a_verb_rbac_does_not_grant_is_reported_and_recovers_once_granted(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path
) -> None:
    role = f"canary-restricted-{namespace}"
    cluster_role = restricted_rbac(cluster, namespace, role)
    kubeconfig = service_account_kubeconfig(cluster, namespace, tmp_path / "sa.kubeconfig")
    ctl = Controller(cluster, namespace, tmp_path / "controller.log", kubeconfig=kubeconfig)
    ctl.start()
    try:
        apply(
            cluster,
            namespace,
            deployment("web", "example.invalid/web:1"),
            gateway_canary("web", {"stepWeight": 50}),
        )
        ready = wait_for(
            "Ready=False",
            lambda: (c := ready_condition(cluster, namespace, "web")) and c["status"] == "False" and c,
            timeout=60,
        )
        assert ready["reason"] == "Forbidden"
        assert "create httproutes.gateway.networking.k8s.io/v1" in ready["message"]
        assert f"in namespace {namespace}" in ready["message"]
        warned = [(t, m) for t, r, m in events(cluster, namespace, "web") if r == "Forbidden"]
        assert warned
        assert warned[0][0] == "Warning"

        for rule in cluster_role["rules"]:
            if rule["resources"] == ["httproutes"]:
                rule["verbs"] = [*rule["verbs"], "create", "patch", "update"]
        cluster.kubectl("apply", "-f", "-", input=json.dumps(cluster_role))
        body = wait_for_phase(cluster, namespace, "web", "Initialized", timeout=90)
        now = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
        assert (now["status"], now["reason"]) == ("True", "Valid")
    finally:
        ctl.stop()
        rbac = client.RbacAuthorizationV1Api(cluster.api)
        rbac.delete_cluster_role_binding(role)
        rbac.delete_cluster_role(role)
    assert "Traceback" not in ctl.log.read_text()

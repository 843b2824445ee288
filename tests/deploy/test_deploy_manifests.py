"""deploy/ renders with kustomize, passes the API server's validation (server-side dry run), grants
no wildcard, and runs the controller hardened (non-root, read-only root filesystem, no privilege
escalation, no capabilities, requests and limits, probes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]


def rendered(cluster: Cluster) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(cluster.kubectl("kustomize", str(REPO / "deploy")).stdout))


def test_rbac_has_no_wildcards(cluster: Cluster) -> None:
    rules = [r for doc in rendered(cluster) if doc["kind"] in ("ClusterRole", "Role") for r in doc["rules"]]
    assert rules
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(key, []), rule
        assert "resourceNames" not in rule or "*" not in rule["resourceNames"]
        assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate"}


def test_controller_runs_hardened(cluster: Cluster) -> None:
    deployment = next(d for d in rendered(cluster) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "canary:0.1.0"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"][0] == "run"


def test_the_api_server_accepts_everything(cluster: Cluster) -> None:
    # The namespace must exist for a dry run of what lives in it.
    cluster.kubectl("apply", "-f", str(REPO / "deploy" / "namespace.yaml"))
    result = cluster.kubectl("apply", "--dry-run=server", "-k", str(REPO / "deploy"), check=False)
    assert result.returncode == 0, result.stderr
    for kind in (
        "deployment.apps/canary",
        "clusterrole.rbac.authorization.k8s.io/canary",
        "clusterrole.rbac.authorization.k8s.io/canary-operator",
        "service/canary-metrics",
    ):
        assert kind in result.stdout

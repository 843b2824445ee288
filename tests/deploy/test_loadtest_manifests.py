"""deploy/loadtest renders with kustomize, passes the API server's validation (server-side dry run),
runs hardened, and its ServiceAccount may do exactly what the ConfigMap gate store needs: read and
change its one ConfigMap, create it, and nothing else (no Secrets, no other ConfigMap)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
SA = "system:serviceaccount:canary-system:canary-loadtest"


def rendered(cluster: Cluster) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(cluster.kubectl("kustomize", str(REPO / "deploy" / "loadtest")).stdout))


def test_the_load_tester_runs_hardened_with_its_gates_in_a_configmap(cluster: Cluster) -> None:
    docs = rendered(cluster)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "canary-loadtest:0.1.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "--enable-bash" not in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert {e["name"] for e in container["env"]} == {"POD_NAMESPACE"}  # -> configmap state by default
    for rule in (r for d in docs if d["kind"] == "Role" for r in d["rules"]):
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(key, []), rule


def test_the_api_server_accepts_it_and_rbac_allows_exactly_the_gate_store(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "deploy" / "namespace.yaml"))
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-k", str(REPO / "deploy" / "loadtest"), check=False
    )
    assert result.returncode == 0, result.stderr
    cluster.kubectl("apply", "-k", str(REPO / "deploy" / "loadtest"))

    def can(*args: str) -> bool:
        out = cluster.kubectl("auth", "can-i", "--as", SA, "-n", "canary-system", *args, check=False)
        return out.stdout.strip() == "yes"

    assert can("get", "configmap/canary-loadtest-gates")
    assert can("update", "configmap/canary-loadtest-gates")
    assert can("create", "configmaps")
    assert not can("get", "configmap/other")
    assert not can("delete", "configmap/canary-loadtest-gates")
    assert not can("get", "secrets")
    assert not can("list", "configmaps")
    assert not can("get", "configmap/canary-loadtest-gates", "-n", "default")

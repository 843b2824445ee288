"""A person drives a rollout with the command line, against the real controller: ``canary promote``
(a step, then ``--full``), ``pause`` / ``resume``, ``abort`` and ``retry``.  Each goes through the API
as the canary.dev/request annotation, is answered by the controller in status.lastRequest with an
event naming who asked (the user the API server authenticated), is refused with the reason and exit
1 when the phase has nothing for it, and the annotation is removed once answered.  A hand-written
annotation that is not a request is refused with a Warning event naming the field, and removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from canary.models.requests import REQUEST_ANNOTATION
from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    events,
    gateway_canary,
    get_canary,
    image_of,
    set_image,
    wait_for_phase,
)
from tests.support.cli import cli
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def kubectl_plugin(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``kubectl canary ...``: kubectl finds the kubectl-canary console script on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run(
        [cluster.kubectl_argv()[0], "canary", *args, "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def weight(cluster: Cluster, namespace: str) -> int:
    return int(get_canary(cluster, namespace, "web")["status"].get("canaryWeight", 0))


def test_a_person_steps_pauses_aborts_retries_and_promotes_a_rollout(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    user = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout.strip()
    # An hour between analyses: nothing moves unless a person asks.
    spec = gateway_canary("web", {"interval": "1h", "stepWeight": 20, "maxWeight": 60, "threshold": 2})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1.0.0"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    initialized = cli(cluster, namespace, "status", "web")
    assert (initialized.returncode, initialized.stdout.strip()) == (
        0,
        "web: Initialized: the primary runs the target's current revision",
    )

    refused = cli(cluster, namespace, "promote", "web")
    assert refused.returncode == 1
    assert "promote refused: nothing to promote: the canary is Initialized" in refused.stderr

    set_image(cluster, namespace, "web", "example.invalid/web:1.1.0")
    # Whether or not the controller has seen the change yet, the previous verdict is not this one's.
    assert cli(cluster, namespace, "status", "web").returncode == 2
    wait_for_phase(cluster, namespace, "web", "Progressing", timeout=60)
    waited = cli(cluster, namespace, "status", "web", "--watch", "--timeout", "2")
    assert waited.returncode == 2
    assert "web: no verdict within 2s" in waited.stdout
    before = weight(cluster, namespace)
    stepped = kubectl_plugin(cluster, namespace, "promote", "web")  # as a kubectl plugin
    assert stepped.returncode == 0, stepped.stderr
    assert f"canary weight {before}% -> {before + 20}% without waiting for the analysis" in stepped.stdout
    assert weight(cluster, namespace) == before + 20
    body = get_canary(cluster, namespace, "web")
    assert body["status"]["lastRequest"]["by"] == user
    wait_for(
        "the answered request removed",
        lambda: (
            REQUEST_ANNOTATION
            not in (get_canary(cluster, namespace, "web")["metadata"].get("annotations") or {})
        ),
    )

    paused = cli(cluster, namespace, "pause", "web")
    assert paused.returncode == 0, paused.stderr
    assert get_canary(cluster, namespace, "web")["spec"]["suspend"] is True
    while_paused = cli(cluster, namespace, "promote", "web", "--full")
    assert while_paused.returncode == 1
    assert "resume it first" in while_paused.stderr
    resumed = cli(cluster, namespace, "resume", "web")
    assert resumed.returncode == 0, resumed.stderr
    assert get_canary(cluster, namespace, "web")["spec"]["suspend"] is False

    aborted = cli(cluster, namespace, "abort", "web")
    assert aborted.returncode == 0, aborted.stderr
    assert "all traffic back on web-primary" in aborted.stdout
    assert get_canary(cluster, namespace, "web")["status"]["phase"] == "Failed"
    assert weight(cluster, namespace) == 0
    failed = cli(cluster, namespace, "status", "web", "--watch", "--timeout", "30")
    assert failed.returncode == 1, failed.stdout
    assert f"Aborted by {user}" in failed.stdout

    retried = cli(cluster, namespace, "retry", "web")
    assert retried.returncode == 0, retried.stderr
    assert get_canary(cluster, namespace, "web")["status"]["phase"] == "Progressing"
    # Refused while the scaled-up canary Deployment is not ready yet: asked until it is.
    wait_for(
        "promote --full accepted",
        lambda: cli(cluster, namespace, "promote", "web", "--full").returncode == 0,
        timeout=60,
        period=1,
    )
    succeeded = cli(cluster, namespace, "status", "web", "--watch", "--timeout", "60")
    assert succeeded.returncode == 0, succeeded.stdout
    assert succeeded.stdout.strip().splitlines()[-1] == (
        "web: Succeeded: the primary runs the target's current revision"
    )

    said = [(kind, reason, message) for kind, reason, message in events(cluster, namespace, "web")]
    requested = [m for _, r, m in said if r == "Requested"]
    assert any(m.startswith(f"promote asked by {user}:") for m in requested)
    assert any(m.startswith(f"abort asked by {user}:") for m in requested)
    assert any(m.startswith(f"promote --full asked by {user}:") for m in requested)
    assert any(r == "Aborted" and f"Aborted by {user}" in m for _, r, m in said)
    assert any(k == "Warning" and r == "RequestRefused" for k, r, _ in said)


def test_a_hand_written_annotation_that_is_not_a_request_is_refused_and_removed(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = gateway_canary("web", {"interval": "1h", "stepWeight": 20})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1.0.0"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    cluster.kubectl("annotate", "-n", namespace, "canary/web", f"{REQUEST_ANNOTATION}=promote please")
    message = wait_for(
        "the refusal",
        lambda: next((m for _, r, m in events(cluster, namespace, "web") if r == "RequestRefused"), None),
        timeout=30,
    )
    assert f"metadata.annotations[{REQUEST_ANNOTATION}]: not a JSON object" in message
    wait_for(
        "the annotation removed",
        lambda: (
            REQUEST_ANNOTATION
            not in (get_canary(cluster, namespace, "web")["metadata"].get("annotations") or {})
        ),
    )
    assert get_canary(cluster, namespace, "web")["status"]["phase"] == "Initialized"


def test_only_those_granted_the_operator_role_may_ask(
    cluster: Cluster, namespace: str, controller: Controller, tmp_path: Path
) -> None:
    spec = gateway_canary("web", {"interval": "1h", "stepWeight": 20})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1.0.0"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    role = yaml.safe_load((REPO / "deploy" / "operator-rbac.yaml").read_text())
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-operates", "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "canary-operator",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "alice", "namespace": namespace}],
    }
    accounts = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": n, "namespace": namespace}}
        for n in ("alice", "bob")
    ]
    docs = [role, binding, *accounts]
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))

    def as_account(account: str, *args: str) -> subprocess.CompletedProcess[str]:
        token = cluster.kubectl("create", "token", account, "-n", namespace).stdout.strip()
        config = json.loads(cluster.kubeconfig.read_text())
        config["users"] = [{"name": "admin", "user": {"token": token}}]
        kubeconfig = tmp_path / f"{account}.kubeconfig"
        kubeconfig.write_text(json.dumps(config))
        return subprocess.run(
            [str(Path(sys.executable).with_name("canary")), *args, "-n", namespace],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    bob = as_account("bob", "pause", "web")
    assert bob.returncode == 1
    assert f"forbidden: system:serviceaccount:{namespace}:bob may not get and patch canaries" in bob.stderr
    assert get_canary(cluster, namespace, "web")["spec"].get("suspend") is None
    alice = as_account("alice", "pause", "web")
    assert alice.returncode == 0, alice.stderr
    answer = get_canary(cluster, namespace, "web")["status"]["lastRequest"]
    assert (answer["action"], answer["by"], answer["accepted"]) == (
        "pause",
        f"system:serviceaccount:{namespace}:alice",
        True,
    )


def test_set_image_starts_a_rollout_and_undo_puts_the_promoted_template_back(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    def image(deployment_name: str) -> str | None:
        return image_of(cluster, namespace, deployment_name)

    spec = gateway_canary("web", {"interval": "1h", "stepWeight": 20})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1.0.0"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)

    unknown = cli(cluster, namespace, "set", "image", "web", "sidecar=example.invalid/proxy:2")
    assert unknown.returncode == 1
    assert "web has no container sidecar (it has web)" in unknown.stderr
    changed = cli(cluster, namespace, "set", "image", "web", "web=example.invalid/web:1.1.0")
    assert changed.returncode == 0, changed.stderr
    assert image("web") == "example.invalid/web:1.1.0"
    wait_for_phase(cluster, namespace, "web", "Progressing", timeout=60)

    undone = cli(cluster, namespace, "undo", "web")
    assert undone.returncode == 0, undone.stderr
    assert "web back to the last promoted revision" in undone.stdout
    assert image("web") == "example.invalid/web:1.0.0"
    assert image("web-primary") == "example.invalid/web:1.0.0"
    body = get_canary(cluster, namespace, "web")
    assert body["status"]["phase"] == "Failed"
    assert body["status"]["canaryWeight"] == 0
    again = cli(cluster, namespace, "undo", "web")
    assert again.returncode == 1
    assert "the target already runs the last promoted revision" in again.stderr
    reasons = [(r, m) for _, r, m in events(cluster, namespace, "web")]
    assert any(r == "Aborted" and m.startswith("Undone by") for r, m in reasons)

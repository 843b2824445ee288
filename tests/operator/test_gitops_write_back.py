"""The real controller records its verdicts in a real Git remote (the loopback smart-HTTP server),
read back with plain git.  The GitOps agent here is the simplest one: ``kubectl apply`` of the
repository's HEAD, stamping the commit in the ``canary.dev/git-revision`` annotation
(``revisionFrom: annotation``); tests/e2e plays the same stories with real Flux.

* A release failing its checks is rolled back in the cluster and reverted in Git; when the agent
  applies the revert, no new analysis starts and the Canary records the revert as the promoted commit.
* A controller killed right after its push (the remote's push hook kills it) is restarted, and Git
  still holds exactly one revert commit: the restarted controller finds its own commit by trailers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.gitserver import GitHTTPServer, Person, git
from controlplane.hooks import HookServer
from demo.configrepo import manifest
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, events, get_canary, wait_for_phase
from tests.support.waiting import wait_for

PATH = "apps/web/staging/deployment.yaml"


class Agent:
    """A GitOps agent: applies HEAD of the config repository and stamps the commit it applied."""

    def __init__(self, cluster: Cluster, namespace: str, person: Person) -> None:
        self.cluster, self.namespace, self.person = cluster, namespace, person

    def sync(self) -> str:
        head = self.person.log()[0].split()[0]
        body: dict[str, Any] = yaml.safe_load(self.person.read(PATH))
        body["metadata"].setdefault("annotations", {})["canary.dev/git-revision"] = head
        apply(self.cluster, self.namespace, body)
        return head


@pytest.fixture
def ci(git_remote: str, tmp_path: Path) -> Person:
    person = Person(git_remote, tmp_path / "ci")
    person.change(
        {PATH: manifest("ghcr.io/acme/web:1.0.0"), "apps/cart/deployment.yaml": "kind: x\n"}, "initial"
    )
    return person


def web_canary(git_remote: str, hooks: HookServer, **extra: Any) -> dict[str, Any]:
    analysis = extra.pop("analysis", {})
    return canary(
        "web",
        {
            "iterations": 3,
            "threshold": 1,
            "webhooks": [{"name": "smoke", "type": "rollout", "url": f"{hooks.url}/smoke", "timeout": "5s"}],
            **analysis,
        },
        gitops={
            "repository": {"url": git_remote, "author": {"name": "canary-bot", "email": "bot@acme.example"}},
            "path": "apps/web/staging",
            "revisionFrom": "annotation",
            **extra,
        },
    )


#: a GitHub Enterprise whose API is never called here (the revert is a commit, not a pull request):
#: it only tells the notification where the commit's page is
FORGE = {"provider": "github", "apiURL": "http://127.0.0.1:9/api/v3", "project": "acme/config"}


def reverts(ci: Person) -> list[str]:
    return [line for line in ci.log() if " Roll back " in line]


def test_a_rollback_is_reverted_in_git_and_the_applied_revert_starts_no_analysis(
    cluster: Cluster, namespace: str, controller: Controller, hooks: HookServer, ci: Person, git_remote: str
) -> None:
    hooks.answer("/smoke", 500, "smoke test: 12 of 40 requests failed")
    hooks.answer("/slack", 200, "ok")
    agent = Agent(cluster, namespace, ci)
    promoted = agent.sync()
    slack = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AlertProvider",
        "metadata": {"name": "slack"},
        "spec": {"type": "slack", "address": f"{hooks.url}/slack"},
    }
    alerts = {"alerts": [{"name": "team", "providerRef": {"name": "slack"}}]}
    apply(cluster, namespace, slack, web_canary(git_remote, hooks, forge=FORGE, analysis=alerts))
    wait_for_phase(cluster, namespace, "web", "Initialized")
    assert get_canary(cluster, namespace, "web")["status"]["gitops"]["promotedRevision"] == promoted

    bad = ci.commit(PATH, manifest("ghcr.io/acme/web:1.1.0"), "web 1.1.0")
    agent.sync()
    failed = wait_for_phase(cluster, namespace, "web", "Failed")

    write = wait_for(
        "the revert recorded",
        lambda: get_canary(cluster, namespace, "web")["status"]["gitops"].get("lastWrite"),
    )
    assert write["result"] == "committed"
    head, subject = ci.log()[0].split(" ", 1)
    assert write["commit"] == head
    assert subject == f"Roll back {namespace}/web: revert 1 commit to apps/web/staging"
    assert ci.read(PATH) == manifest("ghcr.io/acme/web:1.0.0")
    trailers = git(ci.dir, "log", "-1", "--format=%(trailers:unfold,only)")
    assert f"Canary: {namespace}/web" in trailers
    assert "Canary-Verdict: rolled-back" in trailers
    assert "smoke" in trailers  # the failing check
    assert bad[:12] in git(ci.dir, "log", "-1", "--format=%b")
    assert git(ci.dir, "log", "-1", "--format=%an <%ae>").strip() == "canary-bot <bot@acme.example>"
    reasons = [r for _, r, _ in events(cluster, namespace, "web")]
    assert "GitCommitted" in reasons
    conditions = {c["type"]: c for c in get_canary(cluster, namespace, "web")["status"]["conditions"]}
    assert (conditions["GitOps"]["status"], conditions["GitOps"]["reason"]) == ("True", "GitCommitted")
    # The team sees the revert in chat: its commit's page on the forge and the evidence.
    url = f"http://127.0.0.1:9/acme/config/commit/{head}"
    assert write["url"] == url
    assert "smoke test: 12 of 40 requests failed" in write["evidence"]
    note = hooks.wait_until(
        "/slack", lambda c: c.body["attachments"][0]["title"] == f"web.{namespace}: GitCommitted"
    ).body["attachments"][0]
    fields = {f["title"]: f["value"] for f in note["fields"]}
    assert fields["Commit"] == url
    assert "smoke test: 12 of 40 requests failed" in fields["Evidence"]
    assert note["text"].startswith("Reverted 1 commit to apps/web/staging")

    # The agent applies the revert: the target equals the promoted spec again.
    reverted = agent.sync()
    assert reverted == head
    wait_for(
        "the revert recorded as promoted",
        lambda: get_canary(cluster, namespace, "web")["status"]["gitops"].get("promotedRevision") == reverted,
    )
    time.sleep(3)  # several 1s ticks: a new analysis would have started by now
    status = get_canary(cluster, namespace, "web")["status"]
    assert status["phase"] == "Failed"
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    after = [r for _, r, _ in events(cluster, namespace, "web")]
    assert after.count("NewRevision") == 1  # only the failed release's
    assert len(reverts(ci)) == 1
    assert failed["status"]["lastPromotedSpec"] == status["lastPromotedSpec"]


def test_a_controller_killed_right_after_its_push_leaves_one_revert(
    cluster: Cluster,
    namespace: str,
    controller: Controller,
    hooks: HookServer,
    ci: Person,
    git_remote: str,
    git_server: GitHTTPServer,
) -> None:
    hooks.answer("/smoke", 500, "smoke test failed")
    agent = Agent(cluster, namespace, ci)
    agent.sync()
    apply(cluster, namespace, web_canary(git_remote, hooks))
    wait_for_phase(cluster, namespace, "web", "Initialized")

    killed: list[str] = []
    bare = git_server.root / git_remote.rsplit("/", 1)[1]

    def kill_the_pusher(repository: Path) -> None:
        subject = git(repository, "log", "-1", "--format=%s", "main")
        if repository == bare and subject.startswith("Roll back") and not killed:
            killed.append(subject)
            controller.kill()  # before it can record the commit in the Canary's status

    git_server.on_push = kill_the_pusher
    try:
        ci.commit(PATH, manifest("ghcr.io/acme/web:1.1.0"), "web 1.1.0")
        agent.sync()
        wait_for("the controller to push and die", lambda: killed)
        status = get_canary(cluster, namespace, "web")["status"]
        assert "lastWrite" not in (status.get("gitops") or {})  # it died before recording
        assert len(reverts(ci)) == 1
        controller.start()
        write = wait_for(
            "the restarted controller to record the revert",
            lambda: get_canary(cluster, namespace, "web")["status"].get("gitops", {}).get("lastWrite"),
        )
    finally:
        git_server.on_push = None
    assert write["message"].startswith("Found commit")
    assert write["commit"] == ci.log()[0].split()[0]
    assert len(reverts(ci)) == 1
    assert get_canary(cluster, namespace, "web")["status"]["phase"] == "Failed"

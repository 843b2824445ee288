"""An environment chain end to end: dev -> staging -> prod in one config repository, each
environment its own path applied by its own Flux Kustomization (real source- and kustomize-
controller) into one namespace, each with its own Canary naming its entry of the same
``spec.gitops.environments``.

1. CI commits 1.1.0 to dev; dev's canary passes and commits it to staging; staging's passes and
   commits it to prod; prod's passes and writes nothing (the chain ends there).
2. CI commits 1.2.0 to dev; dev passes and promotes it to staging; staging's smoke test fails, so
   only staging is reverted (Flux applies the revert): dev keeps 1.2.0 and prod stays on 1.1.0.
3. ``git log`` of the config repository is the audit trail: every write names its environment (and
   the one a promotion came from) in its trailers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.flux import LocalFlux
from controlplane.gitserver import Person, git
from controlplane.hooks import HookServer
from demo.configrepo import flux_sync
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, get_canary, image_of, wait_for_phase
from tests.support.cli import cli
from tests.support.waiting import wait_for

ENVS = ("dev", "staging", "prod")


def path(env: str) -> str:
    return f"apps/web/{env}/deployment.yaml"


def deployment(env: str, tag: str) -> str:
    return f"""# web in {env}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{env}
  labels: {{app: web-{env}}}
spec:
  selector:
    matchLabels: {{app: web-{env}}}
  template:
    metadata:
      labels: {{app: web-{env}}}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:{tag} # {env}'s release
          ports: [{{name: http, containerPort: 9898}}]
"""


class Chain:
    def __init__(self, cluster: Cluster, namespace: str, flux: LocalFlux, ci: Person) -> None:
        self.cluster, self.namespace, self.flux, self.ci = cluster, namespace, flux, ci
        self.custom = client.CustomObjectsApi(cluster.api)

    def applied(self, env: str) -> str:
        ks = self.custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", self.namespace, "kustomizations", f"web-{env}"
        )
        return str(ks.get("status", {}).get("lastAppliedRevision", "")).rsplit(":", 1)[-1]

    def reconcile(self, env: str) -> str:
        head = self.ci.log()[0].split()[0]
        self.flux.reconcile("gitrepository", self.namespace, "config")
        self.flux.reconcile("kustomization", self.namespace, f"web-{env}")
        wait_for(f"Flux to apply {head[:12]} to {env}", lambda: self.applied(env) == head)
        return head

    def image(self, name: str) -> str | None:
        return image_of(self.cluster, self.namespace, name)

    def status(self, env: str) -> dict[str, Any]:
        return dict(get_canary(self.cluster, self.namespace, f"web-{env}").get("status", {}))

    def write(self, env: str, kind: str, after: str | None = None) -> dict[str, Any]:
        """The next Git write of ``env``'s Canary of ``kind`` whose commit is not ``after``."""

        def done() -> dict[str, Any] | None:
            w = self.status(env).get("gitops", {}).get("lastWrite")
            return w if w and w["kind"] == kind and w.get("commit") != after else None

        return wait_for(f"{env}'s {kind} commit", done)


@pytest.fixture
def chain(
    cluster: Cluster,
    namespace: str,
    flux: LocalFlux,
    git_remote: str,
    tmp_path: Path,
    hooks: HookServer,
    controller: Controller,
) -> Chain:
    ci = Person(git_remote, tmp_path / "ci")
    ci.change({path(env): deployment(env, "1.0.0") for env in ENVS}, "initial config")
    c = Chain(cluster, namespace, flux, ci)
    for env in ENVS:
        sync = flux_sync(namespace, git_remote, name=f"web-{env}", path=f"./apps/web/{env}", interval="1h")
        cluster.kubectl("apply", "-f", "-", input=sync)
    head = ci.log()[0].split()[0]
    for env in ENVS:
        wait_for(f"Flux's first sync of {env}", lambda env=env: c.applied(env) == head)
        hooks.answer(f"/smoke-{env}", 200)
    environments = [{"name": env, "path": f"apps/web/{env}"} for env in ENVS]
    for env in ENVS:
        spec = canary(
            f"web-{env}",
            {
                "iterations": 2,
                "threshold": 1,
                "webhooks": [
                    {"name": "smoke", "type": "rollout", "url": f"{hooks.url}/smoke-{env}", "timeout": "5s"}
                ],
            },
            gitops={
                "repository": {"url": git_remote},
                "path": f"apps/web/{env}",
                "environments": environments,
                "environment": env,
            },
        )
        apply(cluster, namespace, spec)
    for env in ENVS:
        wait_for_phase(cluster, namespace, f"web-{env}", "Initialized")
    return c


def trailer(ci: Person, key: str, rev: str = "HEAD") -> str:
    return git(ci.dir, "log", "-1", f"--format=%(trailers:key={key},valueonly)", rev).strip()


def test_a_release_climbs_the_chain_and_a_failure_in_staging_reverts_only_staging(
    chain: Chain, namespace: str, hooks: HookServer
) -> None:
    ci, cluster = chain.ci, chain.cluster

    # 1. 1.1.0 climbs dev -> staging -> prod, one promotion commit per hop.
    ci.commit(path("dev"), deployment("dev", "1.1.0"), "web 1.1.0 to dev")
    chain.reconcile("dev")
    wait_for_phase(cluster, namespace, "web-dev", "Succeeded")
    to_staging = chain.write("dev", "promote")
    assert to_staging["result"] == "committed", to_staging
    assert ci.read(path("staging")) == deployment("staging", "1.1.0")
    assert (trailer(ci, "Canary-Environment"), trailer(ci, "Canary-From-Environment")) == ("staging", "dev")
    assert git(ci.dir, "log", "-1", "--format=%s").startswith(
        f"Promote {namespace}/web-dev to staging (apps/web/staging): ghcr.io/acme/web:1.1.0"
    )

    chain.reconcile("staging")
    wait_for_phase(cluster, namespace, "web-staging", "Succeeded")
    to_prod = chain.write("staging", "promote")
    assert to_prod["result"] == "committed", to_prod
    assert ci.read(path("prod")) == deployment("prod", "1.1.0")
    assert (trailer(ci, "Canary-Environment"), trailer(ci, "Canary-From-Environment")) == ("prod", "staging")

    chain.reconcile("prod")
    wait_for_phase(cluster, namespace, "web-prod", "Succeeded")
    assert chain.image("web-prod-primary") == "ghcr.io/acme/web:1.1.0"
    time.sleep(3)  # several 1 s ticks: the last environment writes nothing
    assert chain.status("prod").get("gitops", {}).get("lastWrite") is None
    assert ci.log()[0].startswith(to_prod["commit"])

    # 2. 1.2.0 passes dev and is promoted to staging, whose smoke test fails: only staging reverts.
    hooks.answer("/smoke-staging", 500, "smoke: 17 of 40 requests failed")
    ci.commit(path("dev"), deployment("dev", "1.2.0"), "web 1.2.0 to dev")
    chain.reconcile("dev")
    again = chain.write("dev", "promote", after=to_staging["commit"])
    assert again["result"] == "committed", again
    assert chain.status("dev")["phase"] == "Succeeded"
    assert ci.read(path("staging")) == deployment("staging", "1.2.0")

    chain.reconcile("staging")
    wait_for_phase(cluster, namespace, "web-staging", "Failed")
    revert = chain.write("staging", "revert")
    assert revert["result"] == "committed", revert
    assert ci.read(path("staging")) == deployment("staging", "1.1.0")  # the comments kept
    assert ci.read(path("dev")) == deployment("dev", "1.2.0")
    assert ci.read(path("prod")) == deployment("prod", "1.1.0")
    assert again["commit"][:12] in git(ci.dir, "log", "-1", "--format=%b")
    assert trailer(ci, "Canary-Environment") == "staging"
    assert trailer(ci, "Canary-Verdict") == "rolled-back"

    applied = chain.reconcile("staging")
    assert applied == revert["commit"]
    wait_for("staging back on 1.1.0", lambda: chain.image("web-staging") == "ghcr.io/acme/web:1.1.0")
    time.sleep(3)
    staging = chain.status("staging")
    assert staging["phase"] == "Failed"
    assert staging["lastAppliedSpec"] == staging["lastPromotedSpec"]
    assert chain.image("web-dev-primary") == "ghcr.io/acme/web:1.2.0"
    assert chain.image("web-staging-primary") == "ghcr.io/acme/web:1.1.0"
    assert chain.image("web-prod-primary") == "ghcr.io/acme/web:1.1.0"
    assert chain.status("prod").get("gitops", {}).get("lastWrite") is None

    # 3. The audit trail: every write of the chain, newest first, with its environments.
    trail = git(
        ci.dir,
        "log",
        "--format=%(trailers:key=Canary,valueonly,separator=)|%(trailers:key=Canary-Verdict,valueonly,separator=)"
        "|%(trailers:key=Canary-From-Environment,valueonly,separator=)"
        "|%(trailers:key=Canary-Environment,valueonly,separator=)",
    ).split()
    assert [line for line in trail if line != "|||"] == [
        f"{namespace}/web-staging|rolled-back||staging",
        f"{namespace}/web-dev|promoted|dev|staging",
        f"{namespace}/web-staging|promoted|staging|prod",
        f"{namespace}/web-dev|promoted|dev|staging",
    ]


def test_by_hand_promote_and_release_write_what_the_chain_would_with_who_asked(
    chain: Chain, namespace: str
) -> None:
    ci, cluster = chain.ci, chain.cluster
    initial = ci.log()[0].split()[0]
    user = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout.strip()
    assert user

    ci.commit(path("dev"), deployment("dev", "1.1.0"), "web 1.1.0 to dev")
    chain.reconcile("dev")
    to_staging = chain.write("dev", "promote")
    assert to_staging["result"] == "committed", to_staging

    # A hotfix skips staging: dev's promoted release goes to prod by hand.
    done = cli(cluster, namespace, "promote", "web-dev", "--env", "prod")
    assert done.returncode == 0, done.stderr
    head = ci.log()[0].split()[0]
    assert ci.read(path("prod")) == deployment("prod", "1.1.0")
    assert ci.read(path("staging")) == deployment("staging", "1.1.0")
    assert (trailer(ci, "Canary-Environment"), trailer(ci, "Canary-From-Environment")) == ("prod", "dev")
    assert trailer(ci, "Canary-By") == user
    assert trailer(ci, "Canary-Verdict") == "promoted"
    body = git(ci.dir, "log", "-1", "--format=%b")
    assert f"By hand: {user} ran canary promote web-dev --env prod" in body
    assert "Promoted True (Succeeded)" in body
    assert head[:12] in done.stdout

    # Asked twice, written once.
    again = cli(cluster, namespace, "promote", "web-dev", "--env", "prod")
    assert again.returncode == 0, again.stderr
    assert "made earlier" in again.stdout
    assert ci.log()[0].split()[0] == head

    # Backwards is not a promotion; an unknown environment is named.
    back = cli(cluster, namespace, "promote", "web-prod", "--env", "dev")
    assert back.returncode == 1
    assert "is not after this Canary's environment (prod)" in back.stderr
    unknown = cli(cluster, namespace, "promote", "web-dev", "--env", "qa")
    assert unknown.returncode == 1
    assert "qa: not an environment of the chain; its environments: dev, staging, prod" in unknown.stderr

    # dev is released as at the first commit: Flux applies it, dev's canary analyses it and the
    # chain carries it on to staging as it would any release.
    released = cli(cluster, namespace, "release", "web-dev", "--env", "dev", "--revision", initial)
    assert released.returncode == 0, released.stderr
    assert ci.read(path("dev")) == deployment("dev", "1.0.0")
    assert ci.read(path("prod")) == deployment("prod", "1.1.0")
    assert (trailer(ci, "Canary-Verdict"), trailer(ci, "Canary-Release-Of")) == ("released", initial)
    assert (trailer(ci, "Canary-Environment"), trailer(ci, "Canary-By")) == ("dev", user)
    chain.reconcile("dev")
    back_in_staging = chain.write("dev", "promote", after=to_staging["commit"])
    assert back_in_staging["result"] == "committed", back_in_staging
    assert ci.read(path("staging")) == deployment("staging", "1.0.0")
    assert chain.image("web-dev-primary") == "ghcr.io/acme/web:1.0.0"

    same = cli(cluster, namespace, "release", "web-dev", "--env", "dev", "--revision", initial)
    assert same.returncode == 0, same.stderr
    assert "already as at" in same.stdout
    missing = cli(cluster, namespace, "release", "web-dev", "--revision", "0" * 40)
    assert missing.returncode == 1
    assert "is not a commit of main" in missing.stdout + missing.stderr

    # undo with spec.gitops is a Git write: dev's path as at the commit of its promoted revision.
    promoted = chain.status("dev")["gitops"]["promotedRevision"]
    ci.commit(path("dev"), deployment("dev", "1.4.0"), "web 1.4.0 to dev, not wanted after all")
    undone = cli(cluster, namespace, "undo", "web-dev")
    assert undone.returncode == 0, undone.stderr
    assert ci.read(path("dev")) == deployment("dev", "1.0.0")
    assert (trailer(ci, "Canary-Verdict"), trailer(ci, "Canary-Release-Of")) == ("released", promoted)

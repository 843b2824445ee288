"""The Git write-back against the loopback smart-HTTP remote (and a forge on 127.0.0.1), read back
with plain git: a revert of exactly the failed release's changes to the workload's path, with the
failed tag excluded from image automation in the same commit; exactly once; a conflict proposed as a
pull request or handed to a person; a promotion written into the next environment keeping comments;
credentials from the Secret only, never in what is reported."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from canary.adapters.gitops.writer import GitOpsWriter
from canary.models.gitops import GitOpsSpec, GitWrite, GitWriteKind
from controlplane.faults import FaultProxy, Mode
from controlplane.forge import FakeForge
from controlplane.gitserver import GitHTTPServer, Person, git

TOKEN = "forge-token-9f8e7d"


def deployment(image: str, name: str = "web") -> str:
    return f"""# {name} in staging
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: {image} # {{"$imagepolicy": "flux-system:{name}"}}
"""


IMAGE_REPOSITORY = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: web
  namespace: flux-system
spec:
  image: ghcr.io/acme/web
  interval: 5m
"""

PRODUCTION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base   # shared with staging
images:
  - name: ghcr.io/acme/web
    newTag: 1.0.0 # promoted by canary
"""


@pytest.fixture
def ci(git_remote: str, tmp_path: Path) -> Person:
    person = Person(git_remote, tmp_path / "ci")
    person.change(
        {
            "apps/web/staging/deployment.yaml": deployment("ghcr.io/acme/web:1.0.0"),
            "apps/web/production/kustomization.yaml": PRODUCTION,
            "apps/cart/deployment.yaml": deployment("ghcr.io/acme/cart:1.0.0", "cart"),
            "flux/images.yaml": IMAGE_REPOSITORY,
        },
        "initial",
    )
    return person


def spec(url: str, **kw: Any) -> GitOpsSpec:
    return GitOpsSpec.model_validate({"repository": {"url": url}, "path": "apps/web/staging", **kw})


def writer(tmp_path: Path, secrets: Mapping[str, Mapping[str, Any]] | None = None) -> GitOpsWriter:
    return GitOpsWriter(tmp_path / "gitops", lambda ns, name: (secrets or {}).get(name))


def revert(since: str, failed: str, image: str = "ghcr.io/acme/web:1.2.0") -> GitWrite:
    return GitWrite(
        kind=GitWriteKind.REVERT,
        revision="5d8c9f7b",
        git_revision=failed,
        since_revision=since,
        images={"web": image},
        reason="Rolling back: request-success-rate 71.2% < 99%",
    )


def trailers(ci: Person, commit: str = "HEAD") -> dict[str, str]:
    out = git(ci.dir, "log", "-1", "--format=%(trailers:unfold,only)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_revert_undoes_the_release_keeps_the_unrelated_and_quarantines_the_tag(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    promoted = ci.log()[0].split()[0]
    # One CI commit bumps web (the failing canary) and cart together, then cart moves on its own.
    bad = ci.change(
        {
            "apps/web/staging/deployment.yaml": deployment("ghcr.io/acme/web:1.2.0"),
            "apps/cart/deployment.yaml": deployment("ghcr.io/acme/cart:1.1.0", "cart"),
        },
        "release web 1.2.0 and cart 1.1.0",
    )
    ci.commit("apps/cart/deployment.yaml", deployment("ghcr.io/acme/cart:1.2.0", "cart"), "cart 1.2.0")

    outcome = writer(tmp_path).write("staging", "web", spec(git_remote), revert(promoted, bad))

    assert outcome.error is None
    record = outcome.record
    assert record is not None
    assert record.result == "committed"
    head, subject = ci.log()[0].split(" ", 1)
    assert record.commit == head
    assert subject == "Roll back staging/web: revert 1 commit to apps/web/staging"
    assert ci.read("apps/web/staging/deployment.yaml") == deployment("ghcr.io/acme/web:1.0.0")
    assert ci.read("apps/cart/deployment.yaml") == deployment("ghcr.io/acme/cart:1.2.0", "cart")
    assert "- '^1\\.2\\.0$'" in ci.read("flux/images.yaml")
    assert "- '^.*\\.sig$'" in ci.read("flux/images.yaml")
    assert trailers(ci) == {
        "Canary": "staging/web",
        "Canary-Revision": "5d8c9f7b",
        "Canary-Verdict": "rolled-back",
        "Canary-Check": "Rolling back: request-success-rate 71.2% < 99%",
    }
    body = git(ci.dir, "log", "-1", "--format=%b")
    assert bad[:12] in body
    assert "ImageRepository/web exclusionList" in body


def test_exactly_once_a_second_write_finds_the_first(ci: Person, git_remote: str, tmp_path: Path) -> None:
    promoted = ci.log()[0].split()[0]
    bad = ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    first = writer(tmp_path / "one").write("staging", "web", spec(git_remote), revert(promoted, bad))
    second = writer(tmp_path / "two").write("staging", "web", spec(git_remote), revert(promoted, bad))
    assert first.record is not None
    assert second.record is not None
    assert second.record.commit == first.record.commit
    assert second.record.message.startswith("Found commit")
    assert sum(1 for line in ci.log() if "Roll back" in line) == 1


def test_nothing_to_revert_is_said_so(ci: Person, git_remote: str, tmp_path: Path) -> None:
    promoted = ci.log()[0].split()[0]
    ci.commit("apps/cart/deployment.yaml", deployment("ghcr.io/acme/cart:9.0.0", "cart"), "cart only")
    outcome = writer(tmp_path).write(
        "staging", "web", spec(git_remote), revert(promoted, ci.log()[0].split()[0])
    )
    assert outcome.record is not None
    assert outcome.record.result == "nothingToDo"
    assert len(ci.log()) == 2


def test_a_conflict_without_a_forge_asks_a_person_naming_the_commit(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    promoted = ci.log()[0].split()[0]
    bad = ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.1"), "hotfix by hand")
    outcome = writer(tmp_path).write("staging", "web", spec(git_remote), revert(promoted, bad))
    assert outcome.record is not None
    assert outcome.record.result == "needsAttention"
    assert bad[:12] in outcome.record.message
    assert "apps/web/staging/deployment.yaml" in outcome.record.message
    assert len(ci.log()) == 3  # nothing pushed


@pytest.fixture
def forge(git_server: GitHTTPServer, git_remote: str) -> Iterator[FakeForge]:
    bare = git_server.root / git_remote.rsplit("/", 1)[1]
    f = FakeForge(TOKEN, git_dir=bare).start()
    yield f
    f.stop()


def test_a_conflict_with_a_forge_becomes_a_pull_request(
    ci: Person, git_remote: str, tmp_path: Path, forge: FakeForge
) -> None:
    promoted = ci.log()[0].split()[0]
    bad = ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.1"), "hotfix by hand")
    gitops = spec(
        git_remote,
        repository={"url": git_remote, "secretRef": {"name": "git"}},
        forge={"provider": "github", "apiURL": forge.url, "project": "acme/config"},
    )
    secrets = {"git": {"stringData": {"bearerToken": TOKEN}}}
    outcome = writer(tmp_path, secrets).write("staging", "web", gitops, revert(promoted, bad))
    assert outcome.error is None
    assert outcome.record is not None
    assert outcome.record.result == "pullRequest"
    assert [p["head"] for p in forge.pulls] == ["canary/rollback/staging/web-5d8c9f7b"]
    assert outcome.record.pull_request == forge.pulls[0]["url"]
    assert "conflicts" in forge.pulls[0]["title"]
    assert len(ci.log()) == 3  # main untouched
    assert TOKEN not in outcome.record.message


def test_pull_request_mode_proposes_the_revert_once(
    ci: Person, git_remote: str, tmp_path: Path, forge: FakeForge
) -> None:
    promoted = ci.log()[0].split()[0]
    bad = ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    gitops = spec(
        git_remote,
        repository={"url": git_remote, "secretRef": {"name": "git"}},
        onRollback="pullRequest",
        forge={"provider": "gitlab", "apiURL": f"{forge.url}/api/v4", "project": "acme/config"},
    )
    secrets = {"git": {"stringData": {"password": TOKEN}}}
    for attempt in ("one", "two"):  # the second is a restarted controller
        outcome = writer(tmp_path / attempt, secrets).write("staging", "web", gitops, revert(promoted, bad))
        assert outcome.record is not None
        assert outcome.record.result == "pullRequest"
    assert len(forge.pulls) == 1
    branch = forge.pulls[0]["head"]
    git(ci.dir, "fetch", "--quiet", "origin", branch)
    assert git(ci.dir, "show", "FETCH_HEAD:apps/web/staging/deployment.yaml") == deployment(
        "ghcr.io/acme/web:1.0.0"
    )
    assert len(ci.log()) == 2  # main untouched


def test_promotion_writes_the_images_into_the_next_environment(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    gitops = spec(git_remote, promote={"path": "apps/web/production"})
    write = GitWrite(
        kind=GitWriteKind.PROMOTE,
        revision="77aa",
        git_revision=ci.log()[0].split()[0],
        images={"web": "ghcr.io/acme/web:1.1.0"},
        reason="web revision 77aa passed its analysis and was promoted",
    )
    outcome = writer(tmp_path).write("staging", "web", gitops, write)
    assert outcome.record is not None
    assert outcome.record.result == "committed"
    assert ci.read("apps/web/production/kustomization.yaml") == PRODUCTION.replace(
        "newTag: 1.0.0", "newTag: 1.1.0"
    )
    assert trailers(ci)["Canary-Verdict"] == "promoted"
    assert trailers(ci)["Canary-Environment"] == "apps/web/production"
    again = writer(tmp_path / "again").write("staging", "web", gitops, write)
    assert again.record is not None
    assert again.record.commit == outcome.record.commit


HELM_PRODUCTION = {
    "apps/web/helm-production/helmrelease.yaml": """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  interval: 10m
  chart:
    spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: config}}
  valuesFrom:
    - kind: ConfigMap
      name: web-values
  values:
    replicaCount: 3 # inline values, beside the file's
""",
    "apps/web/helm-production/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [helmrelease.yaml]
configMapGenerator:
  - name: web-values
    files: [values.yaml=production-values.yaml]
configurations: [kustomizeconfig.yaml]
""",
    "apps/web/helm-production/production-values.yaml": """# production's values
image:
  repository: ghcr.io/acme/web
  tag: 1.0.0 # promoted by canary
""",
}


def promotion(revision: str, image: str = "ghcr.io/acme/web:1.1.0") -> GitWrite:
    return GitWrite(
        kind=GitWriteKind.PROMOTE, revision=revision, images={"web": image}, reason=f"{revision} passed"
    )


def test_a_promotion_into_a_helm_release_writes_the_values_file_of_its_values_from(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    ci.change(HELM_PRODUCTION, "production as a HelmRelease")
    gitops = spec(git_remote, promote={"path": "apps/web/helm-production"})
    outcome = writer(tmp_path).write("staging", "web", gitops, promotion("88aa"))
    assert outcome.record is not None, outcome.error
    assert outcome.record.result == "committed"
    values = "apps/web/helm-production/production-values.yaml"
    assert ci.read(values) == HELM_PRODUCTION[values].replace("tag: 1.0.0", "tag: 1.1.0")
    assert "ConfigMap web-values" not in outcome.record.message  # said in the body, once per change
    body = git(ci.dir, "log", "-1", "--format=%b")
    assert "values image.tag: 1.0.0 -> 1.1.0" in body
    for path in ("apps/web/helm-production/helmrelease.yaml", "apps/web/helm-production/kustomization.yaml"):
        assert ci.read(path) == HELM_PRODUCTION[path]


def test_values_shared_by_every_environment_or_no_place_at_all_ask_a_person(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    shared = {
        k.replace("helm-production/production-values", "base/values"): v for k, v in HELM_PRODUCTION.items()
    }
    kustomization = "apps/web/helm-production/kustomization.yaml"
    shared[kustomization] = shared[kustomization].replace("=production-values.yaml", "=../base/values.yaml")
    ci.change(shared, "production's values in the shared base")
    gitops = spec(git_remote, promote={"path": "apps/web/helm-production"})
    outcome = writer(tmp_path).write("staging", "web", gitops, promotion("88ab"))
    assert outcome.record is not None, outcome.error
    assert outcome.record.result == "needsAttention"
    assert "apps/web/base/values.yaml (ConfigMap web-values" in outcome.record.message
    assert "outside apps/web/helm-production" in outcome.record.message

    gitops = spec(git_remote, promote={"path": "apps/cart"})
    outcome = writer(tmp_path).write("staging", "web", gitops, promotion("88ac"))
    assert outcome.record is not None, outcome.error
    assert outcome.record.result == "needsAttention"
    assert outcome.record.message.startswith("Nothing in apps/cart holds ghcr.io/acme/web:1.1.0")
    assert len(ci.log()) == 2  # nothing committed


def test_a_chain_names_its_environments_in_the_trailers(ci: Person, git_remote: str, tmp_path: Path) -> None:
    gitops = spec(
        git_remote,
        environment="staging",
        environments=[
            {"name": "staging", "path": "apps/web/staging"},
            {"name": "production", "path": "apps/web/production"},
        ],
    )
    outcome = writer(tmp_path).write("staging", "web", gitops, promotion("88ad"))
    assert outcome.record is not None, outcome.error
    assert outcome.record.result == "committed"
    assert outcome.record.message.startswith("Promoted to production (apps/web/production) in ")
    assert "newTag: 1.1.0" in ci.read("apps/web/production/kustomization.yaml")
    found = trailers(ci)
    assert (found["Canary-Environment"], found["Canary-From-Environment"]) == ("production", "staging")


def test_a_missing_secret_or_unknown_promoted_commit_is_reported(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    gitops = spec(git_remote, repository={"url": git_remote, "secretRef": {"name": "absent"}})
    outcome = writer(tmp_path).write("staging", "web", gitops, revert("0" * 40, "1" * 40))
    assert outcome.error is not None
    assert "absent" in outcome.error
    outcome = writer(tmp_path).write("staging", "web", spec(git_remote), revert("0" * 40, "1" * 40))
    assert outcome.record is not None
    assert outcome.record.result == "needsAttention"
    assert "last promoted spec is unknown" in outcome.record.message


def test_a_promotion_path_linking_outside_the_repository_is_reported_not_followed(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(PRODUCTION)
    (ci.dir / "apps" / "web" / "prod-link.yaml").symlink_to(outside)
    git(ci.dir, "add", "apps/web/prod-link.yaml")
    git(ci.dir, "commit", "--quiet", "-m", "a link out of the repository")
    git(ci.dir, "push", "--quiet", "origin", "HEAD:main")
    write = GitWrite(
        kind=GitWriteKind.PROMOTE,
        revision="77ab",
        images={"web": "ghcr.io/acme/web:1.1.0"},
        reason="passed",
    )
    gitops = spec(git_remote, promote={"path": "apps/web/prod-link.yaml"})
    outcome = writer(tmp_path).write("staging", "web", gitops, write)
    assert outcome.record is None
    assert outcome.error == "apps/web/prod-link.yaml is outside the repository"
    assert outside.read_text() == PRODUCTION


def test_a_whole_write_ends_within_its_deadline_however_the_remote_crawls(
    ci: Person, git_remote: str, git_server: GitHTTPServer, tmp_path: Path
) -> None:
    """Each answer of the remote 1.5 s late: every git command would finish in its own timeout, but
    the write as a whole does not fit in 4 s; it fails, in time and with a message, and succeeds later."""

    promoted = ci.log()[0].split()[0]
    bad = ci.commit("apps/web/staging/deployment.yaml", deployment("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    proxy = FaultProxy(("127.0.0.1", git_server.port), delay=1.5).start()
    try:
        url = git_remote.replace(f"127.0.0.1:{git_server.port}", proxy.address)
        proxy.set(Mode.SLOW)
        slow = GitOpsWriter(tmp_path / "gitops", lambda ns, name: None, command_timeout=30, write_deadline=4)
        outcome = slow.write("staging", "web", spec(url), revert(promoted, bad))
        assert outcome.record is None
        assert outcome.error is not None
        # The command that was cut off was given what was left of the 4 s, not its own 30 s.
        limit = re.search(r"did not finish within ([0-9.]+)s", outcome.error)
        assert limit is not None or "ran out of time" in outcome.error, outcome.error
        assert limit is None or float(limit.group(1)) <= 4
        proxy.set(Mode.OPEN)
        again = slow.write("staging", "web", spec(url), revert(promoted, bad))
        assert again.record is not None
        assert again.record.result == "committed"
    finally:
        proxy.stop()

"""The Git write-back primitives against the loopback smart-HTTP remote, read back with plain git:
the commits behind a failed revision are reverted in one commit with trailers while an unrelated
commit survives, a rejected push is rebased and retried (never forced), a second controller finds the
first one's commit by its trailers (also when it pushed the same verdict while we were pushing ours), a
conflicting revert is refused naming the files, a push the remote refuses (a hook) is an error to retry
rather than a moving branch, a remote that hangs or crawls is given up within the deadlines, and wrong
credentials fail without showing the password."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from canary.adapters.gitops.repository import (
    AlreadyWritten,
    Author,
    Credentials,
    GitError,
    GitTimeout,
    PushRejected,
    Repository,
    RevertConflict,
    commit_message,
)
from controlplane.faults import FaultProxy, Mode
from controlplane.gitserver import ENV, GitHTTPServer, Person, git


@pytest.fixture
def ci(git_remote: str, tmp_path: Path) -> Person:
    person = Person(git_remote, tmp_path / "ci")
    person.commit("apps/shop/deploy.yaml", "image: shop:1.0.0\n", "shop 1.0.0")
    person.commit("apps/cart/deploy.yaml", "image: cart:1.0.0\n", "cart 1.0.0")
    return person


TRAILERS = {"Canary": "prod/shop", "Canary-Revision": "7d9f", "Canary-Verdict": "rolled-back"}


def test_revert_the_failed_revision_keeping_an_unrelated_commit(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    promoted = git(ci.dir, "rev-parse", "HEAD").strip()
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    ci.commit("apps/cart/deploy.yaml", "image: cart:1.0.1\n", "cart 1.0.1 (unrelated)")

    repo = Repository(git_remote, tmp_path / "controller" / "repo")
    repo.sync()
    assert repo.touching("apps/shop", promoted) == [bad]
    message = commit_message("Roll back shop to 1.0.0", "request-success-rate 97.2 < 99", TRAILERS)
    repo.revert([bad], message)
    pushed = repo.push()

    git(ci.dir, "pull", "--quiet", "origin", "main")
    assert git(ci.dir, "rev-parse", "HEAD").strip() == pushed
    assert (ci.dir / "apps/shop/deploy.yaml").read_text() == "image: shop:1.0.0\n"
    assert (ci.dir / "apps/cart/deploy.yaml").read_text() == "image: cart:1.0.1\n"
    trailers = git(ci.dir, "log", "-1", "--format=%(trailers:key=Canary-Verdict,valueonly)").strip()
    assert trailers == "rolled-back"
    assert git(ci.dir, "log", "-1", "--format=%an <%ae>").strip() == "canary <canary@canary.dev>"


def test_a_rejected_push_is_rebased_and_retried_never_forced(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    repo = Repository(git_remote, tmp_path / "controller" / "repo")
    repo.sync()
    repo.revert([bad], commit_message("Roll back shop", "", TRAILERS))
    other = ci.commit("apps/cart/deploy.yaml", "image: cart:2.0.0\n", "cart 2.0.0 pushed meanwhile")
    pushed = repo.push()
    git(ci.dir, "pull", "--quiet", "origin", "main")
    history = git(ci.dir, "log", "--format=%H %s").splitlines()
    assert history[0] == f"{pushed} Roll back shop"
    assert history[1].startswith(other)  # the other push survived: rebased on top, not forced over it
    assert (ci.dir / "apps/cart/deploy.yaml").read_text() == "image: cart:2.0.0\n"


def test_a_push_the_remote_refuses_is_an_error_not_a_moving_branch(
    ci: Person, git_remote: str, git_server: GitHTTPServer, tmp_path: Path
) -> None:
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    hook = git_server.root / git_remote.rsplit("/", 1)[1] / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen for the release' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = Repository(git_remote, tmp_path / "controller" / "repo")
    repo.sync()
    repo.revert([bad], commit_message("Roll back shop", "", TRAILERS))
    with pytest.raises(GitError) as refused:
        repo.push()
    assert not isinstance(refused.value, PushRejected)  # not retried as a moving branch, nor a conflict
    assert "frozen for the release" in str(refused.value)
    hook.unlink()
    pushed = repo.push()  # the remote takes it once it accepts pushes again
    assert git(ci.dir, "ls-remote", "origin", "main").split()[0] == pushed


def test_the_same_verdict_pushed_meanwhile_by_another_writer_is_found_not_repeated(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    one = Repository(git_remote, tmp_path / "one" / "repo")
    # Another author: the same revert by the same author in the same second is the very same commit.
    two = Repository(git_remote, tmp_path / "two" / "repo", author=Author("canary-b", "b@canary.dev"))
    for repo in (one, two):
        repo.sync()
        assert repo.find(TRAILERS) is None
        repo.revert([bad], commit_message("Roll back shop", "", TRAILERS))
    first = one.push(trailers=TRAILERS)
    with pytest.raises(AlreadyWritten) as found:
        two.push(trailers=TRAILERS)
    assert found.value.commit == first
    git(ci.dir, "pull", "--quiet", "origin", "main")
    assert sum(" Roll back shop" in line for line in git(ci.dir, "log", "--format=%H %s").splitlines()) == 1


def test_a_remote_that_hangs_or_crawls_is_given_up_within_the_deadlines(
    ci: Person, git_remote: str, git_server: GitHTTPServer, tmp_path: Path
) -> None:
    proxy = FaultProxy(("127.0.0.1", git_server.port), delay=2.0).start()
    try:
        url = git_remote.replace(f"127.0.0.1:{git_server.port}", proxy.address)
        proxy.set(Mode.HANG)
        repo = Repository(url, tmp_path / "hang" / "repo", command_timeout=1.5)
        with pytest.raises(GitTimeout, match=r"did not finish within 1\.5s"):
            repo.sync()
        proxy.set(Mode.SLOW)  # every answer 2 s late: each command fits in 30 s, the write in 3 s does not
        slow = Repository(url, tmp_path / "slow" / "repo", command_timeout=30, deadline=time.monotonic() + 3)
        with pytest.raises(GitTimeout):
            slow.sync()
        proxy.set(Mode.OPEN)
        assert Repository(url, tmp_path / "open" / "repo", command_timeout=30).sync()
    finally:
        proxy.stop()


def test_a_copy_cut_off_at_any_point_is_usable_by_the_next_write(
    ci: Person, git_remote: str, git_server: GitHTTPServer, tmp_path: Path
) -> None:
    """The next write reuses the working copy a cut-off write left: a clone killed while the remote
    hung, a fetch killed the same way (its lock files stay), and a copy with no commit or remote."""
    tip = git(ci.dir, "rev-parse", "HEAD").strip()
    proxy = FaultProxy(("127.0.0.1", git_server.port), delay=2.0).start()
    try:
        url = git_remote.replace(f"127.0.0.1:{git_server.port}", proxy.address)
        workdir = tmp_path / "copy" / "repo"
        proxy.set(Mode.HANG)
        with pytest.raises(GitTimeout):
            Repository(url, workdir, command_timeout=1.0).sync()
        proxy.set(Mode.OPEN)
        assert Repository(url, workdir).sync() == tip

        moved = ci.commit("apps/shop/deploy.yaml", "image: shop:1.0.1\n", "shop 1.0.1")
        proxy.set(Mode.HANG)
        with pytest.raises(GitTimeout):
            Repository(url, workdir, command_timeout=1.0).sync()
        (workdir / ".git" / "index.lock").write_text("")  # as a reset killed mid-way leaves it
        proxy.set(Mode.OPEN)
        assert Repository(url, workdir).sync() == moved
    finally:
        proxy.stop()

    bare = tmp_path / "bare" / "repo"
    bare.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(bare)], check=True, env=ENV)
    assert Repository(git_remote, bare).sync() == moved


def test_a_second_controller_finds_the_first_ones_commit(ci: Person, git_remote: str, tmp_path: Path) -> None:
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    first = Repository(git_remote, tmp_path / "one" / "repo")
    first.sync()
    first.revert([bad], commit_message("Roll back shop", "", TRAILERS))
    pushed = first.push()
    # ... and dies before recording it.  Its successor looks before writing.
    second = Repository(git_remote, tmp_path / "two" / "repo")
    second.sync()
    assert second.find(TRAILERS) == pushed
    assert second.find({**TRAILERS, "Canary-Revision": "other"}) is None
    assert second.trailers(pushed) == TRAILERS
    with pytest.raises(GitError, match="already undone"):
        second.revert([bad], "again")


def test_a_conflicting_revert_names_the_files_and_leaves_a_clean_copy(
    ci: Person, git_remote: str, tmp_path: Path
) -> None:
    bad = ci.commit("apps/shop/deploy.yaml", "image: shop:1.1.0\n", "shop 1.1.0")
    ci.commit("apps/shop/deploy.yaml", "image: shop:1.2.0\n", "shop 1.2.0 by hand")
    repo = Repository(git_remote, tmp_path / "controller" / "repo")
    tip = repo.sync()
    with pytest.raises(RevertConflict) as raised:
        repo.revert([bad], "Roll back")
    assert raised.value.files == ["apps/shop/deploy.yaml"]
    assert raised.value.commits == [bad]
    assert repo.head() == tip
    assert git(repo.workdir, "status", "--porcelain") == ""


@pytest.fixture
def private_remote(tmp_path: Path) -> Iterator[tuple[GitHTTPServer, str]]:
    server = GitHTTPServer(tmp_path / "private", credentials=("bot", "s3cr3t-pass"))
    (tmp_path / "private").mkdir()
    server.start()
    url = server.create_repo("config")
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(seed)], env=ENV, check=True)
    (seed / "a.yaml").write_text("a: 1\n")
    git(seed, "add", "a.yaml")
    git(seed, "commit", "--quiet", "-m", "seed")
    authed = url.replace("http://", "http://bot:s3cr3t-pass@")
    git(seed, "push", "--quiet", authed, "HEAD:main")
    yield server, url
    server.stop()


def test_credentials_work_and_never_show(private_remote: tuple[GitHTTPServer, str], tmp_path: Path) -> None:
    _, url = private_remote
    wrong = Repository(url, tmp_path / "wrong" / "repo", credentials=Credentials("bot", "not-it"))
    with pytest.raises(GitError) as raised:
        wrong.sync()
    assert "not-it" not in str(raised.value)
    right = Repository(url, tmp_path / "right" / "repo", credentials=Credentials("bot", "s3cr3t-pass"))
    right.sync()
    (right.workdir / "a.yaml").write_text("a: 2\n")
    right.git("commit", "--quiet", "-am", "change")
    right.push()
    config = (right.workdir / ".git" / "config").read_text()
    assert "s3cr3t-pass" not in config  # nothing written to disk
    assert "s3cr3t-pass" not in repr(right.credentials)

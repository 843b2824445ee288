"""The loopback git remote speaks smart HTTP: a push from one clone is visible in another, and an
authenticated server refuses anonymous pushes and accepts the right credentials."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.gitserver import GitHTTPServer

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


def git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=check)


def test_push_is_visible_in_a_second_clone(git_remote: str, tmp_path: Path) -> None:
    assert git_remote.startswith("http://127.0.0.1:")
    first, second = tmp_path / "first", tmp_path / "second"
    git("clone", "--quiet", git_remote, str(first))
    (first / "app.yaml").write_text("image: podinfo:6.0.0\n")
    git("add", "app.yaml", cwd=first)
    git("commit", "--quiet", "-m", "deploy podinfo 6.0.0", cwd=first)
    git("push", "--quiet", "origin", "HEAD:main", cwd=first)
    sha = git("rev-parse", "HEAD", cwd=first).stdout.strip()

    git("clone", "--quiet", git_remote, str(second))
    assert git("rev-parse", "HEAD", cwd=second).stdout.strip() == sha
    assert (second / "app.yaml").read_text() == "image: podinfo:6.0.0\n"

    # a second push (a fast-forward on top) is fetched by the second clone
    (first / "app.yaml").write_text("image: podinfo:6.0.1\n")
    git("commit", "--quiet", "-am", "bump", cwd=first)
    git("push", "--quiet", "origin", "HEAD:main", cwd=first)
    git("pull", "--quiet", "--ff-only", cwd=second)
    assert (second / "app.yaml").read_text() == "image: podinfo:6.0.1\n"


def test_large_push_is_sent_chunked_and_arrives_whole(git_remote: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    git("clone", "--quiet", git_remote, str(work))
    blob = bytes(range(256)) * 16384  # 4 MiB of incompressible-ish data: beyond git's 1 MiB post buffer
    (work / "blob.bin").write_bytes(blob)
    git("add", "blob.bin", cwd=work)
    git("commit", "--quiet", "-m", "big", cwd=work)
    git("-c", "http.postBuffer=65536", "push", "--quiet", "origin", "HEAD:main", cwd=work)
    other = tmp_path / "other"
    git("clone", "--quiet", git_remote, str(other))
    assert (other / "blob.bin").read_bytes() == blob


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[GitHTTPServer]:
    server = GitHTTPServer(tmp_path / "remotes", credentials=("deploy-bot", "s3cret-token"))
    (tmp_path / "remotes").mkdir()
    server.start()
    yield server
    server.stop()


def test_authenticated_remote_refuses_anonymous_and_accepts_credentials(
    private_server: GitHTTPServer, tmp_path: Path
) -> None:
    url = private_server.create_repo("private")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/info/refs?service=git-upload-pack", timeout=10)  # noqa: S310
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Basic ")
    refused.value.close()
    assert git("clone", "--quiet", url, str(tmp_path / "anon"), check=False).returncode != 0

    authed = url.replace("http://", "http://deploy-bot:s3cret-token@")
    work = tmp_path / "work"
    git("clone", "--quiet", authed, str(work))
    (work / "README").write_text("hello\n")
    git("add", "README", cwd=work)
    git("commit", "--quiet", "-m", "first", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    wrong = url.replace("http://", "http://deploy-bot:wrong@")
    assert git("ls-remote", wrong, check=False).returncode != 0
    assert "refs/heads/main" in git("ls-remote", authed).stdout.split()

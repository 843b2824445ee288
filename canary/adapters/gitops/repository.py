"""A Git repository the controller writes to: clone or fetch, find the commits behind a revision,
revert them in one commit with machine-readable trailers, and push without ever forcing.

Who calls this: the GitOps write-back (issue 6).  It runs the ``git`` program (no shell, no
library), with an environment of its own: no user or system configuration, no prompts, and the
credentials passed so that they never appear on a command line, in a URL written to disk, in a log
or in an error:

* https with a username and a password or token: an ``Authorization: Basic`` header given to git
  through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` (environment, not argv);
* ssh: the private key and known_hosts written to files only this process can read, used through
  ``GIT_SSH_COMMAND`` with strict host key checking.

Exactly once: ``find`` looks for a commit whose trailers match (for example ``Canary`` and
``Canary-Revision``) before the caller makes a new one, so a controller that died between its push
and its status update finds its own commit instead of pushing a second.

A rejected push (someone else pushed first) is fetched, rebased onto the new tip and pushed again,
a few times; a rebase that conflicts is given up (the working copy is reset), never forced.  If the
new tip already holds a commit with the same trailers (another replica made the same write in the
meantime), ours is dropped and that one is returned (``AlreadyWritten``): still exactly once.

Deadlines: every git command runs in its own process group and is killed, with its helpers (a
``git-remote-http`` waiting on a remote that accepted the connection and never answers), after
``command_timeout`` seconds, or sooner when the caller's ``deadline`` (monotonic time, for a whole
write) comes first; either is a ``GitTimeout``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: trailer keys are words with dashes, as git interpret-trailers accepts them
_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")


class GitError(Exception):
    """A git command failed; the message is git's (credentials removed), not the command line."""


class RevertConflict(GitError):
    def __init__(self, message: str, commits: list[str], files: list[str]) -> None:
        super().__init__(message)
        self.commits, self.files = commits, files


class PushRejected(GitError):
    """Still rejected after the retries (the branch keeps moving, or a rebase conflicted)."""


class GitTimeout(GitError):
    """A git command did not finish within its timeout or the write's deadline (and was killed)."""


class AlreadyWritten(GitError):
    """The branch already holds a commit with the trailers of the one being pushed."""

    def __init__(self, commit: str) -> None:
        super().__init__(f"commit {commit[:12]} with the same trailers is already on the branch")
        self.commit = commit


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_key: str | None = field(default=None, repr=False)
    known_hosts: str | None = None


@dataclass(frozen=True)
class Author:
    name: str = "canary"
    email: str = "canary@canary.dev"


def commit_message(subject: str, body: str, trailers: Mapping[str, str]) -> str:
    """``subject``, a blank line, ``body``, a blank line and one ``Key: value`` line per trailer."""
    lines = [subject.strip(), ""]
    if body.strip():
        lines += [body.strip(), ""]
    lines += [f"{k}: {' '.join(v.split())}" for k, v in trailers.items()]
    return "\n".join(lines) + "\n"


def _behind(stderr: str) -> bool:
    """Whether a push was rejected only because the branch moved on (rebase and push again), not
    refused by the remote (``[remote rejected] ... (pre-receive hook declined)``)."""
    return "[remote rejected]" not in stderr and ("(fetch first)" in stderr or "(non-fast-forward)" in stderr)


class Repository:
    def __init__(
        self,
        url: str,
        workdir: Path,
        *,
        branch: str = "main",
        credentials: Credentials | None = None,
        author: Author | None = None,
        command_timeout: float = 30.0,
        deadline: float | None = None,
    ) -> None:
        self.url, self.workdir, self.branch = url, workdir, branch
        self.credentials = credentials or Credentials()
        self.author = author or Author()
        self.command_timeout = command_timeout
        #: monotonic time by which the whole write must be done (None: only per command)
        self.deadline = deadline
        self._secrets_dir: Path | None = None

    # ------------------------------------------------------------------------------ running git
    def _env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": self.author.name,
            "GIT_AUTHOR_EMAIL": self.author.email,
            "GIT_COMMITTER_NAME": self.author.name,
            "GIT_COMMITTER_EMAIL": self.author.email,
            "LC_ALL": "C",
        }
        config = [("core.hooksPath", os.devnull), ("commit.gpgSign", "false")]
        c = self.credentials
        if c.password is not None and self.url.startswith(("http://", "https://")):
            basic = base64.b64encode(f"{c.username or 'git'}:{c.password}".encode()).decode()
            config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
        env["GIT_CONFIG_COUNT"] = str(len(config))
        if c.ssh_key is not None:
            env["GIT_SSH_COMMAND"] = self._ssh_command()
        return env

    def _ssh_command(self) -> str:
        if self._secrets_dir is None:
            self._secrets_dir = Path(tempfile.mkdtemp(prefix="canary-git-"))
            key = self._secrets_dir / "key"
            key.write_text((self.credentials.ssh_key or "").strip() + "\n")
            key.chmod(stat.S_IRUSR)
            (self._secrets_dir / "known_hosts").write_text(self.credentials.known_hosts or "")
        d = self._secrets_dir
        return (
            f"ssh -i {d / 'key'} -o IdentitiesOnly=yes -o UserKnownHostsFile={d / 'known_hosts'} "
            "-o StrictHostKeyChecking=yes -o BatchMode=yes"
        )

    def _scrub(self, text: str) -> str:
        for secret in (self.credentials.password, self.credentials.ssh_key):
            if secret:
                text = text.replace(secret, "***")
        return re.sub(r"(https?://[^/\s:@]+):[^@/\s]+@", r"\1:***@", text)

    def git(
        self, *args: str, check: bool = True, cwd: Path | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run git in the working copy (``input`` on its stdin, else none); GitError when it fails and
        ``check``, with the credentials scrubbed from what it said; GitTimeout when it runs out of
        time (it is killed with every process it started)."""
        timeout = self.command_timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise GitTimeout(f"git {args[0]} not started: the write ran out of time")
            timeout = min(timeout, left)
        proc = subprocess.Popen(  # noqa: S603 - git with arguments, no shell
            ["git", *args],  # noqa: S607 - git from the PATH, as the Dockerfile installs it
            cwd=cwd or self.workdir,
            env=self._env(),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a timeout kills git's helpers too
        )
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise GitTimeout(
                f"git {args[0]} did not finish within {timeout:.3g}s (the remote did not answer in time)"
            ) from None
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and done.returncode != 0:
            detail = self._scrub((done.stderr or done.stdout).strip())
            raise GitError(f"git {args[0]} failed: {detail[-600:]}")
        return done

    # ------------------------------------------------------------------------------ reading
    def sync(self) -> str:
        """Make the working copy equal to the remote branch; its tip."""
        if (self.workdir / ".git").exists() and not self._whole():
            shutil.rmtree(self.workdir, ignore_errors=True)
        if not (self.workdir / ".git").exists():
            # A clone cut off by its deadline (the process group is killed, so git cannot clean up)
            # must not leave a copy that looks whole: clone beside it, then rename into place.
            self.workdir.parent.mkdir(parents=True, exist_ok=True)
            partial = self.workdir.with_name(self.workdir.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            self.git(
                "clone", "--quiet", "--no-tags", "--single-branch", "--branch", self.branch, self.url,
                str(partial), cwd=self.workdir.parent,
            )  # fmt: skip
            shutil.rmtree(self.workdir, ignore_errors=True)
            partial.rename(self.workdir)
        else:
            # A git command killed at its deadline leaves its lock files; the caller holds the copy
            # alone, so any lock found now is stale.
            for lock in (self.workdir / ".git").rglob("*.lock"):
                lock.unlink(missing_ok=True)
            # The refspec is explicit so the remote-tracking ref is written whatever the copy's config says.
            tracking = f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
            self.git("fetch", "--quiet", "--no-tags", "origin", tracking)
            self.git("reset", "--quiet", "--hard", f"origin/{self.branch}")
            self.git("clean", "--quiet", "-fdx")
        return self.head()

    def _whole(self) -> bool:
        """Whether the copy has a commit checked out and its remote set (local checks only): a copy
        left by an earlier version's cut-off clone may have neither, and is then cloned afresh."""
        has_head = self.git("rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0
        remote = self.git("remote", "get-url", "origin", check=False)
        return has_head and remote.returncode == 0 and remote.stdout.strip() == self.url

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.strip()

    def touching(self, path: str, since: str | None, until: str = "HEAD") -> list[str]:
        """Commits after ``since`` up to ``until`` that changed ``path``, oldest first."""
        span = f"{since}..{until}" if since else until
        out = self.git("rev-list", "--reverse", "--no-merges", span, "--", path).stdout
        return out.split()

    def exists(self, commit: str) -> bool:
        """Whether ``commit`` is a commit of the working copy's history."""
        return self.git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0

    def subject(self, commit: str) -> str:
        return self.git("log", "-1", "--format=%s", commit).stdout.strip()

    def remote_branch(self, branch: str) -> str | None:
        """The tip of ``branch`` on the remote, fetched into the copy; None when there is no such branch."""
        out = self.git("ls-remote", "--heads", "origin", f"refs/heads/{branch}").stdout.split()
        if not out:
            return None
        self.git("fetch", "--quiet", "--no-tags", "origin", f"refs/heads/{branch}")
        return out[0]

    def checkout(self, commit: str) -> None:
        """Detach the working copy at ``commit`` (for a change proposed on a branch of its own)."""
        self.git("checkout", "--quiet", "--detach", commit)

    def trailers(self, commit: str) -> dict[str, str]:
        out = self.git("log", "-1", "--format=%(trailers:unfold,only)", commit).stdout
        return {m.group(1): m.group(2) for line in out.splitlines() if (m := _TRAILER.match(line.strip()))}

    def find(self, trailers: Mapping[str, str], depth: int = 500, rev: str = "HEAD") -> str | None:
        """The newest of the last ``depth`` commits of ``rev`` whose trailers include all of
        ``trailers``."""
        out = self.git("log", f"-n{depth}", "--format=%H%x00%(trailers:unfold,only)%x1e", rev).stdout
        for record in out.split("\x1e"):
            sha, _, text = record.strip().partition("\x00")
            if not sha:
                continue
            found = {
                m.group(1): m.group(2) for line in text.splitlines() if (m := _TRAILER.match(line.strip()))
            }
            if all(found.get(k) == v for k, v in trailers.items()):
                return sha
        return None

    # ------------------------------------------------------------------------------ writing
    def revert(
        self,
        commits: list[str],
        message: str | Callable[[], str],
        also: Callable[[], list[str]] | None = None,
        only: str | None = None,
    ) -> str:
        """One commit undoing ``commits`` (any order); the new commit.  A conflict resets the copy and
        raises ``RevertConflict`` naming the commits and files.  ``also`` edits the working tree after
        the revert and returns the paths it changed, which go into the same commit; ``message`` may be
        a function, called after ``also``, so that it can tell what ``also`` did.  With ``only`` (a path),
        what those commits changed elsewhere is kept: one CI commit may bump several apps, and only
        this one is rolled back."""
        if not commits:
            raise GitError("nothing to revert")
        ordered = self.git("rev-list", "--no-walk=sorted", *commits).stdout.split()  # newest first
        if only is None:
            ok = self.git("revert", "--no-commit", "--no-edit", *ordered, check=False).returncode == 0
        else:
            ok = all(self._unapply(commit, only) for commit in ordered)
        if not ok:
            files = self.git("diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
            self.git("revert", "--abort", check=False)
            self.git("reset", "--quiet", "--hard", "HEAD")
            shown = ", ".join(c[:12] for c in ordered)
            raise RevertConflict(
                f"reverting {shown} conflicts in {', '.join(files) or 'the tree'}",
                ordered,
                files,
            )
        if also is not None:
            self.add(also())
        if self.git("diff", "--cached", "--quiet", check=False).returncode == 0:  # no staged change
            raise GitError("the revert changes nothing: those commits are already undone")
        return self._commit(message if isinstance(message, str) else message())

    def _unapply(self, commit: str, path: str) -> bool:
        """Stage the reverse of what ``commit`` changed under ``path`` (a three-way merge, as revert
        does); False on a conflict."""
        patch = self.git("diff", "--binary", commit, f"{commit}^", "--", path).stdout
        if not patch:
            return True
        return self.git("apply", "--3way", "--index", "-", input=patch, check=False).returncode == 0

    def add(self, paths: list[str]) -> None:
        if paths:
            self.git("add", "--", *paths)

    def commit(self, paths: list[str], message: str) -> str:
        """Commit the changes to ``paths`` (relative to the root); the new commit."""
        self.add(paths)
        return self._commit(message)

    def _commit(self, message: str) -> str:
        self.git("commit", "--quiet", "--no-verify", "-F", "-", input=message)
        return self.head()

    def push(self, attempts: int = 5, trailers: Mapping[str, str] | None = None) -> str:
        """Push HEAD to the branch; on a rejection fetch, rebase onto the new tip and try again.  With
        ``trailers``: if the new tip holds a commit with them, raise AlreadyWritten instead."""
        for _ in range(attempts):
            done = self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", check=False)
            if done.returncode == 0:
                return self.head()
            text = done.stderr
            if not _behind(text):  # a refusal of the remote's own (a hook, a protected branch): retried later
                raise GitError(f"git push failed: {self._scrub(text.strip())[-600:]}")
            self.git("fetch", "--quiet", "--no-tags", "origin", self.branch)
            found = self.find(trailers, rev=f"origin/{self.branch}") if trailers else None
            if found is not None:
                self.git("reset", "--quiet", "--hard", f"origin/{self.branch}")
                raise AlreadyWritten(found)
            rebased = self.git("rebase", "--quiet", f"origin/{self.branch}", check=False)
            if rebased.returncode != 0:
                self.git("rebase", "--abort", check=False)
                self.git("reset", "--quiet", "--hard", f"origin/{self.branch}")
                raise PushRejected("the branch moved and the commit no longer applies on top of it")
        raise PushRejected(f"the push was rejected {attempts} times: the branch keeps moving")

    def push_branch(self, branch: str) -> str:
        """Push HEAD as ``branch`` (a new branch for a pull request).  An existing branch is moved only
        forward: a rejection is an error, never a force push."""
        done = self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", check=False)
        if done.returncode != 0:
            raise GitError(f"git push of branch {branch} failed: {self._scrub(done.stderr.strip())[-600:]}")
        return self.head()

    def close(self) -> None:
        if self._secrets_dir is not None:
            shutil.rmtree(self._secrets_dir, ignore_errors=True)
            self._secrets_dir = None

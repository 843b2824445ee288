"""The Git write-back: a rolled-back revision reverted in Git, a promoted one carried to the next
environment, each exactly once, as a commit on the branch or as a pull request.

Who calls this: the operator's Git lane (``canary.operator.outbox``), for the ``WriteGit`` actions of
the decision core, with the ``GitWrite`` it owes (``status.gitops.pending``), after the tick's routing
and status patch.  What it returns: a ``GitOutcome``, either a record of what was done (committed, a
pull request, nothing to do, or needs a person) or an error, which the core keeps and retries on the
next interval.  A whole write has a deadline (``write_deadline``), and so has each git command and
each request to the forge: a remote that hangs makes the write fail in time, and be retried.

How each write goes:

* **Exactly once.** Every commit carries trailers (``Canary``, ``Canary-Revision``, ``Canary-Verdict``);
  before writing, the branch (or the pull request's branch) is searched for them.  A controller that
  died between its push and its status update finds its own commit and records it.
* **Revert.** The commits after the last promoted one (``since_revision``) up to the failed one
  (``git_revision``) that touched ``spec.gitops.path`` are undone in one commit, oldest intent kept:
  an unrelated commit in between (another path) survives.  In the same commit, the failed image tags
  are added to the exclusion list of any Flux ImageRepository in the repository that watches those
  images, so image automation does not bring them back.  A rejected push is rebased and retried; a
  revert that conflicts (someone changed the same lines since) becomes a pull request when a forge
  is configured (the revert is made on top of the failed commit, where it applies, and the forge
  shows the conflict to resolve), or a "needs attention" record naming the commits and files.  Never
  a force push.
* **Promote.** The promoted images are written into the next environment's manifests (Deployments,
  or ``images:`` of a kustomization.yaml), comments and formatting kept, and committed (or proposed).
* **Credentials** come from the Secret only (Flux's keys), go to git through its environment and to
  the forge in a header, and never appear in a message this module returns.

One working copy per repository and branch under ``workdir``, behind a lock, so two canaries writing
to one repository take turns instead of racing on the same files.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canary.adapters.gitops import helmvalues, manifests
from canary.adapters.gitops.forge import Forge, ForgeError, commit_url, forge_for
from canary.adapters.gitops.repository import (
    AlreadyWritten,
    Author,
    Credentials,
    GitError,
    PushRejected,
    Repository,
    RevertConflict,
    commit_message,
)
from canary.adapters.kube.secrets import secret_values
from canary.core.observations import GitOutcome
from canary.models.gitops import (
    Environment,
    ForgeSpec,
    GitOpsSpec,
    GitRepositorySpec,
    GitWrite,
    GitWriteKind,
    GitWriteRecord,
    OnRollback,
    Promotion,
    WriteMode,
)

log = logging.getLogger(__name__)

#: (namespace, name) -> the Secret object, or None when there is none
ReadSecret = Callable[[str, str], Mapping[str, Any] | None]
#: (forge settings, repository URL, token, timeout in seconds) -> a forge client
ForgeFactory = Callable[[ForgeSpec, str, str, float], Forge]

SECRET_KEYS = ("username", "password", "bearerToken", "identity", "known_hosts")
VERDICT = {GitWriteKind.REVERT: "rolled-back", GitWriteKind.PROMOTE: "promoted"}


def default_forge(spec: ForgeSpec, repository_url: str, token: str, timeout: float) -> Forge:
    return forge_for(
        spec.provider, spec.api_url, repository_url, token, project=spec.project, timeout=timeout
    )


def _exclude(text: str, *, repository: str, tag: str) -> manifests.Edit:
    # The whole repository is searched; only files that can hold an ImageRepository are parsed (a Helm
    # template elsewhere is not YAML, and is none of our business).
    if "ImageRepository" not in text:
        return manifests.Edit(text)
    return manifests.exclude_tag(text, repository, tag)


class NeedsAttention(Exception):
    """The write cannot be done automatically; the message says what a person must do."""


@dataclass(frozen=True)
class _Job:
    namespace: str
    name: str
    spec: GitOpsSpec
    write: GitWrite
    #: monotonic time by which the whole write must be done
    deadline: float
    #: a write asked for by hand: where it goes (else the spec's next environment)
    target: Promotion | None = None
    #: trailers that, with the usual ones, make the write's identity (searched before writing)
    identity: Mapping[str, str] = field(default_factory=dict)
    #: who asked for a write by hand (the Canary-By trailer)
    by: str | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def trailers(self) -> dict[str, str]:
        return {
            "Canary": f"{self.namespace}/{self.name}",
            "Canary-Revision": self.write.revision,
            "Canary-Verdict": VERDICT[self.write.kind],
            **self.identity,
        }

    def branch(self) -> str:
        kind = "rollback" if self.write.kind is GitWriteKind.REVERT else "promote"
        if self.by is not None:
            kind += "-by-hand"
        return f"canary/{kind}/{self.namespace}/{self.name}-{self.write.revision[:16]}"


class GitOpsWriter:
    def __init__(
        self,
        workdir: Path,
        read_secret: ReadSecret,
        *,
        forge_factory: ForgeFactory = default_forge,
        command_timeout: float = 30.0,
        write_deadline: float = 120.0,
        forge_timeout: float = 15.0,
    ) -> None:
        self.workdir = workdir
        self.read_secret = read_secret
        self.forge_factory = forge_factory
        self.command_timeout = command_timeout
        self.write_deadline = write_deadline
        self.forge_timeout = forge_timeout
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    # ------------------------------------------------------------------------------ entry point
    def write(self, namespace: str, name: str, spec: GitOpsSpec, write: GitWrite) -> GitOutcome:
        """Make ``write`` (or find it made) within ``write_deadline``; never raises for a failure of the
        remote or the forge."""
        job = _Job(namespace, name, spec, write, time.monotonic() + self.write_deadline)
        return self._attempt(job, self._revert if write.kind is GitWriteKind.REVERT else self._promote)

    def promote_by_hand(
        self,
        namespace: str,
        name: str,
        spec: GitOpsSpec,
        *,
        target: Promotion,
        images: Mapping[str, str],
        revision: str,
        by: str,
        evidence: str,
    ) -> GitOutcome:
        """``canary promote --env``: write ``images`` (what the Canary's primary runs, revision
        ``revision``) into ``target``, as the chain would, with ``by`` in a Canary-By trailer.  The
        same promotion already in Git (by hand or by the controller) is found, not written twice."""
        write = GitWrite(kind=GitWriteKind.PROMOTE, revision=revision, images=dict(images), reason=evidence)
        identity = {"Canary-Environment": _environment_name(target) or target.path}
        job = _Job(namespace, name, spec, write, time.monotonic() + self.write_deadline, target, identity, by)
        return self._attempt(job, self._promote)

    def release_by_hand(
        self, namespace: str, name: str, spec: GitOpsSpec, *, target: Promotion, commit: str, by: str
    ) -> GitOutcome:
        """``canary release --env --revision``: make ``target``'s path what it was at ``commit``
        (any file type: the path's files are restored), as one commit (or pull request) carrying the
        trailers, ``by`` in Canary-By."""
        write = GitWrite(
            kind=GitWriteKind.PROMOTE, revision=f"release-{commit[:16]}", git_revision=commit, reason=""
        )
        identity = {
            "Canary-Verdict": "released",
            "Canary-Environment": _environment_name(target) or target.path,
        }
        job = _Job(namespace, name, spec, write, time.monotonic() + self.write_deadline, target, identity, by)
        return self._attempt(job, self._release)

    def _attempt(self, job: _Job, run: Callable[[_Job], GitWriteRecord]) -> GitOutcome:
        write = job.write
        try:
            record = run(job)
        except NeedsAttention as e:
            record = GitWriteRecord(
                kind=write.kind, revision=write.revision, result="needsAttention", message=str(e)
            )
        except (GitError, ForgeError, manifests.ManifestError, OSError) as e:
            return GitOutcome(error=str(e)[:1000])
        log.info("Git %s of %s/%s: %s", write.kind.value, job.namespace, job.name, record.message)
        forge = job.spec.forge
        if record.result == "committed" and record.commit and forge is not None:
            target = job.target or job.spec.next_environment()
            repository = job.spec.repository
            if write.kind is GitWriteKind.PROMOTE and target is not None and target.repository is not None:
                repository = target.repository
            url = commit_url(forge.provider, forge.api_url, repository.url, record.commit, forge.project)
            record = record.model_copy(update={"url": url})
        return GitOutcome(record)

    # ------------------------------------------------------------------------------ plumbing
    def _credentials(self, namespace: str, repository: GitRepositorySpec) -> tuple[Credentials, str | None]:
        if repository.secret_ref is None:
            return Credentials(), None
        secret = self.read_secret(namespace, repository.secret_ref.name)
        if secret is None:
            raise GitError(
                f"spec.gitops: Secret {namespace}/{repository.secret_ref.name} (secretRef) not found"
            )
        v = secret_values(secret, SECRET_KEYS)
        creds = Credentials(
            username=v.get("username"),
            password=v.get("password") or v.get("bearerToken"),
            ssh_key=v.get("identity"),
            known_hosts=v.get("known_hosts"),
        )
        return creds, v.get("bearerToken") or v.get("password")

    def _open(self, job: _Job, repository: GitRepositorySpec) -> tuple[Repository, str | None]:
        creds, token = self._credentials(job.namespace, repository)
        key = hashlib.sha256(f"{repository.url}\0{repository.branch}".encode()).hexdigest()[:16]
        author = Author(repository.author.name, repository.author.email) if repository.author else Author()
        repo = Repository(
            repository.url,
            self.workdir / key / "repo",
            branch=repository.branch,
            credentials=creds,
            author=author,
            command_timeout=self.command_timeout,
            deadline=job.deadline,
        )
        return repo, token

    @contextlib.contextmanager
    def _checkout(self, job: _Job, repository: GitRepositorySpec) -> Iterator[tuple[Repository, str | None]]:
        """The repository's working copy, synced with the remote, held alone (one lock per copy), and
        the forge token; its credentials are removed afterwards.  Waiting for the copy counts against
        the write's deadline."""
        repo, token = self._open(job, repository)
        with self._guard:
            lock = self._locks.setdefault(repo.workdir, threading.Lock())
        if not lock.acquire(timeout=max(job.left(), 0.0)):
            raise GitError("the working copy stayed busy with another write until this write's deadline")
        try:
            try:
                repo.sync()
                yield repo, token
            finally:
                repo.close()
        finally:
            lock.release()

    def _forge(self, job: _Job, repository: GitRepositorySpec, token: str | None) -> Forge:
        if job.spec.forge is None:
            raise NeedsAttention("no spec.gitops.forge to open a pull request with")
        if not token:
            raise GitError("spec.gitops.forge: the Secret has no bearerToken or password for the forge's API")
        left = job.left()
        if left <= 0:
            raise GitError("the pull request was not opened: the write ran out of time")
        return self.forge_factory(job.spec.forge, repository.url, token, min(self.forge_timeout, left))

    def _propose(
        self,
        job: _Job,
        repo: Repository,
        repository: GitRepositorySpec,
        token: str | None,
        *,
        title: str,
        body: str,
    ) -> GitWriteRecord:
        """Push HEAD as the job's branch and open (or find) its pull request."""
        forge = self._forge(job, repository, token)
        branch = job.branch()
        try:
            tip = repo.remote_branch(branch)
            if tip is not None and all(repo.trailers(tip).get(k) == v for k, v in job.trailers.items()):
                commit = tip  # pushed before a restart: propose what is there
            else:
                commit = repo.push_branch(branch)
            pr = forge.open_pull_request(head=branch, base=repository.branch, title=title, body=body)
        finally:
            forge.close()
        verb = "Opened" if pr.created else "Found open"
        return GitWriteRecord(
            kind=job.write.kind,
            revision=job.write.revision,
            result="pullRequest",
            commit=commit,
            pull_request=pr.url,
            message=f"{verb} pull request {pr.url} ({branch} into {repository.branch}): {title}",
        )

    def _found(self, job: _Job, repo: Repository, branch: str) -> GitWriteRecord | None:
        commit = repo.find(job.trailers)
        if commit is None:
            return None
        return GitWriteRecord(
            kind=job.write.kind,
            revision=job.write.revision,
            result="committed",
            commit=commit,
            message=f"Found commit {commit[:12]} on {branch} made earlier for this verdict: "
            f"{repo.subject(commit)}",
        )

    def _found_after_race(self, job: _Job, commit: str, repo: Repository) -> GitWriteRecord:
        """Another writer (a replica that led before) pushed this very verdict while we made ours."""
        return GitWriteRecord(
            kind=job.write.kind,
            revision=job.write.revision,
            result="committed",
            commit=commit,
            message=f"Found commit {commit[:12]} pushed meanwhile for this verdict: {repo.subject(commit)}",
        )

    # ------------------------------------------------------------------------------ revert
    def _revert(self, job: _Job) -> GitWriteRecord:
        with self._checkout(job, job.spec.repository) as (repo, token):
            found = self._found(job, repo, job.spec.repository.branch)
            return found if found is not None else self._revert_in(job, repo, token)

    def _revert_in(self, job: _Job, repo: Repository, token: str | None) -> GitWriteRecord:
        spec, write = job.spec, job.write
        if write.since_revision is None or not repo.exists(write.since_revision):
            raise NeedsAttention(
                "The commit of the last promoted spec is unknown "
                f"({write.since_revision or 'none recorded'}): revert the commits to {spec.path} since "
                "the last good release by hand (spec.gitops.revisionFrom found no revision when it was "
                "promoted)"
            )
        until = write.git_revision if write.git_revision and repo.exists(write.git_revision) else "HEAD"
        commits = repo.touching(spec.path, write.since_revision, until)
        if not commits:
            return GitWriteRecord(
                kind=write.kind,
                revision=write.revision,
                result="nothingToDo",
                message=f"No commit after {write.since_revision[:12]} changed {spec.path}: Git already "
                f"describes the promoted version",
            )
        listed = [f"  {c[:12]} {repo.subject(c)}" for c in commits]
        excluded: list[str] = []

        def quarantine() -> list[str]:
            changed: list[str] = []
            for image in sorted(set((write.images or {}).values())):
                ref = manifests.split_image(image)
                if not ref.tag:
                    continue
                exclude = functools.partial(_exclude, repository=ref.repository, tag=ref.tag)
                for path, edit in manifests.edit_tree(repo.workdir, ".", exclude):
                    changed.append(str(path))
                    excluded.extend(edit.changed)
            return changed

        subject = (
            f"Roll back {job.namespace}/{job.name}: revert {len(commits)} commit"
            f"{'s' if len(commits) != 1 else ''} to {spec.path}"
        )

        def message() -> str:
            body = [
                f"Canary {job.namespace}/{job.name} rolled back revision {write.revision}: {write.reason}",
                "",
                "Reverted:",
                *listed,
            ]
            if excluded:
                body += ["", "Excluded from image automation:", *(f"  {e}" for e in excluded)]
            return commit_message(subject, "\n".join(body), _revert_trailers(job))

        try:
            repo.revert(commits, message, also=quarantine, only=spec.path)
            if spec.on_rollback is OnRollback.PULL_REQUEST:
                return self._propose(job, repo, spec.repository, token, title=subject, body=message())
            commit = repo.push(trailers=job.trailers)
        except AlreadyWritten as e:
            return self._found_after_race(job, e.commit, repo)
        except (RevertConflict, PushRejected) as e:
            return self._conflicted(job, repo, token, commits, until=until, why=str(e))
        return GitWriteRecord(
            kind=write.kind,
            revision=write.revision,
            result="committed",
            commit=commit,
            message=f"Reverted {len(commits)} commit{'s' if len(commits) != 1 else ''} to {spec.path} in "
            f"{commit[:12]} on {spec.repository.branch}: {subject}",
        )

    def _conflicted(
        self, job: _Job, repo: Repository, token: str | None, commits: list[str], *, until: str, why: str
    ) -> GitWriteRecord:
        """The revert does not apply on the branch's tip: propose it from the failed commit, where it
        does, or ask a person."""
        spec = job.spec
        shown = " ".join(c[:12] for c in commits)
        if spec.forge is None:
            raise NeedsAttention(
                f"The revert needs a person: {why}. Revert {shown} on {spec.repository.branch} by hand "
                f"(git revert {shown}), resolve the conflict and push; no forge is configured for a pull "
                "request"
            )
        repo.sync()
        repo.checkout(until)
        title = f"Roll back {job.namespace}/{job.name}: revert {shown} (conflicts: {why})"
        body = commit_message(
            title,
            f"Canary {job.namespace}/{job.name} rolled back revision {job.write.revision}: "
            f"{job.write.reason}\n\nThe revert conflicts with later changes on {spec.repository.branch}; "
            "resolve it in this pull request.",
            _revert_trailers(job),
        )
        try:
            repo.revert(commits, body, only=spec.path)
        except RevertConflict as e:
            raise NeedsAttention(f"The revert needs a person: {e}. Revert {shown} by hand") from e
        return self._propose(job, repo, spec.repository, token, title=title, body=body)

    # ------------------------------------------------------------------------------ promote
    def _promote(self, job: _Job) -> GitWriteRecord:
        spec, write = job.spec, job.write
        target = job.target or spec.next_environment()
        if target is None:
            raise NeedsAttention(
                "spec.gitops has no next environment any more: the promotion was not written"
            )
        repository = target.repository or spec.repository
        env = _environment_name(target)
        trailers = {**job.trailers, "Canary-Environment": env or target.path}
        if spec.environment is not None:
            trailers["Canary-From-Environment"] = spec.environment
        if job.by is not None:
            trailers["Canary-By"] = job.by
        with self._checkout(job, repository) as (repo, token):
            found = self._found(job, repo, repository.branch)
            if found is not None:
                return found
            images = dict(write.images or {})
            edits, places = _write_images(repo.workdir, target, images)
            shown = ", ".join(sorted(set(images.values())))
            if not edits:
                if not places:
                    raise NeedsAttention(
                        f"Nothing in {target.path} holds {shown}: no container image, kustomization images "
                        "entry or Helm values key (promote.helmValues) names these repositories"
                    )
                return GitWriteRecord(
                    kind=write.kind,
                    revision=write.revision,
                    result="nothingToDo",
                    message=f"{target.path} already runs {shown}",
                )
            changes = [c for _, e in edits for c in e.changed]
            place = _place(target)
            subject = f"Promote {job.namespace}/{job.name} to {place}: {shown}"
            body = f"{write.reason}\n\n" + "\n".join(f"  {c}" for c in changes)
            message = commit_message(subject, body, trailers)
            repo.commit([str(p) for p, _ in edits], message)
            if target.mode is WriteMode.PULL_REQUEST:
                return self._propose(job, repo, repository, token, title=subject, body=message)
            try:
                commit = repo.push(trailers=job.trailers)
            except AlreadyWritten as e:
                return self._found_after_race(job, e.commit, repo)
            except PushRejected as e:
                raise NeedsAttention(f"The promotion commit no longer applies: {e}") from e
            return GitWriteRecord(
                kind=write.kind,
                revision=write.revision,
                result="committed",
                commit=commit,
                message=f"Promoted to {place} in {commit[:12]} on {repository.branch}: {subject}",
            )

    # ------------------------------------------------------------------------------ release
    def _release(self, job: _Job) -> GitWriteRecord:
        target, write = job.target, job.write
        if target is None or write.git_revision is None:
            raise NeedsAttention("a release names an environment and a commit")
        repository = target.repository or job.spec.repository
        place = _place(target)
        commit = write.git_revision
        with self._checkout(job, repository) as (repo, token):
            if not repo.exists(commit):
                raise NeedsAttention(f"{commit} is not a commit of {repository.branch} of {repository.url}")
            full = repo.git("rev-parse", f"{commit}^{{commit}}").stdout.strip()
            if repo.git("cat-file", "-e", f"{full}:{target.path}", check=False).returncode != 0:
                raise NeedsAttention(f"{target.path} does not exist at {full[:12]}: nothing to release")
            repo.git("rm", "-r", "-q", "--ignore-unmatch", "--", target.path)
            repo.git("checkout", full, "--", target.path)
            changed = repo.git("diff", "--cached", "--name-only").stdout.split()
            if not changed:
                return GitWriteRecord(
                    kind=write.kind,
                    revision=write.revision,
                    result="nothingToDo",
                    message=f"{target.path} is already as at {full[:12]}",
                )
            subject = f"Release {target.path} as at {full[:12]} to {place}"
            body = (
                f"By hand: {job.by} released {target.path} as at {full[:12]} ({repo.subject(full)}) for "
                f"canary {job.namespace}/{job.name}.\n\n" + "\n".join(f"  {c}" for c in changed)
            )
            trailers = {**job.trailers, "Canary-Release-Of": full}
            if job.by is not None:
                trailers["Canary-By"] = job.by
            message = commit_message(subject, body, trailers)
            repo.commit([], message)  # what checkout staged
            if target.mode is WriteMode.PULL_REQUEST:
                return self._propose(job, repo, repository, token, title=subject, body=message)
            pushed = repo.push()
        return GitWriteRecord(
            kind=write.kind,
            revision=write.revision,
            result="committed",
            commit=pushed,
            message=f"Committed {pushed[:12]} on {repository.branch}: {subject}",
        )


def _revert_trailers(job: _Job) -> dict[str, str]:
    """A revert's trailers: the failed check, and in a chain the environment reverted."""
    trailers = {**job.trailers, "Canary-Check": job.write.reason}
    if job.spec.environment is not None:
        trailers["Canary-Environment"] = job.spec.environment
    return trailers


def _environment_name(target: Promotion) -> str | None:
    return target.name if isinstance(target, Environment) else None


def _place(target: Promotion) -> str:
    """How a commit's subject names the environment: "staging (apps/web/staging)", or the path."""
    env = _environment_name(target)
    return f"{env} ({target.path})" if env else target.path


def _write_images(
    root: Path, target: Promotion, images: Mapping[str, str]
) -> tuple[list[tuple[Path, manifests.Edit]], int]:
    """Write ``images`` (container -> reference) into the next environment's files: container images
    and kustomization images of its manifests, its HelmReleases' inline values, and the values files
    of their valuesFrom inside its path.  The files changed, and how many places hold the images."""
    by_repository = {manifests.split_image(ref).repository: ref for ref in images.values()}
    places = 0

    def counted(edit: Callable[[str], manifests.Edit]) -> Callable[[str], manifests.Edit]:
        def run(text: str) -> manifests.Edit:
            nonlocal places
            result = edit(text)
            places += result.found
            return result

        return run

    def manifest(text: str) -> manifests.Edit:
        edit = manifests.set_images(text, by_repository)
        if "HelmRelease" not in edit.text:
            return edit
        helm = helmvalues.set_release_images(edit.text, images, target.helm_values)
        return manifests.Edit(helm.text, edit.changed + helm.changed, edit.found + helm.found)

    def values(text: str) -> manifests.Edit:
        return helmvalues.set_values_file_images(text, images, target.helm_values)

    edits = manifests.edit_tree(root, target.path, counted(manifest))
    base = root.resolve()
    inside = (base / target.path).resolve()
    for file in helmvalues.values_files(base):
        if inside not in file.kustomization.parents:
            continue  # another environment's generator
        relative = str(file.path.relative_to(base)) if base in file.path.parents else str(file.path)
        if file.path == inside or inside in file.path.parents:
            edits += manifests.edit_tree(root, relative, counted(values))
        elif base in file.path.parents and file.path.is_file() and values(file.path.read_text()).changed:
            raise NeedsAttention(
                f"The images sit in {relative} ({file.where}), outside {target.path}: changing it "
                f"would change every environment that uses it; move the image keys into {target.path}"
            )
    return edits, places

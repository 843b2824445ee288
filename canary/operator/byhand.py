"""Git writes asked for by a person: ``canary promote NAME --env ENV`` and ``canary release NAME
--env ENV --revision COMMIT``, the hand-driven forms of what an environment chain does by itself.

Who calls this: the ``canary`` command line, with an API client from the user's kubeconfig.  What it
reads: the Canary (its ``spec.gitops`` names the repository and the chain), for a promotion the
images its primary runs (what last passed its analysis there) and, for the evidence, its status; who
the API server says the user is (a SelfSubjectReview; ``$USER`` when that API is not served).  What
it writes: Git only, through the same writer as the controller (``GitOpsWriter``), with the usual
trailers, the environment, and ``Canary-By`` naming the person, so ``git log`` shows the hand-made
writes beside the controller's.  Nothing in the cluster changes: the agent (Flux, Argo CD) applies
the commit, and the environment's own Canary runs its analysis on it like on any release.
"""

from __future__ import annotations

import getpass
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config

from canary.adapters.gitops.writer import GitOpsWriter
from canary.adapters.kube.client import KubeClient, TimedApiClient
from canary.core.errors import Forbidden
from canary.core.observations import GitOutcome
from canary.models.canary import Canary
from canary.models.gitops import Environment, GitOpsSpec, Promotion

_config: Any = config


class Refused(Exception):
    """The request does not apply; the message says why (the command exits non-zero with it)."""


@dataclass(frozen=True)
class Asked:
    namespace: str
    name: str
    env: str | None
    by: str | None = None


def api_client(kubeconfig: str | None, timeout: float = 10.0) -> k8s.ApiClient:
    """A client from the kubeconfig (default ~/.kube/config), every request within ``timeout``."""
    configuration = k8s.Configuration()
    _config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return TimedApiClient(configuration, timeout=timeout)


def who(api: k8s.ApiClient) -> str:
    """The user as the API server authenticates them, else the local login name."""
    try:
        review = k8s.AuthenticationV1Api(api).create_self_subject_review(
            k8s.V1SelfSubjectReview(), _request_timeout=10
        )
    except Exception:  # an older API server, or RBAC: the write still says who
        return getpass.getuser()
    user = review.status.user_info if review.status is not None else None
    return str(user.username) if user is not None and user.username else getpass.getuser()


def _canary(kube: KubeClient, namespace: str, name: str) -> tuple[Canary, dict[str, Any], GitOpsSpec]:
    body = kube.get_canary(namespace, name)
    if body is None:
        raise Refused(f"Canary {namespace}/{name} not found")
    try:
        canary = Canary.model_validate(body)
    except ValueError as e:
        raise Refused(f"Canary {namespace}/{name} has an invalid spec: {e}") from e
    if canary.spec.gitops is None:
        raise Refused(f"Canary {namespace}/{name} has no spec.gitops: there is no repository to write to")
    return canary, dict(body.get("status") or {}), canary.spec.gitops


def gitops_promoted_revision(api: k8s.ApiClient, namespace: str, name: str) -> str | None:
    """For ``canary undo``: the commit behind the promoted spec when the Canary has spec.gitops (its
    undo is a Git write); None without spec.gitops (the controller undoes it in the cluster)."""
    try:
        body = KubeClient(api).get_canary(namespace, name)
    except Forbidden as e:
        raise Refused(f"forbidden: {e}") from None
    if body is None:
        raise Refused(f"Canary {namespace}/{name} not found")
    if not (body.get("spec") or {}).get("gitops"):
        return None
    promoted = ((body.get("status") or {}).get("gitops") or {}).get("promotedRevision")
    if not promoted:
        raise Refused(
            f"Canary {namespace}/{name}: the commit of the promoted revision is not known "
            "(status.gitops.promotedRevision): release a known commit with canary release --revision"
        )
    return str(promoted)


def _target(gitops: GitOpsSpec, env: str | None, *, later_only: bool) -> Promotion:
    """The environment ``env`` names (with ``later_only``, one after the Canary's own), or by default
    the next one."""
    chain = gitops.environments or []
    if env is None:
        target = gitops.next_environment()
        if target is None:
            raise Refused("spec.gitops names no next environment (promote, or a later entry of environments)")
        return target
    names = [e.name for e in chain]
    if env not in names:
        if gitops.promote is not None and env == gitops.promote.path:
            return gitops.promote
        known = ", ".join(names) or "none (spec.gitops.environments is not set)"
        raise Refused(f"--env {env}: not an environment of the chain; its environments: {known}")
    if later_only and gitops.environment is not None and names.index(env) <= names.index(gitops.environment):
        raise Refused(
            f"--env {env}: a promotion goes forward, and {env} is not after this Canary's environment "
            f"({gitops.environment}); use canary release to put an earlier state back"
        )
    return chain[names.index(env)]


def _writer(workdir: Path, kube: KubeClient) -> GitOpsWriter:
    return GitOpsWriter(workdir, lambda namespace, name: kube.get_config("secret", namespace, name))


def promote(api: k8s.ApiClient, asked: Asked) -> GitOutcome:
    """Write what ``asked.name``'s primary runs into ``asked.env`` (default: the next environment)."""
    kube = KubeClient(api)
    canary, status, gitops = _canary(kube, asked.namespace, asked.name)
    target = _target(gitops, asked.env, later_only=True)
    ref = canary.spec.target_ref
    if ref.kind != "Deployment":
        raise Refused(f"spec.targetRef: a {ref.kind} has no primary Deployment to read the images from")
    revision = status.get("lastPromotedSpec")
    primary = kube.get_deployment(asked.namespace, f"{ref.name}-primary")
    if primary is None or not revision:
        raise Refused(
            f"Canary {asked.namespace}/{asked.name} has no promoted release yet (phase "
            f"{status.get('phase') or 'none'}): nothing has passed here to promote"
        )
    containers = ((primary.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    images = {c["name"]: c["image"] for c in containers if c.get("name") and c.get("image")}
    by = asked.by or who(api)
    here = gitops.environment or gitops.path
    place = _name(target)
    evidence = (
        f"By hand: {by} ran canary promote {asked.name} --env {place} (-n {asked.namespace}); "
        f"{here} runs revision {revision} as its primary; {_promoted(status)}"
    )
    with tempfile.TemporaryDirectory(prefix="canary-promote-") as workdir:
        return _writer(Path(workdir), kube).promote_by_hand(
            asked.namespace,
            asked.name,
            gitops,
            target=target,
            images=images,
            revision=revision,
            by=by,
            evidence=evidence,
        )


def release(api: k8s.ApiClient, asked: Asked, commit: str) -> GitOutcome:
    """Make ``asked.env``'s path (default: the Canary's own) what it was at ``commit``."""
    kube = KubeClient(api)
    _, _, gitops = _canary(kube, asked.namespace, asked.name)
    if asked.env is None:
        target: Promotion = gitops.own_environment() or Promotion(path=gitops.path, repository=None)
    else:
        target = _target(gitops, asked.env, later_only=False)
    by = asked.by or who(api)
    with tempfile.TemporaryDirectory(prefix="canary-release-") as workdir:
        return _writer(Path(workdir), kube).release_by_hand(
            asked.namespace, asked.name, gitops, target=target, commit=commit, by=by
        )


def _name(target: Promotion) -> str:
    return target.name if isinstance(target, Environment) else target.path


def _promoted(status: dict[str, Any]) -> str:
    """The Promoted condition, as evidence of what the promoted revision went through."""
    for c in status.get("conditions") or []:
        if c.get("type") == "Promoted":
            since = f" since {c['lastTransitionTime']}" if c.get("lastTransitionTime") else ""
            said = f": {c['message']}" if c.get("message") else ""
            return f"Promoted {c.get('status')} ({c.get('reason')}){since}{said}"
    return f"phase {status.get('phase') or 'unknown'}"

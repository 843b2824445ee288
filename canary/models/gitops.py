"""``spec.gitops`` and ``status.gitops``: where a Canary's manifests live in Git, and what the
controller wrote there.

Who uses this: ``canary.models.canary`` embeds these; the decision core reads them to decide when a
Git write is owed (a rollback to revert, a promotion to carry to the next environment); the operator's
GitOps writer (``canary.adapters.gitops.writer``) reads the repository settings to do it.

Why it is built this way: in GitOps, Git is the source of truth, so a canary that is rolled back in the
cluster but left in Git is applied again by the agent (Flux, Argo CD) or by image automation.  The
controller therefore records its verdicts in Git.  The write is an obligation kept in the status
(``status.gitops.pending``) until it is done, so a failing remote delays it but never loses it, and a
controller restarted between its push and its status update finds its own commit by trailers instead
of pushing a second one.  Credential field names follow Flux's GitRepository Secret (``username``,
``password``, ``bearerToken``, ``identity``, ``known_hosts``), so one Secret serves both.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from canary.models.base import KubeModel, cel

#: Annotation on the target Deployment naming the Git commit its spec came from (CI or the agent sets it).
REVISION_ANNOTATION = "canary.dev/git-revision"
#: Labels Flux's kustomize-controller puts on every object it applies.
FLUX_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
#: what Flux's helm-controller labels the objects of a HelmRelease with
HELM_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
HELM_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
#: Annotation Argo CD puts on what it applies: ``<app>:<group>/<kind>:<namespace>/<name>``.
ARGOCD_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
#: Label Argo CD puts on what it applies when it tracks by label (its default before 2.x annotations).
ARGOCD_INSTANCE_LABEL = "app.kubernetes.io/instance"

# A path inside the repository: relative, no backslashes; ".." segments are refused by a CEL rule (the
# schema's regular expressions have no look-ahead) and by ``_inside``.
RELATIVE_PATH = r"^[^/\\][^\\]*$"
PARENT_SEGMENT = r"(^|/)[.][.](/|$)"


def _inside(path: str) -> str:
    if re.search(PARENT_SEGMENT, path):
        raise ValueError("must stay inside the repository (no '..' segments)")
    return path


RepoPath = Annotated[
    str, Field(min_length=1, max_length=1024, pattern=RELATIVE_PATH), AfterValidator(_inside)
]
_PATH_RULE = cel(
    f"!self.path.matches('{PARENT_SEGMENT}')", "path must stay inside the repository (no '..')", ".path"
)


class RevisionSource(StrEnum):
    """How the controller learns which Git commit produced the target's current spec."""

    AUTO = "auto"
    ANNOTATION = "annotation"
    FLUX = "fluxKustomization"
    HELM = "fluxHelmRelease"
    ARGOCD = "argoApplication"


class OnRollback(StrEnum):
    REVERT = "revert"
    PULL_REQUEST = "pullRequest"
    NONE = "none"


class WriteMode(StrEnum):
    COMMIT = "commit"
    PULL_REQUEST = "pullRequest"


class GitSecretRef(KubeModel):
    """A Secret in the Canary's namespace with Flux's GitRepository keys: ``username`` and ``password``
    (https), or ``identity`` and ``known_hosts`` (ssh); ``bearerToken`` (or ``password``) for the forge's
    API when pull requests are opened."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    """Name of the Secret."""


class GitAuthor(KubeModel):
    name: Annotated[str, Field(min_length=1, max_length=256)] = "canary"
    """Author and committer name of the controller's commits."""
    email: Annotated[str, Field(min_length=3, max_length=256, pattern=r"^[^\s<>]+@[^\s<>]+$")] = (
        "canary@canary.dev"
    )
    """Author and committer email of the controller's commits."""


class GitRepositorySpec(KubeModel):
    """A Git repository and branch the controller may write to."""

    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2048,
            pattern=r"^(https?://|ssh://|git@[^:\s]+:|file://|/)\S+$",
        ),
    ]
    """Clone URL: https://, ssh://, git@host:path, file:// or an absolute local path."""
    branch: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._/-]+$")] = "main"
    """Branch to read and to push to."""
    secret_ref: GitSecretRef | None = None
    """Credentials (Flux GitRepository Secret keys); none for a public or local repository."""
    author: GitAuthor | None = None
    """Author of the commits; default canary <canary@canary.dev>."""


class ForgeSpec(KubeModel):
    """The hosting service's API, for pull requests (GitHub or GitLab)."""

    provider: Literal["github", "gitlab"]
    """github or gitlab."""
    api_url: Annotated[str | None, Field(alias="apiURL", pattern=r"^https?://", max_length=2048)] = None
    """API base URL; default https://api.github.com or https://gitlab.com/api/v4."""
    project: Annotated[str, Field(min_length=3, max_length=512, pattern=r"^[^/\s]+(/[^/\s]+)+$")] | None = (
        None
    )
    """owner/name (GitHub) or group/subgroup/name (GitLab); default derived from the repository URL."""


#: a key path inside Helm values: dot-separated keys (a key holding a dot is not supported)
VALUES_KEY = r"^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$"
ValuesKey = Annotated[str, Field(min_length=1, max_length=512, pattern=VALUES_KEY)]


class HelmValuesImage(KubeModel):
    """Where one image sits in a HelmRelease's values (inline spec.values, or a values file a
    kustomize configMapGenerator turns into a valuesFrom ConfigMap)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.image) != (has(self.repository) || has(self.tag) || has(self.digest))",
                    "name either image (the whole reference in one key) or repository/tag/digest keys",
                )
            ]
        }
    )

    container: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """The promoted container whose image goes here; default: the promoted image whose repository
    the values already name, or the only promoted image."""
    repository: ValuesKey | None = None
    """Key of the image repository, e.g. image.repository."""
    tag: ValuesKey | None = None
    """Key of the tag, e.g. image.tag (a promoted digest is appended, tag@digest, unless digest is named)."""
    digest: ValuesKey | None = None
    """Key of the digest, e.g. image.digest."""
    image: ValuesKey | None = None
    """Key holding the whole reference (repository:tag), e.g. image."""


class Promotion(KubeModel):
    """The next environment, written after a successful canary."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_PATH_RULE]})

    path: RepoPath
    """File or directory of the next environment's manifests (Deployments, a kustomization.yaml with
    images:, or Flux HelmReleases and the values files of their valuesFrom), relative to the
    repository root."""
    repository: GitRepositorySpec | None = None
    """Another repository (or branch) for the next environment; default spec.gitops.repository."""
    mode: WriteMode = WriteMode.COMMIT
    """commit (pushed to the branch) or pullRequest (a branch and a pull request)."""
    helm_values: Annotated[list[HelmValuesImage], Field(max_length=16)] | None = None
    """Where the images sit in the values of the path's HelmReleases; default: every mapping of the
    values with a repository (optionally after a registry) naming a promoted image, and its tag (and
    digest) beside it, as in the common image.repository / image.tag layout; and any image key
    holding a whole reference to a promoted repository."""


class Environment(Promotion):
    """One environment of a promotion chain."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    """The environment's name (dev, staging, prod), recorded in the commits' Canary-Environment trailer."""


class GitOpsSpec(KubeModel):
    """Record rollbacks and promotions in the Git repository the cluster is deployed from."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_PATH_RULE]})

    repository: GitRepositorySpec
    """The repository holding this workload's manifests."""
    path: RepoPath
    """File or directory of this workload's manifests, relative to the repository root."""
    revision_from: RevisionSource = RevisionSource.AUTO
    """Where the commit behind the target's spec is read: the canary.dev/git-revision annotation, the
    Flux Kustomization that applied the target (status.lastAppliedRevision), the Flux HelmRelease that
    installed it (the Kustomization that applied the HelmRelease, else the Git commit its chart was
    built from), or the Argo CD Application (status.sync.revision); auto tries them in that order."""
    argocd_namespace: Annotated[str, Field(min_length=1, max_length=63)] = "argocd"
    """Namespace of Argo CD Applications (revisionFrom argoApplication or auto)."""
    on_rollback: OnRollback = OnRollback.REVERT
    """revert (a commit undoing the failed revision's commits to path), pullRequest (the same change on
    a branch, proposed as a pull request) or none."""
    promote: Promotion | None = None
    """After a successful canary, write the promoted images into the next environment."""
    environments: (
        Annotated[
            list[Environment],
            Field(
                min_length=2,
                max_length=16,
                json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
            ),
        ]
        | None
    ) = None
    """An ordered promotion chain (dev, staging, prod): each environment's Canary names its own entry
    in environment and, after its analysis passes, writes the promoted images into the next one;
    a rollback reverts only its own environment (path).  Instead of promote."""
    environment: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    """This Canary's entry in environments (whose path must be spec.gitops.path)."""
    forge: ForgeSpec | None = None
    """GitHub or GitLab API for pull requests (onRollback pullRequest, promote.mode pullRequest, and a
    revert that conflicts); without it a conflicting revert is reported for a person to resolve."""

    @model_validator(mode="after")
    def _chain(self) -> GitOpsSpec:
        """The CRD's rules for the chain, for a Canary read from a file or an older CRD."""
        if self.promote is not None and self.environments is not None:
            raise ValueError("environments: name either promote or environments, not both")
        names = [e.name for e in self.environments or []]
        if len(set(names)) != len(names):
            raise ValueError("environments: each environment's name must be unique")
        if (self.environments is None) != (self.environment is None):
            raise ValueError("environment: environments and environment go together")
        if self.environments is not None and self.own_environment() is None:
            raise ValueError("environment: must name an entry of environments whose path is spec.gitops.path")
        return self

    def own_environment(self) -> Environment | None:
        """This Canary's entry of the chain."""
        for e in self.environments or []:
            if e.name == self.environment and e.path == self.path:
                return e
        return None

    def next_environment(self) -> Promotion | None:
        """Where a promotion is written: promote, or the chain's entry after this Canary's own."""
        if self.promote is not None:
            return self.promote
        chain = self.environments or []
        for i, e in enumerate(chain[:-1]):
            if e.name == self.environment:
                return chain[i + 1]
        return None


GITOPS_VALIDATIONS = [
    cel(
        "!has(self.gitops) || !(has(self.gitops.promote) && has(self.gitops.environments))",
        "name either promote (one next environment) or environments (a chain), not both",
        ".gitops.environments",
    ),
    cel(
        "!has(self.gitops) || has(self.gitops.environments) == has(self.gitops.environment)",
        "environments (the chain) and environment (this Canary's entry) go together",
        ".gitops.environment",
    ),
    cel(
        "!has(self.gitops) || !has(self.gitops.environment) || self.gitops.environments.exists(e,"
        " e.name == self.gitops.environment && e.path == self.gitops.path)",
        "environment must name an entry of environments whose path is spec.gitops.path",
        ".gitops.environment",
    ),
    cel(
        "!has(self.gitops) || !has(self.gitops.environments) || has(self.gitops.forge)"
        " || !self.gitops.environments.exists(e, has(e.mode) && e.mode == 'pullRequest')",
        "an environment with mode pullRequest needs spec.gitops.forge (github or gitlab)",
        ".gitops.forge",
    ),
    cel(
        "!has(self.gitops) || !has(self.gitops.onRollback) || self.gitops.onRollback != 'pullRequest'"
        " || has(self.gitops.forge)",
        "onRollback pullRequest needs spec.gitops.forge (github or gitlab)",
        ".gitops.forge",
    ),
    cel(
        "!has(self.gitops) || !has(self.gitops.promote) || !has(self.gitops.promote.mode)"
        " || self.gitops.promote.mode != 'pullRequest'"
        " || has(self.gitops.forge)",
        "promote.mode pullRequest needs spec.gitops.forge (github or gitlab)",
        ".gitops.forge",
    ),
]


# ----------------------------------------------------------------------------------------- status
class GitWriteKind(StrEnum):
    REVERT = "revert"
    PROMOTE = "promote"


class GitWrite(KubeModel):
    """A Git write the controller owes (kept until done, retried each interval)."""

    kind: GitWriteKind
    """revert (after a rollback) or promote (after a promotion)."""
    revision: str
    """The canary revision (pod template hash) the verdict is about."""
    git_revision: str | None = None
    """The commit that produced the canary's spec (the failed or promoted commit)."""
    since_revision: str | None = None
    """revert: the commit of the last promoted spec; commits after it that touched path are undone."""
    images: dict[str, str] | None = None
    """promote: the promoted container images (container name -> image)."""
    reason: Annotated[str, Field(max_length=2048)] = ""
    """Why: the failed check and its value, or the passed analysis."""
    since: str | None = None
    """When the write was first owed (RFC 3339)."""
    attempts: int = 0
    """Attempts that failed so far."""
    last_error: str | None = None
    """The last attempt's error (never containing credentials)."""

    def same_write(self, other: GitWrite | None) -> bool:
        """Whether ``other`` is this write, whatever its attempts so far (an outcome from the Git lane
        belongs to the write still owed only if it is the same one)."""
        return other is not None and (self.kind, self.revision, self.since) == (
            other.kind,
            other.revision,
            other.since,
        )


class GitWriteRecord(KubeModel):
    """A Git write the controller made (or found already made)."""

    kind: GitWriteKind
    """revert or promote."""
    revision: str
    """The canary revision it was about."""
    result: Literal["committed", "pullRequest", "nothingToDo", "needsAttention"]
    """committed (pushed to the branch), pullRequest (opened), nothingToDo (Git already says so) or
    needsAttention (it could not be done automatically; message says what a person must do)."""
    commit: str | None = None
    """The commit pushed (or, for a pull request, the head of its branch)."""
    pull_request: str | None = None
    """URL of the pull request."""
    url: str | None = None
    """Web page of the commit on the forge (with spec.gitops.forge)."""
    message: Annotated[str, Field(max_length=2048)] = ""
    """What was done, or what a person must do."""
    evidence: Annotated[str, Field(max_length=2048)] | None = None
    """Why: the failed check and what it saw, or the analysis that passed (also in the commit)."""
    time: str | None = None
    """When (RFC 3339)."""


class GitOpsStatus(KubeModel):
    """What the controller knows about Git for this canary."""

    applied_revision: str | None = None
    """The commit behind the target's current spec, as last observed."""
    applied_spec: str | None = None
    """The target's revision (pod template hash) when appliedRevision was observed: a commit is
    paired with a spec only when both were seen together (Helm, for one, reports the commit of a
    release only once it is released)."""
    promoted_revision: str | None = None
    """The commit behind the spec the primary runs (the last promoted spec)."""
    pending: GitWrite | None = None
    """A write still owed."""
    last_write: GitWriteRecord | None = None
    """The last write done."""

"""Which Git commit produced the target's current spec (``spec.gitops.revisionFrom``).

Who calls this: the operator, once per tick of a Canary with ``spec.gitops``; the answer becomes
``Observations.git_revision``.  The decision core remembers it as the commit of the promoted spec
(on promotion, and when the agent re-applies the promoted spec after a revert) and as the failed one
(on rollback), so the revert undoes exactly the commits in between.

Why it answers "unknown" so readily: an agent applies the objects first and records the revision in
its status afterwards.  A tick in between would pair the new spec with the old commit, and a revert
computed from that pair would undo the wrong range.  So the Flux Kustomization's revision is taken
only once it is Ready and no longer reconciling with its last attempt equal to its last success, and
the Argo CD Application's only once it is Synced with no operation running.  Any error reading them
(the CRD is not installed, RBAC does not allow it) also reads as unknown: the canary still runs; the
Git write then says what it could not determine.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from canary.models.gitops import (
    ARGOCD_INSTANCE_LABEL,
    ARGOCD_TRACKING_ANNOTATION,
    FLUX_NAME_LABEL,
    FLUX_NAMESPACE_LABEL,
    HELM_NAME_LABEL,
    HELM_NAMESPACE_LABEL,
    REVISION_ANNOTATION,
    GitOpsSpec,
    RevisionSource,
)

log = logging.getLogger(__name__)

#: reads one custom object: (group, version, plural, namespace, name) -> the object or None
ReadCustom = Callable[[str, str, str, str, str], Mapping[str, Any] | None]

_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def commit_of(revision: str | None) -> str | None:
    """The commit hash in a Flux (``main@sha1:<hex>``, older ``main/<hex>``) or plain revision."""
    if not revision:
        return None
    text = revision.strip()
    for sep in ("@sha1:", "@sha256:", "/"):
        if sep in text:
            text = text.rsplit(sep, 1)[1]
    text = text.removeprefix("sha1:").removeprefix("sha256:")
    return text if _SHA.match(text) else None


def _conditions(obj: Mapping[str, Any]) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in (obj.get("status") or {}).get("conditions") or []}


def from_annotation(target: Mapping[str, Any]) -> str | None:
    annotations = (target.get("metadata") or {}).get("annotations") or {}
    return commit_of(annotations.get(REVISION_ANNOTATION))


def from_flux(target: Mapping[str, Any], read: ReadCustom) -> str | None:
    labels = (target.get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(FLUX_NAME_LABEL), labels.get(FLUX_NAMESPACE_LABEL)
    if not name or not namespace:
        return None
    kustomization = read("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", namespace, name)
    if kustomization is None:
        return None
    status = kustomization.get("status") or {}
    conditions = _conditions(kustomization)
    applied = status.get("lastAppliedRevision")
    if conditions.get("Ready") != "True" or conditions.get("Reconciling") == "True":
        return None  # still applying: the objects may already be newer than the revision it names
    if status.get("lastAttemptedRevision") not in (None, applied):
        return None
    return commit_of(applied)


def from_helm(target: Mapping[str, Any], read: ReadCustom) -> str | None:
    """The commit behind a target that Flux's helm-controller installed: the HelmRelease named by the
    target's labels, once it has released its current spec (Ready, its last attempt that generation,
    the latest history entry deployed); then the Kustomization that applied the HelmRelease (its values
    live in Git there), else the commit its chart was built from, when the chart comes from a
    GitRepository and the chart installed is the one built last."""
    labels = (target.get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(HELM_NAME_LABEL), labels.get(HELM_NAMESPACE_LABEL)
    if not name or not namespace:
        return None
    release = read("helm.toolkit.fluxcd.io", "v2", "helmreleases", namespace, name)
    if release is None:
        return None
    generation = (release.get("metadata") or {}).get("generation")
    status = release.get("status") or {}
    history = status.get("history") or []
    if (
        _conditions(release).get("Ready") != "True"
        or status.get("observedGeneration") != generation
        or status.get("lastAttemptedGeneration") != generation
        or not history
        or history[0].get("status") != "deployed"
    ):
        return None  # still releasing: the objects may already be newer than what it says
    if (release.get("metadata") or {}).get("labels", {}).get(FLUX_NAME_LABEL):
        return from_flux(release, read)
    chart_ref = status.get("helmChart") or ""
    chart_namespace, _, chart_name = chart_ref.partition("/")
    if not chart_name:
        return None
    chart = read("source.toolkit.fluxcd.io", "v1", "helmcharts", chart_namespace, chart_name)
    if chart is None or ((chart.get("spec") or {}).get("sourceRef") or {}).get("kind") != "GitRepository":
        return None
    chart_status = chart.get("status") or {}
    if (chart_status.get("artifact") or {}).get("revision") != history[0].get("chartVersion"):
        return None  # a newer chart is built but not installed yet
    return commit_of(chart_status.get("observedSourceArtifactRevision"))


def from_argocd(target: Mapping[str, Any], read: ReadCustom, namespace: str) -> str | None:
    meta = target.get("metadata") or {}
    tracking = (meta.get("annotations") or {}).get(ARGOCD_TRACKING_ANNOTATION, "")
    app = tracking.split(":", 1)[0] if tracking else (meta.get("labels") or {}).get(ARGOCD_INSTANCE_LABEL)
    if not app:
        return None
    if "_" in app:  # apps in any namespace: "<namespace>_<name>"
        namespace, app = app.split("_", 1)
    application = read("argoproj.io", "v1alpha1", "applications", namespace, app)
    if application is None:
        return None
    status = application.get("status") or {}
    sync = status.get("sync") or {}
    operation = (status.get("operationState") or {}).get("phase")
    if sync.get("status") != "Synced" or operation in ("Running", "Terminating"):
        return None
    return commit_of(sync.get("revision"))


def git_revision(spec: GitOpsSpec, target: Mapping[str, Any], read: ReadCustom) -> str | None:
    """The commit behind ``target``'s spec, from the sources ``spec.revisionFrom`` allows."""
    source = spec.revision_from
    readers: list[Callable[[], str | None]] = []
    if source in (RevisionSource.AUTO, RevisionSource.ANNOTATION):
        readers.append(lambda: from_annotation(target))
    if source in (RevisionSource.AUTO, RevisionSource.FLUX):
        readers.append(lambda: from_flux(target, read))
    if source in (RevisionSource.AUTO, RevisionSource.HELM):
        readers.append(lambda: from_helm(target, read))
    if source in (RevisionSource.AUTO, RevisionSource.ARGOCD):
        readers.append(lambda: from_argocd(target, read, spec.argocd_namespace))
    for reader in readers:
        try:
            found = reader()
        except Exception as e:  # the agent's CRD may be absent or forbidden: unknown, not an error
            log.debug("reading the Git revision failed: %s", e)
            continue
        if found is not None:
            return found
    return None

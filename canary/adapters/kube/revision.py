"""The revision of a target: a stable hash of its pod template and the ConfigMaps/Secrets it uses.

Who calls this: ``adapters.kube.client`` (observation) and ``adapters.kube.primary`` (which configs to
copy).  Pure.  The hash is SHA-256 over canonical JSON (sorted keys), so it does not depend on the
order the API server returns maps in; changing only a tracked ConfigMap's data changes it, and
putting the template back as it was gives the same hash again (no new revision).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

#: ConfigMaps/Secrets annotated with this (value "disabled") are not tracked (Flagger's
#: flagger.app/config-tracking annotation is honoured too).
TRACKING_ANNOTATIONS = ("canary.dev/config-tracking", "flagger.app/config-tracking")
#: Secret types whose content a revision tracks (as in Flagger): not service-account tokens etc.
TRACKED_SECRET_TYPES = frozenset(
    {"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"}
)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def config_refs(pod_spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every ("configmap"|"secret", name) the pod spec refers to, in a stable order, once each."""
    seen: set[tuple[str, str]] = set()

    def emit(kind: str, name: str | None) -> Iterator[tuple[str, str]]:
        if name and (kind, name) not in seen:
            seen.add((kind, name))
            yield kind, name

    for volume in pod_spec.get("volumes") or []:
        yield from emit("configmap", (volume.get("configMap") or {}).get("name"))
        yield from emit("secret", (volume.get("secret") or {}).get("secretName"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            yield from emit("configmap", (source.get("configMap") or {}).get("name"))
            yield from emit("secret", (source.get("secret") or {}).get("name"))
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        for env in container.get("env") or []:
            ref = env.get("valueFrom") or {}
            yield from emit("configmap", (ref.get("configMapKeyRef") or {}).get("name"))
            yield from emit("secret", (ref.get("secretKeyRef") or {}).get("name"))
        for source in container.get("envFrom") or []:
            yield from emit("configmap", (source.get("configMapRef") or {}).get("name"))
            yield from emit("secret", (source.get("secretRef") or {}).get("name"))


def is_tracked(kind: str, obj: dict[str, Any]) -> bool:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    if any(str(annotations.get(a, "")).startswith("disabled") for a in TRACKING_ANNOTATIONS):
        return False
    return kind == "configmap" or obj.get("type", "Opaque") in TRACKED_SECRET_TYPES


def config_checksum(obj: dict[str, Any]) -> str:
    content = {"data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    return hashlib.sha256(_canonical(content)).hexdigest()[:16]


def revision_hash(pod_template: dict[str, Any], tracked: dict[str, str]) -> str:
    """The revision of a target: its pod template plus the checksums of its tracked configs."""
    return hashlib.sha256(_canonical({"template": pod_template, "configs": tracked})).hexdigest()[:16]

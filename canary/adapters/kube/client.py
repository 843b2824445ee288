"""All Kubernetes API calls for workloads, configs, Services, events and Canary status.

Who calls this: ``canary.operator`` (observe and act) and the routers (they share its ApiClient).
Objects are read as raw JSON (``_preload_content=False``) so that they are exactly what the API
server stores, camelCase and all, and the pure builders in this package work on plain dicts.
Writes are merge patches or creates; a create that races with another writer (409) is retried as a
read.  The ``ApiClient`` is injected: tests pass one for the local control plane.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client as k8s

from canary.models.canary import GROUP, VERSION

T = TypeVar("T")
JSON = dict[str, Any]


def _read(call: Callable[..., Any], *args: Any) -> JSON | None:
    try:
        resp = call(*args, _preload_content=False)
    except k8s.ApiException as e:
        if e.status == 404:
            return None
        raise
    data: JSON = json.loads(resp.data)
    return data


class KubeClient:
    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api
        # Typed as Any: the client's hints ask for its model classes, but it serializes plain dicts
        # as they are, and this layer deals in the API's own JSON.
        self.core: Any = k8s.CoreV1Api(api)
        self.apps: Any = k8s.AppsV1Api(api)
        self.custom: Any = k8s.CustomObjectsApi(api)

    # ------------------------------------------------------------------------------ deployments
    def get_deployment(self, namespace: str, name: str) -> JSON | None:
        return _read(self.apps.read_namespaced_deployment, name, namespace)

    def create_deployment(self, body: JSON) -> None:
        self.apps.create_namespaced_deployment(body["metadata"]["namespace"], body)

    def patch_deployment(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        self.apps.patch_namespaced_deployment(name, namespace, patch)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})

    # ------------------------------------------------------------------------------ configs
    def get_config(self, kind: str, namespace: str, name: str) -> JSON | None:
        if kind == "configmap":
            return _read(self.core.read_namespaced_config_map, name, namespace)
        return _read(self.core.read_namespaced_secret, name, namespace)

    def apply_config(self, kind: str, body: JSON) -> None:
        """Create or replace a ConfigMap/Secret copy (replace: its data must match the source)."""
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        create, replace = (
            (self.core.create_namespaced_config_map, self.core.replace_namespaced_config_map)
            if kind == "configmap"
            else (self.core.create_namespaced_secret, self.core.replace_namespaced_secret)
        )
        existing = self.get_config(kind, ns, name)
        if existing is None:
            create(ns, body)
        else:
            body = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]},
            }
            replace(name, ns, body)

    # ------------------------------------------------------------------------------ services
    def get_service(self, namespace: str, name: str) -> JSON | None:
        return _read(self.core.read_namespaced_service, name, namespace)

    def create_service(self, body: JSON) -> None:
        self.core.create_namespaced_service(body["metadata"]["namespace"], body)

    def patch_service(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        self.core.patch_namespaced_service(name, namespace, patch)

    # ------------------------------------------------------------------------------ custom objects
    def get_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> JSON | None:
        return _read(self.custom.get_namespaced_custom_object, group, version, namespace, plural, name)

    def create_custom(self, group: str, version: str, plural: str, body: JSON) -> None:
        ns = body["metadata"]["namespace"]
        self.custom.create_namespaced_custom_object(group, version, ns, plural, body)

    def ensure_spec(self, group: str, version: str, plural: str, wanted: JSON) -> None:
        """Create ``wanted``, or patch the existing object's spec when it differs (no request otherwise)."""
        meta = wanted["metadata"]
        existing = self.get_custom(group, version, plural, meta["namespace"], meta["name"])
        if existing is None:
            self.create_custom(group, version, plural, wanted)
        elif existing.get("spec") != wanted["spec"]:
            self.patch_custom(
                group,
                version,
                plural,
                namespace=meta["namespace"],
                name=meta["name"],
                patch={"spec": wanted["spec"]},
            )

    def patch_custom(
        self, group: str, version: str, plural: str, *, namespace: str, name: str, patch: JSON
    ) -> None:
        self.custom.patch_namespaced_custom_object(group, version, namespace, plural, name, patch)

    def delete_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> None:
        """Delete if present (a 404 is success: someone got there first)."""
        try:
            self.custom.delete_namespaced_custom_object(group, version, namespace, plural, name)
        except k8s.ApiException as e:
            if e.status != 404:
                raise

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete a Deployment, Service, ConfigMap or Secret if present."""
        call = {
            "deployment": self.apps.delete_namespaced_deployment,
            "service": self.core.delete_namespaced_service,
            "configmap": self.core.delete_namespaced_config_map,
            "secret": self.core.delete_namespaced_secret,
        }[kind]
        try:
            call(name, namespace)
        except k8s.ApiException as e:
            if e.status != 404:
                raise

    # ------------------------------------------------------------------------------ canaries
    def get_canary(self, namespace: str, name: str) -> JSON | None:
        return self.get_custom(GROUP, VERSION, "canaries", namespace, name)

    def patch_canary_status(self, namespace: str, name: str, status: JSON) -> None:
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "canaries", name, {"status": status}
        )

    # ------------------------------------------------------------------------------ events
    def create_event(self, namespace: str, body: JSON) -> str:
        created = self.core.create_namespaced_event(namespace, body)
        return str(created.metadata.name)

    def bump_event(self, namespace: str, name: str, count: int, now: datetime) -> bool:
        """Count one more occurrence of an event; False when it expired (then create a new one)."""
        try:
            self.core.patch_namespaced_event(
                name,
                namespace,
                {"count": count, "lastTimestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
            )
        except k8s.ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

"""All Kubernetes API calls for workloads, configs, Services, events and Canary status.

Who calls this: ``canary.operator`` (observe and act) and the routers (they share its ApiClient).
Objects are read as raw JSON (``_preload_content=False``) so that they are exactly what the API
server stores, camelCase and all, and the pure builders in this package work on plain dicts.
Writes are merge patches or creates; a create that races with another writer (409) is retried as a
read.  The ``ApiClient`` is injected: tests pass one for the local control plane.

With ``caches`` (see ``canary.adapters.kube.cache``), reads of Deployments, Services, configs and
routing objects and Canaries come from watch caches and every write's response is stored in them
(read-your-writes).  A tick decides from a Canary's status, so a status patch carries the
resourceVersion the tick read: a status that changed meanwhile (another writer; leader election
keeps there being none) makes it fail with ``Conflict`` instead of overwriting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client as k8s

from canary.adapters.kube.cache import (
    CANARIES,
    CONFIGMAPS,
    DEPLOYMENTS,
    SECRETS,
    SERVICES,
    Caches,
    Resource,
    api_request,
)
from canary.core.errors import Conflict
from canary.models.canary import GROUP, VERSION

T = TypeVar("T")
JSON = dict[str, Any]
_KINDS = {"deployment": DEPLOYMENTS, "service": SERVICES, "configmap": CONFIGMAPS, "secret": SECRETS}
EVENTS = Resource("", "v1", "events")


def _json(resp: Any) -> JSON:
    data: JSON = json.loads(resp.data)
    return data


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
    def __init__(self, api: k8s.ApiClient, caches: Caches | None = None) -> None:
        self.api = api
        self.caches = caches
        # Typed as Any: the client's hints ask for its model classes, but it serializes plain dicts
        # as they are, and this layer deals in the API's own JSON.
        self.core: Any = k8s.CoreV1Api(api)
        self.apps: Any = k8s.AppsV1Api(api)
        self.custom: Any = k8s.CustomObjectsApi(api)

    # ------------------------------------------------------------------------------ caches
    def _cached(self, resource: Resource, namespace: str, name: str) -> tuple[bool, JSON | None]:
        """(True, the object or None) when a synced cache answers; (False, None): ask the API."""
        cache = self.caches.lookup(resource, namespace) if self.caches is not None else None
        if cache is None:
            return False, None
        return True, cache.get(namespace, name)

    def _remember(self, resource: Resource, resp: Any) -> JSON:
        obj = _json(resp)
        if self.caches is not None:
            self.caches.remember(resource, obj)
        return obj

    def _forget(self, resource: Resource, namespace: str, name: str) -> None:
        if self.caches is not None:
            self.caches.forget(resource, namespace, name)

    # ------------------------------------------------------------------------------ deployments
    def get_deployment(self, namespace: str, name: str) -> JSON | None:
        hit, obj = self._cached(DEPLOYMENTS, namespace, name)
        return obj if hit else _read(self.apps.read_namespaced_deployment, name, namespace)

    def create_deployment(self, body: JSON) -> None:
        ns = body["metadata"]["namespace"]
        self._remember(DEPLOYMENTS, self.apps.create_namespaced_deployment(ns, body, _preload_content=False))

    def patch_deployment(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        resp = self.apps.patch_namespaced_deployment(name, namespace, patch, _preload_content=False)
        self._remember(DEPLOYMENTS, resp)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        # A patch of the Deployment itself (not its scale subresource) answers with the Deployment.
        self.patch_deployment(namespace, name, {"spec": {"replicas": replicas}})

    # ------------------------------------------------------------------------------ configs
    def get_config(self, kind: str, namespace: str, name: str) -> JSON | None:
        hit, obj = self._cached(_KINDS[kind], namespace, name)
        if hit:
            return obj
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
        resource = _KINDS[kind]
        existing = self.get_config(kind, ns, name)
        if existing is None:
            self._remember(resource, create(ns, body, _preload_content=False))
        else:
            body = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]},
            }
            self._remember(resource, replace(name, ns, body, _preload_content=False))

    # ------------------------------------------------------------------------------ services
    def get_service(self, namespace: str, name: str) -> JSON | None:
        hit, obj = self._cached(SERVICES, namespace, name)
        return obj if hit else _read(self.core.read_namespaced_service, name, namespace)

    def create_service(self, body: JSON) -> None:
        ns = body["metadata"]["namespace"]
        self._remember(SERVICES, self.core.create_namespaced_service(ns, body, _preload_content=False))

    def patch_service(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        resp = self.core.patch_namespaced_service(name, namespace, patch, _preload_content=False)
        self._remember(SERVICES, resp)

    # ------------------------------------------------------------------------------ custom objects
    def get_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> JSON | None:
        """Any namespaced object by group, version and plural (the core group is "")."""
        hit, obj = self._cached(Resource(group, version, plural), namespace, name)
        if hit:
            return obj
        return _read(self._call, Resource(group, version, plural).path(namespace) + f"/{name}")

    def _call(self, path: str, method: str = "GET", body: Any = None, **_: Any) -> Any:
        return api_request(self.api, method, path, body=body)

    def create_custom(self, group: str, version: str, plural: str, body: JSON) -> None:
        resource = Resource(group, version, plural)
        path = resource.path(body["metadata"]["namespace"])
        self._remember(resource, self._call(path, "POST", body))

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
        resource = Resource(group, version, plural)
        path = resource.path(namespace) + f"/{name}"
        self._remember(resource, self._call(path, "PATCH", patch))

    def delete_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> None:
        """Delete if present (a 404 is success: someone got there first)."""
        resource = Resource(group, version, plural)
        try:
            self._call(resource.path(namespace) + f"/{name}", "DELETE")
        except k8s.ApiException as e:
            if e.status != 404:
                raise
        self._forget(resource, namespace, name)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete a Deployment, Service, ConfigMap or Secret if present."""
        resource = _KINDS[kind]
        self.delete_custom(resource.group, resource.version, resource.plural, namespace, name)

    # ------------------------------------------------------------------------------ canaries
    def get_canary(self, namespace: str, name: str) -> JSON | None:
        return self.get_custom(GROUP, VERSION, "canaries", namespace, name)

    def patch_canary_status(
        self, namespace: str, name: str, status: JSON, *, resource_version: str | None = None
    ) -> None:
        """Merge ``status``; with ``resource_version``, only if the Canary is still at that version."""
        # By path, as the events below: the generated typed API validates every call's arguments with
        # pydantic, which cost a quarter of a tick's CPU when profiled (docs/performance.md).
        path = CANARIES.path(namespace) + f"/{name}/status"
        body: JSON = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self._remember(CANARIES, self._call(path, "PATCH", body))
        except k8s.ApiException as e:
            if e.status == 409:
                raise Conflict(f"Canary {namespace}/{name} changed since it was read") from e
            raise

    # ------------------------------------------------------------------------------ events
    def create_event(self, namespace: str, body: JSON) -> str:
        created = _json(self._call(EVENTS.path(namespace), "POST", body))
        return str(created["metadata"]["name"])

    def bump_event(self, namespace: str, name: str, count: int, now: datetime) -> bool:
        """Count one more occurrence of an event; False when it expired (then create a new one)."""
        patch = {"count": count, "lastTimestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            self._call(EVENTS.path(namespace) + f"/{name}", "PATCH", patch)
        except k8s.ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

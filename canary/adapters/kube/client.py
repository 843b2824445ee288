"""All Kubernetes API calls for workloads, configs, Services, events and Canary status.

Who calls this: ``canary.operator`` (observe and act) and the routers (they share its ApiClient).
Objects are read as raw JSON (``_preload_content=False``) so that they are exactly what the API
server stores, camelCase and all, and the pure builders in this package work on plain dicts.
Writes are merge patches or creates; a create that races with another writer (409) is retried as a
read.  The ``ApiClient`` is injected: tests pass one for the local control plane.

Errors leave this module in the domain's words (``canary.core.errors``): a 404 that names no object
means the API server does not serve the kind at all (``MissingKind``: its CRD is not installed), and an
RBAC denial is ``Forbidden``; both name the kind and the verb, for the tick to report on the Canary.
Every request has a client-side deadline (``TimedApiClient``): a stuck API server fails a tick, it
never holds a worker.

With ``caches`` (see ``canary.adapters.kube.cache``), reads of Deployments, Services, configs and
routing objects and Canaries come from watch caches and every write's response is stored in them
(read-your-writes).  A tick decides from a Canary's status, so a status patch carries the
resourceVersion the tick read: a status that changed meanwhile (another writer; leader election
keeps there being none) makes it fail with ``Conflict`` instead of overwriting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
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
from canary.core.errors import Conflict, Forbidden, MissingKind, NotFound, Pruned
from canary.models.canary import GROUP, VERSION
from canary.models.requests import REQUEST_ANNOTATION

T = TypeVar("T")
JSON = dict[str, Any]
_KINDS = {"deployment": DEPLOYMENTS, "service": SERVICES, "configmap": CONFIGMAPS, "secret": SECRETS}
EVENTS = Resource("", "v1", "events")


#: seconds a request to the API server may take, unless a caller says otherwise
DEFAULT_REQUEST_TIMEOUT = 10.0
_VERBS = {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}


class TimedApiClient(k8s.ApiClient):
    """An ApiClient whose every request has a deadline (the kubernetes client's default is none: a
    request to an API server that accepts the connection and never answers would wait forever)."""

    def __init__(self, configuration: Any, *, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        super().__init__(configuration)
        self.request_timeout = timeout

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = self.request_timeout
        return super().call_api(*args, **kwargs)


def kind_name(resource: Resource) -> str:
    """``httproutes.gateway.networking.k8s.io/v1``, ``deployments.apps/v1``, ``services/v1``."""
    group = f".{resource.group}" if resource.group else ""
    return f"{resource.plural}{group}/{resource.version}"


def _names_an_object(e: k8s.ApiException) -> bool:
    """A 404 about an object names it (``details.name``); one about a kind the server does not serve
    does not ("the server could not find the requested resource", or a plain-text page)."""
    try:
        body = json.loads(e.body or "")
    except (TypeError, ValueError):
        return False
    return isinstance(body, dict) and bool((body.get("details") or {}).get("name"))


def _rbac_denial(e: k8s.ApiException) -> bool:
    """An authorization failure ("User ... cannot patch resource ..."), not another 403 (a namespace
    being terminated answers 403 too)."""
    return e.status == 403 and " cannot " in str(e.body or "")


@contextlib.contextmanager
def domain_errors(
    resource: Resource, method: str, namespace: str | None, name: str | None = None
) -> Iterator[None]:
    """Raise MissingKind or Forbidden, naming the kind and the verb, for what the API answered, and
    NotFound for a change to an object that does not exist."""
    try:
        yield
    except k8s.ApiException as e:
        verb = _VERBS.get(method, method.lower())
        if e.status == 404 and not _names_an_object(e):
            raise MissingKind(kind_name(resource), verb) from None
        if e.status == 404 and method in ("PATCH", "PUT"):
            raise NotFound(
                f"{kind_name(resource)} {namespace}/{name} not found: could not {verb} it"
            ) from None
        if _rbac_denial(e):
            raise Forbidden(kind_name(resource), verb, namespace) from None
        raise


_UNREAD = object()


def contains(have: Any, want: Any) -> bool:
    """Whether ``have`` already carries everything ``want`` sets (dicts by key, lists item by item;
    a None in ``want`` is a key that must be absent, as in a merge patch)."""
    return first_missing(have, want, "") is None


#: the annotation recording the digest of the spec canary wrote last (``KubeClient.ensure_spec``)
APPLIED = "canary.dev/applied"


def applied_digest(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def differs(existing: JSON, wanted: JSON) -> bool:
    """``existing`` needs a patch to be ``wanted``: something ``wanted`` sets (spec, labels,
    annotations: the applied digest among them) is not there."""
    meta, have = wanted.get("metadata") or {}, existing.get("metadata") or {}
    return (
        not contains(existing.get("spec"), wanted.get("spec"))
        or not contains(have.get("labels") or {}, meta.get("labels") or {})
        or not contains(have.get("annotations") or {}, meta.get("annotations") or {})
    )


def first_missing(have: Any, want: Any, path: str) -> str | None:
    """The path of the first thing ``want`` sets that ``have`` lacks (``spec.rules[0].retry``), or None
    (a None in ``want`` is a key that must be absent)."""
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return path
        for k, v in want.items():
            if v is None:
                if k in have:
                    return f"{path}.{k}"
                continue
            if k not in have:
                return f"{path}.{k}"
            found = first_missing(have[k], v, f"{path}.{k}")
            if found is not None:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return path
        for i, (h, w) in enumerate(zip(have, want, strict=True)):
            found = first_missing(h, w, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if have == want else path


def _without_nones(body: JSON) -> JSON:
    """``body`` to create: the labels and annotations a merge patch would remove (None) left out."""
    meta = dict(body["metadata"])
    for key in ("labels", "annotations"):
        if isinstance(meta.get(key), dict):
            meta[key] = {k: v for k, v in meta[key].items() if v is not None}
    return {**body, "metadata": meta}


def _json(resp: Any) -> JSON:
    data: JSON = json.loads(resp.data)
    return data


def _read(resource: Resource, namespace: str, call: Callable[..., Any], *args: Any) -> JSON | None:
    """The object, or None when it does not exist (its kind does: else MissingKind)."""
    try:
        with domain_errors(resource, "GET", namespace):
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
        return (
            obj
            if hit
            else _read(DEPLOYMENTS, namespace, self.apps.read_namespaced_deployment, name, namespace)
        )

    def create_deployment(self, body: JSON) -> None:
        ns = body["metadata"]["namespace"]
        with domain_errors(DEPLOYMENTS, "POST", ns):
            resp = self.apps.create_namespaced_deployment(ns, body, _preload_content=False)
        self._remember(DEPLOYMENTS, resp)

    def patch_deployment(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        with domain_errors(DEPLOYMENTS, "PATCH", namespace):
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
            return _read(CONFIGMAPS, namespace, self.core.read_namespaced_config_map, name, namespace)
        return _read(SECRETS, namespace, self.core.read_namespaced_secret, name, namespace)

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
            with domain_errors(resource, "POST", ns):
                resp = create(ns, body, _preload_content=False)
        else:
            body = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]},
            }
            with domain_errors(resource, "PUT", ns):
                resp = replace(name, ns, body, _preload_content=False)
        self._remember(resource, resp)

    # ------------------------------------------------------------------------------ services
    def get_service(self, namespace: str, name: str) -> JSON | None:
        hit, obj = self._cached(SERVICES, namespace, name)
        return obj if hit else _read(SERVICES, namespace, self.core.read_namespaced_service, name, namespace)

    def create_service(self, body: JSON) -> None:
        ns = body["metadata"]["namespace"]
        with domain_errors(SERVICES, "POST", ns):
            resp = self.core.create_namespaced_service(ns, body, _preload_content=False)
        self._remember(SERVICES, resp)

    def patch_service(self, namespace: str, name: str, patch: JSON | list[JSON]) -> None:
        """A merge patch (a dict) or a JSON patch (a list of operations)."""
        with domain_errors(SERVICES, "PATCH", namespace):
            resp = self.core.patch_namespaced_service(name, namespace, patch, _preload_content=False)
        self._remember(SERVICES, resp)

    # ------------------------------------------------------------------------------ custom objects
    def get_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> JSON | None:
        """Any namespaced object by group, version and plural (the core group is "")."""
        resource = Resource(group, version, plural)
        hit, obj = self._cached(resource, namespace, name)
        if hit:
            return obj
        return _read(resource, namespace, self._get, resource.path(namespace) + f"/{name}")

    def _get(self, path: str, **_: Any) -> Any:
        return api_request(self.api, "GET", path)

    def _call(
        self, resource: Resource, namespace: str, method: str, name: str | None = None, body: Any = None
    ) -> Any:
        path = resource.path(namespace) + (f"/{name}" if name else "")
        with domain_errors(resource, method, namespace, name):
            return api_request(self.api, method, path, body=body)

    def create_custom(self, group: str, version: str, plural: str, body: JSON) -> JSON:
        """Create ``body``; the object as the API server stored it."""
        resource = Resource(group, version, plural)
        return self._remember(
            resource, self._call(resource, body["metadata"]["namespace"], "POST", body=body)
        )

    def ensure_spec(
        self, group: str, version: str, plural: str, wanted: JSON, *, existing: JSON | object | None = _UNREAD
    ) -> JSON:
        """Make the object ``wanted`` describes (``existing``: already read) carry its spec, labels and
        annotations; the object as stored.  No request when it does.

        The spec written last is recorded by its digest (annotation ``canary.dev/applied``), because the
        API server adds defaults to a spec and it can never equal what was written: the object is
        patched when the digest is another, or when something ``wanted`` sets is not there (someone
        changed it).  The patch merges the labels and annotations ``wanted`` sets (others may own the
        rest; a None removes one) and replaces the spec: its fields wholesale, and a top-level field
        ``wanted`` no longer has is removed.  A field the API server dropped from what was written (its
        CRD has no such field: an older version, another channel) is ``Pruned``: a spec that needs it
        cannot work on this cluster."""
        meta = wanted["metadata"]
        digest = applied_digest(wanted.get("spec"))
        wanted = {
            **wanted,
            "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), APPLIED: digest}},
        }
        meta = wanted["metadata"]
        if existing is _UNREAD:
            existing = self.get_custom(group, version, plural, meta["namespace"], meta["name"])
        if existing is None:
            stored = self.create_custom(group, version, plural, _without_nones(wanted))
        elif isinstance(existing, dict) and differs(existing, wanted):
            spec = dict(wanted.get("spec") or {})
            spec.update({k: None for k in existing.get("spec") or {} if k not in spec})
            patch: JSON = {
                "metadata": {k: meta[k] for k in ("labels", "annotations") if meta.get(k)},
                "spec": spec,
            }
            stored = self.patch_custom(
                group, version, plural, namespace=meta["namespace"], name=meta["name"], patch=patch
            )
        else:
            return existing  # type: ignore[return-value]
        dropped = first_missing(stored.get("spec"), wanted.get("spec"), "spec")
        if dropped is not None:
            raise Pruned(f"{meta.get('name')}", kind_name(Resource(group, version, plural)), dropped)
        return stored

    def patch_custom(
        self, group: str, version: str, plural: str, *, namespace: str, name: str, patch: JSON
    ) -> JSON:
        """A merge patch; the object as the API server stored it."""
        resource = Resource(group, version, plural)
        return self._remember(resource, self._call(resource, namespace, "PATCH", name, patch))

    def delete_custom(self, group: str, version: str, plural: str, namespace: str, name: str) -> None:
        """Delete if present (a 404 is success: someone got there first, or the kind is not served,
        so there is no such object)."""
        resource = Resource(group, version, plural)
        try:
            self._call(resource, namespace, "DELETE", name)
        except MissingKind:
            pass
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
        """The Canary, from the cache; a GET when the cache does not hold it (yet): kopf may start a
        new Canary's daemon before the cache's watch has delivered it, and that first tick must not
        take the Canary for gone."""
        found = self.get_custom(GROUP, VERSION, "canaries", namespace, name)
        if found is not None or self.caches is None:
            return found
        return self.read_canary(namespace, name)

    def read_canary(self, namespace: str, name: str) -> JSON | None:
        """The Canary as the API server has it now (a GET, not the cache)."""
        return _read(CANARIES, namespace, self._get, CANARIES.path(namespace) + f"/{name}")

    def patch_canary_status(
        self, namespace: str, name: str, status: JSON, *, resource_version: str | None = None
    ) -> None:
        """Merge ``status``; with ``resource_version``, only if the Canary is still at that version."""
        # By path, as the events below: the generated typed API validates every call's arguments with
        # pydantic, which cost a quarter of a tick's CPU when profiled (docs/performance.md).
        body: JSON = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self._remember(CANARIES, self._call(CANARIES, namespace, "PATCH", f"{name}/status", body))
        except k8s.ApiException as e:
            if e.status == 409:
                raise Conflict(f"Canary {namespace}/{name} changed since it was read") from e
            raise

    def clear_canary_request(self, namespace: str, name: str, raw: str) -> None:
        """Remove the canary.dev/request annotation if it still holds ``raw`` (a request written since
        is left for the next tick)."""
        path = "/metadata/annotations/" + REQUEST_ANNOTATION.replace("~", "~0").replace("/", "~1")
        patch = [{"op": "test", "path": path, "value": raw}, {"op": "remove", "path": path}]
        try:
            self._remember(CANARIES, self._call(CANARIES, namespace, "PATCH", name, patch))
        except NotFound:
            pass
        except k8s.ApiException as e:
            if e.status != 422:  # the test failed: another request, or none, is there now
                raise

    # ------------------------------------------------------------------------------ events
    def create_event(self, namespace: str, body: JSON) -> str:
        created = _json(self._call(EVENTS, namespace, "POST", body=body))
        return str(created["metadata"]["name"])

    def bump_event(self, namespace: str, name: str, count: int, now: datetime) -> bool:
        """Count one more occurrence of an event; False when it expired (then create a new one)."""
        patch = {"count": count, "lastTimestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            self._call(EVENTS, namespace, "PATCH", name, patch)
        except NotFound:
            return False
        return True

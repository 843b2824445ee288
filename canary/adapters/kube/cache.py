"""Watch caches: the objects a tick reads, kept up to date by list+watch instead of a GET per tick.

Who calls this: ``KubeClient`` reads through a ``Caches`` (when it has one) and hands it the
response of each of its own writes; ``canary.operator.handlers`` subscribes to changes to wake the
canaries they concern.

* One ``WatchCache`` per resource (Deployments, Services, ConfigMaps, Secrets, and any routing kind
  a router reads, started on first read) and per watched namespace (or cluster-wide), each in its
  own daemon thread: list, then watch from the list's resourceVersion with bookmarks; a 410 Gone
  relists; any other failure backs off and resumes.
* Objects are stored as compact JSON bytes without ``managedFields`` and parsed on read, so a
  thousand Deployments cost a few megabytes, not a few hundred.
* Read-your-writes: a write's response goes into the cache at once, and an update never replaces an
  object with an older resourceVersion, so a tick never sees the world from before its own last
  write (a late watch event cannot roll the cache back).
* Until a cache has finished its first list, or if the resource cannot be watched (its CRD is not
  installed, RBAC forbids it), reads fall back to a GET.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

log = logging.getLogger(__name__)

JSON = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A resource kind as the API names it: ``group`` is empty for the core API."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str | None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"


DEPLOYMENTS = Resource("apps", "v1", "deployments")
SERVICES = Resource("", "v1", "services")
CONFIGMAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")
CANARIES = Resource("canary.dev", "v1alpha1", "canaries")

#: objects per page of a cache's list
LIST_PAGE = 250

#: (event type "ADDED"/"MODIFIED"/"DELETED", the object) from a watch, in the cache's thread
Listener = Callable[[Resource, str, JSON], None]


def api_request(
    api: k8s.ApiClient,
    method: str,
    path: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: Any = None,
    timeout: float | tuple[float, float] | None = None,
    stream: bool = False,
) -> Any:
    """One request by path; returns the urllib3 response (its body unread if ``stream``).

    Raises ApiException unless the answer is 2xx.
    A dict body is sent as a JSON merge patch, a list as a JSON patch (for PATCH).
    """
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = (
            "application/merge-patch+json"
            if method == "PATCH" and isinstance(body, dict)
            else "application/json-patch+json"
            if method == "PATCH"
            else "application/json"
        )
    generic: Any = api  # the client's hints do not cover these generated helpers
    request = generic.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    resp = generic.call_api(*request, _request_timeout=timeout)
    if not 200 <= resp.status <= 299:
        resp.read()
        raise k8s.ApiException.from_response(http_resp=resp, body=None, data=None)
    if not stream:
        _ = resp.response.data  # read it all: the connection goes back to the pool
    return resp.response


def _version(obj: JSON) -> int | None:
    """An object's resourceVersion as a number (etcd's revision), None when it is not one."""
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def _compact(obj: JSON) -> bytes:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return json.dumps(obj, separators=(",", ":")).encode()


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


class WatchCache:
    """One resource in one namespace (or the whole cluster), mirrored by list+watch in a thread."""

    def __init__(
        self,
        api: k8s.ApiClient,
        resource: Resource,
        namespace: str | None,
        *,
        listeners: list[Listener],
        timeout_seconds: int = 300,
        backoff: float = 1.0,
    ) -> None:
        self.api = api
        self.resource = resource
        self.namespace = namespace
        self.listeners = listeners
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.synced = threading.Event()
        #: set when the resource cannot be watched at all (404/403): reads go to the API
        self.unavailable = False
        self._objects: dict[tuple[str, str], tuple[int | None, bytes]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"watch-{resource.plural}-{namespace or 'all'}", daemon=True
        )

    # ------------------------------------------------------------------------------ reads/writes
    def get(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            entry = self._objects.get((namespace, name))
        if entry is None:
            return None
        data: JSON = json.loads(entry[1])
        return data

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)

    def remember(self, obj: JSON) -> None:
        """Store ``obj`` unless the cache already holds a newer version of it."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        version = _version(obj)
        data = _compact(obj)
        with self._lock:
            held = self._objects.get(key)
            if held is not None and held[0] is not None and version is not None and held[0] > version:
                return
            self._objects[key] = (version, data)

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._objects.pop((namespace, name), None)

    # ------------------------------------------------------------------------------ the thread
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _request(
        self, query: list[tuple[str, Any]], timeout: float | tuple[float, float], *, stream: bool = False
    ) -> Any:
        path = self.resource.path(self.namespace)
        return api_request(self.api, "GET", path, query=query, timeout=timeout, stream=stream)

    def _list(self) -> str:
        """List in pages (``LIST_PAGE`` objects each, one consistent snapshot, as client-go's reflector
        does): a whole list of thousands of objects parsed at once is a burst of memory the process
        keeps."""
        fresh: dict[tuple[str, str], tuple[int | None, bytes]] = {}
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", LIST_PAGE)] + ([("continue", token)] if token else [])
            data = json.loads(self._request(query, 60).data)
            for item in data.get("items") or []:
                meta = item["metadata"]
                fresh[(meta.get("namespace") or "", meta["name"])] = (_version(item), _compact(item))
            token = (data.get("metadata") or {}).get("continue") or ""
            if not token:
                break
        listed_at = data["metadata"]["resourceVersion"]
        with self._lock:
            # Keep what our own writes stored after the list was taken; drop what the list no longer has.
            listed = _version(data)
            for key, held in self._objects.items():
                if held[0] is None:
                    continue
                newer = fresh[key][0] if key in fresh else listed
                if newer is not None and held[0] > newer:
                    fresh[key] = held
            self._objects = fresh
        self.synced.set()
        return str(listed_at)

    def _watch(self, since: str) -> Iterator[tuple[str, JSON]]:
        query = [
            ("watch", "true"),
            ("resourceVersion", since),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", self.timeout_seconds),
        ]
        resp = self._request(query, (10, self.timeout_seconds + 30), stream=True)
        try:
            pending = b""
            for chunk in resp.stream(None, decode_content=True):
                if self._stop.is_set():
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        event = json.loads(line)
                        yield event["type"], event["object"]
        finally:
            resp.release_conn()

    def _run(self) -> None:
        since: str | None = None
        while not self._stop.is_set():
            try:
                if since is None:
                    since = self._list()
                for kind, obj in self._watch(since):
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise Gone(obj.get("message"))
                        raise RuntimeError(f"watch error: {obj.get('message')}")
                    since = obj.get("metadata", {}).get("resourceVersion") or since
                    if kind == "BOOKMARK":
                        continue
                    self._apply(kind, obj)
            except Gone:
                since = None
            except k8s.ApiException as e:
                if e.status in (403, 404) and not self.synced.is_set():
                    log.warning(
                        "cannot watch %s (%s): reading it with GETs instead", self.resource.plural, e.reason
                    )
                    self.unavailable = True
                    return
                if e.status == 410:
                    since = None
                else:
                    log.warning("watch of %s failed (%s); resuming", self.resource.plural, e.reason)
                self._stop.wait(self.backoff)
            except Exception as e:  # a watch must outlive any failure; it resumes
                log.warning("watch of %s failed (%s); resuming", self.resource.plural, e)
                self._stop.wait(self.backoff)

    def _apply(self, kind: str, obj: JSON) -> None:
        meta = obj.get("metadata") or {}
        if kind == "DELETED":
            self.forget(meta.get("namespace") or "", meta.get("name") or "")
        else:
            self.remember(obj)
        for listener in self.listeners:
            try:
                listener(self.resource, kind, obj)
            except Exception:
                log.exception("watch listener failed")


class Caches:
    """The caches of one controller: fixed ones started up front, routing kinds on first read."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespaces: tuple[str, ...] = (),
        *,
        eager: tuple[Resource, ...] = (CANARIES, DEPLOYMENTS, SERVICES, CONFIGMAPS, SECRETS),
        lazy: bool = True,
    ) -> None:
        self.api = api
        self.scopes: tuple[str | None, ...] = namespaces or (None,)
        self.lazy = lazy
        self.listeners: list[Listener] = []
        self._caches: dict[tuple[Resource, str | None], WatchCache] = {}
        self._lock = threading.Lock()
        self._started = False
        self._eager = eager

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def start(self) -> None:
        self._started = True
        for resource in self._eager:
            for scope in self.scopes:
                self._cache(resource, scope, create=True)

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for cache in list(self._caches.values()):
            # A kind that cannot be watched never syncs: it counts as done once it has said so.
            while not (cache.synced.wait(0.05) or cache.unavailable):
                if time.monotonic() > deadline:
                    return False
        return True

    def stop(self) -> None:
        for cache in self._caches.values():
            cache.stop()

    def _scope(self, namespace: str) -> str | None:
        return None if self.scopes == (None,) else namespace

    def _cache(self, resource: Resource, scope: str | None, *, create: bool) -> WatchCache | None:
        with self._lock:
            cache = self._caches.get((resource, scope))
            if cache is None and create and self._started:
                cache = WatchCache(self.api, resource, scope, listeners=self.listeners)
                self._caches[(resource, scope)] = cache
                cache.start()
        return cache

    def lookup(self, resource: Resource, namespace: str) -> WatchCache | None:
        """The synced cache that holds ``resource`` objects of ``namespace``; None: ask the API."""
        if self.scopes != (None,) and namespace not in self.scopes:
            return None
        cache = self._cache(resource, self._scope(namespace), create=self.lazy)
        if cache is None or cache.unavailable or not cache.synced.is_set():
            return None
        return cache

    def remember(self, resource: Resource, obj: JSON) -> None:
        """Store the response of one of our writes in the cache of its kind (if there is one)."""
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        cache = self._cache(resource, self._scope(namespace), create=False)
        if cache is not None:
            cache.remember(obj)

    def forget(self, resource: Resource, namespace: str, name: str) -> None:
        cache = self._cache(resource, self._scope(namespace), create=False)
        if cache is not None:
            cache.forget(namespace, name)

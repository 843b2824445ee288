"""The watch caches on the real API server: what a tick reads comes from list+watch, its own writes
are visible at once, a late (older) version never replaces a newer one, and a kind that cannot be
watched falls back to GETs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from canary.adapters.kube import cache as cache_module
from canary.adapters.kube.cache import CONFIGMAPS, DEPLOYMENTS, Caches, Resource, WatchCache
from canary.adapters.kube.client import KubeClient
from canary.core.errors import MissingKind
from tests.conftest import Cluster


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture
def caches(cluster: Cluster, namespace: str) -> Iterator[Caches]:
    c = Caches(client.ApiClient(cluster.api.configuration), (namespace,))
    c.start()
    assert c.wait_synced(20)
    yield c
    c.stop()


def configmap(namespace: str, name: str, value: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "data": {"v": value}}


def test_reads_follow_the_watch_and_writes_are_seen_at_once(
    cluster: Cluster, namespace: str, caches: Caches
) -> None:
    events: list[tuple[str, str]] = []
    caches.subscribe(lambda resource, kind, obj: events.append((kind, obj["metadata"]["name"])))
    kube = KubeClient(cluster.api, caches)
    core = client.CoreV1Api(cluster.api)

    # Someone else creates and changes a ConfigMap: the cache follows without a GET.
    core.create_namespaced_config_map(namespace, configmap(namespace, "outside", "1"))
    eventually(lambda: (kube.get_config("configmap", namespace, "outside") or {}).get("data") == {"v": "1"})
    core.patch_namespaced_config_map("outside", namespace, {"data": {"v": "2"}})
    eventually(lambda: (kube.get_config("configmap", namespace, "outside") or {}).get("data") == {"v": "2"})
    assert ("MODIFIED", "outside") in events
    cached = kube.get_config("configmap", namespace, "outside")
    assert cached is not None
    assert "managedFields" not in cached["metadata"]

    # Our own write is visible to the very next read, before any watch event could arrive.
    kube.apply_config("configmap", configmap(namespace, "ours", "a"))
    assert (kube.get_config("configmap", namespace, "ours") or {}).get("data") == {"v": "a"}
    kube.apply_config("configmap", configmap(namespace, "ours", "b"))
    assert (kube.get_config("configmap", namespace, "ours") or {}).get("data") == {"v": "b"}

    kube.delete("configmap", namespace, "ours")
    assert kube.get_config("configmap", namespace, "ours") is None
    core.delete_namespaced_config_map("outside", namespace)
    eventually(lambda: kube.get_config("configmap", namespace, "outside") is None)


def test_an_older_version_never_replaces_a_newer_one(cluster: Cluster, namespace: str) -> None:
    cache = WatchCache(cluster.api, CONFIGMAPS, namespace, listeners=[])
    newer = {"metadata": {"name": "x", "namespace": namespace, "resourceVersion": "20"}, "data": {"v": "new"}}
    older = {"metadata": {"name": "x", "namespace": namespace, "resourceVersion": "19"}, "data": {"v": "old"}}
    cache.remember(newer)
    cache.remember(older)  # a watch event that was in flight when our write's answer came back
    assert (cache.get(namespace, "x") or {})["data"] == {"v": "new"}


def test_a_relist_keeps_writes_newer_than_the_list(cluster: Cluster, namespace: str) -> None:
    core = client.CoreV1Api(cluster.api)
    core.create_namespaced_config_map(namespace, configmap(namespace, "listed", "1"))
    cache = WatchCache(cluster.api, CONFIGMAPS, namespace, listeners=[])
    # A write answered after the list was taken (a resourceVersion beyond any the list can hold).
    late = {"metadata": {"name": "late", "namespace": namespace, "resourceVersion": str(10**12)}}
    cache.remember(late)
    # And one the list no longer has, older than the list: it was deleted meanwhile.
    cache.remember({"metadata": {"name": "gone", "namespace": namespace, "resourceVersion": "1"}})
    cache._list()
    assert cache.get(namespace, "listed") is not None
    assert cache.get(namespace, "late") is not None
    assert cache.get(namespace, "gone") is None
    assert cache.synced.is_set()


def test_a_list_longer_than_a_page_is_read_whole(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = client.CoreV1Api(cluster.api)
    for i in range(7):
        core.create_namespaced_config_map(namespace, configmap(namespace, f"page-{i}", str(i)))
    monkeypatch.setattr(cache_module, "LIST_PAGE", 3)  # three pages: 3, 3 and 1 (and the default one)
    cache = WatchCache(cluster.api, CONFIGMAPS, namespace, listeners=[])
    listed_at = cache._list()
    assert all(cache.get(namespace, f"page-{i}") is not None for i in range(7))
    assert int(listed_at) > 0


def test_a_kind_that_cannot_be_watched_is_read_with_gets_which_name_the_missing_kind(
    cluster: Cluster, namespace: str, caches: Caches
) -> None:
    missing = Resource("example.invalid", "v1", "widgets")  # no such CRD
    assert caches.lookup(missing, namespace) is None  # starts a cache, which cannot sync
    eventually(lambda: any(c.unavailable for (r, _), c in caches._caches.items() if r == missing))
    kube = KubeClient(cluster.api, caches)
    with pytest.raises(MissingKind) as raised:  # a GET: 404 naming no object
        kube.get_custom("example.invalid", "v1", "widgets", namespace, "w")
    assert (raised.value.kind, raised.value.verb) == ("widgets.example.invalid/v1", "get")
    # A kind that is served but an object that is not: None, as before.
    assert kube.get_custom("", "v1", "configmaps", namespace, "no-such-configmap") is None


def test_deployments_are_cached_and_scaling_is_seen_at_once(
    cluster: Cluster, namespace: str, caches: Caches
) -> None:
    kube = KubeClient(cluster.api, caches)
    pod = {
        "metadata": {"labels": {"app": "d"}},
        "spec": {"containers": [{"name": "d", "image": "x.invalid/d"}]},
    }
    kube.create_deployment(
        {
            "metadata": {"name": "d", "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}}, "template": pod},
        }
    )
    assert caches.lookup(DEPLOYMENTS, namespace) is not None
    assert (kube.get_deployment(namespace, "d") or {})["spec"]["replicas"] == 1
    kube.scale_deployment(namespace, "d", 0)
    assert (kube.get_deployment(namespace, "d") or {})["spec"]["replicas"] == 0

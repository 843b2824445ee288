"""Start the controller: build the clients and the Controller, then hand over to kopf.

Who calls this: ``canary run``.  Everything the handlers need travels in kopf's memo (no globals):
the ``Controller`` (with its injected API client and settings) and the ``Wakeups`` registry.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client, config
from prometheus_client import CollectorRegistry, start_http_server

from canary import __version__
from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.leader import LeaderElector
from canary.adapters.recorder import MetricsRecorder
from canary.operator import handlers
from canary.operator.settings import Settings
from canary.operator.tick import Controller

FINALIZER = "canary.dev/finalizer"


# The kubernetes client's config loaders carry no type hints.
_config: Any = config


def api_client(kubeconfig: str | None) -> client.ApiClient:
    if kubeconfig:
        api: client.ApiClient = _config.new_client_from_config(config_file=kubeconfig)
        return api
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        _config.load_incluster_config()
        return client.ApiClient()
    api = _config.new_client_from_config()
    return api


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    # Ticks run in the loop's default executor (asyncio.to_thread); size it for many canaries.
    workers = memo["controller"].settings.workers
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tick")
    )
    settings.posting.level = logging.ERROR  # our own events tell the story; kopf's would repeat it
    settings.persistence.finalizer = FINALIZER
    settings.watching.server_timeout = 300


def run_controller(
    settings: Settings, *, kubeconfig: str | None, liveness: str | None, metrics_address: str | None
) -> None:
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf logs in through the same kubeconfig
    kube = KubeClient(api_client(kubeconfig))
    leader = None
    if settings.lease_namespace is not None:
        leader = LeaderElector(
            kube,
            namespace=settings.lease_namespace,
            name=settings.lease_name,
            identity=settings.identity,
            lease_seconds=settings.lease_seconds,
            renew_seconds=settings.renew_seconds,
        )
        leader.start()
    recorder = None
    if metrics_address:
        host, _, port = metrics_address.rpartition(":")
        registry = CollectorRegistry()
        recorder = MetricsRecorder(registry, __version__)
        recorder.count_requests(kube.api)
        start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)  # noqa: S104 - in a Pod
    controller = Controller(kube, settings, leader=leader, recorder=recorder)
    memo = kopf.Memo(controller=controller, wakeups=handlers.Wakeups(recorder))
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        memo=memo,
        liveness_endpoint=liveness,
    )

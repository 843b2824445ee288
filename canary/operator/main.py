"""Start the controller: build the clients and the Controller, then hand over to kopf.

Who calls this: ``canary run``.  Everything the handlers need travels in kopf's memo (no globals):
the ``Controller`` (with its injected API client and settings), the ``Wakeups`` registry and the
watch ``Caches`` (started once kopf's event loop runs).
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
from canary.adapters.kube.cache import Caches
from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.leader import LeaderElector
from canary.adapters.metrics.analysis import MetricAnalysis
from canary.adapters.recorder import MetricsRecorder
from canary.adapters.webhooks import WebhookClient
from canary.operator import handlers
from canary.operator.checks import CheckRunner
from canary.operator.settings import Settings
from canary.operator.tick import Controller

FINALIZER = "canary.dev/finalizer"


# The kubernetes client's config loaders carry no type hints.
_config: Any = config


def api_client(kubeconfig: str | None, *, connections: int = 10) -> client.ApiClient:
    """An API client from the kubeconfig (or the Pod's service account) with its own connection pool."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
        _config.load_incluster_config(client_configuration=configuration)
    else:
        _config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own login: the Pod's service account, else the kubeconfig named by $KUBECONFIG now.

    (kopf's default piggybacks on the kubernetes client, which reads $KUBECONFIG once at import,
    before ``canary run --kubeconfig`` has set it.)
    """
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    # Ticks run in the loop's default executor (asyncio.to_thread); size it for many canaries.
    workers = memo["controller"].settings.workers
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tick"))
    memo["wakeups"].loop = loop
    memo["caches"].start()
    settings.posting.level = logging.ERROR  # our own events tell the story; kopf's would repeat it
    settings.persistence.finalizer = FINALIZER
    settings.watching.server_timeout = 300


def run_controller(
    settings: Settings, *, kubeconfig: str | None, liveness: str | None, metrics_address: str | None
) -> None:
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf logs in through the same kubeconfig
    # Ticks and watch caches use separate clients: the caches' long-running watches neither take the
    # ticks' connections nor count as the ticks' requests.  One connection per worker thread.
    caches = Caches(api_client(kubeconfig, connections=32), settings.namespaces)
    kube = KubeClient(api_client(kubeconfig, connections=settings.workers + 2), caches)
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
    webhooks = WebhookClient()
    checks = CheckRunner(
        MetricAnalysis(kube, settings.metrics_server),
        webhooks,
        read_secret=lambda namespace, name: kube.get_config("secret", namespace, name),
    )
    controller = Controller(kube, settings, leader=leader, recorder=recorder, checks=checks)
    wakeups = handlers.Wakeups(recorder)
    caches.subscribe(wakeups.changed)
    memo = kopf.Memo(controller=controller, wakeups=wakeups, caches=caches)
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        memo=memo,
        liveness_endpoint=liveness,
    )

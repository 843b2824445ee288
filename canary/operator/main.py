"""Start the controller: build the clients and the Controller, then hand over to kopf.

Who calls this: ``canary run``.  Everything the handlers need travels in kopf's memo (no globals):
the ``Controller`` (with its injected API client and settings), the ``Wakeups`` registry and the
watch ``Caches`` (started once kopf's event loop runs).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client, config
from prometheus_client import CollectorRegistry, start_http_server

from canary import __version__
from canary.adapters.kube.cache import Caches
from canary.adapters.kube.client import KubeClient, TimedApiClient
from canary.adapters.kube.leader import LeaderElector
from canary.adapters.metrics.analysis import MetricAnalysis
from canary.adapters.metrics.prometheus import Providers
from canary.adapters.notify import Notifier
from canary.adapters.recorder import MetricsRecorder
from canary.adapters.webhooks import WebhookClient
from canary.operator import handlers
from canary.operator.checks import CheckRunner
from canary.operator.settings import Settings
from canary.operator.tick import Controller

FINALIZER = "canary.dev/finalizer"


# The kubernetes client's config loaders carry no type hints.
_config: Any = config


def api_client(
    kubeconfig: str | None, *, connections: int = 10, timeout: float | None = None, agent: str | None = None
) -> client.ApiClient:
    """An API client from the kubeconfig (or the Pod's service account) with its own connection pool;
    with ``timeout``, every request it makes has that deadline (``TimedApiClient``)."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
        _config.load_incluster_config(client_configuration=configuration)
    else:
        _config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = connections
    api = TimedApiClient(configuration, timeout=timeout) if timeout else client.ApiClient(configuration)
    if agent is not None:
        api.user_agent = agent  # the API server's audit log tells the replicas apart by it
    return api


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """kopf's own login: the Pod's service account, else the kubeconfig named by $KUBECONFIG now.

    (kopf's default piggybacks on the kubernetes client, which reads $KUBECONFIG once at import,
    before ``canary run --kubeconfig`` has set it.)
    """
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    # Ticks run in two pools (see canary.operator.handlers); kopf's own sync handlers (the deletion
    # handler) in the loop's default executor.
    workers = memo["controller"].settings.workers
    loop = asyncio.get_running_loop()
    memo["pools"] = handlers.TickPools(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tick"),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slow-tick"),
        memo["controller"].settings.slow_tick_seconds,
    )
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="kopf"))
    memo["wakeups"].loop = loop
    memo["caches"].start()
    settings.posting.level = logging.ERROR  # our own events tell the story; kopf's would repeat it
    settings.persistence.finalizer = FINALIZER
    # kopf's own requests (finalizers, handler state) and watches get deadlines too: a request no
    # longer than ours, a watch that the client ends if the server never does.
    timeout = memo["controller"].settings.api_timeout
    settings.networking.request_timeout = timeout
    settings.networking.connect_timeout = timeout
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = timeout


#: malloc arenas the controller's threads share, unless $MALLOC_ARENA_MAX says otherwise
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas() -> bool:
    """Let the controller's threads share ``MALLOC_ARENAS`` malloc arenas instead of glibc's default
    of up to 8 per core; True if set.  With 40-odd threads allocating during the start-up burst, each
    arena keeps what it was given, and at 1,000 canaries the RSS after start measured 365-439 MiB
    with the default and 226-239 MiB with two (docs/performance.md, "Memory at start").  Must run
    before the threads start; a $MALLOC_ARENA_MAX set by the operator of the controller wins, and on a
    C library without mallopt (musl) nothing happens."""
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):
        return False


def run_controller(
    settings: Settings, *, kubeconfig: str | None, liveness: str | None, metrics_address: str | None
) -> None:
    limit_malloc_arenas()
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf logs in through the same kubeconfig
    # Ticks and watch caches use separate clients: the caches' long-running watches neither take the
    # ticks' connections nor count as the ticks' requests.  One connection per worker thread.
    agent = f"canary/{__version__} ({settings.identity})"
    caches = Caches(api_client(kubeconfig, connections=32, agent=agent), settings.namespaces)
    # Two tick pools (fast and slow, see handlers) share this client: one connection per worker.
    connections = 2 * settings.workers + 2
    kube = KubeClient(
        api_client(kubeconfig, connections=connections, timeout=settings.api_timeout, agent=agent), caches
    )
    leader = None
    if settings.lease_namespace is not None:
        # The Lease has a client of its own, whose requests end well within a renewal period: no tick,
        # however stuck, can hold the connection or the time the renewal needs.
        lease_timeout = max(1.0, min(settings.api_timeout, settings.renew_seconds))
        lease_api = api_client(kubeconfig, connections=2, timeout=lease_timeout, agent=agent)
        leader = LeaderElector(
            KubeClient(lease_api),
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
        MetricAnalysis(kube, settings.metrics_server, Providers(timeout=settings.prometheus_timeout)),
        webhooks,
        read_secret=lambda namespace, name: kube.get_config("secret", namespace, name),
    )
    controller = Controller(
        kube,
        settings,
        leader=leader,
        recorder=recorder,
        checks=checks,
        notifier=Notifier(timeout=settings.notification_timeout),
    )
    wakeups = handlers.Wakeups(recorder)
    controller.wake = lambda namespace, name: wakeups.wake_threadsafe(namespace, name, "git")
    caches.subscribe(wakeups.changed)
    memo = kopf.Memo(controller=controller, wakeups=wakeups, caches=caches)
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        memo=memo,
        liveness_endpoint=liveness,
    )

"""Controller settings: what ``canary run`` flags set, passed down explicitly (no globals).

Every I/O has a deadline, set here (docs/reliability.md lists them with what each bounds).  A
webhook's deadline is its own ``timeout`` in the spec (default 10 s) for each of its attempts."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from canary.models.canary import MIN_INTERVAL_SECONDS, Provider


@dataclass(frozen=True)
class Settings:
    #: provider for canaries that do not set spec.provider (Flagger: the -mesh-provider flag)
    default_provider: Provider = Provider.KUBERNETES
    #: Prometheus for builtin metrics (used once the analysis lands)
    metrics_server: str = "http://prometheus:9090"
    #: namespaces to watch; empty means the whole cluster
    namespaces: tuple[str, ...] = field(default_factory=tuple)
    #: seconds between retries after an unexpected error in a tick
    error_backoff: float = 5.0
    #: shortest analysis interval honoured (Flagger: 10s); lower only for tests and demos
    min_interval: float = MIN_INTERVAL_SECONDS
    #: who this replica is (events name it as their reporting instance; the Lease holds it)
    identity: str = "canary"
    #: run only while holding the Lease ``lease_name`` in ``lease_namespace`` (None: no election)
    lease_namespace: str | None = None
    lease_name: str = "canary-controller"
    lease_seconds: float = 15.0
    renew_seconds: float = 5.0
    #: threads running ticks at once (each tick waits on the API server most of the time)
    workers: int = 16
    #: where every event goes for canaries without an event hook of their own (Flagger: -event-webhook)
    event_webhook: str | None = None
    #: named in notifications (Flagger: -cluster-name)
    cluster_name: str | None = None
    #: working copies of the GitOps repositories (spec.gitops), one per repository and branch
    gitops_workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "canary-gitops")
    # ---------------------------------------------------------------------------------- deadlines
    #: seconds one Kubernetes API request may take (client side; watches have their own)
    api_timeout: float = 10.0
    #: seconds one git command may take (a fetch or a push to a remote that never answers is killed)
    git_command_timeout: float = 30.0
    #: seconds one whole Git write may take (sync, revert, push and its retries, a pull request)
    git_write_deadline: float = 120.0
    #: seconds one request to a forge's API (pull requests) may take
    forge_timeout: float = 15.0
    #: seconds one Prometheus query may take (each of its two attempts)
    prometheus_timeout: float = 5.0
    #: seconds one notification (AlertProvider) may take
    notification_timeout: float = 5.0
    #: a canary whose last tick took longer than this runs its ticks on the slow pool, so that canaries
    #: whose checks hang (a dead load tester) never hold the workers of the others
    slow_tick_seconds: float = 2.0

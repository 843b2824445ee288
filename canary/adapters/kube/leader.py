"""Leader election with a coordination.k8s.io/v1 Lease, so two controller replicas never drive the
same Canary (Flagger #1613: two replicas without leader election double-drive canaries).

Who uses this: ``canary.operator`` starts one ``LeaderElector`` per process; ticks and finalizers
act only while ``is_leader()`` is true, and a standby replica just watches.  Semantics follow
client-go: the holder renews every ``renew_seconds``; a Lease whose ``renewTime`` is older than
``lease_seconds`` may be taken over.  Writes carry the Lease's resourceVersion, so when two replicas
race, exactly one wins (the other gets 409).  A leader that has not renewed for ``lease_seconds``
minus a safety margin stops acting even before someone else takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client as k8s

from canary.adapters.kube.client import KubeClient

log = logging.getLogger(__name__)


def _micro(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        kube: KubeClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: float = 15.0,
        renew_seconds: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.coordination: Any = k8s.CoordinationV1Api(kube.api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.clock = clock
        self._renewed_at = 0.0  # monotonic time of our last successful acquire/renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    # ------------------------------------------------------------------------------ public
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.renew_seconds + 5)

    def is_leader(self) -> bool:
        # Stop acting a little before the Lease could be taken over by someone else.
        margin = min(2.0, self.lease_seconds / 4)
        return time.monotonic() - self._renewed_at < self.lease_seconds - margin

    # ------------------------------------------------------------------------------ loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    self._renewed_at = time.monotonic()
            except Exception:
                log.exception(
                    "leader election: could not read or write Lease %s/%s", self.namespace, self.name
                )
            self._stop.wait(self.renew_seconds if self.is_leader() else min(self.renew_seconds, 1.0))

    def try_acquire_or_renew(self) -> bool:
        now = self.clock()
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.lease_seconds),
            "renewTime": _micro(now),
        }
        try:
            lease = self.coordination.read_namespaced_lease(self.name, self.namespace)
        except k8s.ApiException as e:
            if e.status != 404:
                raise
            body = {
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {**spec, "acquireTime": _micro(now), "leaseTransitions": 0},
            }
            try:
                self.coordination.create_namespaced_lease(self.namespace, body)
            except k8s.ApiException as conflict:
                if conflict.status == 409:
                    return False
                raise
            log.info("leader election: %s acquired Lease %s/%s", self.identity, self.namespace, self.name)
            return True
        holder = lease.spec.holder_identity
        renewed = lease.spec.renew_time
        duration = lease.spec.lease_duration_seconds or self.lease_seconds
        expired = renewed is None or renewed + timedelta(seconds=duration) < now
        if holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["acquireTime"] = _micro(now)
            spec["leaseTransitions"] = (lease.spec.lease_transitions or 0) + 1
            log.info(
                "leader election: %s takes over Lease %s/%s from %s",
                self.identity,
                self.namespace,
                self.name,
                holder,
            )
        body = {
            "metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
            "spec": spec,
        }
        try:
            self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
        except k8s.ApiException as e:
            if e.status == 409:
                return False  # someone else wrote first
            raise
        return True

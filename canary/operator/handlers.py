"""The kopf handlers: the only code that knows kopf.

* A daemon per Canary runs ticks: one every analysis interval ("due" ticks), plus one at once
  whenever something it watches changes (woken ticks react but step no weight).
* The controller's watch caches (``canary.adapters.kube.cache``) report every change of a
  Deployment, ConfigMap or Secret; ``Wakeups`` wakes the canaries that read that object in their
  last tick (each tick says which: its target, the primary, the configs its revision covers), so a
  new revision starts within a second or two rather than at the next interval.
* A new spec of a Canary (a new ``generation`` in the Canary cache) wakes its daemon, once the
  cache its tick reads from holds that spec.

The ticks themselves run in a worker thread (``canary.operator.tick`` uses the synchronous
kubernetes client); the daemon only schedules them, on one of two pools (``TickPools``): a canary
whose last tick took longer than ``--slow-tick-seconds`` (its checks wait on a webhook or a query
that hangs until its timeout) runs on the slow pool, so canaries whose dependencies answer always
find a free worker.  It comes back to the fast pool after a fast tick.

A Canary being deleted is driven by its deletion handler with the same ticks (the machine's
Terminating phases), until the machine says Terminated; kopf then removes the finalizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from canary.adapters.kube import knative
from canary.adapters.kube.cache import CANARIES, CONFIGMAPS, DEPLOYMENTS, SECRETS, Resource
from canary.adapters.recorder import MetricsRecorder
from canary.models.canary import GROUP, VERSION
from canary.models.requests import REQUEST_ANNOTATION
from canary.operator.tick import Controller, TickResult

_KINDS = {
    DEPLOYMENTS: "deployment",
    CONFIGMAPS: "configmap",
    SECRETS: "secret",
    knative.SERVICES: knative.SERVICE_KEY,
    knative.REVISIONS: knative.REVISION_KEY,
}


class TickPools:
    """The fast and the slow pool of tick workers (a bulkhead), and which canary runs on which."""

    def __init__(self, fast: ThreadPoolExecutor, slow: ThreadPoolExecutor, slow_after: float) -> None:
        self.fast, self.slow, self.slow_after = fast, slow, slow_after
        self._slow: set[tuple[str, str]] = set()

    def pool_of(self, namespace: str, name: str) -> ThreadPoolExecutor:
        return self.slow if (namespace, name) in self._slow else self.fast

    def took(self, namespace: str, name: str, seconds: float) -> None:
        if seconds > self.slow_after:
            self._slow.add((namespace, name))
        else:
            self._slow.discard((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        self._slow.discard((namespace, name))


class Wakeups:
    """One asyncio.Event per Canary, set by watches, awaited by the Canary's daemon.

    ``watch`` records which objects ("deployment/NAME", "configmap/NAME", "secret/NAME") a canary
    read in its last tick; ``changed`` (called from a watch cache's thread) wakes those canaries on
    the event loop.  A change that lands while a tick runs, before the tick has said what it read,
    is not lost: every change is numbered, and ``watch`` compares the numbers of the objects read
    with the number taken when the tick started (``sequence``).
    """

    def __init__(self, recorder: MetricsRecorder | None = None) -> None:
        self.events: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)
        self.recorder = recorder
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._readers: dict[tuple[str, str], set[str]] = defaultdict(set)  # (ns, object) -> canaries
        self._reads: dict[tuple[str, str], frozenset[str]] = {}  # (ns, canary) -> objects
        self._sequence = 0
        # (ns, canary) -> the last (metadata.generation, canary.dev/request annotation)
        self._generations: dict[tuple[str, str], Any] = {}
        self._changed_at: dict[tuple[str, str], int] = {}  # (ns, object) -> sequence of its last change

    @property
    def sequence(self) -> int:
        with self._lock:
            return self._sequence

    def get(self, namespace: str, name: str) -> asyncio.Event:
        return self.events[(namespace, name)]

    def wake(self, namespace: str, name: str, source: str) -> None:
        if (namespace, name) in self.events:
            self.events[(namespace, name)].set()
            if self.recorder is not None:
                self.recorder.wakeups.labels(source).inc()

    def wake_threadsafe(self, namespace: str, name: str, source: str) -> None:
        """``wake`` from any thread (the Git lane, when a write it made for the canary ends)."""
        loop = self.loop
        if loop is not None:
            loop.call_soon_threadsafe(self.wake, namespace, name, source)

    def watch(
        self, namespace: str, canary: str, objects: frozenset[str], *, since: int | None = None
    ) -> bool:
        """Wake ``canary`` on changes of ``objects`` from now on; True if one changed after ``since``."""
        with self._lock:
            missed = since is not None and any(
                self._changed_at.get((namespace, key), 0) > since for key in objects
            )
            previous = self._reads.get((namespace, canary), frozenset())
            if previous == objects:
                return missed
            for key in previous - objects:
                readers = self._readers[(namespace, key)]
                readers.discard(canary)
                if not readers:
                    del self._readers[(namespace, key)]
            for key in objects - previous:
                self._readers[(namespace, key)].add(canary)
            if objects:
                self._reads[(namespace, canary)] = objects
            else:
                self._reads.pop((namespace, canary), None)
            return missed

    def _canary_changed(self, event: str, obj: dict[str, Any]) -> None:
        """A new spec (generation) or a new request by hand (the canary.dev/request annotation) wakes
        the canary, once the cache its tick reads from holds it."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "")
        generation = (meta.get("generation"), (meta.get("annotations") or {}).get(REQUEST_ANNOTATION))
        with self._lock:
            previous = self._generations.get(key)
            if event == "DELETED":
                self._generations.pop(key, None)
                return
            self._generations[key] = generation
        loop = self.loop
        if previous is not None and previous != generation and loop is not None:
            loop.call_soon_threadsafe(self.wake, key[0], key[1], "spec")

    def forget(self, namespace: str, canary: str) -> None:
        self.watch(namespace, canary, frozenset())
        self.events.pop((namespace, canary), None)

    def changed(self, resource: Resource, event: str, obj: dict[str, Any]) -> None:
        if resource == CANARIES:
            self._canary_changed(event, obj)
            return
        kind = _KINDS.get(resource)
        if kind is None:
            return
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or ""
        key = (namespace, f"{kind}/{meta.get('name')}")
        with self._lock:
            self._sequence += 1
            if event == "DELETED":
                self._changed_at.pop(key, None)
            else:
                self._changed_at[key] = self._sequence
            canaries = list(self._readers.get(key, ()))
        loop = self.loop
        if loop is None:
            return  # not started yet: the first tick of every canary reads everything anyway
        for canary in canaries:
            loop.call_soon_threadsafe(self.wake, namespace, canary, kind)


@kopf.daemon(GROUP, VERSION, "canaries", cancellation_timeout=10)
async def run_canary(
    *,
    name: str,
    namespace: str | None,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    namespace = namespace or ""
    controller: Controller = memo["controller"]
    wakeups: Wakeups = memo["wakeups"]
    pools: TickPools = memo["pools"]
    wake = wakeups.get(namespace, name)
    recorder = controller.recorder
    next_due = 0.0  # monotonic time of the next due tick; 0: at once
    try:
        while True:
            started = time.monotonic()
            due = started >= next_due
            scheduled = next_due if due and next_due else started
            wake.clear()
            since = wakeups.sequence

            def run(
                due: bool = due, scheduled: float = scheduled, first: bool = not next_due
            ) -> tuple[TickResult, float]:
                # Lag is measured where the tick really starts: after any wait for a free worker.
                began = time.monotonic()
                if due and not first and recorder is not None:
                    recorder.lag.observe(began - scheduled)
                return controller.tick(namespace, name, due=due), began

            try:
                loop = asyncio.get_running_loop()
                result, began = await loop.run_in_executor(pools.pool_of(namespace, name), run)
                pools.took(namespace, name, time.monotonic() - began)
                if result.reads is not None and wakeups.watch(namespace, name, result.reads, since=since):
                    wake.set()  # something it read changed while it ran: look again
                if result.again and not due:
                    # A woken tick whose decision was not recorded (its status patch met a newer
                    # Canary) is made again, and a promotion by hand takes its next step, without
                    # waiting for the interval; after a due tick, next_due below does it.
                    loop.call_later(result.interval, wake.set)
                if due:
                    # The next due tick is one interval after this one *started*: checks stay one
                    # interval apart, and a slow tick does not stretch the interval.  Not after it was
                    # due: canaries whose runs started together (a mass release) would then stay in
                    # lockstep and meet the workers as one burst every interval; a late start moves
                    # that canary's phase instead, which spreads them out.
                    next_due = max(began + result.interval, time.monotonic())
            except Exception:
                logger.exception("tick of canary %s/%s failed; retrying", namespace, name)
                next_due = time.monotonic() + controller.settings.error_backoff
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, next_due - time.monotonic()))
    finally:
        wakeups.forget(namespace, name)
        pools.forget(namespace, name)


@kopf.on.delete(GROUP, VERSION, "canaries")
def canary_deleted(*, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Drive the machine's Terminating phases (hand traffic back, or leave the primary serving) with
    the same ticks as any other phase; retried until it reaches Terminated."""
    controller: Controller = memo["controller"]
    result = controller.tick(namespace or "", name, due=True, finalizing=True)
    if not result.finalized:
        raise kopf.TemporaryError("the deletion is not done yet (see the Canary's events)", delay=2)
    controller.forget(namespace or "", name)

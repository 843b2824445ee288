"""The kopf handlers: the only code that knows kopf.

* A daemon per Canary runs ticks: one every analysis interval ("due" ticks), plus one at once
  whenever something it watches changes (woken ticks react but step no weight).
* Watches on Deployments, ConfigMaps and Secrets wake the canaries they concern (indexes map a
  Deployment to the canary targeting it, a config to the canaries tracking it), so a new revision
  starts within a second or two rather than at the next interval.
* Spec changes of a Canary wake its daemon.

The ticks themselves run in a worker thread (``canary.operator.tick`` uses the synchronous
kubernetes client); the daemon only schedules them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

import kopf

from canary.adapters.recorder import MetricsRecorder
from canary.models.canary import GROUP, VERSION
from canary.operator.tick import Controller


class Wakeups:
    """One asyncio.Event per Canary, set by watches, awaited by the Canary's daemon."""

    def __init__(self, recorder: MetricsRecorder | None = None) -> None:
        self.events: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)
        self.recorder = recorder

    def get(self, namespace: str, name: str) -> asyncio.Event:
        return self.events[(namespace, name)]

    def wake(self, namespace: str, name: str, source: str) -> None:
        if (namespace, name) in self.events:
            self.events[(namespace, name)].set()
            if self.recorder is not None:
                self.recorder.wakeups.labels(source).inc()


@kopf.index(GROUP, VERSION, "canaries")
def canaries_by_target(
    *, name: str, namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str]:
    """(namespace, Deployment name) -> the canaries targeting it."""
    target = (spec.get("targetRef") or {}).get("name")
    return {(namespace or "", target): name} if target else {}


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
    wake = memo["wakeups"].get(namespace, name)
    next_due = 0.0
    while True:
        now = time.monotonic()
        due = now >= next_due
        if due and next_due and controller.recorder is not None:
            controller.recorder.lag.observe(now - next_due)
        wake.clear()
        try:
            result = await asyncio.to_thread(controller.tick, namespace, name, due=due)
            interval = result.interval
        except Exception:
            logger.exception("tick of canary %s/%s failed; retrying", namespace, name)
            interval = controller.settings.error_backoff
            due = True
        if due:
            next_due = time.monotonic() + interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=max(0.0, next_due - time.monotonic()))


@kopf.on.update(GROUP, VERSION, "canaries", field="spec")
def canary_spec_changed(*, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    memo["wakeups"].wake(namespace or "", name, "spec")


@kopf.on.event("apps", "v1", "deployments")
def deployment_changed(*, name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    index: kopf.Index[tuple[str, str], str] = kwargs["canaries_by_target"]
    namespace = namespace or ""
    for canary in index.get((namespace, name.removesuffix("-primary")), []):
        memo["wakeups"].wake(namespace, canary, "deployment")


@kopf.index(GROUP, VERSION, "canaries")
def canaries_by_config(
    *, name: str, namespace: str | None, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], str]:
    """(namespace, "configmap/NAME" or "secret/NAME") -> canaries whose revision covers that config."""
    return {(namespace or "", key): name for key in (status.get("trackedConfigs") or {})}


@kopf.on.event("", "v1", "configmaps")
def configmap_changed(*, name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    _wake_trackers(memo, kwargs["canaries_by_config"], namespace or "", f"configmap/{name}")


@kopf.on.event("", "v1", "secrets")
def secret_changed(*, name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    _wake_trackers(memo, kwargs["canaries_by_config"], namespace or "", f"secret/{name}")


def _wake_trackers(memo: Any, index: kopf.Index[tuple[str, str], str], namespace: str, key: str) -> None:
    # Only the canaries tracking this config.  A config a canary does not track yet reaches it through
    # the Deployment watch (its template changed to use it) or its next due tick.
    for canary in index.get((namespace, key), []):
        memo["wakeups"].wake(namespace, canary, key.split("/", 1)[0])


@kopf.on.delete(GROUP, VERSION, "canaries")
def canary_deleted(*, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Hand traffic back or leave the primary serving (see ``Controller.finalize``); retried until done."""
    controller: Controller = memo["controller"]
    if not controller.finalize(namespace or "", name):
        raise kopf.TemporaryError(
            "waiting for the target to become ready before handing traffic back", delay=2
        )

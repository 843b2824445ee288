"""Kubernetes Events on a Canary, with specific reasons, folded like kubectl expects.

Who calls this: ``canary.operator.tick`` for every ``RecordEvent`` action.  An event identical to
the last one of the same object (type, reason, message) increments its ``count`` instead of adding
a line, so ``kubectl describe canary`` reads as a timeline rather than a flood.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canary.adapters.kube.client import KubeClient
from canary.core.actions import RecordEvent

COMPONENT = "canary"


class EventRecorder:
    def __init__(self, kube: KubeClient, instance: str = COMPONENT) -> None:
        self.kube = kube
        self.instance = instance
        # (uid, type, reason, message) -> (event name, count) of each object's most recent event
        self._last: dict[str, tuple[tuple[str, str, str], str, int]] = {}

    def record(self, canary: dict[str, Any], event: RecordEvent, now: datetime) -> None:
        meta = canary["metadata"]
        uid = meta.get("uid", meta["name"])
        key = (event.type.value, event.reason.value, event.message)
        last = self._last.get(uid)
        if last is not None and last[0] == key:
            _, name, count = last
            if self.kube.bump_event(meta["namespace"], name, count + 1, now):
                self._last[uid] = (key, name, count + 1)
                return
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": canary.get("apiVersion", "canary.dev/v1alpha1"),
                "kind": "Canary",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event.type.value,
            "reason": event.reason.value,
            "message": event.message[:1024],
            "source": {"component": COMPONENT, "host": self.instance},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        name = self.kube.create_event(meta["namespace"], body)
        self._last[uid] = (key, name, 1)

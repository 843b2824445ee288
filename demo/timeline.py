"""The demo's readable timeline: what the Canary does (phase, weight, events) and the split the Pods
served (through Traefik), one line each, with the seconds since the demo started."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from kubernetes import client


class Timeline:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        canary: str,
        *,
        split: Callable[[], dict[str, int]] | None = None,
        out: TextIO = sys.stdout,
        period: float = 0.5,
    ) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.namespace, self.canary, self.split, self.out, self.period = (
            namespace,
            canary,
            split,
            out,
            period,
        )
        self.started = time.monotonic()
        self.lock = threading.Lock()  # one printer at a time
        self.polling = threading.Lock()  # one poll at a time: the follower's, or a catch-up
        self.seen_events: set[tuple[str, int]] = set()
        self.last_state: tuple[Any, ...] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._follow, name="timeline", daemon=True)

    def say(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {text}"
        with self.lock:
            print(line, file=self.out, flush=True)

    def heading(self, text: str) -> None:
        """Start a section, after printing what happened so far (so that nothing of the previous
        section, seen late by the follower, lands under this heading)."""
        self.catch_up()
        with self.lock:
            print(f"\n== {text}", file=self.out, flush=True)

    def start(self) -> Timeline:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop following, after printing what happened so far."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.thread.join(10)
        self.catch_up()

    def _follow(self) -> None:
        while not self.stopping.wait(self.period):
            self.catch_up()

    def catch_up(self) -> None:
        try:
            self.poll()
        except client.ApiException as e:
            if e.status != 404:
                self.say(f"(timeline: {e.reason})")

    def poll(self) -> None:
        """Print what changed since the last poll: new events, then the status."""
        with self.polling:
            self._poll()

    def _poll(self) -> None:
        events: list[Any] = self.core.list_namespaced_event(
            self.namespace,
            field_selector=f"involvedObject.kind=Canary,involvedObject.name={self.canary}",
        ).items
        events.sort(key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
        for e in events:
            key = (e.metadata.uid, e.count or 1)
            if key in self.seen_events:
                continue
            self.seen_events.add(key)
            mark = "!" if e.type == "Warning" else " "
            self.say(f"{mark} {e.reason}: {e.message}")
        body: Any = self.custom.get_namespaced_custom_object(
            "canary.dev", "v1alpha1", self.namespace, "canaries", self.canary
        )
        status = body.get("status") or {}
        state = (status.get("phase"), status.get("canaryWeight", 0), status.get("failedChecks", 0))
        if state != self.last_state:
            self.last_state = state
            phase, weight, failed = state
            line = f"  {phase}: canary weight {weight}%, failed checks {failed}"
            counts = self.split() if self.split is not None else {}
            total = sum(counts.values())
            if total:
                shares = ", ".join(f"{svc} {n / total:.0%}" for svc, n in sorted(counts.items()))
                line += f"  (served since the last line: {total} requests, {shares})"
            self.say(line)

"""Traffic to stand-in workloads (``demo.standin.StandIn``), for analysis tests on 127.0.0.1.

``Traffic`` sends requests at a constant arrival rate and splits them between the two sides by the
weights of the canary's HTTPRoute, read from the API server as the router writes them: the traffic
each side sees is the traffic the controller routed to it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from demo.standin import StandIn

__all__ = ["StandIn", "Traffic"]


class Traffic:
    """Requests at ``rate`` per second, split between primary and canary by ``weights()``.

    An open model: requests are sent on a fixed schedule whatever the answers' latency (a pool of
    threads sends them), and the split is exact rather than random (a running credit per side), so
    the canary's share follows its weight without sampling noise.
    """

    def __init__(
        self,
        primary: StandIn,
        canary: StandIn,
        weights: Callable[[], tuple[int, int]],
        rate: float = 40.0,
    ) -> None:
        self.primary, self.canary, self.weights, self.rate = primary, canary, weights, rate
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="traffic")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.current = (100, 0)
        self.sent = {"primary": 0, "canary": 0}

    def start(self) -> Traffic:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        credit = 0.0
        next_at, refreshed = time.monotonic(), 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now - refreshed > 0.5:
                with contextlib.suppress(Exception):  # keep the last weights; the API may be busy
                    self.current = self.weights()
                refreshed = now
            primary, canary = self.current
            total = primary + canary
            credit += canary / total if total else 0.0
            side = self.canary if credit >= 1.0 else self.primary
            if credit >= 1.0:
                credit -= 1.0
            self.sent["canary" if side is self.canary else "primary"] += 1
            self.pool.submit(_get, f"http://{side.address}/")
            next_at += 1.0 / self.rate
            self.stopping.wait(max(0.0, next_at - time.monotonic()))


def _get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
            r.read()
    except urllib.error.HTTPError as e:
        e.read()

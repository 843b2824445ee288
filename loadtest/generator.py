"""The built-in load generator: a constant arrival rate (an open model) with a concurrency cap.

Request ``i`` is due at ``start + i / rate`` whatever happened to the requests before it: a slow
answer does not slow the arrivals down (a closed model, "send the next when the last returned",
would, and would then under-report the latency users see: coordinated omission).  When
``concurrency`` requests are already in flight a due request waits for a free slot, and its latency
is counted *from the moment it was due*, so that wait is in the figures too.

The report gives the requests sent, the errors (transport errors and 5xx; 4xx too with
``errors_include_4xx``), the achieved rate, the p50/p90/p99 latency, and how many requests started
more than 10 ms late (a sign that the cap or the machine could not keep up).  ``http://`` targets
go through the built-in HTTP/1.1 client (``loadtest.http1``: httpx costs ten times the CPU per
request), ``https://`` targets and ``client: httpx`` through httpx.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from loadtest.http1 import Http1Pool, ProtocolError

#: a request that started this much after it was due counts as late
LATE = 0.010


@dataclass(frozen=True)
class LoadSpec:
    url: str
    rate: float
    duration: float
    concurrency: int = 100
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    timeout: float = 10.0
    errors_include_4xx: bool = False
    #: "auto": the built-in HTTP/1.1 client for http:// (loadtest.http1), httpx for https://; "httpx": always
    client: str = "auto"

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a positive number of requests per second")
        if not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError("duration must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.client not in ("auto", "httpx"):
            raise ValueError("client must be auto or httpx")


@dataclass
class LoadReport:
    requested: int
    sent: int = 0
    errors: int = 0
    late: int = 0
    #: the sending span (first start to last start, plus one period): the achieved rate's base
    seconds: float = 0.0
    #: until the last answer came
    wall_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def quantile(self, q: float) -> float | None:
        return float(np.quantile(np.asarray(self.latencies), q)) if self.latencies else None

    def summary(self) -> dict[str, Any]:
        def ms(q: float) -> float | None:
            value = self.quantile(q)
            return None if value is None else round(value * 1000, 3)

        return {
            "requested": self.requested,
            "sent": self.sent,
            "errors": self.errors,
            "errorRate": round(self.error_rate, 6),
            "achievedRate": round(self.achieved_rate, 2),
            "seconds": round(self.seconds, 3),
            "late": self.late,
            "statuses": dict(sorted(self.statuses.items())),
            "latencyMs": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99)},
        }


Observer = Callable[[str, float], None]  # (status or error class, seconds)


class _Sender:
    """Sends the spec's request: the built-in HTTP/1.1 client for http://, else httpx."""

    def __init__(self, spec: LoadSpec, client: httpx.AsyncClient | None) -> None:
        self.spec = spec
        self.headers = dict(spec.headers)
        fast = client is None and spec.client == "auto" and spec.url.startswith("http://")
        self.pool = Http1Pool(spec.url, spec.method, self.headers, spec.body) if fast else None
        self.own = client is None
        self.http = client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency),
            timeout=spec.timeout,
            follow_redirects=False,
        )

    async def request(self) -> int:
        if self.pool is not None:
            async with asyncio.timeout(self.spec.timeout):
                return await self.pool.send()
        spec = self.spec
        response = await self.http.request(
            spec.method, spec.url, headers=self.headers, content=spec.body or None
        )
        await response.aread()
        return response.status_code

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
        if self.own:
            await self.http.aclose()


async def run_load(
    spec: LoadSpec,
    *,
    client: httpx.AsyncClient | None = None,
    observe: Observer | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> LoadReport:
    """Send ``rate * duration`` requests at a constant arrival rate; the report once all returned."""
    total = max(1, round(spec.rate * spec.duration))
    report = LoadReport(requested=total)
    sender = _Sender(spec, client)
    slots = asyncio.Semaphore(spec.concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        try:
            started = clock()
            if started - due > LATE:
                report.late += 1
            try:
                code = await sender.request()
                status = str(code)
                failed = code >= 500 or (spec.errors_include_4xx and code >= 400)
            except (
                httpx.HTTPError,
                ProtocolError,
                OSError,
                TimeoutError,
                ValueError,
                asyncio.IncompleteReadError,
            ) as e:
                status, failed = type(e).__name__, True
            elapsed = clock() - due  # from when it was due: waiting for a slot counts
            report.sent += 1
            report.errors += failed
            report.statuses[status] = report.statuses.get(status, 0) + 1
            report.latencies.append(elapsed)
            if observe is not None:
                observe(status, elapsed)
        finally:
            slots.release()

    start = clock()
    launched = start
    try:
        for i in range(total):
            due = start + i / spec.rate
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            launched = clock()
            task = asyncio.create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        # The span over which requests were sent: from the first to the last start, plus one period.
        report.seconds = launched - start + 1 / spec.rate
        report.wall_seconds = clock() - start
        await sender.aclose()
    return report

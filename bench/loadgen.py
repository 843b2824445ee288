"""Benchmark: the load tester's built-in generator against ``hey`` and ``wrk`` on one local target.

Run: ``.venv/bin/python -m bench.loadgen [--rates 100 500 1000 2000 3000 5000] [--duration 10]``
(needs the Debian packages hey and wrk, and Go to build the target: ``apt-get install hey wrk``).

The target (``bench/target``, Go, answers 200 "ok") runs pinned to CPU 0 and each generator pinned to
CPU 1 (``taskset``), so "one core" is literal.  For each requested rate each tool runs for
``--duration`` seconds with 50 connections:

* ours: ``loadtest.generator.run_load`` (constant arrival rate, an open model), in a child process;
* ``hey -q R/50 -c 50``: 50 workers, each limited to R/50 requests per second (a closed model);
* ``wrk -t1 -c50``: no rate control at all (Debian's wrk is the original, not wrk2), so it shows
  what the target and one core can do flat out; it is run once, not per rate.

Printed per tool and rate: the achieved rate, the rate error (|achieved - requested| / requested),
p99 latency as the tool measures it, errors, and the CPU seconds the generator used per second
(1.0 = one core busy).  The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "canary" / "bench"
PORT = 18080
URL = f"http://127.0.0.1:{PORT}/"
CONNECTIONS = 50


def build_target() -> Path:
    out = CACHE / "loadgen-target"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["go", "build", "-o", str(out), "."],
            cwd=REPO / "bench" / "target",
            check=True,
            env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"},
        )
    return out


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str]) -> tuple[str, float, float]:
    """Run ``argv`` pinned to CPU 1; (stdout, wall seconds, CPU seconds)."""
    cpu0, wall0 = child_cpu(), time.monotonic()
    done = subprocess.run(["taskset", "-c", "1", *argv], capture_output=True, text=True, check=True)
    return done.stdout, time.monotonic() - wall0, child_cpu() - cpu0


def seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "secs": 1.0, "m": 60.0}[unit]


def ours(rate: float, duration: float) -> dict[str, Any]:
    out, _, cpu = timed([sys.executable, "-m", "bench.loadgen", "--child", str(rate), str(duration)])
    report = json.loads(out)
    return {
        "achieved": report["achievedRate"],
        "p99_ms": report["latencyMs"]["p99"],
        "errors": report["errors"],
        "cpu": cpu / report["seconds"],
    }


def hey(rate: float, duration: float) -> dict[str, Any]:
    per_worker = rate / CONNECTIONS
    out, _, cpu = timed(["hey", "-z", f"{duration:g}s", "-c", str(CONNECTIONS), "-q", f"{per_worker:g}", URL])
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99% in ([\d.]+) secs", out)
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    ok = int(codes.get("200", 0))
    total = sum(int(v) for v in codes.values())
    return {
        "achieved": achieved,
        "p99_ms": float(p99.group(1)) * 1000 if p99 else None,
        "errors": total - ok,
        "cpu": cpu / duration,
    }


def wrk(duration: float) -> dict[str, Any]:
    out, _, cpu = timed(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency", URL])
    achieved = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)", out)
    return {
        "achieved": achieved,
        "p99_ms": seconds(p99.group(1), p99.group(2)) * 1000 if p99 else None,
        "errors": 0,
        "cpu": cpu / duration,
    }


def child(rate: float, duration: float) -> None:
    sys.path.insert(0, str(REPO))
    from loadtest.generator import LoadSpec, run_load  # noqa: PLC0415

    report = asyncio.run(run_load(LoadSpec(URL, rate, duration, concurrency=CONNECTIONS)))
    print(json.dumps(report.summary()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(float(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=float, nargs="*", default=[100, 500, 1000, 2000, 3000, 5000])
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    for tool in ("hey", "wrk", "go", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install hey wrk (and Go on the PATH)")
    target = subprocess.Popen(["taskset", "-c", "0", str(build_target()), "-addr", f"127.0.0.1:{PORT}"])
    rows: list[dict[str, Any]] = []
    try:
        time.sleep(0.5)
        header = ("tool", "requested", "achieved", "rate error", "p99 ms", "errors", "cpu")
        print("{:<6} {:>9} {:>9} {:>10} {:>8} {:>6} {:>5}".format(*header))
        for rate in args.rates:
            for name, run in (("ours", ours), ("hey", hey)):
                row = {"tool": name, "requested": rate, **run(rate, args.duration)}
                row["rate_error"] = abs(row["achieved"] - rate) / rate
                rows.append(row)
                print(
                    f"{name:<6} {rate:>9.0f} {row['achieved']:>9.1f} {row['rate_error']:>10.2%} "
                    f"{row['p99_ms'] or float('nan'):>8.2f} {row['errors']:>6} {row['cpu']:>5.2f}",
                    flush=True,
                )
        flat = {"tool": "wrk", "requested": None, **wrk(args.duration), "rate_error": None}
        rows.append(flat)
        p99 = flat["p99_ms"] or float("nan")
        print(f"wrk    {'max':>9} {flat['achieved']:>9.1f} {'-':>10} {p99:>8.2f} {0:>6} {flat['cpu']:>5.2f}")
    finally:
        target.terminate()
        target.wait()
    print(json.dumps({"duration": args.duration, "connections": CONNECTIONS, "rows": rows}))


if __name__ == "__main__":
    main()

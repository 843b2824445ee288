"""Benchmark: how long the local control plane takes to start (to a Ready, untainted Node and a running
controller-manager) and to stop, with the binaries already built.

Run: ``.venv/bin/python -m bench.controlplane_start [--runs N]``.  Prints one line per run and the
median; docs/development.md records the figures with the machine's core count.  These are absolute
seconds on one machine, not ratios: they size the test suite's fixed cost, they judge no code.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from controlplane.localcluster import LocalCluster, ensure_built, scratch_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    bindir = ensure_built()
    starts, stops = [], []
    for i in range(args.runs):
        workdir = scratch_dir("canary-bench-")
        cluster = LocalCluster(workdir, bindir)
        t0 = time.monotonic()
        cluster.start()
        t1 = time.monotonic()
        cluster.stop()
        t2 = time.monotonic()
        shutil.rmtree(workdir, ignore_errors=True)
        starts.append(t1 - t0)
        stops.append(t2 - t1)
        print(f"run {i + 1}: start {t1 - t0:.2f}s  stop {t2 - t1:.2f}s")
    start, stop = statistics.median(starts), statistics.median(stops)
    print(f"median of {args.runs}: start {start:.2f}s  stop {stop:.2f}s")


if __name__ == "__main__":
    main()

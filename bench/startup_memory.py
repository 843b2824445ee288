"""Benchmark: the controller's RSS after it starts with N canaries already declared.

Run: ``.venv/bin/python -m bench.startup_memory --canaries 1000 [--runs 3] [--seconds 180]``.

Each run starts its own control plane, creates N Deployments and N Canaries (as ``bench.scale``
does), starts ``canary run`` and samples its RSS every 30 s for ``--seconds``.  At 1,000 canaries the
RSS is set in the first 20-30 s (kopf taking every Canary at once while the watch caches fill and
the workers bootstrap the primaries) and varies from run to run, so a change is compared over
several runs.  Environment variables reach the controller (``MALLOC_ARENA_MAX=2``, say).  The last
line printed is JSON; nothing is asserted: docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from kubernetes import client

from bench.scale import controller_command, create_canaries, memory_mib, prepare
from controlplane.localcluster import LocalCluster, ensure_built, free_port, scratch_dir, terminate

REPO = Path(__file__).resolve().parents[1]


def one_run(n: int, seconds: int) -> list[int]:
    workdir = scratch_dir("canary-bench-startup-")
    cluster = LocalCluster(workdir, ensure_built(), node_pods=4 * n + 110)
    controller: subprocess.Popen[bytes] | None = None
    try:
        cluster.start()
        api = prepare(cluster)
        create_canaries(client.AppsV1Api(api), client.CustomObjectsApi(api), n, 10)
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        with open(workdir / "controller.log", "wb") as log:
            controller = subprocess.Popen(
                controller_command(free_port()),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
            samples = []
            for t in range(0, seconds + 1, 30):
                time.sleep(30 if t else 1)
                samples.append(round(memory_mib(controller.pid)[0]))
            return samples
    finally:
        if controller is not None:
            terminate(controller)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=180, help="how long to sample each run")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        samples = one_run(args.canaries, args.seconds)
        print(f"run {i + 1}: RSS MiB every 30 s: {samples}", flush=True)
        runs.append(samples)
    arena = os.environ.get("MALLOC_ARENA_MAX")
    print(
        json.dumps(
            {"canaries": args.canaries, "malloc_arena_max": arena, "final_rss_mib": [r[-1] for r in runs]}
        )
    )


if __name__ == "__main__":
    main()

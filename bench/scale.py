"""Benchmark: N canaries progressing at once on the local control plane.

Run: ``.venv/bin/python -m bench.scale --canaries 100 [--interval 10] [--window 60]``.

It starts its own control plane, creates N Deployments and N Canaries (kubernetes provider,
blue/green with a practically endless number of iterations, so every due tick does the work of a
progressing canary: observe, decide, patch the status), starts the controller (``canary run``, a
subprocess) and, once every canary is progressing and the cluster has finished rolling out the new
targets (their status changes wake canaries, which is the cluster's work, not the steady state),
measures a window:

* tick lag: how late due ticks start against their schedule (p50, p99), from the controller's
  ``canary_tick_lag_seconds`` histogram;
* ticks per second against the ideal N / interval;
* Kubernetes API requests per tick made by the ticks (``canary_api_requests_total``; kopf's own
  watches are not counted);
* the controller's CPU (share of one core) and its RSS and peak RSS (from /proc).

The last line printed is JSON.  Nothing here is asserted: docs/performance.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from controlplane.localcluster import (
    LocalCluster,
    ensure_built,
    free_port,
    kubectl_path,
    scratch_dir,
    terminate,
    wait_for_crds,
)

REPO = Path(__file__).resolve().parents[1]
NS = "bench"


def controller_command(port: int, workers: int = 16) -> list[str]:
    """``canary run`` as the benchmarks start it: namespace ``bench``, one replica, metrics on ``port``."""
    return [
        sys.executable,
        "-m",
        "canary",
        "run",
        "-n",
        NS,
        "--no-leader-election",
        "--log-level",
        "warning",
        "--metrics-address",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def total(m: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(v for _, v in m.get(name, []))


def buckets(m: dict[str, list[tuple[dict[str, str], float]]], name: str) -> dict[float, float]:
    return {float(labels["le"]): v for labels, v in m.get(f"{name}_bucket", [])}


def quantile(cumulative: dict[float, float], q: float) -> float:
    bounds = sorted(cumulative)
    count = cumulative[bounds[-1]]
    if count == 0:
        return 0.0
    rank, previous_bound, previous_count = q * count, 0.0, 0.0
    for bound in bounds:
        if cumulative[bound] >= rank:
            if bound == float("inf"):
                return previous_bound  # beyond the last finite bucket: report its bound as a floor
            share = (rank - previous_count) / max(cumulative[bound] - previous_count, 1e-9)
            return previous_bound + share * (bound - previous_bound)
        previous_bound, previous_count = bound, cumulative[bound]
    return previous_bound


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def phases(custom: Any) -> dict[str, int]:
    items = custom.list_namespaced_custom_object("canary.dev", "v1alpha1", NS, "canaries")["items"]
    counts: dict[str, int] = {}
    for item in items:
        phase = item.get("status", {}).get("phase", "")
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def wait_all(custom: Any, phase: str, n: int, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if phases(custom).get(phase, 0) == n:
            return time.monotonic() - start
        time.sleep(1)
    raise SystemExit(f"not all {n} canaries reached {phase} within {timeout}s: {phases(custom)}")


def settled(apps: Any) -> int:
    """How many Deployments have not finished rolling out yet (the cluster's own work)."""
    busy = 0
    for d in apps.list_namespaced_deployment(NS, _preload_content=False).json()["items"]:
        status, want = d.get("status", {}), d["spec"].get("replicas", 1)
        if (
            status.get("observedGeneration", 0) < d["metadata"]["generation"]
            or status.get("replicas", 0) != want
            or status.get("updatedReplicas", 0) != want
            or status.get("readyReplicas", 0) != want
        ):
            busy += 1
    return busy


def wait_settled(apps: Any, timeout: float) -> float:
    start = time.monotonic()
    while (busy := settled(apps)) and time.monotonic() - start < timeout:
        time.sleep(2)
    if busy:
        raise SystemExit(f"{busy} Deployments still rolling out after {timeout}s")
    return time.monotonic() - start


def create_canaries(apps: Any, custom: Any, n: int, interval: int) -> None:
    for i in range(n):
        name = f"app-{i:04d}"
        pod = {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
        }
        apps.create_namespaced_deployment(
            NS,
            {
                "metadata": {"name": name},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": pod},
            },
        )
        spec = {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 80},
            "analysis": {"interval": f"{interval}s", "iterations": 1_000_000},
        }
        body = {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": name},
            "spec": spec,
        }
        custom.create_namespaced_custom_object("canary.dev", "v1alpha1", NS, "canaries", body)


def prepare(cluster: LocalCluster) -> Any:
    """CRDs and the namespace; returns an API client."""
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
    kubectl = [kubectl_path(), f"--kubeconfig={cluster.kubeconfig}"]
    files = [
        a
        for f in ("canaries.yaml", "metrictemplates.yaml", "alertproviders.yaml")
        for a in ("-f", str(REPO / "crds" / f))
    ]
    subprocess.run([*kubectl, "apply", "--server-side", *files], check=True, capture_output=True)
    wait_for_crds(kubectl, "crd", "--all")
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    while True:
        try:
            core.read_namespaced_service_account("default", NS)
            return api
        except client.ApiException:
            time.sleep(0.2)


def by_resource(
    before: dict[str, list[tuple[dict[str, str], float]]],
    after: dict[str, list[tuple[dict[str, str], float]]],
    ticks: float,
) -> dict[str, float]:
    """Requests per tick by ``method resource`` (which writes and reads the ticks still make)."""
    start = {
        (labels["method"], labels["resource"]): v for labels, v in before.get("canary_api_requests_total", [])
    }
    return {
        f"{labels['method']} {labels['resource']}": round(
            (v - start.get((labels["method"], labels["resource"]), 0.0)) / ticks, 2
        )
        for labels, v in after.get("canary_api_requests_total", [])
        if ticks and v > start.get((labels["method"], labels["resource"]), 0.0)
    }


def watch_window(
    port: int, window: float, count: int, before: dict[str, list[tuple[dict[str, str], float]]]
) -> tuple[dict[str, list[tuple[dict[str, str], float]]], list[float]]:
    """Scrape at the end of each slice of the window; the p99 lag per slice shows whether the lag is
    draining (a backlog left from the ramp) or steady (a capacity limit)."""
    slices, previous = [], before
    for _ in range(count):
        time.sleep(window / count)
        current = scrape(port)
        start, end = buckets(previous, "canary_tick_lag_seconds"), buckets(current, "canary_tick_lag_seconds")
        slices.append(round(quantile({b: end[b] - start.get(b, 0.0) for b in end}, 0.99), 3))
        previous = current
    return previous, slices


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--canaries", type=int, default=100)
    parser.add_argument("--interval", type=int, default=10, help="analysis interval in seconds")
    parser.add_argument("--window", type=float, default=60.0, help="measurement window in seconds")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="steady-state seconds before the window (default 2 intervals)",
    )
    parser.add_argument("--slices", type=int, default=3, help="also report p99 lag per slice of the window")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    n = args.canaries

    workdir = scratch_dir("canary-bench-scale-")
    cluster = LocalCluster(workdir, ensure_built(), node_pods=4 * n + 110)  # targets, primaries, headroom
    controller: subprocess.Popen[bytes] | None = None
    try:
        cluster.start()
        api = prepare(cluster)
        apps, custom = client.AppsV1Api(api), client.CustomObjectsApi(api)
        started = time.monotonic()
        create_canaries(apps, custom, n, args.interval)
        create_seconds = time.monotonic() - started

        port = free_port()
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        log = open(workdir / "controller.log", "wb")  # noqa: SIM115 - closed in finally
        controller = subprocess.Popen(
            controller_command(port, args.workers),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )
        init_seconds = wait_all(custom, "Initialized", n, timeout=max(300, n * 2))

        for i in range(n):
            apps.patch_namespaced_deployment(
                f"app-{i:04d}",
                NS,
                {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": "app", "image": "example.invalid/app:2"}]}
                        }
                    }
                },
            )
        progressing_seconds = wait_all(custom, "Progressing", n, timeout=max(300, n * 2))
        # Steady state: the cluster has finished rolling out the new targets (each status change of
        # theirs wakes a canary), and every canary has had due ticks since.
        settle_seconds = wait_settled(apps, timeout=max(300, n * 2))
        time.sleep(2 * args.interval if args.warmup is None else args.warmup)

        before, cpu_before, t_before = scrape(port), cpu_seconds(controller.pid), time.monotonic()
        after, slices = watch_window(port, args.window, args.slices, before)
        cpu_after, t_after = cpu_seconds(controller.pid), time.monotonic()
        rss, peak = memory_mib(controller.pid)
        elapsed = t_after - t_before

        lag_before, lag_after = (
            buckets(before, "canary_tick_lag_seconds"),
            buckets(after, "canary_tick_lag_seconds"),
        )
        lag = {b: lag_after[b] - lag_before.get(b, 0.0) for b in lag_after}
        ticks = total(after, "canary_tick_duration_seconds_count") - total(
            before, "canary_tick_duration_seconds_count"
        )
        requests = total(after, "canary_api_requests_total") - total(before, "canary_api_requests_total")
        result = {
            "canaries": n,
            "interval_s": args.interval,
            "window_s": round(elapsed, 1),
            "create_s": round(create_seconds, 1),
            "all_initialized_s": round(init_seconds, 1),
            "all_progressing_after_new_revision_s": round(progressing_seconds, 1),
            "cluster_settled_after_s": round(settle_seconds, 1),
            "ticks_per_s": round(ticks / elapsed, 2),
            "ideal_ticks_per_s": round(n / args.interval, 2),
            "lag_p50_s": round(quantile(lag, 0.50), 3),
            "lag_p99_s": round(quantile(lag, 0.99), 3),
            "lag_p99_by_slice_s": slices,
            "warmup_s": 2 * args.interval if args.warmup is None else args.warmup,
            "api_requests_per_tick": round(requests / ticks, 2) if ticks else None,
            "api_requests_per_tick_by_resource": by_resource(before, after, ticks),
            "wakeups_per_s": {
                labels["source"]: round(
                    (
                        v
                        - dict((tuple(b.items()), w) for b, w in before.get("canary_wakeups_total", [])).get(
                            tuple(labels.items()), 0.0
                        )
                    )
                    / elapsed,
                    2,
                )
                for labels, v in after.get("canary_wakeups_total", [])
            },
            "cpu_cores": round((cpu_after - cpu_before) / elapsed, 3),
            "rss_mib": round(rss, 1),
            "peak_rss_mib": round(peak, 1),
            "cores": os.cpu_count(),
        }
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
        print(json.dumps(result))
    finally:
        if controller is not None:
            terminate(controller, 20)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Stand-in workloads that follow the Deployments of a namespace.

The local control plane's pods are kwok's: scheduled and reported Running, serving nothing.  A
``Fleet`` gives each Deployment that wants pods (``spec.replicas`` > 0) one stand-in process
(``python -m demo.standin``) on 127.0.0.1, serving with the behaviour its pod template declares:

* the first container's environment: ``STANDIN_ERROR_RATE`` (a share, 0..1) and
  ``STANDIN_LATENCY_MS`` (the median latency);
* otherwise the image, looked up in a catalogue (image -> ``Behaviour``): how the demo says that
  ``ghcr.io/acme/web:1.2.0`` is a faulty build;
* otherwise healthy (no errors, 20 ms).

When a Deployment's pod template changes (a new image, a promotion copying the canary into the
primary), its stand-in is replaced by one with the new behaviour; when it is scaled to zero or deleted,
its stand-in stops.  Each stand-in is a Prometheus target (file discovery) labelled as Kubernetes
service discovery would label its pod (``kubernetes_namespace``, ``kubernetes_pod_name`` named
``<deployment>-<template hash>-<suffix>``, the shape the builtin queries match), and a Service resolves
to the stand-in of the Deployment whose pod labels its selector matches (what the gateway routes to).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from controlplane.localcluster import terminate
from controlplane.prometheus import Prometheus

log = logging.getLogger(__name__)

ERROR_RATE_ENV = "STANDIN_ERROR_RATE"
LATENCY_ENV = "STANDIN_LATENCY_MS"
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Behaviour:
    error_rate: float = 0.0
    latency_ms: float = 20.0

    def describe(self) -> str:
        return f"{self.error_rate:.0%} errors, {self.latency_ms:g} ms"


def _number(value: str, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    if not low <= number <= high:
        raise ValueError(f"{name}={value!r} is outside {low:g}..{high:g}")
    return number


def behaviour_of(template: Mapping[str, Any], catalogue: Mapping[str, Behaviour]) -> Behaviour:
    """What the pod template declares (see the module's docstring); ValueError for a bad value."""
    containers = (template.get("spec") or {}).get("containers") or [{}]
    first = containers[0]
    env = {e.get("name"): e.get("value") for e in first.get("env") or [] if e.get("value") is not None}
    known = catalogue.get(str(first.get("image", "")), Behaviour())
    error_rate = known.error_rate
    latency = known.latency_ms
    if ERROR_RATE_ENV in env:
        error_rate = _number(env[ERROR_RATE_ENV], ERROR_RATE_ENV, 0.0, 1.0)
    if LATENCY_ENV in env:
        latency = _number(env[LATENCY_ENV], LATENCY_ENV, 0.1, 60_000.0)
    return Behaviour(error_rate, latency)


def template_hash(template: Mapping[str, Any]) -> str:
    """A short hash of what the stand-in serves: the pod template's spec."""
    text = json.dumps(template.get("spec") or {}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class Running:
    deployment: str
    hash: str
    image: str
    behaviour: Behaviour
    labels: dict[str, str]
    proc: subprocess.Popen[str]
    address: str
    pod: str


class Fleet:
    """Follows the Deployments of ``namespace``; ``sync()`` once, or ``start()`` to follow them."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        *,
        prometheus: Prometheus | None = None,
        catalogue: Mapping[str, Behaviour] | None = None,
        on_change: Callable[[str], None] | None = None,
        period: float = 0.5,
    ) -> None:
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.serialize: Callable[[Any], Any] = api.sanitize_for_serialization
        self.namespace = namespace
        self.prometheus = prometheus
        self.catalogue = dict(catalogue or {})
        self.on_change = on_change or (lambda text: None)
        self.period = period
        self.running: dict[str, Running] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._follow, name="fleet", daemon=True)
        self.seed = 0

    # ------------------------------------------------------------------------------ following
    def start(self) -> Fleet:
        self.sync()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(10)
        with self.lock:
            for name in list(self.running):
                self._retire(name)

    def _follow(self) -> None:
        while not self.stopping.wait(self.period):
            try:
                self.sync()
            except Exception:  # the API may be busy; the next pass catches up
                log.exception("following the Deployments of %s", self.namespace)

    def sync(self) -> None:
        """One pass: a stand-in for each Deployment that wants pods, with its template's behaviour."""
        listed: Any = self.apps.list_namespaced_deployment(self.namespace)
        items = listed.items
        wanted = {}
        for item in items:
            body = self.serialize(item)
            replicas = body.get("spec", {}).get("replicas", 1)
            if replicas:
                wanted[body["metadata"]["name"]] = body
        with self.lock:
            for name in [n for n in self.running if n not in wanted]:
                self.on_change(f"{name}: scaled to zero, its stand-in stopped")
                self._retire(name)
            changed: list[tuple[str, str, Mapping[str, Any], Behaviour]] = []
            for name, body in wanted.items():
                template = body["spec"]["template"]
                digest = template_hash(template)
                current = self.running.get(name)
                if current is not None and current.hash == digest:
                    continue
                if current is not None:
                    self._retire(name)  # the old revision's stand-in goes first: it serves no more
                try:
                    behaviour = behaviour_of(template, self.catalogue)
                except ValueError as e:
                    self.on_change(f"{name}: not started, its pod template declares {e}")
                    continue
                changed.append((name, digest, template, behaviour))
            # Started together, then waited for: a pass with many changes costs one start-up, not many.
            launched = [(c, self._launch(c[0], c[3])) for c in changed]
            for (name, digest, template, behaviour), proc in launched:
                started = self._register(name, digest, template, behaviour, proc)
                self.running[name] = started
                self.on_change(f"{name}: serving {started.image} ({behaviour.describe()})")

    # ------------------------------------------------------------------------------ processes
    def _launch(self, name: str, behaviour: Behaviour) -> subprocess.Popen[str]:
        self.seed += 1
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo.standin",
                "--namespace",
                self.namespace,
                "--workload",
                name,
                "--error-rate",
                str(behaviour.error_rate),
                "--latency-ms",
                str(behaviour.latency_ms),
                "--seed",
                str(self.seed),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def _register(
        self,
        name: str,
        digest: str,
        template: Mapping[str, Any],
        behaviour: Behaviour,
        proc: subprocess.Popen[str],
    ) -> Running:
        """The launched stand-in, once it says where it listens, as a scrape target."""
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the stand-in for {name} did not start (exit {proc.returncode})")
        containers = (template.get("spec") or {}).get("containers") or [{}]
        pod = f"{name}-{digest}-{digest[-5:]}"
        running = Running(
            deployment=name,
            hash=digest,
            image=str(containers[0].get("image", "")),
            behaviour=behaviour,
            labels=dict((template.get("metadata") or {}).get("labels") or {}),
            proc=proc,
            address=line[1],
            pod=pod,
        )
        if self.prometheus is not None:
            self.prometheus.add_targets(
                self._target(name),
                [running.address],
                {"kubernetes_namespace": self.namespace, "kubernetes_pod_name": pod, "job": "standin"},
            )
        return running

    def _target(self, name: str) -> str:
        return f"standin-{self.namespace}-{name}"

    def _retire(self, name: str) -> None:
        running = self.running.pop(name)
        if self.prometheus is not None:
            self.prometheus.remove_targets(self._target(name))
        terminate(running.proc)
        if running.proc.stdout is not None:
            running.proc.stdout.close()

    # ------------------------------------------------------------------------------ lookups
    def address_of_service(self, service: str) -> str | None:
        """The stand-in a Service sends to: the Deployment whose pod labels match its selector."""
        found: Any = self.core.read_namespaced_service(service, self.namespace)
        selector = found.spec.selector or {}
        if not selector:
            return None
        with self.lock:
            for running in self.running.values():
                if all(running.labels.get(k) == v for k, v in selector.items()):
                    return running.address
        return None

    def serving(self) -> dict[str, tuple[str, Behaviour]]:
        """Deployment -> (image, behaviour) of every stand-in running now."""
        with self.lock:
            return {n: (r.image, r.behaviour) for n, r in self.running.items()}

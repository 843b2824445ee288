"""Generated Canary specs, sensible and not, for the tests that feed them to the models, the core and
the API server: a few realistic specs (Flagger's shapes, every strategy and several providers, GitOps,
webhooks, session affinity) each changed by zero to four random mutations: a field removed, a value of
another type, a number at or past its bounds, a malformed duration, an unknown provider, an unknown
key, a long or odd string.  Deterministic for a seed, so a failure names the spec that caused it.
"""

from __future__ import annotations

import copy
import random
from typing import Any

TARGETS = ("web", "api", "ghost")

BASES: list[dict[str, Any]] = [
    {  # progressive canary on the Gateway API, judged on metrics and a webhook
        "provider": "gatewayapi",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "progressDeadlineSeconds": 60,
        "service": {"port": 9898, "targetPort": "http", "gatewayRefs": [{"name": "public"}]},
        "analysis": {
            "interval": "10s",
            "threshold": 2,
            "stepWeight": 20,
            "maxWeight": 60,
            "metrics": [
                {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
                {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
            ],
            "webhooks": [{"name": "load", "type": "rollout", "url": "http://127.0.0.1:1/", "timeout": "5s"}],
        },
    },
    {  # blue/green on the kubernetes provider
        "provider": "kubernetes",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
        "service": {"port": 80},
        "analysis": {"interval": "30s", "iterations": 5, "threshold": 1},
    },
    {  # A/B testing on Istio
        "provider": "istio",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "service": {"port": 9898, "hosts": ["web.example.com"], "gateways": ["public"]},
        "analysis": {
            "interval": "1m",
            "iterations": 10,
            "threshold": 2,
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        },
    },
    {  # step weights, mirroring, session affinity and webhooks of every kind
        "provider": "gatewayapi:v1",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "service": {"port": 9898, "gatewayRefs": [{"name": "public", "namespace": "gw"}]},
        "analysis": {
            "interval": "15s",
            "stepWeights": [5, 10, 50],
            "mirror": True,
            "mirrorWeight": 50,
            "sessionAffinity": {"cookieName": "canary", "maxAge": 600},
            "webhooks": [
                {"name": t, "type": t, "url": f"http://127.0.0.1:1/{t}"}
                for t in ("confirm-rollout", "pre-rollout", "confirm-promotion", "post-rollout", "rollback")
            ],
        },
    },
    {  # GitOps write-back
        "provider": "nginx",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
        "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "api"},
        "service": {"port": 80},
        "analysis": {"interval": "20s", "stepWeight": 10, "maxWeight": 50},
        "gitops": {
            "repository": {"url": "https://git.example/config.git", "branch": "main"},
            "path": "apps/api/staging",
            "promote": {"path": "apps/api/production"},
        },
    },
    {  # skipped analysis, suspended, and a KEDA scaler
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ghost"},
        "service": {"port": 8080},
        "skipAnalysis": True,
        "autoscalerRef": {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "ghost"},
        "analysis": {"interval": "1m", "stepWeight": 50},
    },
]

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1,
    100,
    101,
    2**31,
    -(2**40),
    1.5,
    "",
    "x" * 300,
    "déploiement",
    "Web_App!",
    [],
    {},
    [1, "a", None],
    {"unexpected": {"nested": [1, 2]}},
]
DURATIONS = ["", "abc", "-1s", "0s", "1ms", "10", "1h", "9999999h", "1m30s", "2.5m", "10s"]
PROVIDERS = [
    "kubernetes",
    "gatewayapi",
    "istio",
    "nginx",
    "linkerd",
    "contour",
    "traefik",
    "gloo",
    "nope",
    "",
]
NUMERIC = ("port", "threshold", "stepWeight", "maxWeight", "iterations", "progressDeadlineSeconds", "maxAge")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.append((*prefix, i))
            out += _paths(value, (*prefix, i))
    return out


def _parent(spec: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = spec
    for key in path[:-1]:
        node = node[key]
    return node


def mutate(spec: dict[str, Any], rng: random.Random) -> str:
    """One random change of ``spec`` in place; what it did, for a failure message."""
    paths = _paths(spec)
    if not paths:
        spec["unknownField"] = 1
        return "an unknown field in an empty spec"
    path = rng.choice(paths)
    parent, key = _parent(spec, path), path[-1]
    kind = rng.randrange(7)
    if kind == 0 and isinstance(parent, dict):
        del parent[key]
        return f"removed {path}"
    if kind == 1:
        parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        return f"{path} = {parent[key]!r}"[:120]
    if kind == 2:
        numeric = [p for p in paths if p[-1] in NUMERIC]
        if numeric:
            path = rng.choice(numeric)
            _parent(spec, path)[path[-1]] = rng.choice([0, -1, 1, 99, 100, 101, 65535, 65536, 2**31])
            return f"{path} = boundary"
    if kind == 3:
        durations = [p for p in paths if p[-1] in ("interval", "timeout")]
        if durations:
            path = rng.choice(durations)
            _parent(spec, path)[path[-1]] = rng.choice(DURATIONS)
            return f"{path} = a duration"
    if kind == 4:
        spec["provider"] = rng.choice(PROVIDERS)
        return f"provider = {spec['provider']!r}"
    if kind == 5 and isinstance(parent, dict):
        parent[rng.choice(["unknownField", "x-extra", "Threshold", "step_weight"])] = rng.choice(ODD_VALUES)
        return f"unknown key under {path[:-1]}"
    if isinstance(parent, dict | list):
        parent[key] = rng.choice(["x" * rng.randrange(1, 400), "🚀", "a b", "../../etc", "$(id)"])
    return f"{path} = an odd string"


def generated(n: int, seed: int = 0) -> list[tuple[dict[str, Any], list[str]]]:
    """``n`` specs, each with the list of mutations that made it."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        spec = copy.deepcopy(rng.choice(BASES))
        spec["targetRef"]["name"] = rng.choice(TARGETS)
        changes = [mutate(spec, rng) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
        out.append((spec, changes))
    return out

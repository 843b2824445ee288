"""``canary status NAME [--watch] [--timeout]``: the verdict on the target's current revision, as an
exit code a pipeline can branch on.

Who calls this: the ``canary`` command line.  What it reads: the Canary (phase, conditions, and
``status.targetGeneration``, the target generation the controller last decided on) and the target's
``metadata.generation``.  The phase counts only once the controller has seen the target as it is now:
right after CI changes the Deployment, the Canary still says Succeeded about the previous revision,
and reading that as the verdict (as ``kubectl wait --for=condition=Promoted`` does) passes a release
nobody analysed.  With ``--watch`` it follows the Canary through a watch until there is a verdict or
the timeout passes.

Exit codes: 0 promoted (Succeeded, or Initialized: the primary runs the target), 1 failed or rolled
back, 2 no verdict (in progress without --watch, or not within --timeout), 3 invalid (the Ready
condition says InvalidSpec, MissingKind or Forbidden: waiting will not help).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from canary.operator.watching import changes, read_canary

PROMOTED, FAILED, PENDING, INVALID = 0, 1, 2, 3
_INVALID_REASONS = frozenset({"InvalidSpec", "MissingKind", "Forbidden"})


@dataclass(frozen=True)
class Verdict:
    code: int
    line: str

    @property
    def final(self) -> bool:
        return self.code != PENDING


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def verdict(canary: dict[str, Any], target_generation: int | None) -> Verdict:
    """The verdict the Canary gives on the target at ``target_generation`` (None: target not found)."""
    name = canary.get("metadata", {}).get("name", "")
    status = canary.get("status") or {}
    phase = status.get("phase") or "None"
    ready = _condition(status, "Ready")
    if ready.get("status") == "False" and ready.get("reason") in _INVALID_REASONS:
        return Verdict(INVALID, f"{name}: {ready.get('reason')}: {ready.get('message', '')}")
    weight = status.get("canaryWeight", 0)
    progress = f"{name}: {phase}, canary weight {weight}%"
    if status.get("iterations"):
        progress += f", iteration {status['iterations']}"
    analysis = _condition(status, "Analysis")
    if analysis.get("message"):
        progress += f"; {analysis['message']}"
    if target_generation is None:
        return Verdict(PENDING, f"{progress} (target not found)")
    if status.get("targetGeneration") != target_generation:
        return Verdict(PENDING, f"{progress} (the controller has not seen the target's latest change yet)")
    if phase in ("Succeeded", "Initialized"):
        return Verdict(PROMOTED, f"{name}: {phase}: the primary runs the target's current revision")
    if phase == "Failed":
        promoted = _condition(status, "Promoted")
        return Verdict(FAILED, f"{name}: Failed: {promoted.get('message') or 'rolled back'}")
    return Verdict(PENDING, progress)


def status(
    api: k8s.ApiClient,
    namespace: str,
    name: str,
    *,
    follow: bool,
    timeout: float,
    echo: Callable[[str], None],
) -> int:
    """Print the state (each change, with ``follow``) and return the exit code; ``timeout`` 0: none."""
    custom, apps = k8s.CustomObjectsApi(api), k8s.AppsV1Api(api)

    def generation_of(canary: dict[str, Any]) -> int | None:
        ref = canary.get("spec", {}).get("targetRef", {})
        target, api_version = ref.get("name", name), str(ref.get("apiVersion", ""))
        try:
            if api_version.startswith("serving.knative.dev/"):
                group, version = api_version.split("/", 1)
                service: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
                    group, version, namespace, "services", target, _request_timeout=10
                )
                generation = service.get("metadata", {}).get("generation")
            else:
                meta = apps.read_namespaced_deployment(target, namespace, _request_timeout=10).metadata
                generation = meta.generation if meta is not None else None
            return int(generation) if generation is not None else None
        except k8s.ApiException as e:
            if e.status != 404:
                raise
            return None

    current = read_canary(custom, namespace, name)
    seen = verdict(current, generation_of(current))
    echo(seen.line)
    if seen.final or not follow:
        return seen.code
    for kind, obj in changes(custom, namespace, name, current["metadata"]["resourceVersion"], timeout):
        if kind == "DELETED":
            echo(f"{name}: deleted")
            return FAILED
        now = verdict(obj, generation_of(obj))
        if now.line != seen.line:
            echo(now.line)
        seen = now
        if seen.final:
            return seen.code
    echo(f"{name}: no verdict within {timeout:g}s")
    return PENDING

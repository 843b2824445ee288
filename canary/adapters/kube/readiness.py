"""Whether a Deployment is ready, from its status: Flagger's rules, as a pure function.

Who calls this: ``adapters.kube.client`` when it observes the target and the primary.  Not ready
while the deployment controller has not seen the latest generation, while updated replicas are
missing or old ones linger, or while fewer than ``threshold`` percent of the updated replicas are
available.  ``deadline_exceeded`` reports the Deployment's own ProgressDeadlineExceeded condition;
the decision core adds its own deadline on top (a crash-looping Pod never sets this condition).
"""

from __future__ import annotations

import math
from typing import Any

from canary.core.observations import Readiness


def deployment_readiness(deployment: dict[str, Any] | None, threshold: int = 100) -> Readiness:
    if deployment is None:
        return Readiness(exists=False, ready=False, message="not found")
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    name = meta.get("name", "deployment")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = conditions.get("Progressing", {})
    deadline = progressing.get("reason") == "ProgressDeadlineExceeded"
    if meta.get("generation", 0) > status.get("observedGeneration", 0):
        return Readiness(
            True, False, deadline, f"{name}: the deployment controller has not observed the latest spec yet"
        )
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if deadline:
        return Readiness(
            True, False, True, f"{name}: {progressing.get('message', 'progress deadline exceeded')}"
        )
    if updated < wanted:
        return Readiness(True, False, False, f"{name}: {updated} of {wanted} replicas updated")
    if total > updated:
        return Readiness(True, False, False, f"{name}: {total - updated} old replicas pending termination")
    needed = math.ceil(updated * threshold / 100)
    if available < needed:
        return Readiness(True, False, False, f"{name}: {available} of {updated} updated replicas available")
    return Readiness(True, True, False, "")

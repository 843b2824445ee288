"""``canary status``'s verdict: a phase counts only for the target generation the controller decided
on; invalid setups are 3 (waiting will not help); everything in between is 2."""

from __future__ import annotations

from typing import Any

from canary.operator.rollout_status import FAILED, INVALID, PENDING, PROMOTED, verdict


def canary(phase: str, target_generation: int | None = 4, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "status": {"phase": phase, "targetGeneration": target_generation, **status},
    }


def test_succeeded_and_initialized_are_promoted_once_the_controller_saw_the_target() -> None:
    assert verdict(canary("Succeeded"), 4).code == PROMOTED
    assert verdict(canary("Initialized"), 4).code == PROMOTED


def test_the_previous_revisions_verdict_is_never_read_as_this_ones() -> None:
    # CI changed the Deployment (generation 5); the Canary still describes generation 4.
    pending = verdict(canary("Succeeded"), 5)
    assert pending.code == PENDING
    assert "has not seen the target's latest change yet" in pending.line
    assert verdict(canary("Failed"), 5).code == PENDING


def test_failed_carries_the_reason() -> None:
    conditions = [{"type": "Promoted", "status": "False", "reason": "Failed", "message": "error rate 7%"}]
    failed = verdict(canary("Failed", conditions=conditions), 4)
    assert failed.code == FAILED
    assert failed.line == "web: Failed: error rate 7%"


def test_in_progress_is_pending_with_the_weight() -> None:
    progressing = verdict(canary("Progressing", canaryWeight=40), 4)
    assert progressing.code == PENDING
    assert progressing.line.startswith("web: Progressing, canary weight 40%")
    assert verdict(canary("Progressing"), None).code == PENDING  # target not found (yet)


def test_an_invalid_setup_is_3_whatever_the_phase() -> None:
    for reason in ("InvalidSpec", "MissingKind", "Forbidden"):
        conditions = [
            {"type": "Ready", "status": "False", "reason": reason, "message": "spec.targetRef: ..."}
        ]
        invalid = verdict(canary("Progressing", conditions=conditions), 4)
        assert invalid.code == INVALID
        assert reason in invalid.line

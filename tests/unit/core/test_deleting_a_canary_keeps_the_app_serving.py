"""Deletion is a phase of the machine like any other: Terminating, then Terminated, which lets the
finalizer go.  Whatever happens, the application keeps serving Pods."""

from __future__ import annotations

from canary.core.actions import EventType, HandBack, ScaleTarget, SetWeights
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec

ANALYSIS = {"stepWeight": 20, "maxWeight": 60, "threshold": 2}


def initialized(**spec: object) -> World:
    w = World(make_spec(ANALYSIS, **spec))
    w.initialize()
    return w


def test_without_revert_on_deletion_the_primary_keeps_serving_at_once() -> None:
    w = initialized()
    w.target_revision = "rev2"
    w.run_until(Phase.PROGRESSING)
    w.tick()
    assert w.routes.canary > 0
    w.delete()
    result = w.tick()
    assert result.finalized
    assert w.routes.canary == 0
    assert w.target_replicas == 0
    assert result.actions[:2] == (SetWeights(100, 0), ScaleTarget(0))
    assert w.reasons()[-1] == "Terminated"
    assert not w.handed_back


def test_with_revert_on_deletion_traffic_goes_back_to_the_target_once_it_is_ready() -> None:
    ready = {"now": False}
    w = initialized(revertOnDeletion=True)
    w.canary_ready = lambda world: ready["now"]
    w.delete()
    first = w.tick()
    assert not first.finalized
    assert w.status.phase is Phase.TERMINATING
    assert ScaleTarget(2) in first.actions
    for _ in range(3):
        assert not w.tick().finalized  # waits for the target
    assert not w.handed_back
    ready["now"] = True
    last = w.tick()
    assert last.finalized
    assert HandBack() in last.actions
    assert w.handed_back
    assert w.reasons()[-1] == "Terminated"


def test_a_target_that_never_becomes_ready_leaves_the_primary_serving() -> None:
    w = initialized(revertOnDeletion=True, progressDeadlineSeconds=60)
    w.canary_ready = lambda world: False
    w.delete()
    phases = w.run_until(Phase.TERMINATED)
    # Ticks 10 s apart: Terminating from the first, the deadline passed 60 s after it.
    assert phases == [Phase.TERMINATING] * 6 + [Phase.TERMINATED]
    last = w.events[-1]
    assert (last.type, last.reason.value) == (EventType.WARNING, "Terminated")
    assert "did not become ready within 60s" in last.message
    assert not w.handed_back
    assert (w.routes.primary, w.routes.canary) == (100, 0)
    assert w.target_replicas == 0


def test_deleting_a_canary_whose_target_is_gone_has_nothing_to_hand_back() -> None:
    w = initialized(revertOnDeletion=True)
    w.primary_revision = None  # never bootstrapped (the operator saw no target)
    w.delete()
    result = w.tick()
    assert result.finalized
    assert result.actions == ()


def test_a_suspended_canary_can_still_be_deleted() -> None:
    w = initialized()
    w.spec = make_spec(ANALYSIS, suspend=True)
    w.delete()
    assert w.tick().finalized


def test_a_git_write_still_owed_is_not_made_for_a_deleted_canary() -> None:
    w = World(
        make_spec(
            {"stepWeight": 20, "threshold": 1},
            gitops={"repository": {"url": "https://git.example/c.git"}, "path": "apps/web"},
        ),
        git_hangs=True,
    )
    w.initialize()
    w.delete()
    result = w.tick()
    assert result.finalized
    assert w.git_writes == []

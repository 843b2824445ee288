"""Requests by hand (``canary promote|abort|retry|pause|resume``), decided by the state machine: each is
answered once in status.lastRequest with an event naming who asked, acted on only in the phases it
applies to, and refused with the reason otherwise."""

from __future__ import annotations

from canary.core.actions import EventType
from canary.core.observations import CheckKind, CheckOutcome
from canary.models.canary import Phase
from canary.models.requests import Request, RequestAction
from tests.unit.core.sim import World, all_pass, make_spec

SLOW = {"stepWeight": 10, "maxWeight": 50, "threshold": 2}


def asked(world: World, action: RequestAction, rid: str, *, full: bool = False) -> None:
    world.request = Request(rid, action, "alice", full)


def progressing(analysis: dict[str, object] | None = None, **spec: object) -> World:
    world = World(make_spec(analysis or SLOW, **spec))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.PROGRESSING)
    world.tick()  # the first weight step
    assert world.status.canary_weight == 10
    world.events.clear()
    return world


def answer(world: World) -> tuple[bool, str]:
    last = world.status.last_request
    assert last is not None
    return last.accepted, last.message


def test_promote_takes_the_next_step_at_once_without_the_analysis() -> None:
    world = progressing()
    checks_before = len(world.asked)
    asked(world, RequestAction.PROMOTE, "r1")
    world.tick(due=False)  # a woken tick, not a due one: no interval has passed
    assert world.status.canary_weight == 20
    assert len(world.asked) == checks_before  # no check ran
    assert answer(world) == (True, "canary weight 10% -> 20% without waiting for the analysis")
    requested = [e for e in world.events if e.reason.value == "Requested"]
    assert requested
    assert "asked by alice" in requested[0].message
    assert world.request is None  # answered: the operator removes the annotation


def test_promote_full_skips_the_remaining_steps_and_promotes() -> None:
    world = progressing({**SLOW, "stepWeightPromotion": 10})
    world.primary_rollout_ticks = 0
    asked(world, RequestAction.PROMOTE, "r1", full=True)
    world.tick(due=False)
    assert world.status.phase is Phase.PROMOTING
    assert answer(world)[0] is True
    world.weights.clear()
    world.tick(due=False)  # the primary rolls out
    world.tick()  # and is ready at the next tick of the simulated clock
    for _ in range(3):  # then woken ticks only: no interval has to pass
        world.tick(due=False)
    assert world.status.phase is Phase.SUCCEEDED
    assert world.canary_weights() == [0]  # all traffic to the primary at once, not 10% a step
    assert world.status.promoted_by == "alice"
    assert world.primary_revision == "rev2"
    assert world.status.last_request is not None
    assert world.status.last_request.action == "promote --full"


def test_promote_at_the_last_step_promotes() -> None:
    world = progressing()
    world.status = world.status.model_copy(update={"canary_weight": 50})  # at maxWeight
    asked(world, RequestAction.PROMOTE, "r1")
    world.tick(due=False)
    assert world.status.phase is Phase.PROMOTING
    assert answer(world) == (True, "the last step is reached: promoting now")


def test_a_request_is_answered_once_even_if_the_annotation_stays() -> None:
    world = progressing()
    asked(world, RequestAction.PROMOTE, "r1")
    request = world.request
    world.tick(due=False)
    world.request = request  # the removal failed: the same request is seen again
    world.tick(due=False)
    assert world.status.canary_weight == 20  # one step, not two
    assert sum(1 for e in world.events if e.reason.value == "Requested") == 1


def test_abort_rolls_back_now_and_the_revision_stays_failed() -> None:
    world = progressing()
    asked(world, RequestAction.ABORT, "r1")
    world.tick(due=False)
    assert world.status.phase is Phase.FAILED
    assert world.routes.primary == 100
    assert world.target_replicas == 0
    assert answer(world) == (True, "all traffic back on web-primary")
    aborted = [e for e in world.events if e.reason.value == "Aborted"]
    assert aborted
    assert aborted[0].type is EventType.WARNING
    assert "Aborted by alice" in aborted[0].message
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.FAILED  # not started again until the target changes


def test_retry_runs_the_failed_revision_again() -> None:
    world = progressing()
    asked(world, RequestAction.ABORT, "r1")
    world.tick(due=False)
    asked(world, RequestAction.RETRY, "r2")
    world.tick(due=False)
    assert world.status.phase is Phase.PROGRESSING
    assert world.status.canary_weight == 0
    assert world.target_replicas == 2
    assert answer(world) == (True, "retrying revision rev2")
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev2"


def test_retry_is_refused_when_git_reverts_failures() -> None:
    gitops = {"repository": {"url": "https://example.com/config.git"}, "path": "apps/web"}
    world = progressing(gitops=gitops)
    asked(world, RequestAction.ABORT, "r1")
    world.tick(due=False)
    asked(world, RequestAction.RETRY, "r2")
    world.tick(due=False)
    accepted, message = answer(world)
    assert not accepted
    assert "reverted in Git" in message
    assert world.status.phase is Phase.FAILED


def test_requests_that_do_not_apply_to_the_phase_are_refused_with_the_reason() -> None:
    world = World(make_spec(SLOW))
    world.initialize()
    for rid, action, reason in [
        ("a", RequestAction.PROMOTE, "nothing to promote: the canary is Initialized"),
        ("b", RequestAction.ABORT, "no rollout to abort: the canary is Initialized"),
        ("c", RequestAction.RETRY, "nothing to retry: the canary is Initialized, not Failed"),
        ("d", RequestAction.PAUSE, "spec.suspend is not true (canary pause sets it)"),
    ]:
        asked(world, action, rid)
        world.tick(due=False)
        assert answer(world) == (False, reason)
        refused = world.events[-1]
        assert refused.type is EventType.WARNING
        assert refused.reason.value == "RequestRefused"
        assert "asked by alice refused" in refused.message
    assert world.status.phase is Phase.INITIALIZED


def test_pause_and_resume_follow_spec_suspend() -> None:
    world = progressing()
    world.spec = world.spec.model_copy(update={"suspend": True})  # canary pause sets it with the request
    asked(world, RequestAction.PAUSE, "p")
    world.tick()
    assert answer(world)[0] is True
    for _ in range(3):
        world.tick()
    assert world.status.canary_weight == 10  # suspended: nothing moves
    asked(world, RequestAction.PROMOTE, "q")
    world.tick(due=False)
    assert answer(world) == (False, "the canary is suspended (spec.suspend): resume it first")
    world.spec = world.spec.model_copy(update={"suspend": False})
    asked(world, RequestAction.RESUME, "r")
    world.tick()
    assert answer(world) == (True, "resumed in phase Progressing")
    world.run_until(Phase.SUCCEEDED)


def gate_closed(kind: CheckKind, world: World) -> CheckOutcome:
    if kind is CheckKind.CONFIRM_ROLLOUT:
        return CheckOutcome.failed("gate", "closed")
    return all_pass(kind, world)


def test_promote_while_waiting_for_approval_to_start_starts_the_rollout() -> None:
    hooks = [{"name": "gate", "type": "confirm-rollout", "url": "http://gate/approve"}]
    world = World(make_spec({**SLOW, "webhooks": hooks}), checks=gate_closed)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.WAITING)
    asked(world, RequestAction.PROMOTE, "r1")
    world.tick(due=False)
    assert world.status.phase is Phase.PROGRESSING
    assert world.target_replicas == 2
    accepted, message = answer(world)
    assert accepted
    assert message.startswith("starting the rollout of revision rev2")


def test_set_image_edits_the_target_and_its_new_revision_rolls_out() -> None:
    world = World(make_spec(SLOW))
    world.initialize()
    world.request = Request("s", RequestAction.SET_IMAGE, "alice", images=(("app", "example/web:2.0.0"),))
    world.tick(due=False)
    accepted, message = answer(world)
    assert accepted
    assert message == "web gets the new image; its new revision starts by itself"
    assert world.images == {"app": "example/web:2.0.0"}
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_images == {"app": "example/web:2.0.0"}


def test_set_image_of_an_unknown_container_or_under_gitops_is_refused() -> None:
    world = World(make_spec(SLOW))
    world.initialize()
    world.request = Request("s", RequestAction.SET_IMAGE, "alice", images=(("sidecar", "x:1"),))
    world.tick(due=False)
    assert answer(world) == (False, "web has no container sidecar (it has app)")
    gitops = {"repository": {"url": "https://example.com/config.git"}, "path": "apps/web"}
    world = World(make_spec(SLOW, gitops=gitops))
    world.initialize()
    world.request = Request("t", RequestAction.SET_IMAGE, "alice", images=(("app", "x:1"),))
    world.tick(due=False)
    accepted, message = answer(world)
    assert not accepted
    assert message.startswith("spec.gitops: Git is the source of truth; commit the image in apps/web")


def test_undo_rolls_back_and_restores_the_promoted_template() -> None:
    world = progressing()
    asked(world, RequestAction.UNDO, "u")
    world.tick(due=False)
    assert answer(world) == (True, "web back to the last promoted revision rev1")
    assert world.status.phase is Phase.FAILED
    assert world.routes.primary == 100
    assert world.target_revision == "rev1"
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.FAILED  # the promoted revision is not a new one: nothing runs
    assert world.status.last_applied_spec == "rev1"
    asked(world, RequestAction.UNDO, "v")
    world.tick(due=False)
    assert answer(world) == (False, "the target already runs the last promoted revision")


def test_undo_needs_the_primarys_record_of_the_promoted_template() -> None:
    world = progressing()
    world.primary_revision = "made-by-an-older-canary"  # its record (if any) is not of rev1
    asked(world, RequestAction.UNDO, "u")
    world.tick(due=False)
    accepted, message = answer(world)
    assert not accepted
    assert "records no pod template for the last promoted revision" in message

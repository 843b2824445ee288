"""Where the webhooks act on a run: a rollback hook also rejects a revision that waits for approval
(Flagger documents it but never calls it there), and post-rollout hooks are called once when a run
ends, Succeeded or Failed, not on initialization."""

from __future__ import annotations

from canary.core.observations import CheckKind, CheckOutcome
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec


def hooks(*types: str) -> list[dict[str, str]]:
    return [{"name": t, "type": t, "url": f"http://hooks.test/{t}"} for t in types]


def test_a_rollback_hook_rejects_a_revision_waiting_for_approval() -> None:
    answers = {CheckKind.CONFIRM_ROLLOUT: False, CheckKind.ROLLBACK: False}

    def checks(kind: CheckKind, world: World) -> CheckOutcome:
        if answers.get(kind, True):
            return CheckOutcome.ok()
        return CheckOutcome.failed(kind.value, "HTTP 403")

    world = World(
        make_spec({"stepWeight": 50, "webhooks": hooks("confirm-rollout", "rollback", "post-rollout")}),
        checks=checks,
    )
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.WAITING)
    world.tick()
    assert world.status.phase is Phase.WAITING
    assert world.target_replicas == 0  # never scaled up while waiting
    answers[CheckKind.ROLLBACK] = True  # someone opens the rollback gate
    world.run_until(Phase.FAILED, limit=2)
    assert world.reasons()[-1] == "RolledBack"
    assert "rev2 rejected while waiting for approval" in world.events[-1].message
    assert world.post_rollout == ["Failed"]
    # The rejected revision stays rejected, even once the confirm gate opens: it is not new any more.
    answers[CheckKind.CONFIRM_ROLLOUT] = True
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.FAILED
    assert world.primary_revision == "rev1"
    # A newer revision starts normally.
    answers[CheckKind.ROLLBACK] = False
    world.target_revision = "rev3"
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev3"
    assert world.post_rollout == ["Failed", "Succeeded"]


def test_post_rollout_runs_once_per_ended_run_and_not_without_hooks() -> None:
    world = World(make_spec({"stepWeight": 50, "webhooks": hooks("post-rollout")}))
    world.run_until(Phase.INITIALIZED)
    assert world.post_rollout == []  # initialization is not a run
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    for _ in range(3):
        world.tick()
    assert world.post_rollout == ["Succeeded"]

    failing = World(
        make_spec({"stepWeight": 50, "threshold": 1, "webhooks": hooks("rollout", "post-rollout")}),
        checks=lambda kind, w: (
            CheckOutcome.failed("rollout", "HTTP 500") if kind is CheckKind.ANALYSIS else CheckOutcome.ok()
        ),
    )
    failing.initialize()
    failing.target_revision = "rev2"
    failing.run_until(Phase.FAILED)
    assert failing.post_rollout == ["Failed"]

    silent = World(make_spec({"stepWeight": 50}))
    silent.initialize()
    silent.target_revision = "rev2"
    silent.run_until(Phase.SUCCEEDED)
    assert silent.post_rollout == []


def test_events_carry_flaggers_alert_severities_and_mute_alert_silences_a_gate() -> None:
    promotion = {CheckKind.CONFIRM_PROMOTION: False}

    def checks(kind: CheckKind, world: World) -> CheckOutcome:
        return CheckOutcome.ok() if promotion.get(kind, True) else CheckOutcome.failed("gate", "HTTP 403")

    muted = {"name": "gate", "type": "confirm-promotion", "url": "http://hooks.test/g", "muteAlert": True}
    world = World(make_spec({"stepWeight": 50, "webhooks": [muted]}), checks=checks)
    world.run_until(Phase.INITIALIZED)
    world.target_revision = "rev2"
    world.run_until(Phase.WAITING_PROMOTION)
    promotion[CheckKind.CONFIRM_PROMOTION] = True
    world.run_until(Phase.SUCCEEDED)
    alerts = {e.reason.value: e.alert.value if e.alert else None for e in world.events}
    assert alerts["Initialized"] == "info"
    assert alerts["NewRevision"] == "info"
    assert alerts["WaitingPromotion"] is None  # muteAlert
    assert alerts["WeightIncreased"] is None  # progress is an event, not a notification
    assert alerts["Promoted"] == "info"

    failing = World(
        make_spec({"stepWeight": 50, "threshold": 1, "webhooks": hooks("rollout")}),
        checks=lambda kind, w: (
            CheckOutcome.failed("rollout", "HTTP 500") if kind is CheckKind.ANALYSIS else CheckOutcome.ok()
        ),
    )
    failing.initialize()
    failing.target_revision = "rev2"
    failing.run_until(Phase.FAILED)
    assert failing.events[-1].alert is not None
    assert failing.events[-1].alert.value == "error"

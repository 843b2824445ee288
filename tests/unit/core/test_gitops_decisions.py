"""When the decision core owes a Git write, what it asks for, and how it records the outcome.

A rollback of a run owes a revert of the commits after the last promoted one (with the failed check
as the reason and only the images the failed revision changed); a promotion owes a commit of the
promoted images to the next environment.  The write is asked for (``WriteGit``) in the tick of the
verdict, after its traffic actions; it runs on the Git lane and its outcome is recorded by a later
tick.  It is kept in ``status.gitops.pending`` while it fails (retried once per interval, one Warning
per distinct error), never asked for twice while under way, and recorded with an event and a GitOps
condition once done.  The agent applying the revert brings the target back to the promoted spec: no
new analysis, and later reverts start after that commit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from canary.adapters.routers.registry import capabilities_of
from canary.core.actions import EventType, ScaleTarget, SetWeights, TrafficAction, WriteGit
from canary.core.machine import Decided, step
from canary.core.observations import CheckKind, CheckOutcome, GitOutcome
from canary.models.canary import Phase
from canary.models.gitops import GitWrite, GitWriteKind, GitWriteRecord
from tests.unit.core.sim import World, make_spec

GITOPS: dict[str, Any] = {
    "repository": {"url": "https://git.example/config.git"},
    "path": "apps/web/staging",
}


ANALYSIS: dict[str, Any] = {
    "stepWeight": 20,
    "maxWeight": 60,
    "threshold": 1,
    "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}],
}


def fail_analysis(kind: CheckKind, world: World) -> CheckOutcome:
    if kind is CheckKind.ANALYSIS:
        return CheckOutcome.failed("request-success-rate", "97.1% < 99%")
    return CheckOutcome.failed("rollback", "not asked") if kind is CheckKind.ROLLBACK else CheckOutcome.ok()


def world(gitops: dict[str, Any] | None = GITOPS, **kw: Any) -> World:
    extra = {"gitops": gitops} if gitops is not None else {}
    w = World(make_spec(ANALYSIS, **extra), **kw)
    w.git_revision = "c0ffee1"
    w.initialize()
    return w


def release(w: World, revision: str, commit: str, image: str) -> None:
    w.target_revision, w.git_revision, w.images = revision, commit, {"app": image}


def conditions(w: World) -> dict[str, tuple[str, str | None, str | None]]:
    return {c.type: (c.status, c.reason, c.message) for c in w.status.conditions or []}


def test_initialization_records_the_commit_of_the_promoted_spec() -> None:
    w = world()
    assert w.status.gitops is not None
    assert w.status.gitops.promoted_revision == "c0ffee1"
    assert w.git_writes == []


def test_a_rollback_owes_a_revert_of_what_the_failed_revision_changed() -> None:
    w = world(checks=fail_analysis)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.primary_images = {"app": "example/web:1.0.0", "sidecar": "envoy:1.30"}
    w.images = {"app": "example/web:1.1.0", "sidecar": "envoy:1.30"}
    w.run_until(Phase.FAILED)

    assert len(w.git_writes) == 1
    write = w.git_writes[0]
    assert write.kind is GitWriteKind.REVERT
    assert (write.revision, write.git_revision, write.since_revision) == ("rev2", "bad1234", "c0ffee1")
    assert write.images == {"app": "example/web:1.1.0"}  # the sidecar did not change
    assert "request-success-rate" in write.reason
    assert "97.1%" in write.reason

    g = w.status.gitops
    assert g is not None
    assert g.pending is None
    assert g.last_write is not None
    assert g.last_write.result == "committed"
    assert g.last_write.commit == "c0"
    assert "GitCommitted" in w.reasons()
    assert conditions(w)["GitOps"][:2] == ("True", "GitCommitted")
    assert w.status.phase is Phase.FAILED  # the write does not change the verdict


def test_the_agent_applying_the_revert_starts_no_analysis_and_later_reverts_start_after_it() -> None:
    w = world(checks=fail_analysis)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    assert w.status.gitops is not None
    assert w.status.gitops.promoted_revision == "c0"  # the revert commit describes the promoted spec
    w.events.clear()
    w.asked.clear()

    release(w, "rev1", "c0", "example/web:1.0.0")  # the agent applied the revert commit
    for _ in range(3):
        w.tick()
    assert w.status.phase is Phase.FAILED
    assert CheckKind.ANALYSIS not in w.asked
    assert w.reasons() == []
    assert len(w.git_writes) == 1

    # The next faulty release is reverted from the revert commit on, not from the old promotion.
    release(w, "rev3", "bad5678", "example/web:1.2.0")
    w.run_until(Phase.FAILED)
    assert [(x.git_revision, x.since_revision) for x in w.git_writes[1:]] == [("bad5678", "c0")]


def test_a_failed_write_is_kept_and_retried_once_per_interval_with_one_warning() -> None:
    attempts: list[str] = []

    def flaky(write: GitWrite, w: World) -> GitOutcome:
        attempts.append(write.revision)
        if len(attempts) < 4:
            return GitOutcome(error="git push failed: connection refused")
        return GitOutcome(GitWriteRecord(kind=write.kind, revision=write.revision, result="committed"))

    w = world(checks=fail_analysis, git=flaky)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    g = w.status.gitops
    assert g is not None
    assert g.pending is not None
    assert (g.pending.attempts, g.pending.last_error) == (1, "git push failed: connection refused")
    assert conditions(w)["GitOps"][:2] == ("False", "GitWriteFailed")

    w.tick()
    w.tick()
    assert w.status.gitops is not None
    assert w.status.gitops.pending is not None
    assert w.status.gitops.pending.attempts == 3
    failures = [e for e in w.events if e.reason.value == "GitWriteFailed"]
    assert len(failures) == 1
    assert failures[0].type is EventType.WARNING

    w.tick()
    g = w.status.gitops
    assert g is not None
    assert g.pending is None
    assert g.last_write is not None
    assert len(attempts) == 4
    assert conditions(w)["GitOps"][:2] == ("True", "GitCommitted")


def test_a_retry_waits_for_the_interval_not_for_a_watch_wakeup() -> None:
    w = world(checks=fail_analysis, git=lambda write, w: GitOutcome(error="remote down"))
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    woken = dataclasses.replace(w.observe(), due=False)
    quiet = step(w.spec, w.status, woken, w.now, capabilities=capabilities_of(w.provider))
    assert isinstance(quiet, Decided)
    assert not any(isinstance(a, WriteGit) for a in quiet.actions)
    due = dataclasses.replace(woken, due=True)
    retry = step(w.spec, w.status, due, w.now, capabilities=capabilities_of(w.provider))
    assert isinstance(retry, Decided)
    assert w.status.gitops is not None
    assert [a for a in retry.actions if isinstance(a, WriteGit)] == [WriteGit(w.status.gitops.pending)]


def test_a_promotion_owes_the_promoted_images_to_the_next_environment() -> None:
    spec = {**GITOPS, "promote": {"path": "apps/web/production"}}
    w = world(gitops=spec)
    release(w, "rev2", "good123", "example/web:1.1.0")
    w.run_until(Phase.SUCCEEDED)
    assert [x.kind for x in w.git_writes] == [GitWriteKind.PROMOTE]
    write = w.git_writes[0]
    assert (write.revision, write.git_revision, write.images) == (
        "rev2",
        "good123",
        {"app": "example/web:1.1.0"},
    )
    assert w.status.gitops is not None
    assert w.status.gitops.promoted_revision == "good123"


def test_a_pull_request_and_a_conflict_read_differently() -> None:
    def opened(write: GitWrite, w: World) -> GitOutcome:
        return GitOutcome(
            GitWriteRecord(
                kind=write.kind,
                revision=write.revision,
                result="pullRequest",
                pull_request="https://git.example/config/pull/7",
                message="Opened https://git.example/config/pull/7",
            )
        )

    w = world(checks=fail_analysis, git=opened)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    assert "PullRequestOpened" in w.reasons()
    assert w.status.gitops is not None
    assert w.status.gitops.last_write is not None
    assert w.status.gitops.last_write.pull_request == "https://git.example/config/pull/7"

    def conflict(write: GitWrite, w: World) -> GitOutcome:
        return GitOutcome(
            GitWriteRecord(
                kind=write.kind, revision=write.revision, result="needsAttention", message="resolve by hand"
            )
        )

    w = world(checks=fail_analysis, git=conflict)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    event = next(e for e in w.events if e.reason.value == "GitNeedsAttention")
    assert event.type is EventType.WARNING
    assert event.message == "resolve by hand"
    assert conditions(w)["GitOps"] == ("False", "GitNeedsAttention", "resolve by hand")


def test_no_write_without_gitops_or_with_on_rollback_none() -> None:
    for gitops in (None, {**GITOPS, "onRollback": "none"}):
        w = world(gitops=gitops, checks=fail_analysis)
        release(w, "rev2", "bad1234", "example/web:1.1.0")
        w.run_until(Phase.FAILED)
        assert w.git_writes == []
        assert not any(isinstance(a, WriteGit) for tick in w.history for a in tick)


def test_a_promotion_that_fails_on_a_broken_primary_reverts_nothing() -> None:
    """Traffic stays on the canary, which passed its analysis: Git describes what serves."""
    w = world()
    w.spec = make_spec({"stepWeight": 50, "threshold": 1}, gitops=GITOPS, progressDeadlineSeconds=30)
    w.primary_rollout_ticks = 10_000
    release(w, "rev2", "good123", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    assert "PromotionFailed" in w.reasons()
    assert w.git_writes == []


def test_removing_gitops_drops_a_pending_write() -> None:
    w = world(checks=fail_analysis, git=lambda write, w: GitOutcome(error="remote down"))
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    w.spec = make_spec(ANALYSIS)
    w.tick()
    assert w.status.gitops is not None
    assert w.status.gitops.pending is None
    assert conditions(w)["GitOps"][:2] == ("Unknown", "Disabled")


def test_the_tick_that_decides_a_rollback_moves_traffic_before_it_asks_for_git() -> None:
    """The revert is a side effect of the verdict, never a step of it: in the deciding tick, all
    traffic goes to the primary and the canary is parked whatever Git does afterwards."""
    w = world(checks=fail_analysis, git_hangs=True)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    deciding = next(tick for tick in w.history if any(isinstance(a, WriteGit) for a in tick))
    assert deciding[0] == SetWeights(100, 0)
    assert ScaleTarget(0) in deciding
    first_slow = next(i for i, a in enumerate(deciding) if not isinstance(a, TrafficAction))
    assert all(not isinstance(a, TrafficAction) for a in deciding[first_slow:])
    assert w.routes.canary == 0
    assert w.target_replicas == 0


def test_a_hanging_git_lane_is_not_asked_again_and_delays_nothing_else() -> None:
    w = world(checks=fail_analysis, git_hangs=True)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    for _ in range(5):
        w.tick()
    assert len(w.git_writes) == 1  # in flight: not asked for again
    g = w.status.gitops
    assert g is not None
    assert g.pending is not None
    assert g.pending.attempts == 0
    assert w.status.phase is Phase.FAILED

    # Once the lane gives its outcome, it is recorded.
    w.git_hangs = False
    w.git_in_flight = False
    w.git_outcome = git_outcome_committed(w.git_writes[0])
    w.tick(due=False)
    g = w.status.gitops
    assert g is not None
    assert g.pending is None
    assert g.last_write is not None
    assert g.last_write.result == "committed"
    assert g.promoted_revision == "abc"


def test_a_write_still_owed_when_git_releases_a_newer_revision_is_dropped() -> None:
    """Git moved on (the agent applied a newer commit): the old revert would describe the past."""
    w = world(checks=fail_analysis, git_hangs=True)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    w.checks = lambda kind, world: (
        CheckOutcome.failed("rollback", "not asked") if kind is CheckKind.ROLLBACK else CheckOutcome.ok()
    )
    release(w, "rev3", "good777", "example/web:1.2.0")
    w.tick()
    g = w.status.gitops
    assert g is not None
    assert g.pending is None
    assert "GitSuperseded" in w.reasons()
    assert conditions(w)["GitOps"][:2] == ("Unknown", "GitSuperseded")
    w.run_until(Phase.SUCCEEDED)

    # The hung attempt ends at last: its outcome is about a write no longer owed, and is dropped.
    w.git_in_flight = False
    w.git_outcome = git_outcome_committed(w.git_writes[0])
    w.tick(due=False)
    g = w.status.gitops
    assert g is not None
    assert g.last_write is None
    assert g.promoted_revision == "good777"


def git_outcome_committed(write: GitWrite) -> GitOutcome:
    return GitOutcome(
        GitWriteRecord(
            kind=write.kind, revision=write.revision, result="committed", commit="abc", message="ok"
        )
    )


CHAIN: dict[str, Any] = {
    "repository": {"url": "https://git.example/config.git"},
    "path": "apps/web/staging",
    "environments": [
        {"name": "dev", "path": "apps/web/dev"},
        {"name": "staging", "path": "apps/web/staging"},
        {"name": "prod", "path": "apps/web/prod", "repository": {"url": "https://git.example/prod.git"}},
    ],
}


def test_in_a_chain_a_promotion_owes_the_next_environment_and_the_last_one_owes_none() -> None:
    w = world(gitops={**CHAIN, "environment": "staging"})
    release(w, "rev2", "good123", "example/web:1.1.0")
    w.run_until(Phase.SUCCEEDED)
    assert [x.kind for x in w.git_writes] == [GitWriteKind.PROMOTE]
    assert w.spec.gitops is not None
    target = w.spec.gitops.next_environment()
    assert target is not None
    assert (target.path, target.repository and target.repository.url) == (
        "apps/web/prod",
        "https://git.example/prod.git",
    )

    last = world(gitops={**CHAIN, "path": "apps/web/prod", "environment": "prod"})
    release(last, "rev2", "good123", "example/web:1.1.0")
    last.run_until(Phase.SUCCEEDED)
    assert last.git_writes == []


def test_in_a_chain_a_rollback_reverts_only_its_own_environment() -> None:
    w = world(gitops={**CHAIN, "environment": "staging"}, checks=fail_analysis)
    release(w, "rev2", "bad1234", "example/web:1.1.0")
    w.run_until(Phase.FAILED)
    assert [x.kind for x in w.git_writes] == [GitWriteKind.REVERT]
    assert w.git_writes[0].git_revision == "bad1234"


def test_a_commit_not_yet_seen_with_the_failed_spec_is_not_guessed() -> None:
    """Helm reports a release's commit only once it is released: a canary failing before that has
    an unknown commit, never the previous one paired with the new spec, and its promotion would
    record no promoted commit rather than an older one that a later revert would undo too."""
    w = world(checks=fail_analysis)
    release(w, "rev2", "c0ffee1", "example/web:1.1.0")
    w.git_revision = None  # unknown while the agent releases
    w.run_until(Phase.FAILED)
    write = w.git_writes[0]
    assert (write.git_revision, write.since_revision) == (None, "c0ffee1")

    ok = world()
    release(ok, "rev2", "c0ffee1", "example/web:1.1.0")
    ok.git_revision = None  # unknown while the agent releases
    ok.run_until(Phase.SUCCEEDED)
    assert ok.status.gitops is not None
    assert ok.status.gitops.promoted_revision is None

"""The fault suite at its small size (``bench/chaos.py``; the full size is in docs/reliability.md).

Two controller replicas drive rollouts on the real control plane, Prometheus, git remote, forge, load
tester and receivers while, scenario by scenario, replicas are SIGKILLed or paused past their Lease,
the API server and etcd restart, Prometheus stops, the receivers fail, and Git and the forge fail
every way they can.  Measured from outside the controllers (the API server's audit log, the git
remote, the receivers): every release ends as it should, nothing faulty is promoted, no verdict is
committed twice, no canary is driven by two replicas, nothing is promoted while Prometheus is down,
and no planted secret appears in any log line, event, status or metric.  The same measure run on two
replicas *without* leader election shows double-driven writes, so the measure can see them.
Times are printed, never asserted.
"""

from __future__ import annotations

from bench import chaos


def test_rollouts_stay_correct_while_their_dependencies_fail() -> None:
    report = chaos.run("small")
    print(chaos.table(report))
    rows = {r.scenario: r for r in report.rows}
    control = rows.pop(chaos.CONTROL)
    assert len(rows) == 6
    for row in rows.values():
        assert row.runs >= 4, row
        assert row.correct == row.runs, (row.scenario, row.notes)
        assert row.false_promotions == 0, row.scenario
        assert row.stuck == 0, row.scenario
        assert row.double_driven == 0, row.scenario
        assert row.promotions_blind == 0, row.scenario
        assert row.rollbacks > 0, row.scenario  # faulty releases were there, and rolled back
        assert row.injected, row.scenario  # and the fault was
    assert report.total.duplicate_commits == 0
    assert all(found == 0 for found in report.leaks.values()), report.leaks
    assert all(lines > 0 for lines in report.scanned.values()), report.scanned
    kills = rows["controller SIGKILLed (two replicas)"].injected
    assert "leader kills" in kills
    git = rows["Git down, refusing, hang, slow; forge 500"].injected
    for mode in chaos.GIT_MODES:
        assert f"git {mode}" in git
    receivers = rows["receivers 5xx, hang, reset"].injected
    for mode in chaos.RECEIVER_MODES:
        assert f"gate {mode}" in receivers
    assert control.double_driven > 0  # the measure sees two writers when there are two

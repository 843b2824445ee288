"""``canary get``'s views, rendered as a terminal shows them: the list, and one run with its ladder,
the last check's evidence, the Git write, the last request and the latest events."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from canary.operator.view import ladder, render_canary, render_list
from tests.unit.core.sim import make_spec

NOW = datetime(2026, 12, 3, 12, 0, 30, tzinfo=UTC)


def text(renderable: Any) -> str:
    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def body(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": {"port": 80},
            "provider": "gatewayapi",
            "analysis": {
                "interval": "30s",
                "stepWeight": 20,
                "maxWeight": 60,
                "webhooks": [{"name": "smoke", "type": "pre-rollout", "url": "http://loadtester/"}],
            },
        },
        "status": status,
    }


def test_the_ladder_follows_step_weight_and_max_weight() -> None:
    assert ladder(make_spec({"stepWeight": 20, "maxWeight": 50})) == [20, 40, 50]
    assert ladder(make_spec({"stepWeights": [1, 5, 30]})) == [1, 5, 30]


def test_one_run_shows_where_it_stands_and_why() -> None:
    status = {
        "phase": "Progressing",
        "canaryWeight": 40,
        "failedChecks": 1,
        "lastAppliedSpec": "9f3c",
        "lastPromotedSpec": "1a2b",
        "lastAnalysis": {
            "time": "2026-12-03T12:00:00Z",
            "result": "failed",
            "metrics": [
                {"name": "request-success-rate", "result": "failed", "value": 96.5, "message": "96.5 < 99"},
                {"name": "latency", "result": "passed", "value": 0.21, "message": "0.21 <= 0.5"},
            ],
        },
        "gitops": {
            "appliedRevision": "abc123",
            "lastWrite": {"kind": "revert", "result": "committed", "commit": "def456"},
        },
        "lastRequest": {
            "id": "1",
            "action": "pause",
            "by": "alice",
            "accepted": True,
            "message": "suspended",
            "at": "x",
        },
        "conditions": [
            {"type": "Promoted", "status": "Unknown", "reason": "Progressing", "message": "running"}
        ],
    }
    events = [("2026-12-03T12:00:00Z", "Warning", "OutOfRange", "request-success-rate 96.5 < 99")]
    out = text(render_canary(body(**status), events, NOW))
    assert "apps/web" in out
    assert "20% -> 40% -> 60%" in out
    assert "request-success-rate  failed  96.5   96.5 < 99" in out
    assert "revert: committed def456" in out
    assert "smoke (pre-rollout)" in out
    assert "pause by alice: done: suspended" in out
    assert "30s  Warning  OutOfRange  request-success-rate 96.5 < 99" in out
    assert "9f3c (promoted: 1a2b)" in out


def test_the_list_has_a_row_per_canary() -> None:
    rows = [
        {
            **body(phase="Succeeded", lastTransitionTime="2026-12-03T11:58:30Z"),
            "metadata": {"name": "web", "namespace": "b"},
        },
        {
            **body(phase="Failed", canaryWeight=0, lastAnalysis={"time": "t", "result": "failed"}),
            "metadata": {"name": "api", "namespace": "a"},
        },
    ]
    lines = [line.split() for line in text(render_list(rows, NOW)).splitlines() if line.strip()]
    assert lines[0] == [
        "NAMESPACE",
        "NAME",
        "PHASE",
        "WEIGHT",
        "ITERATIONS",
        "LAST",
        "CHECK",
        "REVISION",
        "AGE",
    ]
    assert lines[1][:6] == ["a", "api", "Failed", "0%", "0", "failed"]
    assert lines[2][:3] == ["b", "web", "Succeeded"]
    assert lines[2][-1] == "2m"

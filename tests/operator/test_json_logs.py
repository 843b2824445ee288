"""``canary run --log-format json``: every line the controller writes while it initializes a canary
and takes it through a revision is one JSON object with time, level, logger and message."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, set_image, wait_for_phase


def test_controller_logs_json_lines(cluster: Cluster, namespace: str, crds: None, tmp_path: Path) -> None:
    log = tmp_path / "controller.log"
    ctl = Controller(cluster, namespace, log, extra=("--log-format", "json", "--log-level", "debug"))
    ctl.start()
    try:
        apply(
            cluster, namespace, deployment("web", "example.invalid/web:1"), canary("web", {"stepWeight": 50})
        )
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        wait_for_phase(cluster, namespace, "web", "Succeeded", timeout=60)
    finally:
        ctl.stop()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert len(lines) > 10
    records = [json.loads(line) for line in lines]  # any non-JSON line fails here
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    assert any(r.get("object", {}).get("name") == "web" for r in records)

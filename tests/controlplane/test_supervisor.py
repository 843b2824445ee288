"""The agents' runner (``controlplane/supervisor.py``, used by LocalFlux and LocalArgoCD) records what it
starts at once, stops exactly that (a later ``stop()`` from the state file alone, as ``python -m
controlplane.argocd down`` does), leaves a recycled PID alone, and fails a start whose process exits,
with its log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane.localcluster import ClusterError
from controlplane.supervisor import Supervisor

PYTHON = Path(sys.executable)


def test_a_later_stop_ends_what_was_started_and_only_that(tmp_path: Path) -> None:
    started = Supervisor(tmp_path, tmp_path / "state.json")
    record = started.spawn(PYTHON, ["-c", "import time; time.sleep(60)"], {}, name="sleeper")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state = json.loads((tmp_path / "state.json").read_text())
        assert [p["pid"] for p in state["processes"]] == [record.pid]
        Supervisor(tmp_path, tmp_path / "state.json").stop(grace=5)  # another instance, as `down` is
        # stop() reaps the processes it ends (here its own children), so the PID must be gone.
        assert not Path(f"/proc/{record.pid}").exists()
        started._children.pop(record.pid).wait()  # already reaped: only tells the Popen it is over
        assert not (tmp_path / "state.json").exists()
        assert other.poll() is None, "a process the supervisor did not start was signalled"
    finally:
        other.kill()
        other.wait()


def test_a_recycled_pid_is_left_alone(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"name": "redis-server", "pid": other.pid, "exe": "/usr/bin/not-this", "log": "", "args": []}
        (tmp_path / "state.json").write_text(json.dumps({"processes": [record]}))
        Supervisor(tmp_path, tmp_path / "state.json").stop(grace=1)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_process_that_exits_while_starting_fails_the_start_with_its_log(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, tmp_path / "state.json")
    record = sup.spawn(PYTHON, ["-c", "print('cannot bind 127.0.0.1:1'); raise SystemExit(3)"], {}, name="x")
    with pytest.raises(ClusterError, match=r"x exited while starting(.|\n)*cannot bind 127\.0\.0\.1:1"):
        sup.wait_ready(record, lambda: False, time.monotonic() + 10)
    sup.stop()

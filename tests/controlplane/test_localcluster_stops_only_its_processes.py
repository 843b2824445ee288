"""``make cluster-down`` signals exactly the processes it started: a PID recorded in state.json that
now runs another program (a recycled PID) is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.localcluster import ClusterState, LocalCluster, ProcessRecord


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def record(workdir: Path, pid: int, exe: str) -> None:
    state = ClusterState(str(workdir), "https://127.0.0.1:1", "t", str(workdir / "kubeconfig"))
    state.processes.append(ProcessRecord("etcd", pid, exe, str(workdir / "etcd.log")))
    state.save(workdir / "state.json")


def test_leaves_a_recycled_pid_alone(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    record(tmp_path, sleeper.pid, "/usr/local/bin/etcd-that-is-not-this-process")
    LocalCluster(tmp_path).stop(grace=1)
    assert sleeper.poll() is None, "a process we did not start was signalled"
    assert not (tmp_path / "state.json").exists()


def test_stops_the_process_it_recorded(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    record(tmp_path, sleeper.pid, os.readlink(f"/proc/{sleeper.pid}/exe"))
    LocalCluster(tmp_path).stop(grace=5)
    # stop() reaps its own children, so the exit status is gone; the process must be gone too.
    assert not Path(f"/proc/{sleeper.pid}").exists()


def test_stop_without_state_is_a_no_op(tmp_path: Path) -> None:
    LocalCluster(tmp_path).stop()
    assert LocalCluster(tmp_path).running() is False

"""``make cluster`` (``python -m controlplane.localcluster up``) is idempotent and
``make cluster-down`` stops exactly the processes it started."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from controlplane.localcluster import COMPONENTS, scratch_dir

REPO = Path(__file__).resolve().parents[2]


def localcluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlplane.localcluster", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_up_twice_then_down(tmp_path: Path) -> None:
    workdir = scratch_dir("canary-test-up-")
    try:
        first = localcluster("up", "--dir", str(workdir))
        assert first.returncode == 0, first.stderr
        assert "started in" in first.stdout
        pids = [p["pid"] for p in json.loads((workdir / "state.json").read_text())["processes"]]
        assert len(pids) == len(COMPONENTS)

        second = localcluster("up", "--dir", str(workdir))
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert [p["pid"] for p in json.loads((workdir / "state.json").read_text())["processes"]] == pids

        kubectl = Path(sys.executable).parent / "kubectl"
        nodes = subprocess.run(
            [str(kubectl), f"--kubeconfig={workdir / 'kubeconfig'}", "get", "nodes", "--no-headers"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert nodes.stdout.split()[1] == "Ready"
    finally:
        down = localcluster("down", "--dir", str(workdir))
        status = localcluster("status", "--dir", str(workdir))
        shutil.rmtree(workdir, ignore_errors=True)  # on tmpfs: it would hold memory until reboot
    assert down.returncode == 0, down.stderr
    for pid in pids:
        assert (
            not os.path.exists(f"/proc/{pid}")
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
        )
    assert status.returncode == 1

"""Run a group of local processes (an agent's controllers: Flux, Argo CD) and stop exactly those.

Who calls this: ``controlplane/flux.py`` and ``controlplane/argocd.py``.  Each process is started with
its log in ``<workdir>/logs/<name>.log``; its PID and executable are recorded in a state file as soon as
it starts, so that ``stop()`` (in this process or a later one) ends only what was started here, by PID,
and only while that PID still runs the recorded executable.  Readiness is observed by polling a check;
a process that dies while starting fails the start with the tail of its log.

Standard library only (like ``localcluster``), so it runs before the project's dependencies.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from controlplane.localcluster import ClusterError, ProcessRecord, _alive, _pid_runs, _tail


class Supervisor:
    def __init__(self, workdir: Path, state_file: Path) -> None:
        self.workdir, self.state_file = workdir, state_file
        self.processes: list[ProcessRecord] = []
        self.extra: dict[str, object] = {}  # saved beside the processes (addresses, ports)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self, exe: Path, args: list[str], env: Mapping[str, str], *, name: str = "") -> ProcessRecord:
        """Start ``exe`` (called ``name``, by default its file name) and record it at once."""
        name = name or exe.name
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        log = self.workdir / "logs" / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(exe), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **env},
            )
        self._children[proc.pid] = proc
        record = ProcessRecord(name, proc.pid, str(exe.resolve()), str(log))
        self.processes.append(record)
        self.save()
        return record

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        state = {"workdir": str(self.workdir), **self.extra, "processes": [vars(p) for p in self.processes]}
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def wait_ready(self, record: ProcessRecord, ready: Callable[[], bool], deadline: float) -> None:
        """Poll ``ready`` until it holds; fail when the process exits or ``deadline`` passes."""
        while time.monotonic() < deadline:
            if not _pid_runs(record.pid, record.exe):
                raise ClusterError(
                    f"{record.name} exited while starting; last lines of {record.log}:\n{_tail(record.log)}"
                )
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(f"timed out waiting for {record.name} to be ready\n{_tail(record.log, 10)}")

    def stop(self, grace: float = 15.0) -> None:
        """Stop the processes recorded in the state file, last started first, and only those."""
        if not self.state_file.is_file():
            return
        raw = json.loads(self.state_file.read_text())
        for p in reversed([ProcessRecord(**p) for p in raw.get("processes", [])]):
            if not _pid_runs(p.pid, p.exe):
                self._reap(p.pid)
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _alive(p.pid) and time.monotonic() < deadline:
                self._reap(p.pid)
                time.sleep(0.05)
            if _alive(p.pid) and _pid_runs(p.pid, p.exe):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
            self._reap(p.pid)
        self.state_file.unlink(missing_ok=True)
        self.processes = []

    def _reap(self, pid: int) -> None:
        child = self._children.get(pid)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1)
                del self._children[pid]  # only once it has exited: a dropped Popen of a live child warns
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

"""Tasks a webhook asks the load tester to run, from the payload's ``metadata``.

Types (``metadata.type``, default ``cmd``, as flagger-loadtester):

* ``cmd``: a program from the allow-list (``--allow-cmd``) with its arguments, split like a shell
  would (quotes kept together) but run **without a shell**: ``;``, ``|``, ``$(...)`` and the like
  are plain characters of an argument.  Asynchronous, as in Flagger: the answer is 202 at once and
  an identical task already running for the same canary is not started twice.  Unlike Flagger, the
  outcome is kept: the next request of the same task fails (500, with the exit status and the end of
  the output) if the last run failed or could not start.
* ``bash``: ``bash -c <cmd>``, blocking; refused unless the load tester runs with ``--enable-bash``.
* ``kubectl``, ``helm`` (``helmv3``): the program with the split arguments, blocking; refused unless
  allowed (``--allow-kubectl``, ``--allow-helm``).
* ``load``: the built-in generator (``loadtest.generator``): ``url``, ``rate`` (per second),
  ``duration`` (``30s``, ``2m``), optional ``concurrency``, ``method``, ``headers`` (``Name: value``
  lines), ``body``, ``timeout``, ``maxErrorRate`` (a fraction: above it the task fails), ``mode``
  (``blocking``, the default, answers with the report; ``async`` behaves like ``cmd``), ``client``
  (``auto``: the built-in HTTP/1.1 client for ``http://``, httpx for ``https://``; ``httpx``).

Blocking tasks answer 200 (with the output when ``returnCmdOutput`` is ``"true"``) or 500 with the
end of the output.  Every program runs with ``--timeout`` (default 1h) and a minimal environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from loadtest.generator import LoadReport, LoadSpec, run_load

log = logging.getLogger(__name__)

#: the end of a program's output kept for an answer or a failure
OUTPUT_TAIL = 2000
TYPES = ("cmd", "bash", "kubectl", "helm", "helmv3", "load")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


class TaskError(Exception):
    """A request that cannot be run: its status (4xx, or 500 for a failed run) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Policy:
    #: programs ``cmd`` may run: bare names (found on PATH) or absolute paths
    allowed: frozenset[str] = frozenset()
    bash: bool = False
    kubectl: bool = False
    helm: bool = False
    #: seconds a program may run
    timeout: float = 3600.0
    #: the longest load test a request may ask for, in seconds
    max_load_seconds: float = 3600.0
    max_load_rate: float = 50_000.0


@dataclass
class Run:
    started: str
    state: str = "running"  # running, succeeded, failed
    detail: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


def parse_duration(value: str, what: str = "duration") -> float:
    found = _DURATION.match(value.strip())
    if not found:
        raise TaskError(400, f"{what} {value!r} is not a duration like 500ms, 30s, 2m or 1h")
    number, unit = float(found.group(1)), found.group(2)
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


def _env() -> dict[str, str]:
    """The environment of a child: enough to run, nothing of the load tester's own."""
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
    )
    return {k: v for k, v in os.environ.items() if k in keep}


class Tasks:
    def __init__(
        self,
        policy: Policy,
        *,
        observe_load: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        self.policy = policy
        self.observe_load = observe_load
        self._runs: dict[tuple[str, str, str], Run] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ entry
    def handle(self, namespace: str, name: str, metadata: Mapping[str, str]) -> Answer:
        kind = metadata.get("type") or "cmd"
        if kind not in TYPES:
            raise TaskError(400, f"unknown task type {kind!r}; known: {', '.join(TYPES)}")
        if kind == "load":
            return self._handle_load(namespace, name, metadata)
        command = metadata.get("cmd", "")
        if not command.strip():
            raise TaskError(400, f"a {kind} task needs metadata.cmd")
        show = metadata.get("logCmdOutput") == "true"
        if kind == "cmd":
            argv = self._allowed_argv(command)
            return self._async(namespace, name, command, lambda: self._program(argv, show))
        ok, output = self._program(self._blocking_argv(kind, command), show)
        if not ok:
            raise TaskError(500, output)
        return Answer(200, output if metadata.get("returnCmdOutput") == "true" else "OK")

    def _blocking_argv(self, kind: str, command: str) -> list[str]:
        if kind == "bash":
            if not self.policy.bash:
                raise TaskError(403, "bash tasks are disabled: start the load tester with --enable-bash")
            return ["bash", "-c", command]
        if kind == "kubectl":
            if not self.policy.kubectl:
                raise TaskError(403, "kubectl tasks are disabled: start the load tester with --allow-kubectl")
            return ["kubectl", *self._split(command)]
        if not self.policy.helm:
            raise TaskError(403, "helm tasks are disabled: start the load tester with --allow-helm")
        return ["helm", *self._split(command)]

    def _handle_load(self, namespace: str, name: str, metadata: Mapping[str, str]) -> Answer:
        spec, limit = self._load_spec(metadata), self._max_error_rate(metadata)
        mode = metadata.get("mode", "blocking")
        if mode == "async":
            return self._async(
                namespace, name, f"load {spec.url}", lambda: self._load(namespace, name, spec, limit)
            )
        if mode != "blocking":
            raise TaskError(400, f"metadata.mode {mode!r} is neither blocking nor async")
        ok, text = self._load(namespace, name, spec, limit)
        if not ok:
            raise TaskError(500, text)
        return Answer(200, text)

    # ------------------------------------------------------------------------------ programs
    @staticmethod
    def _split(command: str) -> list[str]:
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise TaskError(400, f"cmd cannot be split into arguments: {e}") from None
        if not argv:
            raise TaskError(400, "cmd is empty")
        return argv

    def _allowed_argv(self, command: str) -> list[str]:
        argv = self._split(command)
        program = argv[0]
        if program not in self.policy.allowed:
            allowed = ", ".join(sorted(self.policy.allowed)) or "none (start with --allow-cmd PROGRAM)"
            raise TaskError(403, f"program {program!r} is not allowed; allowed: {allowed}")
        return argv

    def _program(self, argv: list[str], show: bool) -> tuple[bool, str]:
        """Run ``argv`` (no shell); (succeeded, output or why it failed)."""
        resolved = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if resolved is None:
            return False, f"{argv[0]}: not found on PATH"
        try:
            done = subprocess.run(  # noqa: S603 - an allow-listed program, no shell
                [resolved, *argv[1:]],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.policy.timeout,
                env=_env(),
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False, f"{argv[0]}: killed after the timeout of {self.policy.timeout:g}s"
        except OSError as e:
            return False, f"{argv[0]}: could not start: {e.strerror or e}"
        output = _tail((done.stdout or "") + (done.stderr or ""))
        if show:
            log.info("%s exited %d: %s", argv[0], done.returncode, output)
        if done.returncode != 0:
            return False, f"{argv[0]} exited with status {done.returncode}: {output}"
        return True, output

    # ------------------------------------------------------------------------------ asynchronous
    def _async(self, namespace: str, name: str, label: str, work: Callable[[], tuple[bool, str]]) -> Answer:
        key = (namespace, name, label)
        with self._lock:
            last = self._runs.get(key)
            if last is not None and last.state == "running":
                return Answer(202, f"already running since {last.started}")
            if last is not None and last.state == "failed":
                del self._runs[key]  # reported once; the next request starts it again
                raise TaskError(500, f"the last run (started {last.started}) failed: {last.detail}")
            run = Run(started=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._runs[key] = run

        def body() -> None:
            try:
                ok, detail = work()
            except Exception as e:  # a bug must not leave the task "running" forever
                log.exception("task %s of %s/%s", label, namespace, name)
                ok, detail = False, f"internal error: {type(e).__name__}"
            with self._lock:
                run.state, run.detail = ("succeeded" if ok else "failed"), detail

        threading.Thread(target=body, name=f"task-{name}", daemon=True).start()
        return Answer(202, "Accepted: started")

    # ------------------------------------------------------------------------------ load
    def _load_spec(self, metadata: Mapping[str, str]) -> LoadSpec:
        def number(key: str, default: float | None = None) -> float:
            raw = metadata.get(key)
            if raw is None:
                if default is None:
                    raise TaskError(400, f"a load task needs metadata.{key}")
                return default
            try:
                value = float(raw)
            except ValueError:
                raise TaskError(400, f"metadata.{key} {raw!r} is not a number") from None
            if not math.isfinite(value):
                raise TaskError(400, f"metadata.{key} must be finite")
            return value

        rate = number("rate")
        duration = parse_duration(metadata.get("duration", ""), "metadata.duration")
        if rate > self.policy.max_load_rate or duration > self.policy.max_load_seconds:
            raise TaskError(
                400,
                f"a load task may ask for at most {self.policy.max_load_rate:g} requests per second "
                f"for {self.policy.max_load_seconds:g}s",
            )
        headers = []
        for line in metadata.get("headers", "").splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            if not sep or not key.strip() or any(c in key for c in " \t"):
                raise TaskError(400, f"metadata.headers line {line!r} is not 'Name: value'")
            headers.append((key.strip(), value.strip()))
        timeout = parse_duration(metadata["timeout"], "metadata.timeout") if "timeout" in metadata else 10.0
        try:
            return LoadSpec(
                url=metadata.get("url", ""),
                rate=rate,
                duration=duration,
                concurrency=int(number("concurrency", 100)),
                method=metadata.get("method", "GET").upper(),
                headers=tuple(headers),
                body=metadata.get("body", "").encode(),
                timeout=timeout,
                client=metadata.get("client", "auto"),
            )
        except ValueError as e:
            raise TaskError(400, f"load task: {e}") from None

    def _run_load(self, namespace: str, name: str, spec: LoadSpec) -> LoadReport:
        observe = self.observe_load

        def seen(status: str, seconds: float) -> None:
            if observe is not None:
                observe(namespace, name, status, seconds)

        return asyncio.run(run_load(spec, observe=seen))

    def _load(
        self, namespace: str, name: str, spec: LoadSpec, max_error_rate: float | None = None
    ) -> tuple[bool, str]:
        report = self._run_load(namespace, name, spec)
        text = json.dumps(report.summary())
        if max_error_rate is not None and report.error_rate > max_error_rate:
            return False, f"error rate {report.error_rate:.4f} above maxErrorRate {max_error_rate:g}: {text}"
        return True, text

    @staticmethod
    def _max_error_rate(metadata: Mapping[str, str]) -> float | None:
        limit = metadata.get("maxErrorRate")
        if limit is None:
            return None
        try:
            value = float(limit)
        except ValueError:
            raise TaskError(400, f"metadata.maxErrorRate {limit!r} is not a number") from None
        if not 0 <= value <= 1:
            raise TaskError(400, "metadata.maxErrorRate is a fraction between 0 and 1")
        return value

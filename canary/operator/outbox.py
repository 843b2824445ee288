"""The Git lane: owed Git writes, made off the tick, after its routing, scaling and status patch.

Who calls this: ``canary.operator.tick``.  At the start of a tick it asks what became of the write its
Canary owes (``observe``: an outcome to record, or a write under way); after the tick's status patch
it hands over the ``WriteGit`` actions (``submit``), which return at once.  The write runs in a lane
of a ``Dispatcher`` (one per repository and branch: writes to one working copy take turns anyway, and
a hung remote holds up only its own lane); when it ends, the outcome is kept for the Canary's next
tick and the Canary is woken (``on_done``) so that the outcome is recorded within a second.

What the core sees is plain: ``Observations.git`` (the outcome, once, for the write still owed) and
``Observations.git_in_flight``.  An outcome about a write no longer owed (the Canary dropped it
meanwhile) is discarded.  Nothing here survives a restart, and nothing needs to: the owed write is in
``status.gitops.pending``, and the writer finds a commit it made before a crash by its trailers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from canary.adapters.gitops.writer import GitOpsWriter
from canary.adapters.webhooks import Dispatcher
from canary.core.observations import GitOutcome
from canary.models.gitops import GitOpsSpec, GitWrite, GitWriteKind

Key = tuple[str, str]


@dataclass(frozen=True)
class GitView:
    """What a tick observes of its Canary's Git write."""

    outcome: GitOutcome | None
    in_flight: bool


class GitLane:
    def __init__(
        self,
        writer: GitOpsWriter,
        *,
        workers: int = 4,
        on_done: Callable[[str, str], None] | None = None,
    ) -> None:
        self.writer = writer
        self.on_done = on_done
        self._dispatcher = Dispatcher(workers=workers, capacity=100)
        self._lock = threading.Lock()
        self._running: dict[Key, GitWrite] = {}
        self._done: dict[Key, tuple[GitWrite, GitOutcome]] = {}

    def observe(self, namespace: str, name: str, pending: GitWrite | None) -> GitView:
        key = (namespace, name)
        with self._lock:
            done = self._done.get(key)
            if done is not None and not (pending is not None and pending.same_write(done[0])):
                del self._done[key]  # about a write no longer owed
                done = None
            return GitView(done[1] if done else None, key in self._running)

    def recorded(self, namespace: str, name: str) -> None:
        """The tick that observed the outcome wrote it into the status: forget it."""
        with self._lock:
            self._done.pop((namespace, name), None)

    def submit(self, namespace: str, name: str, spec: GitOpsSpec, write: GitWrite) -> bool:
        """Start ``write`` unless one is under way for this Canary; False if it was not started."""
        key = (namespace, name)
        with self._lock:
            if key in self._running:
                return False
            self._running[key] = write
            self._done.pop(key, None)
        repository = spec.repository
        target = spec.next_environment()
        if write.kind is GitWriteKind.PROMOTE and target is not None and target.repository:
            repository = target.repository
        lane = f"git:{repository.url}#{repository.branch}"
        started = self._dispatcher.submit(
            lane, f"Git {write.kind.value} of {namespace}/{name}", lambda: self._run(key, spec, write)
        )
        if not started:
            with self._lock:
                self._running.pop(key, None)
        return started

    def _run(self, key: Key, spec: GitOpsSpec, write: GitWrite) -> None:
        try:
            outcome = self.writer.write(key[0], key[1], spec, write)
        except Exception as e:  # the writer returns its failures; this is a bug, kept as an error
            outcome = GitOutcome(error=f"{type(e).__name__}: {e}"[:1000])
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)
                self._done[key] = (write, outcome)
            if self.on_done is not None:
                self.on_done(*key)

    def drain(self, timeout: float | None = None) -> bool:
        return self._dispatcher.drain(timeout)

    def close(self) -> None:
        self._dispatcher.close()

"""Calling a Canary's webhooks (httpx), and sending without waiting.

Who calls this: ``canary.operator.checks`` for the hooks that gate a rollout (confirm-rollout,
pre-rollout, rollout, confirm-traffic-increase, confirm-promotion, rollback), and
``canary.operator.tick`` for those it only informs (event, post-rollout), through a ``Dispatcher``
so that a slow receiver never delays a tick.

The request is Flagger's: ``POST <url>`` with ``{name, namespace, phase, checksum, metadata}``.
Unlike Flagger, which accepts only 200-202, any 2xx answer is success (204 No Content is a common
answer of a gate that has nothing to say).  A failed call names the status and the first
``BODY_EXCERPT`` characters of the answer, or the transport error; never the URL, which may carry
credentials in its userinfo or query.  Each attempt ends within the hook's ``timeout``, the whole
answer included (``canary.adapters.deadline``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from canary.adapters.deadline import post_json
from canary.adapters.kube.secrets import secret_values
from canary.models.canary import CanaryWebhook

log = logging.getLogger(__name__)

#: characters of an answer's body kept in a failure message (events are cut at 1 KiB anyway)
BODY_EXCERPT = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class HookAnswer:
    ok: bool
    #: the HTTP status, None when no answer came (timeout, refused, DNS)
    status: int | None
    #: the answer's body (cut) or the transport error
    detail: str

    def describe(self) -> str:
        if self.status is None:
            return f"no answer: {self.detail}"
        return f"HTTP {self.status}" + (f": {self.detail}" if self.detail else "")


def payload(
    name: str,
    namespace: str,
    phase: str,
    checksum: str,
    metadata: Mapping[str, str] | None = None,
    *,
    event: tuple[str, str, str, datetime] | None = None,
) -> dict[str, object]:
    """The JSON body of a webhook call.  ``event``: (message, type, reason, time) for event hooks,
    added to the metadata as ``eventMessage``, ``eventType``, ``eventReason`` and ``timestamp`` (unix
    milliseconds, a string, as Flagger); the hook's own metadata never overrides them."""
    meta = dict(metadata or {})
    if event is not None:
        message, kind, reason, when = event
        meta.update(
            eventMessage=message,
            eventType=kind,
            eventReason=reason,
            timestamp=str(int(when.timestamp() * 1000)),
        )
    body: dict[str, object] = {"name": name, "namespace": namespace, "phase": phase, "checksum": checksum}
    if meta:
        body["metadata"] = meta
    return body


#: reads a Secret (namespace, name) -> its object, or None when it does not exist
SecretReader = Callable[[str, str], Mapping[str, Any] | None]


class TokenUnavailable(Exception):
    """The Secret a hook's ``tokenSecretRef`` names, or its key, is missing."""


def hook_token(read_secret: SecretReader | None, namespace: str, hook: CanaryWebhook) -> str | None:
    """The bearer token of ``hook`` from its Secret in the Canary's namespace (never logged)."""
    ref = hook.token_secret_ref
    if ref is None:
        return None
    secret = read_secret(namespace, ref.name) if read_secret is not None else None
    if secret is None:
        raise TokenUnavailable(f"Secret {namespace}/{ref.name} (tokenSecretRef) not found")
    try:
        values = secret_values(secret, (ref.key,))
    except ValueError:  # not base64, or not text (UnicodeDecodeError is a ValueError)
        raise TokenUnavailable(
            f"Secret {namespace}/{ref.name} key {ref.key} is not valid base64 text"
        ) from None
    if ref.key not in values:
        raise TokenUnavailable(f"Secret {namespace}/{ref.name} has no key {ref.key} (tokenSecretRef)")
    return values[ref.key]


def _excerpt(text: str) -> str:
    text = _CONTROL.sub(" ", text).strip()
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= BODY_EXCERPT else text[: BODY_EXCERPT - 1] + "…"


class WebhookClient:
    """Synchronous calls (a tick runs in a worker thread).  One connection pool per TLS setting."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
    ) -> None:
        self._transport = transport
        self._sleep = sleep
        self._backoff = backoff
        self._clients: dict[bool, httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, verify: bool) -> httpx.Client:
        with self._lock:
            found = self._clients.get(verify)
            if found is None:
                found = httpx.Client(verify=verify, transport=self._transport, follow_redirects=False)
                self._clients[verify] = found
            return found

    def call(self, hook: CanaryWebhook, body: Mapping[str, object], token: str | None = None) -> HookAnswer:
        """POST ``body`` to the hook, with its timeout, retried ``retries`` times after a failure;
        ``token``, if given, as a bearer token."""
        client = self._client(verify=not hook.disable_tls)
        attempts = 1 + (hook.retries or 0)
        answer = HookAnswer(False, None, "not called")
        for attempt in range(attempts):
            if attempt:
                self._sleep(min(self._backoff * 2 ** (attempt - 1), 5.0))
            answer = self._once(client, hook, body, token)
            if answer.ok:
                return answer
        return answer

    @staticmethod
    def _once(
        client: httpx.Client, hook: CanaryWebhook, body: Mapping[str, object], token: str | None
    ) -> HookAnswer:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        answer = post_json(client, hook.url, dict(body), timeout=hook.timeout_seconds, headers=headers)
        if answer.status is None:
            if answer.timed_out:
                return HookAnswer(False, None, answer.error or "timed out")
            return HookAnswer(False, None, _excerpt(answer.error or "") or "no detail")
        return HookAnswer(200 <= answer.status < 300, answer.status, _excerpt(answer.text))


class Dispatcher:
    """Runs fire-and-forget calls on its own threads, so that the caller never waits for a receiver.

    Calls go into *lanes*, one per receiver (its URL): a lane runs its calls one at a time, in the
    order they came, on a shared pool of threads.  So a receiver that hangs holds up only its own
    lane (at most one thread, until its timeout), never another receiver's, and each receiver sees
    events in order.  A lane holds at most ``capacity`` waiting calls; beyond that a new call is
    dropped (counted in ``dropped``, with a log line) rather than growing memory without bound.
    """

    def __init__(self, *, workers: int = 8, capacity: int = 1000) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch")
        self._capacity = capacity
        self._lanes: dict[str, deque[tuple[str, Callable[[], None]]]] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._pending = 0
        self.dropped = 0

    def submit(self, lane: str, what: str, call: Callable[[], None]) -> bool:
        with self._lock:
            waiting = self._lanes.get(lane)
            # A lane's deque holds the call that runs (first) and those that wait.
            if waiting is not None and len(waiting) > self._capacity:
                self.dropped += 1
                log.warning("dropped %s: %d calls already wait for this receiver", what, len(waiting) - 1)
                return False
            self._pending += 1
            if waiting is None:  # no thread runs this lane: start one
                self._lanes[lane] = deque([(what, call)])
                self._pool.submit(self._run, lane)
            else:
                waiting.append((what, call))
        return True

    def _run(self, lane: str) -> None:
        while True:
            with self._lock:
                waiting = self._lanes[lane]
                if not waiting:
                    del self._lanes[lane]
                    return
                what, call = waiting[0]
            try:
                call()
            except Exception:
                log.exception("%s failed", what)
            finally:
                with self._lock:
                    self._lanes[lane].popleft()
                    self._pending -= 1
                    self._settled.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted call has run (tests, and a clean shutdown)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""One HTTP POST with a deadline for the whole exchange, not only for each read.

Who calls this: the webhook client and the notifier.  httpx's ``timeout`` bounds each network
operation (connect, write, each read), so a receiver that sends its answer a few bytes at a time
could hold a call far longer than its timeout; here the answer's body is read in chunks against one
deadline, and only the first ``keep`` bytes of it are kept (the callers show an excerpt at most).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Answer:
    #: the HTTP status; None when no complete answer came in time (the error says what happened)
    status: int | None
    text: str = ""
    error: str | None = None
    timed_out: bool = False


def post_json(
    client: httpx.Client,
    url: str,
    body: object,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    keep: int = 4096,
) -> Answer:
    """POST ``body`` as JSON; the whole exchange ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    try:
        with client.stream("POST", url, json=body, headers=dict(headers or {}), timeout=timeout) as response:
            data = b""
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:
                    return Answer(
                        None, error=f"the answer was still coming after {timeout:g}s", timed_out=True
                    )
                if len(data) < keep:
                    data += chunk[: keep - len(data)]
            try:
                text = data.decode(response.encoding or "utf-8", errors="replace")
            except LookupError:
                text = ""
            return Answer(response.status_code, text)
    except httpx.TimeoutException:
        return Answer(None, error=f"timed out after {timeout:g}s", timed_out=True)
    except httpx.HTTPError as e:
        # The message of a transport error never holds the URL; the type says what failed.
        return Answer(None, error=f"{type(e).__name__}: {e}")

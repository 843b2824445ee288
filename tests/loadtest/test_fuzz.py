"""Crafted payloads thrown at the load tester (hypothesis): whatever arrives, the answer is a status
with a message, never an exception, and no field is ever run by a shell: a marker file that every
injection attempt tries to create never appears."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtest.server import App, Auth, Metrics
from loadtest.state import MemoryStore
from loadtest.tasks import Policy, Tasks

MARKER = Path("/tmp/canary-loadtest-fuzz-pwned")  # noqa: S108 - what an injection would create
INJECTIONS = [
    f"; touch {MARKER}",
    f"$(touch {MARKER})",
    f"`touch {MARKER}`",
    f"| touch {MARKER}",
    f"&& touch {MARKER}",
    f"\ntouch {MARKER}",
    f"' ; touch {MARKER} ; '",
    f'" ; touch {MARKER} ; "',
    f"${{IFS}}touch${{IFS}}{MARKER}",
]
pieces = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=30))
crafted = st.builds("".join, st.lists(pieces, max_size=4))
#: commands that start with the allowed program, so that only the rest could inject anything
commands = st.builds("echo {}".format, crafted)
fields = st.one_of(crafted, st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2))
metadata = st.dictionaries(
    st.sampled_from(["type", "cmd", "url", "rate", "duration", "headers", "mode", "logCmdOutput", "x"]),
    st.one_of(commands, crafted, st.sampled_from(["cmd", "bash", "kubectl", "helm", "load", "1", "1s"])),
    max_size=5,
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["cart", "a.b"]), fields),
        "namespace": st.one_of(st.just("shop"), fields),
        "metadata": st.one_of(metadata, fields),
        "phase": fields,
    },
)
paths = st.sampled_from(["/", "/task", "/gate/check", "/gate/open", "/rollback/close", "/gate/x", "/metrics"])
app = App(
    MemoryStore(),
    Tasks(Policy(allowed=frozenset({"echo"}), timeout=5, max_load_seconds=0.2, max_load_rate=10)),
    Auth(),
    Metrics(),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=paths, body=st.one_of(payloads.map(lambda p: json.dumps(p).encode()), st.binary(max_size=200)))
def test_crafted_payloads_get_an_answer_and_run_no_shell(path: str, body: bytes) -> None:
    reply = app.handle("POST", path, {}, body)
    assert reply.status in (200, 202, 400, 403, 404, 500), (reply.status, reply.text)
    assert reply.text
    if reply.status >= 400:
        assert len(reply.text) > 10  # a message, not a bare code


def test_no_injection_ever_ran() -> None:
    # The attempts do work on a shell: each would have created the marker.
    for attempt in INJECTIONS:
        MARKER.unlink(missing_ok=True)
        subprocess.run(["sh", "-c", f"echo {attempt}"], check=False, capture_output=True)
        assert MARKER.exists() or "IFS" in attempt or "'" in attempt or '"' in attempt, attempt
    MARKER.unlink(missing_ok=True)
    test_crafted_payloads_get_an_answer_and_run_no_shell()
    time.sleep(1)  # the asynchronous echo tasks finish
    assert not MARKER.exists()

"""The main job, as README's first command runs it (``make demo`` is ``python -m demo`` in the network
namespace once built): both stories play out, with their requests through Traefik, and the demo says
so by its exit status and its timeline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_promotes_a_release_and_reverts_a_faulty_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    out = done.stdout
    assert done.returncode == 0, f"{out[-6000:]}\n{done.stderr[-6000:]}"
    story1, _, story2 = out.partition("== Story 2")
    # Story 1: through the weights, promoted, committed to production.
    for step in ("Canary weight 0% -> 20%", "Canary weight 20% -> 40%", "Canary weight 40% -> 60%"):
        assert step in story1
    assert "GitCommitted: Promoted to apps/web/production" in story1
    # What the Pods served through Traefik follows the weights: at 60%, the canary served about 60%.
    served = r"Promoting: canary weight 60%.*served since the last line: \d+ requests, web (\d+)%"
    at_60 = re.search(served, story1)
    assert at_60 is not None, story1
    assert 50 <= int(at_60.group(1)) <= 70
    # Story 2: the success-rate check fails, the revert lands, Flux applies it, everything agrees.
    assert "request-success-rate" in story2
    assert "is below the minimum 99" in story2
    assert "GitCommitted: Reverted 1 commit to apps/web/staging" in story2
    assert "Flux applied" in story2.split("GitCommitted: Reverted", 1)[1]
    assert "Git, the cluster and the Canary's status agree on web:1.1.0" in story2
    # The ending: git log with the machine-readable trailers, and kubectl get canaries.
    assert "Canary-Verdict: rolled-back" in out
    assert "Canary-Verdict: promoted" in out
    table = out.split("== kubectl get canaries -n demo", 1)[1].split()
    assert table[:4] == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    assert table[5:8] == ["web", "Failed", "0"]
    assert "demo done in" in out

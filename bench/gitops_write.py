"""Benchmark: what a rollback's revert commit costs, against a person doing the bare minimum by hand.

Run: ``.venv/bin/python -m bench.gitops_write [--runs N] [--history 10,2000]``.

A loopback smart-HTTP remote (``controlplane.gitserver``) holds a config repository with ``history``
unrelated commits.  Each run, CI pushes a bad release of web; then, alternating which goes first:

* **ours**: ``GitOpsWriter.write`` of the revert, as the controller makes it: fetch into its kept
  working copy, search the branch for its own trailers (exactly once), revert only what the release
  changed under the workload's path, exclude the tag from the Flux ImageRepository, commit with
  trailers, push;
* **reference**: a person's ``git pull --rebase``, ``git revert --no-edit <bad>``, ``git push`` in a
  kept clone of their own (no path limit, no image automation, no exactly-once).

Both revert the same kind of commit against the same remote in the same process, so the ratio is
what the extra guarantees cost.  Prints each history size's medians and the ratio; docs/performance.md
records them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from canary.adapters.gitops.writer import GitOpsWriter
from canary.models.gitops import GitOpsSpec, GitWrite, GitWriteKind
from controlplane.gitserver import GitHTTPServer, Person, git
from demo.configrepo import IMAGE_AUTOMATION, STAGING, deployment


def seed(ci: Person, history: int) -> None:
    ci.change({STAGING: deployment("1.0.0"), "flux/image-automation.yaml": IMAGE_AUTOMATION}, "initial")
    # Unrelated history, written as one push of many commits.
    for i in range(history):
        path = ci.dir / "apps" / f"app{i % 50}" / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: ConfigMap\ndata: {{release: '{i}'}}\n")
        git(ci.dir, "add", str(path))
        git(ci.dir, "commit", "--quiet", "-m", f"app{i % 50} release {i}")
    git(ci.dir, "push", "--quiet", "origin", "HEAD:main")


def measure(history: int, runs: int, root: Path) -> tuple[float, float]:
    server = GitHTTPServer(root / "remotes")
    (root / "remotes").mkdir()
    server.start()
    try:
        url = server.create_repo("config")
        ci = Person(url, root / "ci")
        seed(ci, history)
        person = Person(url, root / "person")
        writer = GitOpsWriter(root / "gitops", lambda namespace, name: None)
        spec = GitOpsSpec.model_validate({"repository": {"url": url}, "path": "apps/web/staging"})
        ours: list[float] = []
        reference: list[float] = []
        for run in range(runs + 1):  # the first run of each warms the working copies, not counted
            for who in ("ours", "reference") if run % 2 else ("reference", "ours"):
                good = ci.log()[0].split()[0]
                bad = ci.commit(STAGING, deployment(f"1.{run + 1}.{len(ours) + len(reference)}"), "web bad")
                t0 = time.perf_counter()
                if who == "ours":
                    write = GitWrite(
                        kind=GitWriteKind.REVERT,
                        revision=f"rev{run}-{who}-{bad[:8]}",
                        git_revision=bad,
                        since_revision=good,
                        images={"web": f"ghcr.io/acme/web:1.{run + 1}.0"},
                        reason="Rolling back: request-success-rate 84.3 is below the minimum 99",
                    )
                    outcome = writer.write("bench", "web", spec, write)
                    if outcome.record is None or outcome.record.result != "committed":
                        raise RuntimeError(f"the revert was not committed: {outcome}")
                else:
                    git(person.dir, "pull", "--quiet", "--rebase", "origin", "main")
                    git(person.dir, "revert", "--no-edit", bad)
                    git(person.dir, "push", "--quiet", "origin", "HEAD:main")
                elapsed = time.perf_counter() - t0
                if run:
                    (ours if who == "ours" else reference).append(elapsed)
        return statistics.median(ours), statistics.median(reference)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--history", default="10,2000", help="unrelated commits in the repository")
    args = parser.parse_args()
    print("| unrelated commits | ours (median) | reference (median) | ratio |")
    print("|---|---|---|---|")
    for history in (int(h) for h in args.history.split(",")):
        root = Path(tempfile.mkdtemp(prefix="canary-bench-git-"))
        try:
            ours, reference = measure(history, args.runs, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"| {history} | {ours * 1000:.0f} ms | {reference * 1000:.0f} ms | {ours / reference:.2f} |")


if __name__ == "__main__":
    main()

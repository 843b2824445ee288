"""The canary command line as a person runs it, against the test's cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import Cluster

CANARY = str(Path(sys.executable).with_name("canary"))


def cli(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``canary ARGS -n NAMESPACE`` with the cluster's kubeconfig."""
    return subprocess.run(
        [CANARY, *args, "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

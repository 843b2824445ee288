"""The upstream CRDs of the third-party kinds canary writes, for tests, benchmarks and the demo.

``controlplane/build-crds.sh`` takes them from their Go modules at the versions pinned in
``controlplane/versions.env`` (Gateway API, Istio, Contour, SMI's TrafficSplit as Open Service Mesh
ships it with its v1alpha3 marked served, Traefik, KEDA) into a cache outside the checkout;
``install`` applies sets of them to a cluster and waits until they are established.  The Gateway
API's standard channel is the default set: it is what most clusters run, and a field only the
experimental channel has (an HTTPRoute rule's ``retry``) is dropped by the API server there, which
the controller reports (``canary.core.errors.Pruned``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from controlplane.localcluster import ClusterError, kubectl, kubectl_path, wait_for_crds

HERE = Path(__file__).resolve().parent
#: the sets installed unless a caller names others
DEFAULT = ("gateway-api", "istio", "contour", "smi", "traefik", "keda")
SETS = (*DEFAULT, "gateway-api-experimental")


def crds_dir() -> Path:
    """Fetch the CRDs if the cache is empty; the cache directory (one folder per set)."""
    proc = subprocess.run([str(HERE / "build-crds.sh")], check=False, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError(
            "fetching the upstream CRDs failed; see the messages of controlplane/build-crds.sh above"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def files(*sets: str) -> list[str]:
    """``-f DIR`` arguments for kubectl, one per set."""
    root = crds_dir()
    out: list[str] = []
    for name in sets:
        if name not in SETS:
            raise ClusterError(f"unknown CRD set {name!r}; known: {', '.join(SETS)}")
        out += ["-f", str(root / name)]
    return out


def install(kubeconfig: str | Path, *sets: str) -> None:
    """Apply the sets (``DEFAULT`` when none is named) server-side and wait until they are established."""
    args = files(*(sets or DEFAULT))
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", *args)
    wait_for_crds([kubectl_path(), f"--kubeconfig={kubeconfig}"], *args)

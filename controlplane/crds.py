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

from pathlib import Path

from controlplane.localcluster import ClusterError, apply_crds, built

HERE = Path(__file__).resolve().parent
#: the sets installed unless a caller names others
DEFAULT = ("gateway-api", "istio", "contour", "smi", "traefik", "keda")
SETS = (*DEFAULT, "gateway-api-experimental")


def crds_dir() -> Path:
    """Fetch the CRDs if the cache is empty; the cache directory (one folder per set)."""
    return built("build-crds.sh", "the upstream CRD cache")


def dirs(*sets: str) -> list[Path]:
    """The directory of each set."""
    root = crds_dir()
    unknown = [name for name in sets if name not in SETS]
    if unknown:
        raise ClusterError(f"unknown CRD set {unknown[0]!r}; known: {', '.join(SETS)}")
    return [root / name for name in sets]


def files(*sets: str) -> list[str]:
    """``-f DIR`` arguments for kubectl, one per set."""
    return [arg for path in dirs(*sets) for arg in ("-f", str(path))]


def install(kubeconfig: str | Path, *sets: str) -> None:
    """Apply the sets (``DEFAULT`` when none is named) server-side and wait until they are established."""
    apply_crds(kubeconfig, *dirs(*(sets or DEFAULT)))

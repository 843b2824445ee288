#!/usr/bin/env bash
# Run a command in a private network namespace whose only interface is lo, with kwok's pod range
# (10.244.0.0/15: the local cluster's --cidr 10.244.0.0/16, and 10.245.0.0/16 for a second cluster
# such as the fault suite's) a local route: a process can then bind a Pod's IP, the
# real endpointslice controller's EndpointSlices point at it, and a real proxy (Traefik) reaches it,
# while no packet leaves the namespace.  Everything the command starts (the control plane, Prometheus,
# Flux, Traefik, the git servers) lives in the namespace and talks over its loopback; nothing in it can
# reach the network outside, so downloads happen before (make builds the caches first).
#
# Needs root, or unprivileged user namespaces (then the namespace is entered as a mapped root), and
# iproute2 (`ip`) and util-linux (`unshare`), which controlplane/deps.sh installs.
set -euo pipefail
die() { echo "netns: $*" >&2; exit 1; }
[ $# -gt 0 ] || die "usage: controlplane/netns.sh COMMAND [ARG...]"
command -v unshare >/dev/null 2>&1 || die "unshare is missing (Debian package util-linux)"
command -v ip >/dev/null 2>&1 || die "ip is missing (Debian package iproute2)"
POD_RANGE=10.244.0.0/15
setup='ip link set lo up && ip route add local '"$POD_RANGE"' dev lo && exec "$@"'
if [ "$(id -u)" = 0 ]; then
  exec unshare --net --fork bash -c "$setup" netns "$@"
fi
unshare --user --map-root-user --net true 2>/dev/null \
  || die "cannot create a network namespace: run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
exec unshare --user --map-root-user --net --fork bash -c "$setup" netns "$@"

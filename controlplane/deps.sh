#!/usr/bin/env bash
# Install (or check) the system packages the project needs: the test fixtures' Prometheus, git and Redis, openssl
# for the control plane's keys, ip and unshare for the suite's network namespace, a Python >= 3.11
# with venv, and Go for building the control plane.
# Installs missing Debian packages with apt-get (running `apt-get update` first); fails naming what is
# missing when it cannot.  Prints nothing when everything is there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
die() { echo "deps: $*" >&2; exit 1; }

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v git >/dev/null 2>&1 || missing+=(git)
# Argo CD's cache (controlplane/argocd.py starts its own, on a free loopback port).
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v make >/dev/null 2>&1 || missing+=(make)
# The suite runs in a private network namespace (controlplane/netns.sh) where Pod IPs can be bound.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  die "$py is Python $("$py" -c 'import platform; print(platform.python_version())'); canary needs >= 3.11 (make PYTHON=/path/to/python3.11)"
elif ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)  # Debian splits venv/ensurepip out of python3
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]} (install them with apt-get as root, then re-run)"
  fi
  echo "deps: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: cannot reach the Debian package mirror"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
  # Debian's prometheus and redis-server packages ship services; we never use them (tests start their own
  # on free ports).
fi

command -v go >/dev/null 2>&1 \
  || die "Go is not installed: the control plane is built from source with Go >= $GO_MIN (Debian's golang is too old)"

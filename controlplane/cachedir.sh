#!/usr/bin/env bash
# Print the cache directory for the pinned control-plane versions (outside the checkout, shared by clones).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
echo "${CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/canary}/controlplane/k8s-$K8S_VERSION-kwok-$KWOK_VERSION"

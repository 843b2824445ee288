#!/usr/bin/env bash
# Build Flux's helm-controller from its Go module (the version pinned in versions.env), into a cache
# directory keyed by the version, outside the checkout, the way build-flux.sh builds source- and
# kustomize-controller.  Prints the cache directory (bin/ and crds/ inside it).  A cache of its own, so
# that adding it did not rebuild the other controllers.
set -euo pipefail
# shellcheck source=buildlib.sh
. "$(dirname "$0")/buildlib.sh"
buildlib build-helm-controller

cache=$(cache_for "flux-helm-$FLUX_HELM_VERSION")
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds"
build_flux_controller helm-controller "$FLUX_HELM_VERSION" "$work"
install_cache "$work" "$cache" bin crds

#!/usr/bin/env bash
# Build Flux's source-controller and kustomize-controller (the GitOps agent of the GitOps tests and of
# `make demo`) from their Go modules, into a cache directory keyed by the versions, outside the checkout.
# Prints the cache directory (bin/ and crds/ inside it).
#
# Why not `go install pkg@version`: each controller's go.mod replaces its own api module with ./api,
# which the module zip does not contain (a nested module), and `go install` refuses replace directives
# anyway.  So each module's source is copied out of the module cache and built where it is, with the
# ./api replacement pointed at the published api module of the same version; every other directive of
# its go.mod is kept as upstream wrote it.
set -euo pipefail
# shellcheck source=buildlib.sh
. "$(dirname "$0")/buildlib.sh"
buildlib build-flux

cache=$(cache_for "flux-source-$FLUX_SOURCE_VERSION-kustomize-$FLUX_KUSTOMIZE_VERSION")
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds"
build_flux_controller source-controller "$FLUX_SOURCE_VERSION" "$work"
build_flux_controller kustomize-controller "$FLUX_KUSTOMIZE_VERSION" "$work"
install_cache "$work" "$cache" bin crds

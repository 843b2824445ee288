#!/usr/bin/env bash
# Build Flux's helm-controller from its Go module (the version pinned in versions.env), into a cache
# directory keyed by the version, outside the checkout, the way build-flux.sh builds source- and
# kustomize-controller (its go.mod replaces its api module with ./api, which the module zip does not
# hold: that one replacement points at the published api module of the same version; every other
# directive is kept).  Prints the cache directory (bin/ and crds/ inside it).  A cache of its own, so
# that adding it did not rebuild the other controllers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
die() { echo "build-helm-controller: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN); install it or put it on PATH"

cache="$(dirname "$("$here/cachedir.sh")")/flux-helm-$FLUX_HELM_VERSION"
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds"
mod=github.com/fluxcd/helm-controller
echo "build-helm-controller: downloading $mod@$FLUX_HELM_VERSION" >&2
dir=$(go mod download -json "$mod@$FLUX_HELM_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
  || die "cannot download $mod@$FLUX_HELM_VERSION from the Go module proxy ($(go env GOPROXY))"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cp "$work/src"/config/crd/bases/*.yaml "$work/crds/"
(
  cd "$work/src"
  go mod edit -replace="$mod/api=$mod/api@$FLUX_HELM_VERSION"
  echo "build-helm-controller: building helm-controller $FLUX_HELM_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$work/bin/helm-controller" . || die "go build helm-controller failed"
)

mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mkdir -p "$cache"
mv "$work/bin" "$work/crds" "$cache/"
touch "$cache/bin/.complete"
echo "$cache"

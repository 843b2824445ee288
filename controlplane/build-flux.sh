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

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
die() { echo "build-flux: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN); install it or put it on PATH"

cache="$(dirname "$("$here/cachedir.sh")")/flux-source-$FLUX_SOURCE_VERSION-kustomize-$FLUX_KUSTOMIZE_VERSION"
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds"

build() {  # build <controller> <version>
  local name=$1 version=$2 mod="github.com/fluxcd/$1"
  echo "build-flux: downloading $mod@$version" >&2
  local dir
  dir=$(go mod download -json "$mod@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
    || die "cannot download $mod@$version from the Go module proxy ($(go env GOPROXY))"
  cp -r "$dir" "$work/$name"
  chmod -R u+w "$work/$name"
  cp "$work/$name"/config/crd/bases/*.yaml "$work/crds/"
  (
    cd "$work/$name"
    go mod edit -replace="$mod/api=$mod/api@$version"
    echo "build-flux: building $name $version" >&2
    go build -trimpath -ldflags "-s -w" -o "$work/bin/$name" . || die "go build $name failed"
  )
}

build source-controller "$FLUX_SOURCE_VERSION"
build kustomize-controller "$FLUX_KUSTOMIZE_VERSION"

mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mkdir -p "$cache"
mv "$work/bin" "$work/crds" "$cache/"
touch "$cache/bin/.complete"
echo "$cache"

#!/usr/bin/env bash
# Build Traefik (the real Gateway API data plane of the tests and the demo) from its Go module, into
# a cache directory keyed by the version, outside the checkout.  Prints the cache directory (bin/
# inside it).
#
# Why not `go install pkg@version`: Traefik's go.mod has replace directives, which `go install`
# refuses.  The module's source is copied out of the module cache and built where it is, every
# directive of its go.mod kept as upstream wrote it.  v3.6.12 is the newest v3 whose dependencies the
# module proxy serves in full (v3.7.x needs ACME DNS-provider modules it refuses).  Cold, the build
# takes about 6 minutes on 2 cores and 3 GiB of memory; the binary is about 170 MiB.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
die() { echo "build-traefik: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN); install it or put it on PATH"

cache="$(dirname "$("$here/cachedir.sh")")/traefik-$TRAEFIK_VERSION"
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mod=github.com/traefik/traefik/v3
echo "build-traefik: downloading $mod@$TRAEFIK_VERSION" >&2
dir=$(go mod download -json "$mod@$TRAEFIK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
  || die "cannot download $mod@$TRAEFIK_VERSION from the Go module proxy ($(go env GOPROXY))"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$work/bin"
(
  cd "$work/src"
  echo "build-traefik: building traefik $TRAEFIK_VERSION (several minutes when cold)" >&2
  go build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$work/bin/traefik" ./cmd/traefik || die "go build traefik failed"
)
"$work/bin/traefik" version >/dev/null || die "the built traefik does not run"

mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mkdir -p "$cache"
mv "$work/bin" "$cache/"
touch "$cache/bin/.complete"
echo "$cache"

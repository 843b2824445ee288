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
# shellcheck source=buildlib.sh
. "$(dirname "$0")/buildlib.sh"
buildlib build-traefik

cache=$(cache_for "traefik-$TRAEFIK_VERSION")
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mod=github.com/traefik/traefik/v3
copy_source "$mod@$TRAEFIK_VERSION" "$work/src"
mkdir -p "$work/bin"
(
  cd "$work/src"
  echo "build-traefik: building traefik $TRAEFIK_VERSION (several minutes when cold)" >&2
  go build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$work/bin/traefik" ./cmd/traefik || die "go build traefik failed"
)
"$work/bin/traefik" version >/dev/null || die "the built traefik does not run"

install_cache "$work" "$cache" bin

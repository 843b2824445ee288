#!/usr/bin/env bash
# Build Knative Serving's controller and autoscaler from their Go module (knative.dev/serving, the
# version pinned in versions.env), into a cache directory keyed by the version, outside the checkout,
# with the manifests they need: Serving's CRDs, the networking and caching CRDs it uses (from the
# knative.dev/networking and knative.dev/caching versions its go.mod requires), and its config maps.
# Prints the cache directory (bin/, crds/, config/ inside it).
#
# Why the source is copied and built where it is: `go install pkg@version` refuses a go.mod with
# replace directives, and Serving's has one.
#
# Two edits, for running both processes on one host (in a cluster each has its own Pod and network):
# the controller's health-probe server (fixed port 8080, which kubelet would probe) is disabled, and
# the autoscaler's stats server moves from :8080 to :18080.  Each edit checks that it changes exactly
# one line.  Nothing else is changed.
set -euo pipefail
# shellcheck source=buildlib.sh
. "$(dirname "$0")/buildlib.sh"
buildlib build-knative

cache=$(cache_for "knative-serving-$KNATIVE_SERVING_VERSION-1")
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds" "$work/config"

edit() {  # edit <file> <old> <new>: replace one line that is there exactly once
  python3 - "$@" <<'PY' || die "$1 is not as expected (has $KNATIVE_SERVING_VERSION changed?)"
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
open(path, "w").write(text.replace(old, new))
PY
}

src="$work/serving"
copy_source "knative.dev/serving@$KNATIVE_SERVING_VERSION" "$src"
required() { awk -v m="$1" '$1 == m { print $2 }' "$src/go.mod"; }
networking=$(module_dir "knative.dev/networking@$(required knative.dev/networking)")
caching=$(module_dir "knative.dev/caching@$(required knative.dev/caching)")

edit "$src/cmd/controller/main.go" \
  'sharedmain.MainWithConfig(ctx, "controller", cfg, ctors...)' \
  'sharedmain.MainWithConfig(sharedmain.WithHealthProbesDisabled(ctx), "controller", cfg, ctors...)'
edit "$src/cmd/autoscaler/main.go" 'statsServerAddr = ":8080"' 'statsServerAddr = ":18080"'

for cmd in controller autoscaler; do
  echo "build-knative: building $cmd $KNATIVE_SERVING_VERSION" >&2
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$work/bin/$cmd" "./cmd/$cmd") || die "go build $cmd failed"
done

cp "$src"/config/core/300-resources/*.yaml "$work/crds/"
cp "$caching/config/image.yaml" "$networking/config/ingress.yaml" "$networking/config/serverlessservice.yaml" \
  "$networking/config/certificate.yaml" "$networking/config/domain-claim.yaml" "$work/crds/"
cp "$src"/config/core/configmaps/*.yaml "$networking/config/config-network.yaml" "$work/config/"
chmod -R u+w "$work"
install_cache "$work" "$cache" bin crds config

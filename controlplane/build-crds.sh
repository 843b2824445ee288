#!/usr/bin/env bash
# Fetch the upstream CRDs of every third-party kind canary writes, at the versions pinned in
# versions.env, from their Go modules (the module zips carry the CRD manifests), into a cache
# directory keyed by the versions, outside the checkout.  Prints the cache directory: one folder per
# set (gateway-api, gateway-api-experimental, istio, contour, smi, traefik, keda), each holding only
# CustomResourceDefinition manifests.  Nothing is built: only `go mod download`.
#
# One edit is made, to OSM's TrafficSplit CRD: its v1alpha3 version (schema untouched) is marked
# served, as SMI meshes that write v1alpha3 serve it; OSM itself serves only v1alpha2, and no other
# upstream CRD of TrafficSplit installs on Kubernetes >= 1.22.  The edit checks that it changes
# exactly that one flag.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
die() { echo "build-crds: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN); install it or put it on PATH"

key="gw-$GATEWAY_API_VERSION-istio-$ISTIO_API_VERSION-contour-$CONTOUR_VERSION-osm-$OSM_VERSION-traefik-$TRAEFIK_VERSION-keda-$KEDA_VERSION-2"
cache="$(dirname "$("$here/cachedir.sh")")/crds-$key"
if [ -f "$cache/.complete" ]; then echo "$cache"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

module() {  # module <path@version>: its directory in the module cache
  echo "build-crds: downloading $1" >&2
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])' \
    || die "cannot download $1 from the Go module proxy ($(go env GOPROXY))"
}

take() {  # take <set> <file>...: copy the files that define CRDs into the set
  local set=$1; shift
  mkdir -p "$work/$set"
  local f found=0
  for f in "$@"; do
    [ -f "$f" ] || die "$f is not in its module (has the layout changed?)"
    if grep -q '^kind: CustomResourceDefinition' "$f"; then cp "$f" "$work/$set/"; found=1; fi
  done
  [ "$found" = 1 ] || die "no CRD found for $set"
}

gw=$(module "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
take gateway-api "$gw"/config/crd/standard/*.yaml
take gateway-api-experimental "$gw"/config/crd/experimental/*.yaml
istio=$(module "istio.io/api@$ISTIO_API_VERSION")
take istio "$istio/kubernetes/customresourcedefinitions.gen.yaml"
contour=$(module "github.com/projectcontour/contour@$CONTOUR_VERSION")
take contour "$contour/examples/contour/01-crds.yaml"
osm=$(module "github.com/openservicemesh/osm@$OSM_VERSION")
take smi "$osm/cmd/osm-bootstrap/crds/smi_traffic_split.yaml"
python3 - "$work/smi/smi_traffic_split.yaml" <<'PY' || die "OSM's TrafficSplit CRD is not as expected"
import sys
path = sys.argv[1]
text = open(path).read()
off = "    - name: v1alpha3\n      served: false\n"
assert text.count(off) == 1, "v1alpha3 is not there exactly once, unserved"
assert "    - name: v1alpha2\n      served: true\n      storage: true\n" in text, "v1alpha2 is not stored"
open(path, "w").write(text.replace(off, off.replace("false", "true")))
PY
traefik=$(module "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")
take traefik "$traefik/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
keda=$(module "github.com/kedacore/keda/v2@$KEDA_VERSION")
take keda "$keda/config/crd/bases/keda.sh_scaledobjects.yaml"

chmod -R u+w "$work"
mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mv "$work" "$cache"
trap - EXIT
chmod 755 "$cache"
touch "$cache/.complete"
echo "$cache"

#!/usr/bin/env bash
# Build the local Kubernetes control plane used by `make cluster` and the test suite.
#
# Produces etcd, kube-apiserver, kube-controller-manager, kube-scheduler (from the Go module
# k8s.io/kubernetes at a pinned version) and kwok into a cache directory keyed by the versions,
# outside the checkout, so every clone on this machine reuses one build.  Prints the bin directory.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and
# maps them with `replace => ./staging/...`, which `go install pkg@version` refuses.  We read the pinned
# version's own go.mod and replace each staging module with its published v0.Y.Z twin.  The list is
# derived, never hard-coded: it grows with newer minors.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
die() { echo "build-controlplane: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN for Kubernetes $K8S_VERSION); install it or put it on PATH"
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" != "$GO_MIN" ]; then
  die "Go $have is older than $GO_MIN, which Kubernetes $K8S_VERSION requires (GOTOOLCHAIN=local: no toolchain download)"
fi

bindir=$("$here/cachedir.sh")/bin
stages=$(dirname "$bindir")/stages
if [ -f "$bindir/.complete" ]; then echo "$bindir"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/bin"; mkdir -p "$out" "$work/mod"

echo "build-controlplane: resolving k8s.io/kubernetes@$K8S_VERSION" >&2
go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >"$work/dl.json" \
  || die "cannot download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy ($(go env GOPROXY))"
gomod=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["GoMod"])' "$work/dl.json")

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}; patch=${K8S_VERSION##*.}
staging_version="v0.$minor.$patch"
etcd_version=$(awk '$1=="go.etcd.io/etcd/api/v3"{print $2; exit}' "$gomod")
[ -n "$etcd_version" ] || die "could not find the etcd version pinned by k8s.io/kubernetes@$K8S_VERSION"

cd "$work/mod"
go mod init canary.dev/controlplane-build >/dev/null 2>&1
go mod edit -require="k8s.io/kubernetes@$K8S_VERSION" -require="go.etcd.io/etcd/server/v3@$etcd_version"
n=0
while read -r mod; do
  go mod edit -replace="$mod=$mod@$staging_version"; n=$((n+1))
done < <(awk '$2=="=>" && $3 ~ /^\.\/staging\/src\// {print $1}' "$gomod")
[ "$n" -gt 0 ] || die "no staging replace directives found in $gomod"
echo "build-controlplane: $n staging modules replaced with $staging_version; etcd $etcd_version" >&2

cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
go mod tidy -e >&2 || die "go mod tidy failed for the wrapper module"

ver="k8s.io/component-base/version"
cver="k8s.io/client-go/pkg/version"
ld="-s -w"
for p in "$ver" "$cver"; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  echo "build-controlplane: building $cmd" >&2
  go build -trimpath -ldflags "$ld" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd" || die "go build $cmd failed"
done
echo "build-controlplane: building etcd" >&2
go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3 || die "go build etcd failed"

echo "build-controlplane: building kwok $KWOK_VERSION" >&2
GOBIN="$out" GOFLAGS= go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || die "go install kwok@$KWOK_VERSION failed"
kwoksrc="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
mkdir -p "$work/stages"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  [ -f "$kwoksrc/$f" ] || die "kwok stage file $f missing from the module cache"
  cp "$kwoksrc/$f" "$work/stages/"
done

mkdir -p "$(dirname "$bindir")"
rm -rf "$bindir" "$stages"
mv "$work/stages" "$stages"
mv "$out" "$bindir"
touch "$bindir/.complete"
echo "$bindir"

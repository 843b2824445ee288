#!/usr/bin/env bash
# Build Argo CD (the version pinned in versions.env) from its Go module into a cache directory keyed by
# the version, outside the checkout; prints it (bin/ and crds/ inside).  One binary, dispatching on
# argv[0] as Argo CD's images do: bin/argocd-application-controller and bin/argocd-repo-server are
# links to bin/argocd.  bin/ also gets the module's hack/git-verify-wrapper.sh, which repo-server runs
# on every revision it renders (Argo CD's image installs it on PATH; LocalArgoCD puts bin/ there).
# Its go.mod needs Go 1.27, newer than the Go this machine has: only this build
# lets Go fetch that toolchain (GOTOOLCHAIN=ARGOCD_GO_TOOLCHAIN, from the module proxy), into the
# build's own module cache, which is removed afterwards like the rest of the build.
set -euo pipefail
# shellcheck source=buildlib.sh
. "$(dirname "$0")/buildlib.sh"
buildlib build-argocd

cache=$(cache_for "argocd-$ARGOCD_VERSION-2")  # -2: bin/ holds git-verify-wrapper.sh
if [ -f "$cache/bin/.complete" ]; then echo "$cache"; exit 0; fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/crds" "$work/mod"
export GOTOOLCHAIN=$ARGOCD_GO_TOOLCHAIN GOMODCACHE=$work/gomod GOCACHE=$work/gocache GOFLAGS="-mod=mod -modcacherw"
mod=github.com/argoproj/argo-cd/v3
(
  cd "$work/mod"
  go mod init argocd-build >/dev/null 2>&1
  echo "build-argocd: downloading $mod@$ARGOCD_VERSION (and the $ARGOCD_GO_TOOLCHAIN toolchain)" >&2
  go get "$mod/cmd@$ARGOCD_VERSION" || die "cannot download $mod@$ARGOCD_VERSION from the Go module proxy"
  echo "build-argocd: building argocd $ARGOCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$work/bin/argocd" "$mod/cmd" || die "go build argocd failed"
  src=$(go list -m -f '{{.Dir}}' "$mod")
  cp "$src"/manifests/crds/*-crd.yaml "$work/crds/"
  install -m 0755 "$src/hack/git-verify-wrapper.sh" "$work/bin/"
)
ln -s argocd "$work/bin/argocd-application-controller"
ln -s argocd "$work/bin/argocd-repo-server"
install_cache "$work" "$cache" bin crds

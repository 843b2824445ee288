# Shared by the controlplane/build-*.sh scripts (sourced, not run): the pinned versions, the Go
# settings, and the steps every build from a Go module takes.  `buildlib NAME` first.
# shellcheck shell=bash

buildlib() {  # buildlib <script name>: versions, Go settings, die(); fails when Go is missing
  here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
  # shellcheck source=versions.env
  . "$here/versions.env"
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
  BUILD_NAME=$1
  command -v go >/dev/null 2>&1 || die "Go is not installed (need go >= $GO_MIN); install it or put it on PATH"
}

die() { echo "${BUILD_NAME:-build}: $*" >&2; exit 1; }

cache_for() {  # cache_for <key>: the cache directory for <key>, beside the control plane's
  echo "$(dirname "$("$here/cachedir.sh")")/$1"
}

module_dir() {  # module_dir <path@version>: its directory in the module cache (downloaded if needed)
  echo "$BUILD_NAME: downloading $1" >&2
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])' \
    || die "cannot download $1 from the Go module proxy ($(go env GOPROXY))"
}

copy_source() {  # copy_source <path@version> <dest>: the module's source, writable, to build where it is
  local dir
  dir=$(module_dir "$1")
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}

build_flux_controller() {  # build_flux_controller <name> <version> <work>: a Flux controller into <work>/bin
  # Its go.mod replaces its api module with ./api, which the module zip does not hold: that one
  # replacement points at the published api module of the same version; every other directive stays.
  local name=$1 version=$2 work=$3 mod="github.com/fluxcd/$1"
  copy_source "$mod@$version" "$work/$name"
  cp "$work/$name"/config/crd/bases/*.yaml "$work/crds/"
  (
    cd "$work/$name"
    go mod edit -replace="$mod/api=$mod/api@$version"
    echo "$BUILD_NAME: building $name $version" >&2
    go build -trimpath -ldflags "-s -w" -o "$work/bin/$name" . || die "go build $name failed"
  )
}

install_cache() {  # install_cache <work> <cache> <subdir>...: move the built subdirs into place, marked complete
  local work=$1 cache=$2
  shift 2
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache"
  mkdir -p "$cache"
  for sub in "$@"; do mv "$work/$sub" "$cache/"; done
  touch "$cache/bin/.complete"
  echo "$cache"
}

#!/usr/bin/env bash
# Builds (once) the Go programs of the xDS interop tests and benchmark, and prints the folder
# that holds them: client (google.golang.org/grpc/xds proxyless client), baseline
# (go-control-plane SnapshotCache server) and loadgen (simulated ADS clients).
#
#   BIN_DIR="$(test/interop/xds/build.sh)"
#
# stdout: exactly one line, the absolute path of the folder. stderr: build progress / errors.
# Cached under ${SHOAL_CACHE_DIR:-$HOME/.cache/shoal}/xds-interop/<key>/, where <key> hashes
# go.mod, go.sum, every .go file, `go version` and the build flags (as deploy/temporal-dev).
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROGRAMS=(client baseline loadgen)

die() {
  printf 'build.sh: %s\n' "$*" >&2
  exit 1
}

GO="$(command -v go 2>/dev/null || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
fi
[[ -n "$GO" ]] || die "the Go toolchain (>= 1.26.8) was not found on PATH or in /usr/local/go/bin; install it from https://go.dev/dl"

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum | cut -d' ' -f1; }
else
  sha256() { shasum -a 256 | cut -d' ' -f1; }
fi

mapfile -t go_files < <(cd "$SRC_DIR" && find . -name '*.go' -type f | LC_ALL=C sort)
((${#go_files[@]} > 0)) || die "no .go files in $SRC_DIR"
go_version="$(cd / && "$GO" version)" || die "'$GO version' failed"
BUILD_FLAGS=(-trimpath -ldflags=-s\ -w)
KEY="$(
  {
    printf 'flags:%s\0' "${BUILD_FLAGS[*]}" "CGO_ENABLED=0" "${PROGRAMS[*]}"
    for f in go.mod go.sum "${go_files[@]}"; do
      printf '%s\0' "$f"
      sha256 <"$SRC_DIR/$f"
    done
    printf '%s\n' "$go_version"
  } | sha256
)"
KEY="${KEY:0:32}"

CACHE_ROOT="${SHOAL_CACHE_DIR:-${HOME:?HOME is not set}/.cache/shoal}/xds-interop"
OUT_DIR="$CACHE_ROOT/$KEY"

complete() {
  local p
  for p in "${PROGRAMS[@]}"; do [[ -x "$OUT_DIR/bin/$p" ]] || return 1; done
}

if complete; then
  printf '%s\n' "$OUT_DIR/bin"
  exit 0
fi

mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    echo "build.sh: another build is running, waiting for it..." >&2
    flock 9
  fi
fi
if complete; then
  printf '%s\n' "$OUT_DIR/bin"
  exit 0
fi

TMP="$(mktemp -d "$OUT_DIR/.bin.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "build.sh: building ${PROGRAMS[*]} (cache key $KEY) with $go_version..." >&2
start=$SECONDS
(
  cd "$SRC_DIR"
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  for p in "${PROGRAMS[@]}"; do
    "$GO" build "${BUILD_FLAGS[@]}" -o "$TMP/$p" "./$p" >&2
  done
) || die "go build failed (see above)"
rm -rf "$OUT_DIR/bin"
mv -f "$TMP" "$OUT_DIR/bin"
trap - EXIT
echo "build.sh: built $OUT_DIR/bin in $((SECONDS - start))s" >&2
printf '%s\n' "$OUT_DIR/bin"

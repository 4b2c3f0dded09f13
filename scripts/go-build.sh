#!/usr/bin/env bash
# Builds the Go programs of one module in this repository once per content, cached outside the
# clone, and prints the folder that holds them. Every Go build.sh here is a thin wrapper around
# it: deploy/temporal-dev (the Temporal dev server), test/interop/hbone (Istio's HBONE peer and
# the dataplane load generator), test/interop/xds (gRPC xDS client, go-control-plane baseline,
# load generator).
#
#   DIR="$(scripts/go-build.sh SRC_DIR CACHE_NAME NAME=PACKAGE [NAME=PACKAGE ...])"
#   # e.g. scripts/go-build.sh deploy/temporal-dev temporal-dev shoal-temporal-dev=.
#
# stdout: exactly one line, the absolute path of the folder holding one binary per NAME.
# stderr: build progress and errors.
# Exit 127 when Go is missing, after printing $GO_MISSING_HELP (what the caller needs Go for
# and the alternatives); exit 1 on any other failure.
#
# Cache: ${SHOAL_CACHE_DIR:-$HOME/.cache/shoal}/CACHE_NAME/<key>/bin/, where <key> hashes go.mod,
# go.sum, every .go file under SRC_DIR (by relative path and content), `go version`, the build
# flags and the NAME=PACKAGE list. A cache hit costs a few hashes and no Go compilation. The
# build writes into a temporary folder and renames it into place, so a killed build never
# leaves half a result; an flock on <key>/.lock makes concurrent callers wait for one build.
set -euo pipefail

die() {
  printf 'go-build.sh: %s\n' "$*" >&2
  exit 1
}

(($# >= 3)) || die "usage: go-build.sh SRC_DIR CACHE_NAME NAME=PACKAGE [NAME=PACKAGE ...]"
SRC_DIR="$(cd "$1" && pwd)" || die "no such folder: $1"
CACHE_NAME="$2"
shift 2
PROGRAMS=("$@")
for p in "${PROGRAMS[@]}"; do
  [[ "$p" == ?*=?* ]] || die "'$p' is not NAME=PACKAGE (e.g. shoal-temporal-dev=. or client=./client)"
done

# --- locate go -----------------------------------------------------------------------------
GO="$(command -v go 2>/dev/null || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
fi
if [[ -z "$GO" ]]; then
  printf 'go-build.sh: the Go toolchain (>= 1.26) was not found (not on PATH, not in /usr/local/go/bin).\n%s\n' \
    "${GO_MISSING_HELP:-Install Go from https://go.dev/dl, then re-run.}" >&2
  exit 127
fi

# --- cache key -----------------------------------------------------------------------------
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 | cut -d' ' -f1; }
else
  die "need sha256sum or shasum"
fi

for f in go.mod go.sum; do
  [[ -f "$SRC_DIR/$f" ]] || die "missing $SRC_DIR/$f"
done
mapfile -t go_files < <(cd "$SRC_DIR" && find . -name '*.go' -type f | LC_ALL=C sort)
((${#go_files[@]} > 0)) || die "no .go files under $SRC_DIR"

# `go version` runs outside the module, so computing the key never triggers a GOTOOLCHAIN
# download; go.mod (whose go line picks the toolchain) is hashed too.
go_version="$(cd / && "$GO" version)" || die "'$GO version' failed"

# Build flags are part of the key too, so changing them here rebuilds.
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

OUT_DIR="${SHOAL_CACHE_DIR:-${HOME:?HOME is not set}/.cache/shoal}/$CACHE_NAME/$KEY"

complete() {
  local p
  for p in "${PROGRAMS[@]}"; do [[ -x "$OUT_DIR/bin/${p%%=*}" ]] || return 1; done
}

# --- fast path -----------------------------------------------------------------------------
if complete; then
  printf '%s\n' "$OUT_DIR/bin"
  exit 0
fi

# --- build (serialised with flock) ---------------------------------------------------------
mkdir -p "$OUT_DIR"
exec 9>"$OUT_DIR/.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    echo "go-build.sh: another build of $CACHE_NAME is running, waiting for it..." >&2
    flock 9
  fi
else
  echo "go-build.sh: flock not found, building without a lock" >&2
fi
# Someone else may have finished the build while we waited for the lock.
if complete; then
  printf '%s\n' "$OUT_DIR/bin"
  exit 0
fi

TMP="$(mktemp -d "$OUT_DIR/.bin.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "go-build.sh: building $CACHE_NAME (${PROGRAMS[*]}; cache key $KEY) with $go_version; a first build can take minutes..." >&2
start=$SECONDS
(
  cd "$SRC_DIR"
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  for p in "${PROGRAMS[@]}"; do
    "$GO" build "${BUILD_FLAGS[@]}" -o "$TMP/${p%%=*}" "${p#*=}" >&2
  done
) || die "go build failed (see above)"
rm -rf "$OUT_DIR/bin"
mv -f "$TMP" "$OUT_DIR/bin"
trap - EXIT
echo "go-build.sh: built $OUT_DIR/bin in $((SECONDS - start))s" >&2
printf '%s\n' "$OUT_DIR/bin"

#!/usr/bin/env bash
# Builds (once) and prints the path of the shoal-hbone-interop binary.
#
#   BIN="$(test/interop/hbone/build.sh)"
#
# stdout: exactly one line, the absolute path of the binary.
# stderr: build progress / errors.
#
# The binary is cached under ${SHOAL_CACHE_DIR:-$HOME/.cache/shoal}/hbone-interop/<key>/
# where <key> = sha256(go.mod, go.sum, *.go in this folder, `go version`, build flags).
# A cache hit costs a few hashes and no Go compilation.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN_NAME="shoal-hbone-interop"

die() {
  printf 'build.sh: %s\n' "$*" >&2
  exit 1
}

# --- locate go -------------------------------------------------------------
GO="$(command -v go 2>/dev/null || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
  GO=/usr/local/go/bin/go
fi
if [[ -z "$GO" ]]; then
  cat >&2 <<'EOF'
build.sh: the Go toolchain was not found (not on PATH, not in /usr/local/go/bin).

The HBONE interop peer (test/interop/hbone) is Istio's Go HBONE package built from
source and needs Go >= 1.26. Install Go from https://go.dev/dl (or a recent enough
distribution package), then re-run. The interop tests and the go_hbone_gbps baseline
are skipped with this message when Go is missing.
EOF
  exit 127
fi

# --- cache key ---------------------------------------------------------------
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 | cut -d' ' -f1; }
else
  die "need sha256sum or shasum"
fi

shopt -s nullglob
go_files=("$SRC_DIR"/*.go)
shopt -u nullglob
((${#go_files[@]} > 0)) || die "no .go files in $SRC_DIR"
for f in "$SRC_DIR/go.mod" "$SRC_DIR/go.sum"; do
  [[ -f "$f" ]] || die "missing $f"
done

# `go version` runs outside the module, so computing the key never triggers a
# GOTOOLCHAIN download; go.mod (whose go line picks the toolchain) is hashed too.
go_version="$(cd / && "$GO" version)" || die "'$GO version' failed"

# Build flags are part of the key too, so changing them here rebuilds.
BUILD_FLAGS=(-trimpath -ldflags=-s\ -w)
KEY="$(
  {
    printf 'flags:%s\0' "${BUILD_FLAGS[*]}" "CGO_ENABLED=0"
    for f in "$SRC_DIR/go.mod" "$SRC_DIR/go.sum" "${go_files[@]}"; do
      printf '%s\0' "$(basename "$f")"
      sha256 <"$f"
    done
    printf '%s\n' "$go_version"
  } | sha256
)"
KEY="${KEY:0:32}"

CACHE_ROOT="${SHOAL_CACHE_DIR:-${HOME:?HOME is not set}/.cache/shoal}/hbone-interop"
OUT_DIR="$CACHE_ROOT/$KEY"
OUT="$OUT_DIR/$BIN_NAME"

# --- fast path ---------------------------------------------------------------
if [[ -x "$OUT" ]]; then
  printf '%s\n' "$OUT"
  exit 0
fi

# --- build (serialised with flock) -------------------------------------------
mkdir -p "$OUT_DIR"
LOCK="$OUT_DIR/.lock"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    echo "build.sh: another build of $BIN_NAME is running, waiting for it..." >&2
    flock 9
  fi
else
  echo "build.sh: flock not found, building without a lock" >&2
fi

# Someone else may have finished the build while we waited for the lock.
if [[ -x "$OUT" ]]; then
  printf '%s\n' "$OUT"
  exit 0
fi

TMP="$(mktemp "$OUT_DIR/.$BIN_NAME.XXXXXX")"
trap 'rm -f "$TMP"' EXIT

echo "build.sh: building $BIN_NAME (cache key $KEY) with $go_version; the first build takes a few minutes..." >&2
start=$SECONDS
(
  cd "$SRC_DIR"
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  "$GO" build "${BUILD_FLAGS[@]}" -o "$TMP" . >&2
) || die "go build failed (see above)"
chmod 755 "$TMP"
mv -f "$TMP" "$OUT"
trap - EXIT
echo "build.sh: built $OUT in $((SECONDS - start))s" >&2

printf '%s\n' "$OUT"

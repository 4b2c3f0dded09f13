#!/usr/bin/env bash
# Builds (once) and prints the path of the shoal-hbone-interop binary (Istio's HBONE package as
# client, server and forwarder, plus the dataplane benchmark's load generator and servers).
# The build and its cache are scripts/go-build.sh, shared by every Go program here.
#
#   BIN="$(test/interop/hbone/build.sh)"
#
# stdout: exactly one line, the absolute path of the binary. stderr: build progress / errors.
# Exit 127 when Go is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GO_MISSING_HELP="The HBONE interop peer (test/interop/hbone) is Istio's Go HBONE package built from
source and needs Go >= 1.26. Install Go from https://go.dev/dl (or a recent enough
distribution package), then re-run. The interop tests and the go_hbone_gbps baseline
are skipped with this message when Go is missing."
dir="$("$here/../../../scripts/go-build.sh" "$here" hbone-interop shoal-hbone-interop=.)"
printf '%s\n' "$dir/shoal-hbone-interop"

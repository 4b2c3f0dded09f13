#!/usr/bin/env bash
# Builds (once) the Go programs of the xDS interop tests and benchmark, and prints the folder
# that holds them: client (google.golang.org/grpc/xds proxyless client), baseline
# (go-control-plane SnapshotCache server) and loadgen (simulated ADS clients). The build and its
# cache are scripts/go-build.sh, shared by every Go program here.
#
#   BIN_DIR="$(test/interop/xds/build.sh)"
#
# stdout: exactly one line, the absolute path of the folder. stderr: build progress / errors.
# Exit 127 when Go is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GO_MISSING_HELP="The xDS interop tests and benchmark (test/interop/xds) build gRPC-Go and
go-control-plane programs from source: install Go >= 1.26.8 from https://go.dev/dl, then re-run."
exec "$here/../../../scripts/go-build.sh" "$here" xds-interop \
  client=./client baseline=./baseline loadgen=./loadgen

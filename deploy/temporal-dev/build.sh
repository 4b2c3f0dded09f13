#!/usr/bin/env bash
# Builds (once) and prints the path of the shoal-temporal-dev binary (see README.md, "build.sh
# and the cache"; the build itself is scripts/go-build.sh, shared by every Go program here).
#
#   BIN="$(deploy/temporal-dev/build.sh)"
#
# stdout: exactly one line, the absolute path of the binary. stderr: build progress / errors.
# Exit 127 when Go is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GO_MISSING_HELP="The local Temporal dev server used by the tests (deploy/temporal-dev) is built
from source and needs Go >= 1.26.8. Either:
  * install Go >= 1.26 from https://go.dev/dl (or your distribution's package,
    e.g. \`apt-get install golang-go\`, if it is recent enough; any Go >= 1.21
    also works when it may fetch the go1.26.8 toolchain, GOTOOLCHAIN=auto),
    then re-run; or
  * point the tests at an existing Temporal server: export TEMPORAL_ADDRESS=host:port
    (e.g. one started with \`temporal server start-dev\`); or
  * put the official \`temporal\` CLI (https://docs.temporal.io/cli) on PATH."
dir="$("$here/../../scripts/go-build.sh" "$here" temporal-dev shoal-temporal-dev=.)"
printf '%s\n' "$dir/shoal-temporal-dev"

#!/usr/bin/env bash
# The test suite: installs the interop peers (idempotently), then runs every test of the
# workspace, doc tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
WS_INTEROP_PYTHON=$(scripts/setup-interop.sh)
export WS_INTEROP_PYTHON
cargo test --workspace "$@"

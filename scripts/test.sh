#!/usr/bin/env bash
# The test suite: installs what the tests talk to (Python `websockets` and Node.js `ws` for
# interop, headless Chromium for the chat page), idempotently, then runs every test of the
# workspace, doc tests included, and the chat demo in a real browser on both runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
# Also installs Node.js `ws` under target/interop/node, where the interop tests find it.
WS_INTEROP_PYTHON=$(scripts/setup-interop.sh)
export WS_INTEROP_PYTHON
cargo test --workspace "$@"
scripts/browser-test.sh

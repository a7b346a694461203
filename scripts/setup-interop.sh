#!/usr/bin/env bash
# Installs the independent WebSocket peers the interop tests talk to, idempotently (each only
# when missing or at another version):
#   - Python `websockets` (pinned) in a virtualenv under target/interop/venv;
#   - Node.js `ws` (pinned) under target/interop/node (its node_modules is where the Rust
#     tests look for it, unless WS_INTEROP_NODE_MODULES says otherwise).
# Prints the Python interpreter to use on its last line, and nothing else on stdout: callers
# capture it with $(...). Everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/interop/venv
PIN="websockets==17.4"
if ! "$VENV/bin/python" -c 'import websockets, sys; sys.exit(websockets.version.version != "17.4")' 2>/dev/null; then
  python3 -m venv "$VENV" >&2 || {
    # Debian without python3-venv: install it, then retry.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
      apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
      python3 -m venv "$VENV" >&2
    else
      echo "setup-interop: cannot create a virtualenv (install python3-venv)" >&2
      exit 1
    fi
  }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PIN" >&2
fi

NODE_PREFIX=target/interop/node
WS_VERSION=8.18.3
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  # Node.js is usually on the machine already; otherwise Debian's is recent enough for `ws` 8.
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends nodejs npm >&2
  else
    echo "setup-interop: Node.js and npm are missing (install nodejs and npm)" >&2
    exit 1
  fi
fi
if ! node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$(pwd)/$NODE_PREFIX/node_modules/ws/package.json" "$WS_VERSION" 2>/dev/null; then
  mkdir -p "$NODE_PREFIX"
  npm install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error \
    --save-exact "ws@$WS_VERSION" >&2
fi

echo "$(pwd)/$VENV/bin/python"

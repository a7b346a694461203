#!/usr/bin/env bash
# Installs the independent WebSocket peers the interop tests talk to, idempotently:
# Python `websockets` (pinned) in a virtualenv under target/interop/venv.
# Prints the Python interpreter to use on its last line.
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
echo "$(pwd)/$VENV/bin/python"

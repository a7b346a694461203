#!/usr/bin/env bash
# The chat demo in a real browser: starts the chat example (on each runtime), opens its page in
# two headless Chromium tabs and chats between them through the DevTools protocol, checking
# that the page's WebSocket negotiated permessage-deflate and that a message long enough to be
# compressed goes through.
# Installs Chromium (Debian package) and the Python driver's dependency when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=$(scripts/setup-browser.sh)
PYTHON=${WS_INTEROP_PYTHON:-$(scripts/setup-interop.sh)}
cargo build --release -q -p ws-api --example chat
mkdir -p target/browser
status=0
for runtime in std smol; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  target/release/examples/chat --addr "127.0.0.1:$port" --runtime "$runtime" >"target/browser/chat-$runtime.log" 2>&1 &
  chat=$!
  if "$PYTHON" tests/browser/chat_browser_test.py --chromium "$CHROMIUM" --url "http://127.0.0.1:$port/" \
      --screenshot "target/browser/chat-$runtime.png"; then
    echo "browser chat ($runtime): 1 passed, 0 failed"
  else
    echo "browser chat ($runtime): 0 passed, 1 failed (server log: target/browser/chat-$runtime.log)"
    status=1
  fi
  kill "$chat" 2>/dev/null || true
  wait "$chat" 2>/dev/null || true
done
exit $status

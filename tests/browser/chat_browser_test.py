"""Drives headless Chromium through the DevTools protocol to chat between two tabs.

usage: chat_browser_test.py --chromium PATH --url http://127.0.0.1:PORT/ [--screenshot FILE]

Checks, in the real page served by the chat example: both tabs connect, each page's WebSocket
with permessage-deflate negotiated (Chromium offers it, the server accepts it by default); the
newcomer is welcomed and the first tab hears "New client connected"; messages typed in one tab
appear in the other, among them one long enough for the server to compress (128 bytes or more);
closing a tab makes the other hear "Client disconnected". Exits non-zero on failure.
"""
import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from websockets.asyncio.client import connect

TIMEOUT = 20

# Long and repetitive: well above the 128 bytes from which the server compresses, so the server
# sends it compressed to the other tab, which must inflate it.
LONG_MESSAGE = "compress me, ünïcode and all: " + "the quick brown fox jumps over the lazy dog; " * 8


class Browser:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            fut = self.pending.pop(msg.get("id"), None)
            if fut and not fut.done():
                fut.set_result(msg)

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(fut, TIMEOUT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def open_tab(self, url):
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        return target["targetId"], attached["sessionId"]

    async def eval(self, session, expression):
        result = await self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
        )
        return result.get("result", {}).get("value")

    async def wait_until(self, session, expression, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if await self.eval(session, expression):
                return
            await asyncio.sleep(0.05)
        log = await self.eval(session, "document.getElementById('log').innerText")
        raise AssertionError(f"timed out waiting for {what}; log: {log!r}")


async def assert_compressed(browser, session, tab):
    """The page's WebSocket (its global `ws`) negotiated permessage-deflate."""
    extensions = await browser.eval(session, "ws.extensions")
    names = [offer.split(";")[0].strip() for offer in (extensions or "").split(",")]
    if "permessage-deflate" not in names:
        raise AssertionError(f"tab {tab}'s WebSocket did not negotiate permessage-deflate: {extensions!r}")
    return extensions


async def say(browser, session, text):
    """Types `text` in the page and sends it."""
    await browser.eval(session, "document.getElementById('text').value = %s;"
                                "document.getElementById('send').click(); true" % json.dumps(text))


def has_line(text):
    return (
        "Array.from(document.querySelectorAll('#log p')).some(p => p.textContent === %s)"
        % json.dumps(text)
    )


async def chat(browser, url, screenshot):
    _, a = await browser.open_tab(url)
    await browser.wait_until(a, "document.getElementById('status').textContent === 'connected'", "tab A to connect")
    await browser.wait_until(a, has_line("Welcome on the chat!"), "tab A's welcome")
    tab_b, b = await browser.open_tab(url)
    await browser.wait_until(b, "document.getElementById('status').textContent === 'connected'", "tab B to connect")
    await browser.wait_until(b, has_line("Welcome on the chat!"), "tab B's welcome")
    await browser.wait_until(a, has_line("New client connected"), "tab A to hear of tab B")
    extensions = await assert_compressed(browser, a, "A")
    await assert_compressed(browser, b, "B")

    await say(browser, a, "hello from A")
    await browser.wait_until(b, has_line("hello from A"), "tab B to get A's message")
    await say(browser, b, "héllo back, ☃")
    await browser.wait_until(a, has_line("héllo back, ☃"), "tab A to get B's message")
    assert len(LONG_MESSAGE.encode()) >= 128
    await say(browser, a, LONG_MESSAGE)
    await browser.wait_until(b, has_line(LONG_MESSAGE), "tab B to get A's long message")
    if screenshot:
        shot = await browser.call("Page.captureScreenshot", {"format": "png"}, a)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    await browser.call("Target.closeTarget", {"targetId": tab_b})
    await browser.wait_until(a, has_line("Client disconnected"), "tab A to hear tab B leave")
    return extensions


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="ws-chat-chromium-")
    proc = subprocess.Popen(
        [
            args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--remote-debugging-port=0", f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.05)
        with open(port_file) as f:
            port, path = f.read().split("\n")[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            browser = Browser(ws)
            extensions = await asyncio.wait_for(chat(browser, args.url, args.screenshot), 60)
        print(f"chat between two tabs: ok (extensions: {extensions})")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


try:
    asyncio.run(main())
except Exception as e:  # report and fail
    print(f"browser test failed: {e}", file=sys.stderr)
    sys.exit(1)

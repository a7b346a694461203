"""An echo server written with Python `websockets`, for interop tests.

Prints the port it listens on, then echoes every message. A text message "close:CODE:REASON"
makes it close with that code and reason instead.
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        if isinstance(message, str) and message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            await ws.close(int(code), reason)
            return
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=32 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.wait_for(asyncio.get_running_loop().create_future(), timeout=120)


try:
    asyncio.run(main())
except (asyncio.TimeoutError, KeyboardInterrupt):
    sys.exit(0)

"""An echo server written with Python `websockets`, for interop tests.

Prints the port it listens on, then echoes every message. `websockets` accepts
permessage-deflate by default and, once it is agreed, compresses every message it sends.
Two text messages are commands instead of echoed:
- "close:CODE:REASON" makes it close with that code and reason;
- "extensions?" makes it answer "compressed=N extensions=LIST": how many messages arrived
  compressed (RSV1 set) on this connection so far, and the extensions it negotiated.
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import PerMessageDeflate


def count_compressed(extensions):
    """Counts the data frames that reach permessage-deflate compressed, i.e. with RSV1 set.

    The extension strips RSV1 while decoding, so the count is taken on its way in.
    """
    counter = {"n": 0}
    for extension in extensions:
        if isinstance(extension, PerMessageDeflate):
            decode = extension.decode

            def counting(frame, decode=decode, **kwargs):
                if frame.rsv1:
                    counter["n"] += 1
                return decode(frame, **kwargs)

            extension.decode = counting
    return counter


async def echo(ws):
    extensions = ws.protocol.extensions
    compressed = count_compressed(extensions)
    async for message in ws:
        if isinstance(message, str) and message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            await ws.close(int(code), reason)
            return
        if message == "extensions?":
            names = ", ".join(f"{e.name} {e!r}" for e in extensions)
            await ws.send(f"compressed={compressed['n']} extensions={names}")
            continue
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

"""A client written with Python `websockets`, for interop tests.

usage: py_client.py URL
Sends text, binary, a 4 KiB repetitive text message, a 1 MiB binary message and a ping to an
echo server, checks each answer, then closes with 4001 "py done". `websockets` offers
permessage-deflate by default and, once it is agreed, compresses every message it sends; the
client checks that it was agreed and that the server's echoes of the two large messages arrived
compressed (RSV1 set). Prints, one per line:

    extensions: <the negotiated extensions>
    compressed: <how many of the large messages' echoes arrived compressed>
    ok <the close code the server answered with>
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import PerMessageDeflate


def compressible_text():
    """About 4 KiB of JSON-like text that repeats: deflate shrinks it to a small fraction."""
    rows = [f'{{"id":{i},"user":"alice","text":"hello, hello, hello"}}' for i in range(80)]
    return "[" + ",".join(rows) + "]"


def count_compressed(extension):
    """Counts the data frames that reach `extension` compressed, i.e. with RSV1 set.

    The extension strips RSV1 while decoding, so the count is taken on its way in.
    """
    counter = {"n": 0}
    decode = extension.decode

    def counting(frame, **kwargs):
        if frame.rsv1:
            counter["n"] += 1
        return decode(frame, **kwargs)

    extension.decode = counting
    return counter


async def main(url):
    async with connect(url, max_size=32 * 1024 * 1024) as ws:
        extensions = ws.protocol.extensions
        deflate = [e for e in extensions if isinstance(e, PerMessageDeflate)]
        assert deflate, f"permessage-deflate was not negotiated: {extensions!r}"
        compressed = count_compressed(deflate[0])

        async def echo(message):
            """Sends `message`, checks its echo; tells whether the echo arrived compressed."""
            before = compressed["n"]
            await ws.send(message)
            assert await ws.recv() == message
            return compressed["n"] > before

        await echo("héllo")
        await echo(b"\x00\x01\x02")
        text = compressible_text()
        assert len(text.encode()) >= 4096
        big = bytes(range(256)) * 4096
        # Large messages are compressed both ways: `websockets` compresses all it sends, and
        # the server all of 128 bytes or more.
        large = [await echo(text), await echo(big)]
        assert all(large), f"echoes of the large messages compressed: {large}"
        pong = await ws.ping(b"py")
        await asyncio.wait_for(pong, 10)
        await ws.close(4001, "py done")
        print("extensions:", ", ".join(f"{e.name} {e!r}" for e in extensions), flush=True)
        print("compressed:", sum(large), flush=True)
        print("ok", ws.close_code, flush=True)


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))

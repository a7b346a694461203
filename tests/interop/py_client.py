"""A client written with Python `websockets`, for interop tests.

usage: py_client.py URL
Sends text, binary, a 1 MiB binary message and a ping to an echo server, checks each answer,
then closes with 4001 "py done". Prints "ok" and the close code the server answered with.
"""
import asyncio
import sys

from websockets.asyncio.client import connect


async def main(url):
    async with connect(url, max_size=32 * 1024 * 1024) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01\x02")
        assert await ws.recv() == b"\x00\x01\x02"
        big = bytes(range(256)) * 4096
        await ws.send(big)
        assert await ws.recv() == big
        pong = await ws.ping(b"py")
        await asyncio.wait_for(pong, 10)
        await ws.close(4001, "py done")
        print("ok", ws.close_code, flush=True)


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))

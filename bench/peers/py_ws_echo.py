"""An echo server written with Python `websockets` (compression on by default), for the
compressed benchmark scenarios and the memory comparison.

    python bench/peers/py_ws_echo.py --addr 127.0.0.1:9001
"""
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except Exception:
        # A load generator that stops drops its connections without closing them.
        pass


async def main(host, port):
    async with serve(echo, host, port, max_size=64 * 1024 * 1024):
        print(f"python websockets echo server listening on ws://{host}:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    addr = sys.argv[sys.argv.index("--addr") + 1] if "--addr" in sys.argv else "127.0.0.1:9001"
    host, port = addr.rsplit(":", 1)
    asyncio.run(main(host, int(port)))

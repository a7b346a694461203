#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/<target>/ (run from anywhere; rewrites the files).

The input formats are those of ws-proto/src/fuzz.rs:

* server_frames, client_frames: one control byte (bits 0-2: how the input is cut into
  `receive` calls, bits 3-6: short writes, bit 7: tight limits), then the bytes the peer sends.
* server_handshake, client_handshake: one control byte (how the input is cut), then the HTTP
  bytes the peer sends (request or response), possibly followed by frames.
* pair_ops: one config byte (client in the low nibble, server in the high one), then operations,
  see `pair_ops` in ws-proto/src/fuzz.rs and the `Ops` class below.
* deflate_frames: a control byte as for the frame targets, a setup byte (bits 0/1: server/client
  no context takeover, bit 2: the receiver is the client, bit 3: round trip, bits 4-5: the
  sender's level, bit 6: its 50-byte frames, bit 7: it closes at the end), a window byte
  (server_max_window_bits - 8 in bits 0-2, the client's in bits 4-6), then frames (raw) or
  messages (round trip), see `deflate_frames` in ws-proto/src/fuzz.rs and `RoundTrip` below.
* http_request (fuzz/src/lib.rs): an HTTP request as a client sends it, no control byte.
"""

import base64
import hashlib
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The mask-key and nonce seed of fuzzed clients (CLIENT_SEED in ws-proto/src/fuzz.rs).
CLIENT_SEED = 0x5EED0000C11E2701
M64 = (1 << 64) - 1


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ------------------------------------------------------------------------------------ frames


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0, length=None):
    """Encodes a frame; `length` overrides the payload length field."""
    n = len(payload) if length is None else length
    out = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask is not None else 0
    if n < 126:
        out.append(m | n)
    elif n < 1 << 16:
        out.append(m | 126)
        out += struct.pack(">H", n)
    else:
        out.append(m | 127)
        out += struct.pack(">Q", n)
    if mask is not None:
        out += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(out) + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


def nonminimal(masked, key, payload):
    """A binary frame whose 3-byte payload length uses the 16-bit form (allowed on receipt)."""
    head = bytes([0x82, (0x80 if masked else 0) | 126, 0, len(payload)])
    if masked:
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def frame_seeds(masked):
    """(name, bytes) of frames as a client (masked) or a server (unmasked) sends them."""
    keys = [bytes([0x37, 0xFA, 0x21, 0x3D]), bytes([1, 2, 3, 4]), bytes(4), b"\xff\xfe\xfd\xfc"]
    counter = [0]

    def f(opcode, payload=b"", **kw):
        if masked and "mask" not in kw:
            kw["mask"] = keys[counter[0] % len(keys)]
            counter[0] += 1
        return frame(opcode, payload, **kw)

    seeds = [
        # RFC 6455 §5.7 examples (the masked one with the RFC's own key).
        ("rfc_hello", f(0x1, b"Hello")),
        ("rfc_fragmented_hello", f(0x1, b"Hel", fin=False) + f(0x0, b"lo")),
        ("rfc_ping_hello", f(0x9, b"Hello")),
        ("rfc_pong_hello", f(0xA, b"Hello")),
        ("binary_256", f(0x2, bytes(range(256)))),
        ("binary_64k_header_only", f(0x2, b"", length=65536)),
        ("binary_64k_plus_one", f(0x2, b"", length=65537)),
        ("binary_len64_msb", frame(0x2, b"", length=1 << 63, mask=keys[0] if masked else None)),
        ("binary_nonminimal_len", nonminimal(masked, keys[1], b"abc")),
        ("empty_text", f(0x1)),
        ("empty_binary_then_text", f(0x2) + f(0x1, b"x")),
        ("utf8_multibyte", f(0x1, "κόσμε 𝄞".encode())),
        ("utf8_split_across_fragments", f(0x1, "𝄞".encode()[:2], fin=False) + f(0x0, "𝄞".encode()[2:])),
        ("utf8_invalid_byte", f(0x1, b"ab\xffcd")),
        ("utf8_surrogate", f(0x1, b"\xed\xa0\x80")),
        ("utf8_overlong", f(0x1, b"\xc0\xaf")),
        ("utf8_truncated_final", f(0x1, b"ab\xe2\x82")),
        ("utf8_invalid_in_first_fragment", f(0x1, b"\xf5", fin=False) + f(0x0, b"a")),
        ("utf8_truncated_input", f(0x1, b"abc\xf0\x90", length=10)),
        ("ping_in_fragmented", f(0x1, b"frag", fin=False) + f(0x9, b"p") + f(0x0, b"ment")),
        ("three_fragments_binary", f(0x2, b"a", fin=False) + f(0x0, b"b", fin=False) + f(0x0, b"c")),
        ("close_1000_reason", f(0x8, close_payload(1000, b"bye"))),
        ("close_empty", f(0x8)),
        ("close_one_byte", f(0x8, b"\x03")),
        ("close_1005", f(0x8, close_payload(1005))),
        ("close_1006", f(0x8, close_payload(1006))),
        ("close_999", f(0x8, close_payload(999))),
        ("close_1004", f(0x8, close_payload(1004))),
        ("close_1015", f(0x8, close_payload(1015))),
        ("close_3000", f(0x8, close_payload(3000))),
        ("close_4999", f(0x8, close_payload(4999))),
        ("close_5000", f(0x8, close_payload(5000))),
        ("close_bad_reason", f(0x8, close_payload(1000, b"\xff"))),
        ("close_max_reason", f(0x8, close_payload(1001, b"r" * 123))),
        ("close_then_data", f(0x8, close_payload(1000)) + f(0x1, b"after")),
        ("close_mid_message", f(0x1, b"part", fin=False) + f(0x8, close_payload(1000))),
        ("ping_125", f(0x9, b"p" * 125)),
        ("ping_126", f(0x9, b"p" * 126)),
        ("ping_not_fin", f(0x9, b"p", fin=False)),
        ("pings_many", b"".join(f(0x9, bytes([i])) for i in range(8))),
        ("rsv1", f(0x1, b"x", rsv=4)),
        ("rsv3", f(0x2, b"x", rsv=1)),
        ("opcode_3", f(0x3, b"x")),
        ("opcode_b", f(0xB, b"x")),
        ("continuation_alone", f(0x0, b"x")),
        ("text_inside_message", f(0x1, b"a", fin=False) + f(0x1, b"b")),
        ("wrong_masking", frame(0x1, b"Hello", mask=None if masked else keys[0])),
        ("conversation", f(0x1, b"hi") + f(0x9, b"") + f(0x2, b"\x00\x01") + f(0xA, b"x") + f(0x8, close_payload(1000, b"done"))),
    ]
    return seeds


def frame_targets():
    for target, masked in [("server_frames", True), ("client_frames", False)]:
        controls = [0x00, 0x01, 0x0A, 0x3F, 0x05]
        for i, (name, data) in enumerate(frame_seeds(masked)):
            write(target, name, bytes([controls[i % len(controls)]]) + data)
        f = frame_seeds(masked)
        d = dict(f)
        # Tight limits (control bit 7): frame 100, message 300, 4 fragments.
        mask = bytes([9, 8, 7, 6]) if masked else None
        many = b"".join(frame(0x2 if i == 0 else 0x0, b"ab", fin=i == 5, mask=mask) for i in range(6))
        write(target, "tight_too_many_fragments", b"\x80" + many)
        write(target, "tight_frame_too_large", b"\x80" + frame(0x2, b"z" * 101, mask=mask))
        big = b"".join(frame(0x2 if i == 0 else 0x0, b"y" * 90, fin=i == 3, mask=mask) for i in range(4))
        write(target, "tight_message_too_large", b"\x81" + big)
        write(target, "byte_at_a_time_short_writes", b"\x09" + d["conversation"])


# ----------------------------------------------------------------------------- deflate_frames

# RFC 7692 §7.2.3: "Hello" compressed in one block, with a shared window, stored, with BFINAL
# set, and in two blocks.
RFC_HELLO = bytes.fromhex("f248cdc9c90700")
RFC_HELLO_AGAIN = bytes.fromhex("f200110000")
RFC_STORED = bytes.fromhex("000500faff48656c6c6f00")
RFC_BFINAL = bytes.fromhex("f348cdc9c9070000")
RFC_TWO_BLOCKS = bytes.fromhex("f24805000000ffffcac9c90700")


def deflate(data, wbits=15):
    """A message compressed as RFC 7692 §7.2.1 says: sync flush, without its 00 00 ff ff."""
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class RoundTrip:
    """Builds a round-trip input: messages as (how, n, bytes), see `send_round_trip`."""

    def __init__(self, control=0, setup=0, windows=0x77):
        self.b = bytearray([control, setup | 8, windows])

    def send(self, data, binary=False, way=0, repeat=1):
        assert len(data) < 256 and 1 <= repeat <= 32
        self.b += bytes([(repeat - 1) << 3 | way << 1 | int(binary), len(data)]) + data
        return self

    def bytes(self):
        return bytes(self.b)


def deflate_frames():
    t = "deflate_frames"
    # Raw: (control, setup, windows) then what the peer sends. A client receives unmasked frames
    # (setup bit 2), a server masked ones.
    client = lambda frames, control=0, setup=0, windows=0x77: bytes([control, setup | 4, windows]) + frames
    server = lambda frames, control=0, setup=0, windows=0x77: bytes([control, setup, windows]) + frames
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    hello = frame(0x1, RFC_HELLO, rsv=4)
    raw = {
        "rfc_hello": client(hello),
        "rfc_hello_byte_at_a_time": client(hello, control=0x01),
        "rfc_hello_masked": server(frame(0x1, RFC_HELLO, rsv=4, mask=key), control=0x0A),
        "rfc_hello_fragmented": client(frame(0x1, RFC_HELLO[:3], fin=False, rsv=4) + frame(0x0, RFC_HELLO[3:])),
        "rfc_shared_window": client(hello + frame(0x1, RFC_HELLO_AGAIN, rsv=4)),
        # Without context takeover the second message refers to a window that is gone: 1007.
        "rfc_shared_window_no_takeover": client(hello + frame(0x1, RFC_HELLO_AGAIN, rsv=4), setup=1),
        "rfc_stored_block": client(frame(0x1, RFC_STORED, rsv=4), control=0x03),
        "rfc_bfinal_then_hello": client(frame(0x1, RFC_BFINAL, rsv=4) + hello, control=0x02),
        "rfc_two_blocks": client(frame(0x1, RFC_TWO_BLOCKS, rsv=4)),
        # An empty message as §7.2.3.6 compresses it; a payload of no bytes at all, before any
        # stream is held (an empty message), and with one held for context takeover (the tail
        # leaves it inside a stored block, and the next message fails).
        "rfc_empty": client(frame(0x1, b"\x00", rsv=4) + hello + frame(0x2, b"\x00", rsv=4), control=0x02),
        "empty_payload_first": client(frame(0x2, b"", rsv=4) + hello + frame(0x1, RFC_HELLO_AGAIN, rsv=4)),
        "empty_payload_held_stream": client(hello + frame(0x2, b"", rsv=4) + frame(0x1, RFC_HELLO_AGAIN, rsv=4)),
        "ping_inside_compressed": server(
            frame(0x2, RFC_HELLO[:2], fin=False, rsv=4, mask=key) + frame(0x9, b"p", mask=key)
            + frame(0x0, RFC_HELLO[2:], mask=key), control=0x05),
        "plain_and_compressed": client(frame(0x1, b"plain") + hello + frame(0x2, b"\x00\x01")),
        "rsv1_on_continuation": client(frame(0x1, RFC_HELLO[:3], fin=False, rsv=4) + frame(0x0, RFC_HELLO[3:], rsv=4)),
        "rsv1_on_ping": client(frame(0x9, b"p", rsv=4)),
        "rsv2_on_text": client(frame(0x1, RFC_HELLO, rsv=2)),
        "invalid_block_type": client(frame(0x2, b"\xff\xff", rsv=4)),
        "invalid_utf8_stored": client(frame(0x1, b"\x00\x01\x00\xfe\xff\xff", rsv=4)),
        "utf8_split_across_frames": client(
            frame(0x1, deflate("€".encode())[:1], fin=False, rsv=4) + frame(0x0, deflate("€".encode())[1:])),
        # 300-byte messages (control bit 7): a small frame that inflates past the limit.
        "tight_bomb": client(frame(0x2, deflate(b"\x00" * 2000), rsv=4), control=0x80),
        "tight_bomb_byte_at_a_time": server(frame(0x2, deflate(b"\x00" * 2000), rsv=4, mask=key), control=0x81),
        "bomb_past_64k": client(frame(0x2, deflate(b"a" * 100_000), rsv=4), control=0x07),
        "window_9_bits": client(frame(0x1, deflate(b"abcdefgh" * 40, wbits=9), rsv=4), windows=0x11),
        # "Hello" in a final block whose end-of-block code lies in the tail the receiver appends:
        # the stream ends there, so the next message has no history to refer back to (1007),
        # while one that needs none inflates as usual.
        "final_block_ends_in_tail": client(
            frame(0x1, RFC_BFINAL[:6], rsv=4) + frame(0x1, RFC_HELLO_AGAIN, rsv=4)),
        "final_block_ends_in_tail_then_hello": client(
            frame(0x1, RFC_BFINAL[:6], rsv=4) + hello + frame(0x1, RFC_HELLO_AGAIN, rsv=4), control=0x03),
        # Two violations in one read: invalid UTF-8, then invalid deflate data. Whole, the
        # connection reports the second; cut byte by byte, the first (see `same_failure`).
        "text_then_invalid_data_whole": client(frame(0x1, b"\x00\x01\x00\xfe\xff\xff\x07", rsv=4)),
        "text_then_invalid_data_cut": client(frame(0x1, b"\x00\x01\x00\xfe\xff\xff\x07", rsv=4), control=0x01),
    }
    for name, data in raw.items():
        write(t, name, data)
    trips = {
        "round_trip_takeover": RoundTrip(setup=0x80).send(b"Hello").send(b"Hello").send(b"\x00\x01\x02", binary=True, repeat=9),
        "round_trip_no_takeover_prepared": RoundTrip(control=0x04, setup=0x03).send(b"abc", way=1, repeat=20).send(b"\xff", binary=True, way=1),
        "round_trip_fragments_and_ping": RoundTrip(control=0x0B, setup=0x44).send(b"frag\xc3\xa9", way=2, repeat=30).send(b"pi", way=3).send(b"", binary=True),
        "round_trip_window_8": RoundTrip(control=0x06, setup=0x81, windows=0x00).send(bytes(range(200)), repeat=3).send(bytes(range(200)), binary=True, repeat=3),
        "round_trip_level_0": RoundTrip(setup=0x30).send(b"stored", repeat=4).send(b"stored", binary=True, way=1),
        "round_trip_tight_too_big": RoundTrip(control=0x80, setup=0x80).send(b"ok").send(b"z", repeat=32).send(b"zz", repeat=32).send(b"x" * 200, repeat=2),
    }
    for name, trip in trips.items():
        write(t, name, trip.bytes())


# ---------------------------------------------------------------------------------- handshake

RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


def accept(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def server_handshake():
    t = "server_handshake"
    req = RFC_REQUEST
    variants = {
        "rfc_sample": req,
        "rfc_sample_lf_only": req.replace(b"\r\n", b"\n"),
        "with_pipelined_frame": req + frame(0x1, b"Hello", mask=bytes([0x37, 0xFA, 0x21, 0x3D])),
        "with_pipelined_unmasked_frame": req + frame(0x1, b"Hello"),
        "minimal": b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "lowercase_headers": req.replace(b"Upgrade: websocket", b"upgrade: WebSocket").replace(
            b"Connection: Upgrade", b"connection: keep-alive, upgrade"
        ),
        "query_string": req.replace(b"GET /chat ", b"GET /chat?room=1&user=%20x ").replace(b"Host: server.example.com", b"Host: [::1]:8080"),
        "post_method": req.replace(b"GET", b"POST", 1),
        "http_1_0": req.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        "http_2": req.replace(b"HTTP/1.1", b"HTTP/2.0", 1),
        "version_8": req.replace(b"Version: 13", b"Version: 8"),
        "no_version": req.replace(b"Sec-WebSocket-Version: 13\r\n", b""),
        "no_key": req.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""),
        "short_key": req.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"dGhlIHNhbXBsZQ=="),
        "bad_base64_key": req.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"!!!!!!!!!!!!!!!!!!!!!!=="),
        "two_keys": req.replace(b"Origin", b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nOrigin"),
        "no_upgrade": req.replace(b"Upgrade: websocket\r\n", b""),
        "upgrade_h2c": req.replace(b"Upgrade: websocket", b"Upgrade: h2c"),
        "no_connection": req.replace(b"Connection: Upgrade\r\n", b""),
        "no_host": req.replace(b"Host: server.example.com\r\n", b""),
        "extensions": req.replace(b"Origin", b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a=\"b\"\r\nOrigin"),
        "bad_extensions": req.replace(b"Origin", b"Sec-WebSocket-Extensions: ;;=\"\r\nOrigin"),
        "obs_fold": req.replace(b"Origin: http://example.com\r\n", b"Origin: http://example.com\r\n folded\r\n"),
        "space_before_colon": req.replace(b"Upgrade: websocket", b"Upgrade : websocket"),
        "non_utf8_header": req.replace(b"Origin: http://example.com", b"Origin: http://ex\xffample.com"),
        "nul_in_header": req.replace(b"Origin: http://example.com", b"Origin: http://ex\x00ample.com"),
        "absolute_uri": req.replace(b"GET /chat ", b"GET http://server.example.com/chat "),
        "asterisk_target": req.replace(b"GET /chat ", b"GET * "),
        "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "incomplete_head": req[:-2],
        "many_headers": req.replace(b"\r\n\r\n", b"\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(80)) + b"\r\n"),
        "huge_header": req.replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n"),
        "empty_line_first": b"\r\n" + req,
    }
    controls = [0x00, 0x01, 0x07, 0x23, 0x02]
    for i, (name, data) in enumerate(sorted(variants.items())):
        write(t, name, bytes([controls[i % len(controls)]]) + data)


def splitmix_fill(state, n):
    """The bytes SeededKeySource::fill writes into an n-byte buffer, and the new state."""
    out = b""
    while len(out) < n:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        out += struct.pack("<Q", z)[: n - len(out)]
    return out, state


def client_handshake():
    t = "client_handshake"
    nonce, _ = splitmix_fill(CLIENT_SEED, 16)
    key = base64.b64encode(nonce)
    good = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept(key) + b"\r\n"
        b"\r\n"
    )
    variants = {
        "101_ok": good,
        "101_ok_lf_only": good.replace(b"\r\n", b"\n"),
        "101_with_frame": good + frame(0x1, b"Hello"),
        "101_with_frames_and_close": good + frame(0x9, b"p") + frame(0x2, b"\x00\x01") + frame(0x8, close_payload(1000, b"bye")),
        "101_with_masked_frame": good + frame(0x1, b"Hello", mask=b"\x01\x02\x03\x04"),
        "101_wrong_accept": good.replace(accept(key), accept(b"dGhlIHNhbXBsZSBub25jZQ==")),
        "101_rfc_accept": good.replace(accept(key), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "101_no_accept": good.replace(b"Sec-WebSocket-Accept: " + accept(key) + b"\r\n", b""),
        "101_no_upgrade": good.replace(b"Upgrade: websocket\r\n", b""),
        "101_no_connection": good.replace(b"Connection: Upgrade\r\n", b""),
        "101_unrequested_protocol": good.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n"),
        "101_unrequested_extension": good.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
        "101_http_1_0": good.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
        "200_ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "403_with_body": b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden",
        "403_body_until_eof": b"HTTP/1.1 403 Forbidden\r\n\r\nno length, read until EOF",
        "403_body_short": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nshort",
        "404_chunked": b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
        "426_upgrade_required": b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
        "302_redirect": b"HTTP/1.1 302 Found\r\nLocation: ws://example.com/other\r\nContent-Length: 0\r\n\r\n",
        "bad_content_length": b"HTTP/1.1 500 Oops\r\nContent-Length: -1\r\n\r\n",
        "huge_content_length": b"HTTP/1.1 500 Oops\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "status_999": b"HTTP/1.1 999 What\r\n\r\n",
        "garbage": b"SSH-2.0-OpenSSH_9.6\r\n",
        "incomplete": good[:-2],
        "empty": b"",
        "many_headers": good.replace(b"\r\n\r\n", b"\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(80)) + b"\r\n"),
    }
    controls = [0x00, 0x01, 0x05, 0x13, 0x02]
    for i, (name, data) in enumerate(sorted(variants.items())):
        write(t, name, bytes([controls[i % len(controls)]]) + data)


# ---------------------------------------------------------------------------------- pair_ops


class Ops:
    """Builds a pair_ops input: op byte = (kind << 1) | side, side 0 = client, 1 = server."""

    CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4999, 1005, 1006, 1015, 999, 1004, 5000]

    def __init__(self, client_cfg=0, server_cfg=0):
        self.b = bytearray([client_cfg | server_cfg << 4])

    def op(self, kind, side, *args):
        self.b.append(kind << 1 | side)
        self.b += bytes(args)
        return self

    def transfer(self, side, limit=255, vectored=False):
        return self.op(1 if vectored else 0, side, limit)

    def write(self, side, which=0):  # which: 0 all, 1..3 bytes
        return self.op(6 + which, side)

    def deliver(self, side, n=255):
        return self.op(10, side, n)

    def data(self, side, payload, text=True, prepared=False):
        kind = (18 if prepared else 14) + (1 if text else 0)
        return self.op(kind, side, len(payload)).raw(payload)

    def fragment(self, side, payload, text=True, fin=False):
        kind = 20 + (1 if text else 0) + (2 if fin else 0)
        return self.op(kind, side, len(payload)).raw(payload)

    def ping(self, side, payload=b""):
        return self.op(29, side, len(payload)).raw(payload)

    def pong(self, side, payload=b""):
        return self.op(28, side, len(payload)).raw(payload)

    def close(self, side, code=1000, reason_units=0):
        return self.op(34, side, self.CLOSE_CODES.index(code) | reason_units << 4)

    def tamper(self, side, at, flip):
        return self.op(38, side, at, flip)

    def eof(self, side):
        return self.op(42, side)

    def time(self, step):
        return self.op(44, 0, step)

    def next_timeout(self):
        return self.op(52, 0)

    def abort(self, side):
        return self.op(56, side)

    def settle(self):
        return self.op(58, 0)

    def raw(self, data):
        self.b += data
        return self

    def bytes(self):
        return bytes(self.b)


def pair_ops():
    t = "pair_ops"
    C, S = 0, 1
    seeds = {
        "echo_and_client_close": Ops().data(C, b"hello").transfer(C).data(S, b"hello", text=False).transfer(S).close(C).settle(),
        "server_close_byte_at_a_time": Ops().data(S, "héllo wörld".encode()).close(S, 1001, 1)
        .transfer(S, 1).transfer(S, 1).transfer(S, 3).transfer(S, 7).transfer(S, 255).transfer(C, 1).transfer(C, 255).transfer(S).transfer(C),
        "fragments_with_ping": Ops().fragment(C, b"frag").ping(C, b"p1").fragment(C, b"ment", fin=True).transfer(C).transfer(S).settle(),
        "binary_fragments": Ops().fragment(S, b"\x00\x01", text=False).fragment(S, b"\x02", text=False).fragment(S, b"\x03", text=False, fin=True).settle(),
        "fragment_type_mismatch": Ops().fragment(C, b"a").fragment(C, b"b", text=False).data(C, b"c").fragment(C, b"d", fin=True).settle(),
        "prepared_both_sides": Ops().data(C, b"broadcast", prepared=True).data(S, b"\xff\x00", text=False, prepared=True).settle(),
        "pong_unsolicited": Ops().pong(C, b"hb").pong(S, b"").ping(S, b"x" * 125).ping(S, b"y" * 126).settle(),
        "simultaneous_close": Ops().close(C, 1000).close(S, 3000, 2).transfer(C).transfer(S).settle(),
        "invalid_close_codes": Ops().close(C, 1005).close(C, 1006).close(C, 999).close(C, 5000).close(C, 1000, 15).close(C, 4999).settle(),
        "close_then_send": Ops().close(S, 1000).data(S, b"late").ping(S).transfer(S).data(C, b"reply").transfer(C).settle(),
        "tamper_in_flight": Ops().data(C, b"hello").write(C).tamper(C, 3, 0x80).deliver(C).settle(),
        "tamper_length": Ops().data(S, b"x" * 50).write(S).tamper(S, 1, 0x7F).deliver(S).settle(),
        "eof_while_open": Ops().data(C, b"bye").eof(S).settle(),
        "eof_while_closing": Ops().close(C).transfer(C).eof(C).settle(),
        "abort_client": Ops().data(C, b"x").abort(C).settle(),
        "abort_server_closing": Ops().close(S).transfer(S).abort(S).settle(),
        "close_timeout": Ops().close(C).write(C).time(255).time(255).next_timeout().settle(),
        "keepalive": Ops(client_cfg=1, server_cfg=1).time(30).next_timeout().transfer(C).transfer(S).time(40).next_timeout().next_timeout().settle(),
        "keepalive_timeout": Ops(client_cfg=1).next_timeout().next_timeout().next_timeout().settle(),
        "auto_fragment": Ops(client_cfg=2, server_cfg=2).data(C, b"a" * 40).data(S, "ééééééééé".encode()).settle(),
        "output_full": Ops(client_cfg=4, server_cfg=4).data(C, b"a" * 150).data(C, b"b" * 150).data(C, b"c").ping(C, b"p").transfer(C).data(C, b"d").settle(),
        "short_close_timeout": Ops(client_cfg=8, server_cfg=8).close(S).write(S).time(100).next_timeout().settle(),
        "vectored_writes": Ops().data(S, b"one").data(S, b"x" * 200, prepared=True, text=False).data(S, b"three").transfer(S, 5, True).transfer(S, 255, True).settle(),
        "ping_flood": Ops().ping(C, b"1").ping(C, b"2").ping(C, b"3").transfer(C).transfer(C).write(S, 1).transfer(S).settle(),
        "empty": Ops(),
    }
    for name, ops in seeds.items():
        write(t, name, ops.bytes())
    # Server closes with 1011, the client echoes: the server's ShutdownWrite is armed inside
    # poll_event (acting on the queued peer Close), after the caller polled the transport.
    write(t, "server_close_echo_shutdown", bytes.fromhex("8845760dc8646874"))


# ------------------------------------------------------------------------------ http_request


def http_request():
    """Plain HTTP requests (no control byte) for the static directory of fuzz/src/lib.rs."""
    t = "http_request"

    def get(target, method="GET", extra=b""):
        return method.encode() + b" " + target + b" HTTP/1.1\r\nHost: example.com\r\n" + extra + b"\r\n"

    targets = {
        "root": b"/",
        "index": b"/index.html",
        "file": b"/a.txt",
        "file_query_fragment": b"/a.txt?x=1&y=%2e%2e#frag",
        "space_encoded": b"/sp%20ace.txt",
        "percent_encoded": b"/100%25.txt",
        "utf8_encoded": b"/%C3%BC.txt",
        "subdir": b"/sub",
        "subdir_slash": b"/sub/",
        "subdir_file": b"/sub/b.txt",
        "link_inside": b"/link-ok",
        "link_dir_inside": b"/link-sub/b.txt",
        "dotfile": b"/.secret",
        "dot_dir": b"/.git/config",
        "hidden_in_subdir": b"/sub/.hidden",
        "link_to_dotfile": b"/link-secret",
        "link_to_dot_dir": b"/link-dot-dir/config",
        "link_out": b"/link-out",
        "link_up": b"/link-up/outside.txt",
        "link_root": b"/link-root/etc/passwd",
        "link_loop": b"/link-loop",
        "traversal": b"/../outside.txt",
        "traversal_encoded": b"/%2e%2e/outside.txt",
        "traversal_mixed_case": b"/sub/%2E./.secret",
        "dot_segment": b"/./a.txt",
        "double_slash": b"//etc/passwd",
        "encoded_slash": b"/sub%2fb.txt",
        "encoded_backslash": b"/sub%5cb.txt",
        "backslash": b"/sub\\b.txt",
        "encoded_nul": b"/a.txt%00.html",
        "bad_escape": b"/%zz",
        "truncated_escape": b"/a%2",
        "invalid_utf8": b"/%ff.txt",
        "empty_dir": b"/empty-dir/",
        "file_as_dir": b"/a.txt/x",
        "file_trailing_slash": b"/a.txt/",
        "missing": b"/nope.txt",
        "absolute_form": b"http://example.com/sub/b.txt?q",
        "absolute_form_traversal": b"http://example.com/../outside.txt",
    }
    for name, target in targets.items():
        write(t, name, get(target))
    write(t, "head", get(b"/sub/b.txt", method="HEAD"))
    write(t, "post", get(b"/a.txt", method="POST", extra=b"Content-Length: 0\r\n"))
    write(t, "options_asterisk", get(b"*", method="OPTIONS"))
    write(t, "upgrade", get(b"/chat", extra=b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"))
    write(t, "http10", b"GET /a.txt HTTP/1.0\r\n\r\n")
    write(t, "incomplete", b"GET /a.txt HTTP/1.1\r\nHost: exa")


if __name__ == "__main__":
    frame_targets()
    server_handshake()
    client_handshake()
    pair_ops()
    deflate_frames()
    http_request()

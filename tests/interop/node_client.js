// A client written with Node.js `ws`, for interop tests.
//
// usage: node node_client.js URL   (with `ws` on NODE_PATH)
//
// Sends text, binary, a 4 KiB repetitive text message, a 64 KiB repetitive binary message and a
// ping to an echo server, checks each answer, then closes with 4001 "node done". A `ws` client
// offers permessage-deflate by default and, once it is agreed, compresses the messages it sends
// (only those of 1024 bytes or more if it agreed to compress each message afresh). The client checks that the extension was agreed and that both large messages crossed
// the wire compressed in both directions: fewer bytes went out and came back than the message
// holds (`ws` does not expose the RSV1 bit; the socket's byte counts tell the same). Prints, one
// per line:
//
//     extensions: <the negotiated extensions> (<the server's Sec-WebSocket-Extensions>)
//     compressed: <how many of the large messages' echoes arrived compressed>
//     ok <the close code the server answered with>
'use strict';

const assert = require('assert');
const WebSocket = require('ws');

const url = process.argv[2];

// Never hang the test that started it.
const deadline = setTimeout(() => {
  console.error('node client: timed out');
  process.exit(1);
}, 60 * 1000);

// About 4 KiB of JSON-like text that repeats: deflate shrinks it to a small fraction.
function compressibleText() {
  const rows = [];
  for (let i = 0; i < 80; i++) rows.push(`{"id":${i},"user":"alice","text":"hello, hello, hello"}`);
  return `[${rows.join(',')}]`;
}

async function main() {
  const ws = new WebSocket(url, { maxPayload: 32 * 1024 * 1024 });
  let socket = null;
  let answered = '';
  ws.on('upgrade', (response) => {
    socket = response.socket;
    answered = response.headers['sec-websocket-extensions'] || '';
  });

  // Messages and pongs in arrival order, handed to whoever waits for the next one.
  const inbox = [];
  const waiting = [];
  const deliver = (item) => (waiting.length ? waiting.shift()(item) : inbox.push(item));
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r)));
  ws.on('message', (data, isBinary) => deliver({ kind: isBinary ? 'binary' : 'text', data }));
  ws.on('pong', (data) => deliver({ kind: 'pong', data }));
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason })));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', (error) => {
    console.error('node client:', error.message);
    process.exit(1);
  });

  assert.ok(ws.extensions.split(',').includes('permessage-deflate'),
    `permessage-deflate was not negotiated: ${JSON.stringify(ws.extensions)} (${answered})`);

  async function echo(payload, binary) {
    const before = { read: socket.bytesRead, written: socket.bytesWritten };
    ws.send(payload, { binary });
    const reply = await next();
    assert.strictEqual(reply.kind, binary ? 'binary' : 'text');
    assert.ok(Buffer.from(payload).equals(reply.data), `the echo of a ${payload.length}-byte message differs`);
    return { read: socket.bytesRead - before.read, written: socket.bytesWritten - before.written };
  }

  await echo('héllo', false);
  await echo(Buffer.from([0, 1, 2]), true);
  let compressed = 0;
  const large = [
    [compressibleText(), false],
    [Buffer.alloc(64 * 1024, 'node ws interop; '), true],
  ];
  for (const [payload, binary] of large) {
    const size = Buffer.byteLength(payload);
    assert.ok(size >= 4096);
    const wire = await echo(payload, binary);
    assert.ok(wire.written < size / 2, `sent ${wire.written} bytes for a ${size}-byte message: not compressed`);
    if (wire.read < size / 2) compressed += 1;
  }
  assert.strictEqual(compressed, large.length, `${compressed} of ${large.length} large echoes arrived compressed`);

  ws.ping('node');
  const pong = await next();
  assert.strictEqual(pong.kind, 'pong');
  assert.strictEqual(pong.data.toString(), 'node');

  ws.close(4001, 'node done');
  const { code } = await closed;
  console.log(`extensions: ${ws.extensions} (${answered})`);
  console.log(`compressed: ${compressed}`);
  console.log(`ok ${code}`);
  clearTimeout(deadline);
}

main().catch((error) => {
  console.error('node client failed:', error && error.stack ? error.stack : error);
  process.exit(1);
});

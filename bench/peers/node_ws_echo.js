// An echo server written with Node `ws`, compression on (a `ws` server has it off by default),
// for the compressed benchmark scenarios.
//
//   NODE_PATH=target/interop/node/node_modules node bench/peers/node_ws_echo.js --addr 127.0.0.1:9001
//
// Its threshold is our default (128 bytes), so both compress the same messages.
'use strict';
const { WebSocketServer } = require('ws');

const at = process.argv.indexOf('--addr');
const [host, port] = (at > 0 ? process.argv[at + 1] : '127.0.0.1:9001').split(':');
const server = new WebSocketServer({
  host,
  port: Number(port),
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: { threshold: 128 },
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log(`node ws echo server listening on ws://${host}:${port}`));

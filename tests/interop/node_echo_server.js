// An echo server written with Node.js `ws`, for interop tests.
//
// usage: node node_echo_server.js   (with `ws` on NODE_PATH)
//
// Prints the port it listens on (loopback), then echoes every message, text as text and binary
// as binary. A `ws` server leaves permessage-deflate off unless asked: it is turned on here, so
// it accepts the extension and compresses the messages it sends (only those of 1024 bytes or
// more if it agreed to compress each message afresh). Two text messages are commands instead
// of echoed:
// - "close:CODE:REASON" makes it close with that code and reason;
// - "extensions?" makes it answer "compressed=N extensions=LIST": how many messages arrived in
//   fewer bytes on the wire than they hold once decoded (which only compression does; `ws`
//   does not expose the RSV1 bit), and the extensions it negotiated with the parameters it
//   answered with.
'use strict';

const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: true,
  maxPayload: 32 * 1024 * 1024,
});

// The Sec-WebSocket-Extensions answer of each handshake, to report the agreed parameters.
const answered = new WeakMap();
wss.on('headers', (headers, request) => {
  const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
  answered.set(request, line ? line.slice(line.indexOf(':') + 1).trim() : '');
});

wss.on('connection', (ws, request) => {
  const socket = request.socket;
  // Bytes read from the socket up to the end of the previous message: the handshake is already
  // read when the connection is reported, and the client sends one message at a time.
  let seen = socket.bytesRead;
  let compressed = 0;
  ws.on('message', (data, isBinary) => {
    const wire = socket.bytesRead - seen;
    seen = socket.bytesRead;
    if (wire < data.length) compressed += 1;
    if (!isBinary) {
      const text = data.toString('utf8');
      if (text.startsWith('close:')) {
        const [, code, ...reason] = text.split(':');
        ws.close(Number(code), reason.join(':'));
        return;
      }
      if (text === 'extensions?') {
        ws.send(`compressed=${compressed} extensions=${ws.extensions} (${answered.get(request)})`);
        return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', (error) => console.error('node echo server:', error.message));
});

wss.on('listening', () => {
  console.log(wss.address().port);
});

// Never outlive the test that started it.
setTimeout(() => process.exit(0), 120 * 1000).unref();

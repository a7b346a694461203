//! Test harness: connections driven by hand with a simulated clock, byte-vector feeding in three
//! ways, and domain assertions.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use ws_proto::testing::{FrameHeader, OpCode, apply_mask};
use ws_proto::{
    CloseCode, CloseOutcome, Config, Connection, ConnectionState, Event, Role, SeededKeySource,
    TransportAction,
};

/// Everything a connection produced after some inputs.
#[derive(Debug, Default, PartialEq)]
pub struct Drained {
    pub written: Vec<u8>,
    pub events: Vec<Event>,
    pub actions: Vec<TransportAction>,
}

impl Drained {
    /// The frames written, parsed back.
    pub fn frames(&self) -> Vec<(FrameHeader, Vec<u8>)> {
        parse_frames(&self.written)
    }

    pub fn closed(&self) -> Option<&CloseOutcome> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(outcome) => Some(outcome),
            _ => None,
        })
    }
}

/// A connection plus what it has produced so far.
pub struct Endpoint {
    pub conn: Connection,
    pub drained: Drained,
}

impl Endpoint {
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let conn =
            Connection::with_key_source(role, config, Box::new(SeededKeySource::new(42)), now);
        Endpoint {
            conn,
            drained: Drained::default(),
        }
    }

    /// Follows the drive contract: write all output, take transport actions, take events.
    pub fn drain(&mut self) {
        drain_into(&mut self.conn, &mut self.drained);
    }

    pub fn take(&mut self) -> Drained {
        self.drain();
        std::mem::take(&mut self.drained)
    }
}

pub fn drain_into(conn: &mut Connection, into: &mut Drained) {
    loop {
        let before = (into.written.len(), into.events.len(), into.actions.len());
        loop {
            let out = conn.output();
            if out.is_empty() {
                break;
            }
            let n = out.len();
            into.written.extend_from_slice(out);
            conn.consume_output(n);
        }
        // Polling may apply a queued Close or failure, which writes output and may arm a
        // transport action: keep going until a round changes nothing.
        while let Some(event) = conn.poll_event() {
            into.events.push(event);
        }
        while let Some(action) = conn.poll_transport() {
            into.actions.push(action);
        }
        let after = (into.written.len(), into.events.len(), into.actions.len());
        if before == after && conn.output().is_empty() {
            break;
        }
    }
}

pub fn start() -> Instant {
    Instant::now()
}

/// Parses a byte stream of complete frames, unmasking payloads.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, len) = FrameHeader::parse(bytes)
            .expect("valid frame")
            .expect("whole header");
        let end = len + header.payload_len as usize;
        let mut payload = bytes[len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        bytes = &bytes[end..];
    }
    frames
}

/// Encodes one frame as a peer would send it: masked with a fixed key when `masked`.
pub fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    frame_rsv(fin, 0, opcode, payload, masked)
}

pub fn frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut body = payload.to_vec();
    if masked {
        let key = [0x12, 0x34, 0x56, 0x78];
        out.extend_from_slice(&key);
        apply_mask(&mut body, key, 0);
    }
    out.extend_from_slice(&body);
    out
}

/// A frame as a client sends it (masked).
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, opcode, payload, true)
}

/// A frame as a server sends it (unmasked).
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, opcode, payload, false)
}

pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// How a byte vector is fed.
#[derive(Clone, Copy, Debug)]
pub enum Feed {
    Whole,
    ByteByByte,
}

/// Feeds `input` to a fresh connection of `role`, draining after every call.
pub fn feed(role: Role, config: Config, input: &[u8], how: Feed) -> (Endpoint, Drained) {
    let now = start();
    let mut ep = Endpoint::new(role, config, now);
    match how {
        Feed::Whole => {
            ep.conn.receive(now, input);
            ep.drain();
        }
        Feed::ByteByByte => {
            for b in input {
                ep.conn.receive(now, std::slice::from_ref(b));
                ep.drain();
            }
        }
    }
    let drained = std::mem::take(&mut ep.drained);
    (ep, drained)
}

/// Feeds `input` whole and one byte at a time, asserts both give the same result, and returns
/// it. Then feeds it again followed by the first half of a Ping and checks that those trailing
/// bytes stayed buffered: completing the Ping must produce exactly one `Event::Ping` if the
/// connection was still reading.
pub fn feed_three_ways(role: Role, config: Config, input: &[u8]) -> Drained {
    let (_, whole) = feed(role, config.clone(), input, Feed::Whole);
    let (_, bytewise) = feed(role, config.clone(), input, Feed::ByteByByte);
    assert_eq!(whole, bytewise, "whole and byte-by-byte feeding disagree");

    let masked = role == Role::Server;
    let ping = frame(true, 0x9, b"trail", masked);
    let (first, rest) = ping.split_at(ping.len() / 2);
    let now = start();
    let mut ep = Endpoint::new(role, config, now);
    let mut chunk = input.to_vec();
    chunk.extend_from_slice(first);
    ep.conn.receive(now, &chunk);
    ep.drain();
    let before = ep.drained.events.len();
    let still_reading = ep.conn.state() == ConnectionState::Open;
    ep.conn.receive(now, rest);
    ep.drain();
    let pings_after: Vec<_> = ep.drained.events[before..]
        .iter()
        .filter(|e| matches!(e, Event::Ping(p) if &p[..] == b"trail"))
        .collect();
    if still_reading {
        assert_eq!(pings_after.len(), 1, "trailing bytes were lost");
    }
    whole
}

/// The connection failed with `code`: a Close frame with that code was written.
#[track_caller]
pub fn assert_failing(drained: &Drained, code: CloseCode) {
    let frames = drained.frames();
    let (header, payload) = frames.last().expect("a Close frame was sent");
    assert_eq!(
        header.opcode,
        OpCode::Close,
        "last frame is not a Close: {frames:?}"
    );
    assert_eq!(
        u16::from_be_bytes([payload[0], payload[1]]),
        code.0,
        "close code"
    );
}

#[track_caller]
pub fn assert_frame_sent(drained: &Drained, opcode: OpCode, payload: &[u8]) {
    let frames = drained.frames();
    assert!(
        frames
            .iter()
            .any(|(h, p)| h.opcode == opcode && p == payload),
        "no {opcode:?} frame with {payload:?} in {frames:?}"
    );
}

/// A client and a server wired together in memory with a simulated clock.
pub struct Pair {
    pub now: Instant,
    pub client: Endpoint,
    pub server: Endpoint,
    /// Bytes written by each side and not yet delivered.
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    pub client_eof_sent: bool,
    pub server_eof_sent: bool,
    pub client_got_eof: bool,
    pub server_got_eof: bool,
}

impl Pair {
    pub fn new(config: Config) -> Self {
        Self::with_configs(config.clone(), config)
    }

    pub fn with_configs(client: Config, server: Config) -> Self {
        let now = start();
        Pair {
            now,
            client: Endpoint::new(Role::Client, client, now),
            server: Endpoint::new(Role::Server, server, now),
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_eof_sent: false,
            server_eof_sent: false,
            client_got_eof: false,
            server_got_eof: false,
        }
    }

    /// Moves bytes and FINs both ways until nothing changes.
    pub fn transfer(&mut self) {
        loop {
            let mut progressed = false;
            for side in [Role::Client, Role::Server] {
                let (ep, outbox, eof_sent) = match side {
                    Role::Client => (
                        &mut self.client,
                        &mut self.to_server,
                        &mut self.client_eof_sent,
                    ),
                    Role::Server => (
                        &mut self.server,
                        &mut self.to_client,
                        &mut self.server_eof_sent,
                    ),
                };
                let before = (
                    ep.drained.written.len(),
                    ep.drained.actions.len(),
                    ep.drained.events.len(),
                );
                ep.drain();
                outbox.extend_from_slice(&ep.drained.written[before.0..]);
                let new_actions = ep.drained.actions[before.1..].to_vec();
                if new_actions
                    .iter()
                    .any(|a| matches!(a, TransportAction::ShutdownWrite | TransportAction::Close))
                {
                    *eof_sent = true;
                }
                progressed |= before
                    != (
                        ep.drained.written.len(),
                        ep.drained.actions.len(),
                        ep.drained.events.len(),
                    );
            }
            if !self.to_server.is_empty() {
                let bytes = std::mem::take(&mut self.to_server);
                self.server.conn.receive(self.now, &bytes);
                progressed = true;
            } else if self.client_eof_sent && !self.server_got_eof {
                // The FIN travels after the bytes written before it.
                self.server_got_eof = true;
                self.server.conn.receive_eof(self.now);
                progressed = true;
            }
            if !self.to_client.is_empty() {
                let bytes = std::mem::take(&mut self.to_client);
                self.client.conn.receive(self.now, &bytes);
                progressed = true;
            } else if self.server_eof_sent && !self.client_got_eof {
                self.client_got_eof = true;
                self.client.conn.receive_eof(self.now);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    /// Jumps the clock to the earliest deadline of either side and fires it.
    pub fn advance_to_next_deadline(&mut self) -> Option<Duration> {
        let next = [
            self.client.conn.poll_timeout(),
            self.server.conn.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()?;
        let step = next.saturating_duration_since(self.now);
        self.now = self.now.max(next);
        self.client.conn.handle_timeout(self.now);
        self.server.conn.handle_timeout(self.now);
        Some(step)
    }

    pub fn client_events(&mut self) -> Vec<Event> {
        self.client.drain();
        std::mem::take(&mut self.client.drained.events)
    }

    pub fn server_events(&mut self) -> Vec<Event> {
        self.server.drain();
        std::mem::take(&mut self.server.drained.events)
    }
}

//! Fuzz bodies, shared by the `fuzz/` targets (feature `fuzzing`) and the unit tests.
//!
//! Each public function takes arbitrary bytes, drives the protocol core with them and checks an
//! oracle, panicking when it fails. The targets in `fuzz/fuzz_targets/` are one-line shims, so a
//! crash the fuzzer finds is replayed by `cargo test` once its input is added to the seed corpus
//! in `fuzz/seeds/<target>/`.
//!
//! Oracles:
//!
//! * a reference frame decoder (`Decoder`), written straight from RFC 6455 §5, predicts the
//!   events and the close of a connection fed arbitrary bytes, and validates every byte a
//!   connection writes (framing, masking and mask keys, minimal lengths, nothing after Close);
//!   with permessage-deflate (RFC 7692) it inflates compressed messages on its own
//!   (`RefInflater`);
//! * the drive contract: one [`Event::Closed`], last, together with one
//!   [`TransportAction::Close`]; nothing written after [`TransportAction::ShutdownWrite`];
//!   caller errors change nothing;
//! * the buffers a connection holds stay within what the limits and the input allow
//!   (`memory_bound`), so a buffer sized from a declared length is caught without a
//!   sanitizer's allocation limit;
//! * for a connected pair, every message one side sent reaches the other intact and in order,
//!   and an undisturbed pair closes cleanly without any timer firing.

use std::collections::{HashSet, VecDeque};
use std::io::IoSlice;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::{Decompress, FlushDecompress, Status};

use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use crate::handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, HandshakeError, Request,
    ServerHandshake, UsageError, WsUrl, accept_key,
};
use crate::rng::KeySource;
use crate::{
    CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, Connection, ConnectionState,
    DataKind, DeflateConfig, DeflateParams, Error, Event, PeerClose, PreparedMessage,
    ProtocolError, Role, SeededKeySource, TransportAction,
};

/// Frame and message limits of the fuzzed connections: small, so memory stays small.
const LIMIT: usize = 64 << 10;

/// Mask-key seed of every fuzzed client connection.
const CLIENT_SEED: u64 = 0x5eed_0000_c11e_2701;

/// Most buffer capacity ([`Connection::buffer_capacity`]) a fuzzed connection may hold, for an
/// input of `input_len` bytes: far above what the limits and the input allow, far below what a
/// buffer sized from a declared length would take.
fn memory_bound(input_len: usize) -> usize {
    (1 << 20) + 16 * input_len
}

// ------------------------------------------------------------------------------------ oracles

/// A received message or control frame, as the reference decoder and the events see it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Msg {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

impl Msg {
    /// The message an event carries; `None` for [`Event::Closed`]. Checks that text is UTF-8.
    fn from_event(event: &Event) -> Option<Msg> {
        Some(match event {
            Event::Text(text) => {
                let bytes: &[u8] = text.as_ref();
                assert!(
                    std::str::from_utf8(bytes).is_ok(),
                    "Event::Text with invalid UTF-8: {bytes:02x?}"
                );
                Msg::Text(bytes.to_vec())
            }
            Event::Binary(data) => Msg::Binary(data.to_vec()),
            Event::Ping(data) => Msg::Ping(data.to_vec()),
            Event::Pong(data) => Msg::Pong(data.to_vec()),
            Event::Closed(_) => return None,
        })
    }
}

/// How a decoded byte stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    /// A valid Close frame (`None`: empty payload).
    Close(Option<CloseFrame>),
    /// A violation; the receiver must fail the connection with this code.
    Fail(CloseCode),
    /// The stream left what the reference can predict (see [`RefInflater`]).
    Unknown,
}

/// The receive limits of a connection, mirrored by the reference decoder.
#[derive(Clone, Copy, Debug)]
struct Limits {
    frame: u64,
    message: u64,
    fragments: usize,
}

/// A message being reassembled.
#[derive(Clone, Debug)]
struct Partial {
    text: bool,
    /// The payload (inflated, for a compressed message).
    payload: Vec<u8>,
    fragments: usize,
    /// RSV1 was set on its first frame: the payload on the wire is deflate data (RFC 7692 §6).
    compressed: bool,
    /// Payload bytes received on the wire, compressed or not: what the limits count.
    wire: u64,
    /// For text: `payload[..checked]` is valid UTF-8 ending on a character boundary, so each
    /// frame only validates what follows (at most three bytes of an unfinished character plus
    /// its own payload) instead of the whole message again.
    checked: usize,
}

impl Partial {
    /// A message whose first frame just arrived.
    fn new(text: bool, compressed: bool) -> Self {
        Partial {
            text,
            payload: Vec::new(),
            fragments: 0,
            compressed,
            wire: 0,
            checked: 0,
        }
    }

    /// Validates the text after `checked` followed by `more` (not yet appended): `Err` if it
    /// can no longer be valid UTF-8 (or, with `last`, is not valid UTF-8 as a whole); `Ok` with
    /// how far the text up to the end of `more` is valid.
    fn check_text(&self, more: &[u8], last: bool) -> Result<usize, ()> {
        let tail = &self.payload[self.checked..];
        let joined;
        let pending = if tail.is_empty() {
            more
        } else {
            joined = [tail, more].concat();
            &joined[..]
        };
        match std::str::from_utf8(pending) {
            Ok(_) => Ok(self.checked + pending.len()),
            Err(e) if last || e.error_len().is_some() => Err(()),
            Err(e) => Ok(self.checked + e.valid_up_to()),
        }
    }
}

/// Whether `bytes` can no longer be the start of valid UTF-8 (an incomplete last sequence is
/// fine): the rule a receiver applies to fail fast (RFC 6455 §8.1).
fn utf8_broken(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_some())
}

/// An independent RFC 6455 frame decoder.
///
/// With `limits` it is the reference for bytes a connection *receives*: a violation ends the
/// stream with the close code the connection must send. Without, it checks bytes a connection
/// *wrote*, where any violation is a bug and panics; then it also checks minimal length
/// encodings, that nothing follows the Close frame, and (with `keys`) that every mask key is
/// the next one of the client's key source (RFC 6455 §5.3: a fresh key for every frame).
struct Decoder {
    what: &'static str,
    masked: bool,
    limits: Option<Limits>,
    keys: Option<SeededKeySource>,
    buf: Vec<u8>,
    message: Option<Partial>,
    msgs: Vec<Msg>,
    end: Option<End>,
    frames: usize,
    /// permessage-deflate, when negotiated: inflates the peer's compressed messages.
    inflater: Option<RefInflater>,
    /// For each data message in `msgs`: whether it was compressed, and its payload bytes on
    /// the wire.
    wire: Vec<(bool, u64)>,
    /// The violation that ended the stream, and whether it was found inflating a message.
    failure: Option<(ProtocolError, bool)>,
    /// An incomplete compressed frame at the end of the stream was inflated (see `frame`).
    inflated_partial: bool,
}

impl Decoder {
    /// A checker of the bytes written by a connection of `role`.
    fn output_of(what: &'static str, role: Role) -> Self {
        Decoder {
            what,
            masked: role == Role::Client,
            limits: None,
            keys: (role == Role::Client).then(|| SeededKeySource::new(CLIENT_SEED)),
            buf: Vec::new(),
            message: None,
            msgs: Vec::new(),
            end: None,
            frames: 0,
            inflater: None,
            wire: Vec::new(),
            failure: None,
            inflated_partial: false,
        }
    }

    /// The reference for the bytes received by a connection of `role` with `config`.
    fn input_of(role: Role, config: &Config) -> Self {
        Decoder {
            what: "reference",
            masked: role == Role::Server,
            limits: Some(Limits {
                frame: config.max_frame_size as u64,
                message: config.max_message_size as u64,
                fragments: config.max_fragments,
            }),
            keys: None,
            buf: Vec::new(),
            message: None,
            msgs: Vec::new(),
            end: None,
            frames: 0,
            inflater: None,
            wire: Vec::new(),
            failure: None,
            inflated_partial: false,
        }
    }

    fn strict(&self) -> bool {
        self.limits.is_none()
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.end.is_some() {
            assert!(
                !self.strict() || bytes.is_empty(),
                "{}: wrote {} bytes after its Close frame: {bytes:02x?}",
                self.what,
                bytes.len()
            );
            return;
        }
        // Decode straight from `bytes` when nothing is buffered (the reference is fed the whole
        // stream at once); only an incomplete frame at the end is kept for the next call.
        let buffered = !self.buf.is_empty();
        let stream = if buffered {
            self.buf.extend_from_slice(bytes);
            std::mem::take(&mut self.buf)
        } else {
            Vec::new()
        };
        let input = if buffered { &stream[..] } else { bytes };
        let mut pos = 0;
        while self.end.is_none() {
            match self.frame(&input[pos..]) {
                Some(n) => pos += n,
                None => break,
            }
        }
        if buffered {
            self.buf = stream;
            self.buf.drain(..pos);
        } else {
            self.buf.extend_from_slice(&bytes[pos..]);
        }
        if self.end.is_some() {
            assert!(
                !self.strict() || self.buf.is_empty(),
                "{}: wrote bytes after its Close frame: {:02x?}",
                self.what,
                self.buf
            );
        }
    }

    fn fail(&mut self, code: CloseCode, why: &str) {
        assert!(
            !self.strict(),
            "{}: wrote an invalid frame (frame #{}): {why}",
            self.what,
            self.frames
        );
        self.end = Some(End::Fail(code));
    }

    fn fail_with(&mut self, error: ProtocolError) {
        self.fail(error.close_code(), error.reason());
        self.failure = Some((error, false));
    }

    /// [`fail_with`](Self::fail_with) for a violation found inflating a compressed message.
    fn fail_inflating(&mut self, error: ProtocolError) {
        self.fail_with(error);
        self.failure = Some((error, true));
    }

    /// Inflates the next compressed bytes of `message` (`last`: the message ends with them) and
    /// applies the rules in the order the stream breaks them: text that can no longer be valid
    /// UTF-8 within the size limit (RFC 6455 §8.1), then the limit, then invalid deflate data
    /// (RFC 7692 §8). Returns whether the message is still good.
    fn inflate_piece(&mut self, message: &mut Partial, input: &[u8], last: bool) -> bool {
        let limit = self.limits.map_or(usize::MAX, |l| {
            usize::try_from(l.message).unwrap_or(usize::MAX)
        });
        let room = limit.saturating_sub(message.payload.len());
        let Some(inflater) = self.inflater.as_mut() else {
            unreachable!("a compressed message without permessage-deflate")
        };
        let mut fresh = Vec::new();
        let mut valid = inflater.inflate(input, &mut fresh, room);
        if last && valid == Some(true) && fresh.len() <= room {
            valid = inflater.finish(&mut fresh, room);
        }
        let Some(valid) = valid else {
            assert!(
                !self.strict(),
                "{}: wrote a compressed message (frame #{}) that does not end on a deflate block \
                 boundary",
                self.what,
                self.frames
            );
            self.end = Some(End::Unknown);
            return false;
        };
        let complete = last && valid && fresh.len() <= room;
        if message.text {
            match message.check_text(&fresh[..fresh.len().min(room)], complete) {
                Ok(checked) => message.checked = checked,
                Err(()) => {
                    self.fail_inflating(ProtocolError::InvalidUtf8);
                    return false;
                }
            }
        }
        if fresh.len() > room {
            self.fail_inflating(ProtocolError::MessageTooLarge);
            return false;
        }
        if !valid {
            self.fail_inflating(ProtocolError::InvalidCompressedData);
            return false;
        }
        message.payload.extend_from_slice(&fresh);
        if last && let Some(inflater) = self.inflater.as_mut() {
            inflater.next_message(&message.payload);
        }
        true
    }

    /// Decodes one frame at the start of `rest`: its length, or `None` if it is incomplete or
    /// the stream ended. An incomplete frame is checked as far as its bytes go, because the
    /// connection fails as early as it can.
    fn frame(&mut self, rest: &[u8]) -> Option<usize> {
        // §5.2, checked in the order the bytes arrive: the first two bytes.
        let [first, second, ..] = *rest else {
            return None;
        };
        let opcode = match FrameHeader::check_prefix(first, second) {
            Ok(opcode) => opcode,
            Err(error) => {
                self.fail_with(error);
                return None;
            }
        };
        // §5.2: the RSV bits are 0 unless an extension defines them; permessage-deflate defines
        // RSV1, on the first frame of a data message only (RFC 7692 §6, §6.1).
        let compressed_start = first & 0x70 == 0x40
            && self.inflater.is_some()
            && matches!(opcode, OpCode::Text | OpCode::Binary);
        if first & 0x70 != 0 && !compressed_start {
            self.fail_with(ProtocolError::ReservedBitsSet);
            return None;
        }
        match (self.masked, second & 0x80 != 0) {
            (true, false) => {
                self.fail_with(ProtocolError::UnmaskedFrame);
                return None;
            }
            (false, true) => {
                self.fail_with(ProtocolError::MaskedFrame);
                return None;
            }
            _ => {}
        }
        match (opcode, self.message.is_some()) {
            (OpCode::Continuation, false) => {
                self.fail_with(ProtocolError::UnexpectedContinuation);
                return None;
            }
            (OpCode::Text | OpCode::Binary, true) => {
                self.fail_with(ProtocolError::ExpectedContinuation);
                return None;
            }
            _ => {}
        }
        // The whole header.
        let (header, header_len) = match FrameHeader::parse(rest) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return None,
            Err(error) => {
                self.fail_with(error);
                return None;
            }
        };
        if self.strict() {
            let mut encoded = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut encoded);
            assert_eq!(
                &encoded[..n],
                &rest[..header_len],
                "{}: non-minimal frame header (frame #{})",
                self.what,
                self.frames
            );
        }
        // The message this frame belongs to, as it will be once the header is accepted: whether
        // it is text (`None` for a control frame).
        let mut text = None;
        let mut compressed = false;
        if !opcode.is_control() {
            let (so_far, fragments, is_text) = match &self.message {
                Some(m) => (m.wire, m.fragments + 1, m.text),
                None => (0, 1, opcode == OpCode::Text),
            };
            compressed = self
                .message
                .as_ref()
                .map_or(compressed_start, |m| m.compressed);
            if let Some(limits) = self.limits {
                if header.payload_len > limits.frame {
                    self.fail_with(ProtocolError::FrameTooLarge);
                    return None;
                }
                if so_far + header.payload_len > limits.message {
                    self.fail_with(ProtocolError::MessageTooLarge);
                    return None;
                }
                if fragments > limits.fragments && fragments > 1 {
                    self.fail_with(ProtocolError::TooManyFragments);
                    return None;
                }
            }
            text = Some(is_text);
        }
        // The payload.
        let available = (rest.len() - header_len) as u64;
        let complete = available >= header.payload_len;
        // Only text is checked before its frame is complete, and in the reference a compressed
        // message, which the connection inflates as its bytes arrive.
        let early = text == Some(true) || (compressed && !self.strict());
        if !complete && !early {
            return None;
        }
        let len = available.min(header.payload_len) as usize;
        let mut payload = rest[header_len..header_len + len].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        if !complete && compressed {
            // The reference is fed the whole stream at once, so this is its end: inflating what
            // there is cannot change how later bytes decode.
            assert!(
                !self.inflated_partial,
                "{}: fed again after an incomplete compressed frame",
                self.what
            );
            self.inflated_partial = true;
            let mut message = self
                .message
                .take()
                .unwrap_or_else(|| Partial::new(text == Some(true), compressed));
            self.inflate_piece(&mut message, &payload, false);
            self.message = Some(message);
            return None;
        }
        if !complete {
            // §8.1: invalid text fails as soon as it arrives, not when the message ends.
            let broken = match &self.message {
                Some(message) => message.check_text(&payload, false).is_err(),
                None => utf8_broken(&payload),
            };
            if broken {
                self.fail_with(ProtocolError::InvalidUtf8);
            }
            return None;
        }
        self.frames += 1;
        if let (Some(keys), Some(mask)) = (&mut self.keys, header.mask) {
            let mut expected = [0u8; 4];
            keys.fill(&mut expected);
            assert_eq!(
                mask, expected,
                "{}: frame #{} is not masked with the next key of the key source",
                self.what, self.frames
            );
        }
        match opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let mut message = self
                    .message
                    .take()
                    .unwrap_or_else(|| Partial::new(text == Some(true), compressed));
                message.fragments += 1;
                message.wire += payload.len() as u64;
                if message.compressed {
                    if !self.inflate_piece(&mut message, &payload, header.fin) {
                        return None;
                    }
                } else {
                    if message.text {
                        match message.check_text(&payload, header.fin) {
                            Ok(checked) => message.checked = checked,
                            Err(()) => {
                                self.fail_with(ProtocolError::InvalidUtf8);
                                return None;
                            }
                        }
                    }
                    message.payload.extend_from_slice(&payload);
                }
                if header.fin {
                    self.wire.push((message.compressed, message.wire));
                    self.msgs.push(if message.text {
                        Msg::Text(message.payload)
                    } else {
                        Msg::Binary(message.payload)
                    });
                } else {
                    self.message = Some(message);
                }
            }
            OpCode::Ping => self.msgs.push(Msg::Ping(payload)),
            OpCode::Pong => self.msgs.push(Msg::Pong(payload)),
            OpCode::Close => match &payload[..] {
                [] => self.end = Some(End::Close(None)),
                [_] => self.fail_with(ProtocolError::ClosePayloadTooShort),
                [hi, lo, reason @ ..] => {
                    let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                    if !code.is_valid_on_wire() {
                        self.fail_with(ProtocolError::InvalidCloseCode(code.0));
                    } else if let Ok(reason) = std::str::from_utf8(reason) {
                        self.end = Some(End::Close(Some(CloseFrame {
                            code,
                            reason: reason.to_owned(),
                        })));
                    } else {
                        self.fail_with(ProtocolError::InvalidCloseReason);
                    }
                }
            },
        }
        Some(header_len + len)
    }
}

/// The end of a sync flush, which a sender removes from a compressed message and a receiver
/// puts back before inflating it (RFC 7692 §7.2.1, §7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The receiving half of permessage-deflate for the [`Decoder`], from RFC 7692 §7.2.2: a
/// message's payload followed by [`SYNC_TAIL`] is deflate data, inflated with the sender's
/// window; with context takeover (§7.1.1) the next message may refer back to the earlier ones.
///
/// A conforming sender ends every message on a block boundary, and after a final block (BFINAL,
/// §7.2.3.4) starts a new stream that refers to nothing before it. There the readings of "the
/// next message continues the context" agree, and the reference predicts exactly; it runs
/// each of them ([`Reading`]). Where they part (a message cut inside a block; a payload of no
/// bytes at all, where an empty message compresses to `0x00`, §7.2.3.6; a reference back across
/// a final block), the receiver's answer is its own choice and the reference stops predicting
/// ([`End::Unknown`]).
///
/// Where the RFC is silent and the readings agree it follows the connection: data after a
/// final block is ignored, and an 8-bit window is inflated with 9 bits, the least zlib takes,
/// which accepts all an 8-bit one does.
struct RefInflater {
    window_bits: u8,
    takeover: bool,
    readings: [Reading; 3],
}

/// One reading of how a message continues the context of the earlier ones.
struct Reading {
    /// One stream held from message to message (with context takeover), or a new stream per
    /// message primed with `history` as its dictionary.
    held: bool,
    /// A final block ends the history too, not just the stream.
    forget_at_end: bool,
    stream: Option<Decompress>,
    /// The stream ended (BFINAL) in this message.
    ended: bool,
    /// The end of the earlier messages' output (a stream per message, context takeover).
    history: Vec<u8>,
}

impl RefInflater {
    /// Inflates what the `sender` compresses with `params`.
    fn new(sender: Role, params: DeflateParams) -> Self {
        let (bits, no_takeover) = match sender {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        };
        let reading = |held, forget_at_end| Reading {
            held,
            forget_at_end,
            stream: None,
            ended: false,
            history: Vec::new(),
        };
        RefInflater {
            window_bits: bits.clamp(9, 15),
            takeover: !no_takeover,
            readings: [
                reading(true, true),
                reading(false, true),
                reading(false, false),
            ],
        }
    }

    /// Inflates the next bytes of a message into `out`, stopping once it holds more than
    /// `room` bytes. Returns whether the data was valid so far, or `None` if the readings part.
    fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, room: usize) -> Option<bool> {
        if input.is_empty() {
            return Some(true);
        }
        let bits = self.window_bits;
        let results = self.readings.each_mut().map(|reading| {
            if reading.stream.is_none() {
                let mut stream = Decompress::new_with_window_bits(false, bits);
                // A raw stream takes a dictionary before its first byte.
                if !reading.history.is_empty() && stream.set_dictionary(&reading.history).is_err() {
                    return (Vec::new(), false, false);
                }
                reading.stream = Some(stream);
            }
            reading.inflate(input, room)
        });
        agree(results, out, room)
    }

    /// Inflates the tail the sender removed from the message (§7.2.2) into a stream begun:
    /// in this message, or (held) in an earlier one.
    fn finish(&mut self, out: &mut Vec<u8>, room: usize) -> Option<bool> {
        let results = self.readings.each_mut().map(|reading| {
            if reading.stream.is_some() {
                reading.inflate(&SYNC_TAIL, room)
            } else {
                (Vec::new(), true, false)
            }
        });
        agree(results, out, room)
    }

    /// After a message that inflated to `message`.
    fn next_message(&mut self, message: &[u8]) {
        let (takeover, bits) = (self.takeover, self.window_bits);
        for reading in &mut self.readings {
            if !reading.held || !takeover {
                reading.stream = None;
            } else if reading.ended {
                reading.stream = Some(Decompress::new_with_window_bits(false, bits));
            }
            if !takeover || (reading.ended && reading.forget_at_end) {
                reading.history.clear();
            } else if !reading.held {
                reading.history.extend_from_slice(message);
                let excess = reading.history.len().saturating_sub(1 << bits);
                reading.history.drain(..excess);
            }
            reading.ended = false;
        }
    }
}

impl Reading {
    /// Inflates `input` (unless the stream ended) until it is consumed or more than `room`
    /// bytes came out. Returns what came out, whether the data was valid, and whether the
    /// stream has ended.
    fn inflate(&mut self, mut input: &[u8], room: usize) -> (Vec<u8>, bool, bool) {
        let mut out = Vec::new();
        let Some(stream) = self.stream.as_mut() else {
            return (out, true, self.ended);
        };
        let mut buf = [0u8; 512];
        while !self.ended && out.len() <= room {
            let (before_in, before_out) = (stream.total_in(), stream.total_out());
            let status = stream.decompress(input, &mut buf, FlushDecompress::None);
            let consumed = usize::try_from(stream.total_in() - before_in).unwrap_or(usize::MAX);
            let produced = usize::try_from(stream.total_out() - before_out).unwrap_or(0);
            input = input.get(consumed..).unwrap_or_default();
            out.extend_from_slice(&buf[..produced]);
            match status {
                Err(_) => return (out, false, self.ended),
                // Bytes after a final block belong to no stream (RFC 1951 §3.2.3).
                Ok(Status::StreamEnd) => self.ended = true,
                // Room left in `buf` and nothing left to read: it needs more input.
                Ok(_) if produced < buf.len() && input.is_empty() => break,
                Ok(_) => assert!(
                    consumed > 0 || produced > 0,
                    "the reference inflater is stuck with {} bytes to read",
                    input.len()
                ),
            }
        }
        (out, true, self.ended)
    }
}

/// The common result of the readings (what came out, as far as the size limit goes; whether it
/// was valid; whether the stream ended), appended to `out`; `None` if they part.
fn agree(results: [(Vec<u8>, bool, bool); 3], out: &mut Vec<u8>, room: usize) -> Option<bool> {
    let seen = |v: &[u8]| v.len().min(room.saturating_add(1));
    let [first, rest @ ..] = &results;
    rest.iter()
        .all(|other| {
            other.1 == first.1
                && other.2 == first.2
                && other.0[..seen(&other.0)] == first.0[..seen(&first.0)]
        })
        .then(|| {
            out.extend_from_slice(&first.0);
            first.1
        })
}

/// The peer's Close as [`CloseFrame::parse`] gives it: `None` when none arrived, `Some(None)`
/// when it carried no code. The oracles compare it with the frames a peer sent.
fn parsed_close(received: &PeerClose) -> Option<Option<CloseFrame>> {
    match received {
        PeerClose::NotReceived => None,
        PeerClose::WithoutCode => Some(None),
        PeerClose::Frame(frame) => Some(Some(frame.clone())),
    }
}
/// Checks that hold for every outcome, whoever ended the connection.
fn check_outcome(what: &str, outcome: &CloseOutcome) {
    if let Some(sent) = &outcome.sent {
        assert!(
            sent.code.is_valid_on_wire() && sent.reason.len() <= 123,
            "{what}: sent an invalid Close: {outcome:?}"
        );
    }
    if let PeerClose::Frame(received) = &outcome.received {
        assert!(
            received.code.is_valid_on_wire(),
            "{what}: reports a received close code that is invalid on the wire: {outcome:?}"
        );
    }
    match outcome.initiator {
        CloseInitiator::Failure => {
            let error = outcome
                .error
                .unwrap_or_else(|| panic!("{what}: failure without an error: {outcome:?}"));
            assert_eq!(
                outcome.sent.as_ref().map(|f| f.code),
                Some(error.close_code()),
                "{what}: failed with {error:?} but sent another code: {outcome:?}"
            );
        }
        CloseInitiator::Local => assert!(
            outcome.sent.is_some(),
            "{what}: closed locally without a code: {outcome:?}"
        ),
        CloseInitiator::Remote => {
            let Some(received) = parsed_close(&outcome.received) else {
                panic!("{what}: remote close without a received Close: {outcome:?}");
            };
            // The echo repeats the peer's code (§5.5.1) and sends no reason.
            let echo = received.as_ref().map(|f| CloseFrame {
                code: f.code,
                reason: String::new(),
            });
            assert_eq!(outcome.sent, echo, "{what}: bad echo: {outcome:?}");
            assert!(
                outcome.error.is_none(),
                "{what}: error after the peer's Close: {outcome:?}"
            );
        }
        CloseInitiator::Transport => assert!(
            outcome.sent.is_none() && !outcome.received.is_received() && outcome.error.is_none(),
            "{what}: transport end with close frames: {outcome:?}"
        ),
    }
    assert_eq!(
        outcome.clean,
        outcome.received.is_received() && outcome.error.is_none(),
        "{what}: clean flag: {outcome:?}"
    );
    if outcome.error.is_some() {
        assert!(
            !outcome.clean,
            "{what}: clean close with an error: {outcome:?}"
        );
    }
}

// ---------------------------------------------------------------------------------- endpoint

/// A connection with the bookkeeping of a careful adapter and of the oracles.
struct Endpoint {
    what: &'static str,
    conn: Connection,
    /// Checks everything the connection wrote.
    out: Decoder,
    /// How many of `out.msgs` were matched against what this side was asked to send.
    out_checked: usize,
    /// Ping payloads received: automatic Pongs must echo one of them.
    pings: HashSet<Vec<u8>>,
    /// What the last [`write`](Self::write) took from the output (reused between calls).
    written: Vec<u8>,
    closed: Option<CloseOutcome>,
    shutdown: bool,
    transport_closed: bool,
    /// What the caller sent, in order, not yet seen in the output.
    expect_data: VecDeque<Msg>,
    expect_pings: VecDeque<Vec<u8>>,
    expect_pongs: VecDeque<Vec<u8>>,
    keepalive: bool,
    /// Every reading of the Pings written so far that fits the rules, see [`PingReading`].
    ping_readings: Vec<PingReading>,
    /// See [`memory_bound`].
    memory_bound: usize,
}

/// One way to read the Pings an endpoint wrote so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct PingReading {
    /// How many of `expect_pings` were written.
    explicit: usize,
    /// The counter of the last keepalive Ping written.
    keepalive: u64,
}

impl Endpoint {
    /// A fresh connection, fuzzed with an input of `input_len` bytes.
    fn new(what: &'static str, role: Role, config: Config, now: Instant, input_len: usize) -> Self {
        let keys = Box::new(SeededKeySource::new(CLIENT_SEED));
        let conn = Connection::with_key_source(role, config, keys, now);
        Self::with_connection(what, conn, 0, input_len)
    }

    /// Wraps a connection whose key source (seeded with [`CLIENT_SEED`]) already gave
    /// `key_bytes_used` bytes, e.g. the handshake nonce.
    fn with_connection(
        what: &'static str,
        conn: Connection,
        key_bytes_used: usize,
        input_len: usize,
    ) -> Self {
        let keepalive = conn.config().ping_interval.is_some();
        let mut out = Decoder::output_of(what, conn.role());
        if let Some(keys) = &mut out.keys {
            keys.fill(&mut vec![0; key_bytes_used]);
        }
        Endpoint {
            what,
            conn,
            out,
            out_checked: 0,
            pings: HashSet::new(),
            written: Vec::new(),
            closed: None,
            shutdown: false,
            transport_closed: false,
            expect_data: VecDeque::new(),
            expect_pings: VecDeque::new(),
            expect_pongs: VecDeque::new(),
            keepalive,
            ping_readings: vec![PingReading::default()],
            memory_bound: memory_bound(input_len),
        }
    }

    /// Writes at most `limit` bytes of output (a short write), with `output` or with
    /// `output_vectored`. Returns what was written.
    fn write(&mut self, limit: usize, vectored: bool) -> &[u8] {
        let mut written = std::mem::take(&mut self.written);
        written.clear();
        assert_eq!(
            self.conn.output().is_empty(),
            self.conn.output_len() == 0,
            "{}: output() and output_len() disagree",
            self.what
        );
        if self.shutdown || self.transport_closed {
            assert_eq!(
                self.conn.output_len(),
                0,
                "{}: output queued after the write side was shut down",
                self.what
            );
            self.written = written;
            return &self.written;
        }
        if vectored {
            let mut slices = [IoSlice::new(&[]); 3];
            let n = self.conn.output_vectored(&mut slices);
            let total: usize = slices[..n].iter().map(|s| s.len()).sum();
            assert!(total <= self.conn.output_len());
            if n < slices.len() {
                assert_eq!(
                    total,
                    self.conn.output_len(),
                    "{}: output_vectored missed bytes",
                    self.what
                );
            }
            for slice in &slices[..n] {
                let take = slice.len().min(limit - written.len());
                written.extend_from_slice(&slice[..take]);
            }
            if !written.is_empty() {
                self.conn.consume_output(written.len());
            }
        } else {
            while written.len() < limit {
                let front = self.conn.output();
                if front.is_empty() {
                    break;
                }
                let take = front.len().min(limit - written.len());
                written.extend_from_slice(&front[..take]);
                self.conn.consume_output(take);
            }
        }
        self.out.feed(&written);
        self.written = written;
        &self.written
    }

    /// Takes the transport actions and events the drive contract requires after every call and
    /// checks the contract. Returns the messages received.
    fn drain(&mut self) -> Vec<Msg> {
        let mut msgs = Vec::new();
        self.drain_into(&mut msgs);
        msgs
    }

    /// [`drain`](Self::drain), appending the messages received to `msgs`.
    fn drain_into(&mut self, msgs: &mut Vec<Msg>) {
        while let Some(action) = self.conn.poll_transport() {
            self.on_transport(action);
        }
        // Polling may act on a Close or a failure queued behind the events, which can arm a
        // transport action even when it returns no event: poll both until both are quiet.
        loop {
            let mut progress = false;
            while let Some(event) = self.conn.poll_event() {
                progress = true;
                self.on_event(event, msgs);
            }
            while let Some(action) = self.conn.poll_transport() {
                progress = true;
                self.on_transport(action);
            }
            if !progress {
                break;
            }
        }
        assert_eq!(
            self.closed.is_some(),
            self.transport_closed,
            "{}: Event::Closed and TransportAction::Close must come together",
            self.what
        );
        let state = self.conn.state();
        assert_eq!(
            state == ConnectionState::Closed,
            self.closed.is_some(),
            "{}: state {state:?} vs Closed event",
            self.what
        );
        match state {
            ConnectionState::Closed => {
                assert_eq!(self.conn.poll_timeout(), None);
                assert_eq!(self.conn.output_len(), 0);
                assert!(!self.conn.can_send());
            }
            ConnectionState::Closing => {
                assert!(self.conn.poll_timeout().is_some());
                assert!(!self.conn.can_send());
            }
            ConnectionState::Open => {}
        }
        let capacity = self.conn.buffer_capacity();
        assert!(
            capacity <= self.memory_bound,
            "{}: holds {capacity} bytes of buffers (bound {})",
            self.what,
            self.memory_bound
        );
        self.check_output();
    }

    fn on_transport(&mut self, action: TransportAction) {
        match action {
            TransportAction::ShutdownWrite => {
                assert!(
                    !self.shutdown && !self.transport_closed,
                    "{}: ShutdownWrite twice or after Close",
                    self.what
                );
                assert_eq!(
                    self.conn.output_len(),
                    0,
                    "{}: ShutdownWrite before the output drained",
                    self.what
                );
                assert!(
                    matches!(self.out.end, Some(End::Close(_))),
                    "{}: ShutdownWrite before a Close frame was written",
                    self.what
                );
                self.shutdown = true;
            }
            TransportAction::Close => {
                assert!(
                    !self.transport_closed,
                    "{}: TransportAction::Close twice",
                    self.what
                );
                self.transport_closed = true;
            }
        }
    }

    fn on_event(&mut self, event: Event, msgs: &mut Vec<Msg>) {
        assert!(
            self.closed.is_none(),
            "{}: {event:?} after Event::Closed",
            self.what
        );
        match Msg::from_event(&event) {
            Some(msg) => {
                if let Msg::Ping(payload) = &msg
                    && !self.pings.contains(payload)
                {
                    self.pings.insert(payload.clone());
                }
                msgs.push(msg);
            }
            None => {
                let Event::Closed(outcome) = event else {
                    unreachable!()
                };
                check_outcome(self.what, &outcome);
                self.check_sent_close(&outcome);
                self.closed = Some(outcome);
            }
        }
    }

    /// The Close frame on the wire (if it was written) is the one the outcome reports.
    fn check_sent_close(&self, outcome: &CloseOutcome) {
        if let Some(End::Close(frame)) = &self.out.end {
            assert_eq!(
                frame, &outcome.sent,
                "{}: wrote one Close, reports another",
                self.what
            );
        }
    }

    /// Whether every explicit Ping sent was written, in at least one reading of the output.
    fn all_pings_written(&self) -> bool {
        let sent = self.expect_pings.len();
        self.ping_readings.iter().any(|r| r.explicit == sent)
    }

    /// Advances every reading by one written Ping and keeps those that still fit.
    ///
    /// A Ping the application sent may carry the very payload of a keepalive Ping (an 8-byte
    /// counter), and keepalives queued while the output was full are written before it, so one
    /// Ping can be either. Both readings are followed until the output tells them apart.
    fn match_ping(&mut self, payload: &[u8]) {
        let counter = <[u8; 8]>::try_from(payload).map(u64::from_be_bytes).ok();
        let mut next = Vec::with_capacity(self.ping_readings.len() + 1);
        for reading in &self.ping_readings {
            if self.expect_pings.get(reading.explicit).map(Vec::as_slice) == Some(payload) {
                next.push(PingReading {
                    explicit: reading.explicit + 1,
                    ..*reading
                });
            }
            // Keepalive Pings count up; one skipped while the output was full leaves a gap.
            if let Some(n) = counter
                && self.keepalive
                && n > reading.keepalive
            {
                next.push(PingReading {
                    keepalive: n,
                    ..*reading
                });
            }
        }
        next.sort_unstable();
        next.dedup();
        assert!(
            !next.is_empty(),
            "{}: wrote an unexpected Ping {payload:02x?}",
            self.what
        );
        // Explicit Pings every reading has matched are settled.
        let settled = next.iter().map(|r| r.explicit).min().unwrap_or(0);
        self.expect_pings.drain(..settled);
        for reading in &mut next {
            reading.explicit -= settled;
        }
        self.ping_readings = next;
    }

    /// Matches what the connection wrote against what it was asked to send: data and explicit
    /// control frames in order; extra Pings only as keepalives, extra Pongs only as echoes.
    fn check_output(&mut self) {
        while let Some(msg) = self.out.msgs.get(self.out_checked) {
            self.out_checked += 1;
            match msg {
                Msg::Text(_) | Msg::Binary(_) => {
                    let expected = self.expect_data.pop_front();
                    assert_eq!(
                        expected.as_ref(),
                        Some(msg),
                        "{}: wrote a message other than the one sent",
                        self.what
                    );
                }
                Msg::Ping(payload) => {
                    let payload = payload.clone();
                    self.match_ping(&payload);
                }
                Msg::Pong(payload) => {
                    if self.expect_pongs.front() == Some(payload) {
                        self.expect_pongs.pop_front();
                    } else {
                        assert!(
                            self.pings.contains(payload),
                            "{}: wrote a Pong {payload:02x?} that echoes no Ping",
                            self.what
                        );
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------ inputs

/// A tiny deterministic generator (xorshift64*) for chunk sizes and test inputs.
#[derive(Clone, Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads fuzz input as a sequence of small decisions; past the end everything is zero.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

// ------------------------------------------------------------------------------ frame targets

/// Feeds arbitrary bytes to a server connection as if a client sent them.
///
/// The first input byte chooses how the rest is cut into `receive` calls (bits 0–2), how much
/// of the output each drain writes (bits 3–6) and tight limits (bit 7). The events and the
/// final close must match the reference decoder exactly, whatever the chunking.
pub fn server_frames(data: &[u8]) {
    frames(Role::Server, data);
}

/// Feeds arbitrary bytes to a client connection as if a server sent them; see
/// [`server_frames`].
pub fn client_frames(data: &[u8]) {
    frames(Role::Client, data);
}

fn frames(role: Role, data: &[u8]) {
    let (control, input) = match data.split_first() {
        Some((&control, input)) => (control, input),
        None => (0, data),
    };
    let mut config = Config::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
        .with_max_fragments(1024);
    if control & 0x80 != 0 {
        config = config
            .with_max_frame_size(100)
            .with_max_message_size(300)
            .with_max_fragments(4);
    }
    let what = match role {
        Role::Server => "server",
        Role::Client => "client",
    };
    let now = Instant::now();
    let end = Endpoint::new(what, role, config.clone(), now, data.len());
    let mut plan = Plan::new(control, input.len());
    let chunks = plan.chunks(input);
    run_connection(end, &config, &[], &chunks, &mut plan, now);
}

/// How an input is cut into calls and how much of the output each drain writes, from a
/// control byte: bits 0-2 pick the largest chunk, bits 3-6 the largest write.
struct Plan {
    max_chunk: usize,
    write_limit: usize,
    rng: XorShift,
}

impl Plan {
    fn new(control: u8, len: usize) -> Self {
        const WRITES: [usize; 16] = [
            usize::MAX,
            1,
            2,
            3,
            5,
            8,
            13,
            21,
            34,
            55,
            89,
            144,
            233,
            377,
            610,
            987,
        ];
        Plan {
            max_chunk: [usize::MAX, 1, 2, 3, 7, 16, 61, 255][usize::from(control & 7)],
            write_limit: WRITES[usize::from((control >> 3) & 15)],
            rng: XorShift::new(u64::from(control) << 32 | len as u64),
        }
    }

    fn chunks<'a>(&mut self, mut rest: &'a [u8]) -> Vec<&'a [u8]> {
        // Chunks average half the largest size; reserve for that at once.
        let mut chunks = Vec::with_capacity(rest.len() / self.max_chunk.div_ceil(2).max(1) + 1);
        while !rest.is_empty() {
            let n = if self.max_chunk == usize::MAX {
                rest.len()
            } else {
                1 + self.rng.below(self.max_chunk)
            };
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        chunks
    }
}

/// Feeds `chunks` to a connection that already received `early` bytes (pipelined behind a
/// handshake), then the EOF and the close timeout; checks that it closed, and that its events
/// and close match the reference decoding of `early` followed by the chunks.
fn run_connection(
    mut end: Endpoint,
    config: &Config,
    early: &[u8],
    chunks: &[&[u8]],
    plan: &mut Plan,
    now: Instant,
) {
    let (received, outcome) = drive(&mut end, config.close_timeout, chunks, plan, now);
    let mut reference = Decoder::input_of(end.conn.role(), config);
    let mut stream = early.to_vec();
    stream.extend(chunks.iter().flat_map(|c| c.iter()));
    reference.feed(&stream);
    check_against_reference(&end, &received, &outcome, &reference);
}

/// Feeds `chunks` to a connection, then the EOF and the close timeout; checks that it closed
/// and that nothing happens afterwards. Returns what it received and how it closed.
fn drive(
    end: &mut Endpoint,
    close_timeout: Duration,
    chunks: &[&[u8]],
    plan: &mut Plan,
    now: Instant,
) -> (Vec<Msg>, CloseOutcome) {
    let what = end.what;
    let write_limit = plan.write_limit;
    end.write(write_limit, false);
    let mut received = Vec::new();
    end.drain_into(&mut received);
    for chunk in chunks {
        end.conn.receive(now, chunk);
        end.write(write_limit, plan.rng.below(4) == 0);
        end.drain_into(&mut received);
    }
    end.conn.receive_eof(now);
    end.write(write_limit, false);
    end.drain_into(&mut received);
    // The peer reads everything we still have to say.
    for _ in 0..10_000 {
        if end.conn.output_len() == 0 {
            break;
        }
        end.write(usize::MAX, false);
        end.drain_into(&mut received);
    }
    end.conn
        .handle_timeout(now + close_timeout + Duration::from_millis(1));
    end.drain_into(&mut received);
    let Some(outcome) = end.closed.clone() else {
        panic!(
            "{what}: not closed after EOF and the close timeout: {:?}",
            end.conn
        );
    };
    assert_eq!(end.conn.state(), ConnectionState::Closed);
    // Nothing more happens, whatever else comes in.
    end.conn.receive(now, b"\x81\x00");
    end.conn.receive_eof(now);
    end.conn.handle_timeout(now + 2 * close_timeout);
    end.conn.abort();
    assert!(end.drain().is_empty());
    (received, outcome)
}

/// Checks the events and the close of a connection against the reference decoding of what it
/// received.
fn check_against_reference(
    end: &Endpoint,
    received: &[Msg],
    outcome: &CloseOutcome,
    reference: &Decoder,
) {
    let what = end.what;
    if reference.end == Some(End::Unknown) {
        // Up to where it stopped predicting.
        assert!(
            received.starts_with(&reference.msgs),
            "{what}: events differ from the reference decoder: {received:?}, expected to start \
             with {:?}",
            reference.msgs
        );
    } else {
        assert_eq!(
            received, reference.msgs,
            "{what}: events differ from the reference decoder"
        );
    }
    match &reference.end {
        Some(End::Unknown) => {}
        Some(End::Fail(code)) => {
            assert_eq!(
                outcome.initiator,
                CloseInitiator::Failure,
                "{what}: should have failed with {code}: {outcome:?}"
            );
            assert!(
                outcome.error.is_some_and(|e| same_failure(reference, e)),
                "{what}: wrong failure, expected {code} ({:?}): {outcome:?}",
                reference.failure
            );
        }
        Some(End::Close(frame)) => {
            assert_eq!(
                outcome.initiator,
                CloseInitiator::Remote,
                "{what}: missed the peer's Close {frame:?}: {outcome:?}"
            );
            assert_eq!(
                parsed_close(&outcome.received).as_ref(),
                Some(frame),
                "{what}: {outcome:?}"
            );
            assert!(outcome.clean, "{what}: not clean: {outcome:?}");
        }
        None => assert_eq!(
            outcome.initiator,
            CloseInitiator::Transport,
            "{what}: closed without a reason: {outcome:?}"
        ),
    }
    match reference.end {
        Some(End::Unknown) => {}
        Some(_) => assert!(
            matches!(end.out.end, Some(End::Close(_))),
            "{what}: the Close frame was never written: {outcome:?}"
        ),
        None => assert_eq!(end.out.end, None, "{what}: wrote a Close frame on EOF"),
    }
    // Everything written was accounted for: no data, Pongs only as echoes.
    assert!(end.out.msgs.iter().all(|m| matches!(m, Msg::Pong(_))));
}

/// Whether a connection that failed with `error` agrees with the reference's failure.
///
/// Without permessage-deflate the close code must be the same. With it, the very violation
/// (its reason is on the wire too): the first in stream order, however the bytes were cut into
/// reads.
fn same_failure(reference: &Decoder, error: ProtocolError) -> bool {
    let Some((expected, _)) = reference.failure else {
        return false;
    };
    if reference.inflater.is_none() {
        return error.close_code() == expected.close_code();
    }
    // The core checks what an inflate call produced before reporting its failure, so the error
    // does not depend on how the input was split.
    error == expected
}

// -------------------------------------------------------------------------- handshake targets

/// The configuration of a fuzzed handshake; bit 7 of the control byte makes its limits tight.
fn handshake_config(control: u8) -> Config {
    let config = Config::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT);
    if control & 0x80 != 0 {
        config.with_max_handshake_size(256).with_max_headers(6)
    } else {
        config
    }
}

/// The end of the HTTP head at the start of `bytes`, if it is complete.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// A server's answer to a failed handshake: a request fault's status, encoded as HTTP/1.1.
fn check_rejection(error: &HandshakeError) {
    let status = error.status();
    assert!(
        matches!(status, 400 | 405 | 408 | 426 | 431 | 505),
        "a bad request maps to status {status}: {error:?}"
    );
    let response = error.to_response();
    assert_eq!(response.status, status, "{error:?}");
    let bytes = response.encode();
    let status_line = format!("HTTP/1.1 {status} ");
    assert!(
        bytes.starts_with(status_line.as_bytes()),
        "{error:?} encodes as {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // The answer is valid HTTP that a client can read back.
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(&bytes) {
        Ok(httparse::Status::Complete(head_len)) => {
            assert_eq!(parsed.code, Some(status));
            let length = parsed
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                });
            if let Some(length) = length {
                assert_eq!(head_len + length, bytes.len(), "{error:?}: Content-Length");
            }
        }
        other => panic!(
            "{error:?}: the rejection is not valid HTTP ({other:?}): {:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Feeds arbitrary bytes to a [`ServerHandshake`] as the client's request, in chunks chosen
/// by the first byte (bit 6: keep feeding the handshake after the head is complete; bit 7:
/// tight limits).
///
/// A complete head must be the same however the bytes were split; a valid upgrade is
/// accepted, the connection's output starts with a correct 101, and the bytes behind the head
/// reach the connection (checked like [`server_frames`]); a failure is answered with a
/// request-fault status as valid HTTP, and repeated by later calls.
pub fn server_handshake(data: &[u8]) {
    let (control, input) = match data.split_first() {
        Some((&control, input)) => (control, input),
        None => (0, data),
    };
    let config = handshake_config(control);
    let keep_feeding = control & 0x40 != 0;
    let now = Instant::now();
    let mut plan = Plan::new(control, input.len());
    let chunks = plan.chunks(input);
    let mut handshake = ServerHandshake::new(&config, now);
    assert_eq!(
        handshake.poll_timeout(),
        Some(now + config.handshake_timeout)
    );

    let mut fed = 0;
    let mut result: Result<Option<Request>, HandshakeError> = Ok(None);
    for chunk in &chunks {
        fed += 1;
        match handshake.receive(now, chunk) {
            Ok(None) => {
                assert!(handshake.request().is_none() && handshake.leftover().is_empty());
            }
            Ok(Some(request)) => {
                result = Ok(Some(request.clone()));
                if !keep_feeding {
                    break;
                }
            }
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }

    // The same bytes in one call give the same head.
    let all: Vec<u8> = chunks[..fed].concat();
    let mut whole = ServerHandshake::new(&config, now);
    let one_shot = whole.receive(now, &all).map(|r| r.cloned());
    match (&result, &one_shot) {
        (Ok(Some(request)), Ok(Some(again))) => {
            assert_eq!(request, again, "the request depends on how it was split");
            assert_eq!(handshake.leftover(), whole.leftover());
        }
        (Err(error), Err(again)) => {
            if all.len() <= config.max_handshake_size {
                assert_eq!(
                    error, again,
                    "the error depends on how the request was split"
                );
            }
        }
        (Ok(None), Ok(None) | Err(_)) => {}
        _ => panic!(
            "split request gives {result:?}, whole request gives {one_shot:?}: {:?}",
            String::from_utf8_lossy(&all)
        ),
    }

    match result {
        Ok(None) => {
            // The head never completed: the deadline fails it with 408.
            let deadline = now + config.handshake_timeout;
            assert_eq!(
                handshake.handle_timeout(deadline - Duration::from_millis(1)),
                Ok(())
            );
            let error = handshake
                .handle_timeout(deadline)
                .expect_err("the handshake must time out");
            assert_eq!(error, HandshakeError::Timeout);
            check_rejection(&error);
            assert_eq!(handshake.receive(deadline, b"\r\n"), Err(error));
        }
        Err(error) => {
            check_rejection(&error);
            assert_eq!(handshake.poll_timeout(), None);
            assert_eq!(
                handshake.receive(now, b"\r\n\r\n"),
                Err(error.clone()),
                "errors are final"
            );
            assert_eq!(
                handshake.reject(error.to_response()),
                error.to_response().encode()
            );
        }
        Ok(Some(request)) => {
            assert_eq!(handshake.request(), Some(&request));
            assert_eq!(handshake.poll_timeout(), None);
            let leftover = handshake.leftover().to_vec();
            let subprotocol = request.subprotocols().first().cloned();
            let mut accept = Accept::new();
            if let Some(protocol) = &subprotocol {
                accept = accept.with_subprotocol(protocol.clone());
            }
            match request.validate_upgrade() {
                Err(error) => {
                    let error = HandshakeError::Request(error);
                    check_rejection(&error);
                    assert_eq!(handshake.accept(now, &accept).err(), Some(error));
                }
                Ok(()) => {
                    let key = request.key().expect("a valid upgrade has a key");
                    let mut conn = match handshake.accept(now, &accept) {
                        Ok(conn) => conn,
                        Err(error) => panic!("a valid upgrade was not accepted: {error:?}"),
                    };
                    assert_eq!(conn.role(), Role::Server);
                    let out = conn.output();
                    let head_len = head_end(out).expect("a complete 101 head");
                    let head = String::from_utf8_lossy(&out[..head_len]).into_owned();
                    assert!(
                        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
                        "{head:?}"
                    );
                    let accept_line = format!("\r\nSec-WebSocket-Accept: {}\r\n", accept_key(key));
                    assert!(head.contains(&accept_line), "{head:?}");
                    if let Some(protocol) = &subprotocol {
                        let line = format!("\r\nSec-WebSocket-Protocol: {protocol}\r\n");
                        assert!(head.contains(&line), "{head:?}");
                    }
                    conn.consume_output(head_len);
                    let end = Endpoint::with_connection("server", conn, 0, data.len());
                    run_connection(end, &config, &leftover, &chunks[fed..], &mut plan, now);
                }
            }
        }
    }
}

/// Feeds arbitrary bytes to a [`ClientHandshake`] for `ws://example.com/chat` as the server's
/// response, in chunks chosen by the first byte (bit 6: only half the request was written;
/// bit 7: tight limits), then the EOF.
///
/// Any outcome is allowed, but the handshake may only succeed with the right
/// `Sec-WebSocket-Accept`; the connection is then open, its output starts with the rest of the
/// request, and the bytes behind the 101 reach it (checked like [`client_frames`]).
pub fn client_handshake(data: &[u8]) {
    let (control, input) = match data.split_first() {
        Some((&control, input)) => (control, input),
        None => (0, data),
    };
    let config = handshake_config(control);
    let now = Instant::now();
    let url = WsUrl::parse("ws://example.com/chat").expect("a valid URL");
    let keys = Box::new(SeededKeySource::new(CLIENT_SEED));
    let mut handshake = ClientHandshake::new(ClientRequest::new(url), config.clone(), keys, now)
        .expect("a valid request");
    let mut nonce = [0u8; 16];
    SeededKeySource::new(CLIENT_SEED).fill(&mut nonce);
    let key = STANDARD.encode(nonce);

    let request = handshake.output().to_vec();
    let text = String::from_utf8_lossy(&request);
    assert!(
        text.starts_with("GET /chat HTTP/1.1\r\nHost: example.com\r\n")
            && text.contains(&format!("\r\nSec-WebSocket-Key: {key}\r\n"))
            && text.ends_with("\r\n\r\n"),
        "{text:?}"
    );
    let written = if control & 0x40 != 0 {
        request.len() / 2
    } else {
        request.len()
    };
    handshake.consume_output(written);
    assert_eq!(handshake.output(), &request[written..]);

    let mut plan = Plan::new(control, input.len());
    let chunks = plan.chunks(input);
    let mut fed = 0;
    let mut outcome = Ok(None);
    for chunk in &chunks {
        fed += 1;
        outcome = handshake.receive(now, chunk);
        if !matches!(outcome, Ok(None)) {
            break;
        }
    }
    if matches!(outcome, Ok(None)) {
        outcome = handshake.receive_eof(now);
        assert!(
            !matches!(outcome, Ok(Some(ClientOutcome::Upgraded(_)))),
            "receive_eof never completes a 101"
        );
    }
    let established = match outcome {
        Ok(Some(ClientOutcome::Upgraded(established))) => established,
        Ok(Some(ClientOutcome::Rejected(response))) => {
            assert!(
                response.status != 101 && response.body.len() <= config.max_handshake_size,
                "{response:?}"
            );
            assert_eq!(handshake.poll_timeout(), None);
            assert_eq!(
                handshake.receive(now, b"\r\n").err(),
                Some(HandshakeError::Usage(UsageError::Finished)),
                "a rejection is final"
            );
            return;
        }
        Ok(None) => unreachable!(),
        Err(error) => {
            assert!(
                matches!(error, HandshakeError::Response(_)),
                "a bad response is the server's fault: {error:?}"
            );
            assert_eq!(error.status(), 502, "{error:?}");
            assert_eq!(handshake.poll_timeout(), None);
            assert_eq!(
                handshake.receive(now, b"\r\n").err(),
                Some(error),
                "errors are final"
            );
            return;
        }
    };
    assert_eq!(
        handshake.receive(now, b"\r\n").err(),
        Some(HandshakeError::Usage(UsageError::Finished))
    );
    let response = &established.response;
    assert_eq!(response.status, 101);
    assert_eq!(
        response.headers.get("Sec-WebSocket-Accept"),
        Some(accept_key(&key).as_str()),
        "established with the wrong Sec-WebSocket-Accept"
    );
    assert!(response.headers.contains_token("Upgrade", "websocket"));
    assert!(response.headers.contains_token("Connection", "upgrade"));
    assert_eq!(established.subprotocol, None, "no subprotocol was offered");
    let mut conn = established.connection;
    assert_eq!(conn.role(), Role::Client);
    assert_eq!(conn.state(), ConnectionState::Open);
    // The rest of the request goes out first.
    let rest = &request[written..];
    let mut pending = Vec::new();
    while pending.len() < rest.len() {
        let out = conn.output();
        assert!(!out.is_empty(), "the rest of the request was lost");
        let take = out.len().min(rest.len() - pending.len());
        pending.extend_from_slice(&out[..take]);
        conn.consume_output(take);
    }
    assert_eq!(pending, rest, "the rest of the request was garbled");

    // Where the 101 ended in what was fed: after any interim 1xx heads.
    let all: Vec<u8> = chunks[..fed].concat();
    let mut at = 0;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; config.max_headers];
        let mut head = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = head.parse(&all[at..]) else {
            panic!("established without a complete 101 head")
        };
        at += len;
        if head.code == Some(101) {
            break;
        }
        assert!(
            head.code.is_some_and(|c| (100..200).contains(&c)),
            "established after a final status {:?}",
            head.code
        );
    }
    let end = Endpoint::with_connection("client", conn, nonce.len(), data.len());
    run_connection(end, &config, &all[at..], &chunks[fed..], &mut plan, now);
}

// ---------------------------------------------------------------------------------- pair_ops

/// Close codes `pair_ops` tries, including ones that may not be sent.
const CLOSE_CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4999, 1005, 1006, 1015, 999, 1004, 5000,
];

/// One direction of a simulated TCP connection.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    /// The writer sent a FIN (shut down or closed its transport).
    fin: bool,
    /// The reader closed its transport: whatever arrives is dropped.
    reader_gone: bool,
    eof_delivered: bool,
    /// A byte was flipped in flight: what the reader gets is no longer what was sent.
    tampered: bool,
}

/// A client and a server connected by two pipes, with a simulated clock.
struct Pair {
    now: Instant,
    sides: [Endpoint; 2],
    /// `pipes[i]` carries what `sides[i]` writes.
    pipes: [Pipe; 2],
    /// How many of the writer's decoded messages each reader received (index: reader).
    delivered: [usize; 2],
    /// Fragments of the message each side is sending.
    sending: [Option<(DataKind, Vec<u8>)>; 2],
    /// Something other than well-behaved peers happened: tampering, an injected EOF, an abort
    /// or a close timeout. Only then may a close be unclean.
    disturbed: bool,
}

fn pair_config(bits: u8) -> Config {
    let mut config = Config::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
        .with_close_timeout(Duration::from_secs(if bits & 8 != 0 { 1 } else { 5 }));
    if bits & 1 != 0 {
        config = config
            .with_ping_interval(Some(Duration::from_millis(700)))
            .with_pong_timeout(Duration::from_millis(1500));
    }
    if bits & 2 != 0 {
        config = config.with_send_fragment_size(Some(7));
    }
    if bits & 4 != 0 {
        config = config.with_max_output_buffer(200);
    }
    config
}

impl Pair {
    fn new(config_bits: u8, input_len: usize) -> Self {
        let now = Instant::now();
        let client = pair_config(config_bits);
        let server = pair_config(config_bits >> 4);
        Pair {
            now,
            sides: [
                Endpoint::new("client", Role::Client, client, now, input_len),
                Endpoint::new("server", Role::Server, server, now, input_len),
            ],
            pipes: [Pipe::default(), Pipe::default()],
            delivered: [0, 0],
            sending: [None, None],
            disturbed: false,
        }
    }

    /// Drains side `i` after a call and applies its transport actions to the pipes; checks
    /// what it received against what the other side wrote.
    fn drain(&mut self, i: usize) {
        let msgs = self.sides[i].drain();
        let peer = 1 - i;
        for msg in msgs {
            if self.pipes[peer].tampered {
                continue;
            }
            let sent = self.sides[peer].out.msgs.get(self.delivered[i]);
            assert_eq!(
                sent,
                Some(&msg),
                "{} received something the {} did not send (message #{})",
                self.sides[i].what,
                self.sides[peer].what,
                self.delivered[i]
            );
            self.delivered[i] += 1;
        }
        if let Some(outcome) = &self.sides[i].closed
            && let Some(received) = parsed_close(&outcome.received)
            && !self.pipes[peer].tampered
        {
            assert_eq!(
                Some(&End::Close(received.clone())),
                self.sides[peer].out.end.as_ref(),
                "{} reports a Close the {} did not send",
                self.sides[i].what,
                self.sides[peer].what
            );
        }
        let side = &self.sides[i];
        if side.shutdown || side.transport_closed {
            self.pipes[i].fin = true;
        }
        if side.transport_closed {
            self.pipes[peer].reader_gone = true;
            self.pipes[peer].bytes.clear();
        }
        if side.conn.state() != ConnectionState::Open {
            self.sending[i] = None;
        }
    }

    fn write(&mut self, i: usize, limit: usize, vectored: bool) {
        let bytes = self.sides[i].write(limit, vectored);
        if !self.pipes[i].reader_gone {
            self.pipes[i].bytes.extend(bytes);
        }
        self.drain(i);
    }

    /// Delivers up to `limit` bytes written by side `i` to the other side, or the EOF once the
    /// pipe is empty and the writer is done. Returns whether anything happened.
    fn deliver(&mut self, i: usize, limit: usize) -> bool {
        let reader = 1 - i;
        let pipe = &mut self.pipes[i];
        if pipe.reader_gone || pipe.eof_delivered {
            return false;
        }
        if pipe.bytes.is_empty() {
            if !pipe.fin {
                return false;
            }
            pipe.eof_delivered = true;
            self.sides[reader].conn.receive_eof(self.now);
        } else {
            let n = limit.min(pipe.bytes.len());
            let chunk = &pipe.bytes.make_contiguous()[..n];
            self.sides[reader].conn.receive(self.now, chunk);
            pipe.bytes.drain(..n);
        }
        self.drain(reader);
        true
    }

    fn handle_timeouts(&mut self) {
        for i in 0..2 {
            let conn = &self.sides[i].conn;
            if conn.state() == ConnectionState::Closing
                && conn.poll_timeout().is_some_and(|at| at <= self.now)
            {
                self.disturbed = true;
            }
            self.sides[i].conn.handle_timeout(self.now);
            self.drain(i);
        }
    }

    /// Checks a send's result: `Ok` exactly when none of `errors` applies, otherwise one of
    /// them, with nothing changed.
    fn check_send(&self, i: usize, result: Result<(), Error>, errors: &[Error], before: usize) {
        let side = &self.sides[i];
        match result {
            Ok(()) => assert!(
                errors.is_empty(),
                "{}: accepted a send that should fail with one of {errors:?}",
                side.what
            ),
            Err(error) => {
                assert!(
                    errors.contains(&error),
                    "{}: send failed with {error:?}, expected one of {errors:?}",
                    side.what
                );
                assert_eq!(
                    side.conn.output_len(),
                    before,
                    "{}: a failed call changed the output",
                    side.what
                );
            }
        }
    }

    /// The errors any send may meet in the current state.
    fn send_errors(&self, i: usize) -> Vec<Error> {
        let conn = &self.sides[i].conn;
        let mut errors = Vec::new();
        if conn.state() != ConnectionState::Open {
            errors.push(Error::Closed);
        } else if conn.output_len() >= conn.config().max_output_buffer {
            errors.push(Error::OutputFull);
        }
        errors
    }

    fn send_data(&mut self, i: usize, kind: DataKind, payload: &[u8], prepared: bool) {
        let mut errors = self.send_errors(i);
        if self.sending[i].is_some() {
            errors.push(Error::MessageInProgress);
        }
        let before = self.sides[i].conn.output_len();
        let text = String::from_utf8_lossy(payload);
        let (result, msg) = match (kind, prepared) {
            (DataKind::Text, false) => (
                self.sides[i].conn.send_text(&text),
                Msg::Text(text.as_bytes().to_vec()),
            ),
            (DataKind::Binary, false) => (
                self.sides[i].conn.send_binary(payload),
                Msg::Binary(payload.to_vec()),
            ),
            (DataKind::Text, true) => (
                self.sides[i]
                    .conn
                    .send_prepared(&PreparedMessage::text(&text)),
                Msg::Text(text.as_bytes().to_vec()),
            ),
            (DataKind::Binary, true) => (
                self.sides[i]
                    .conn
                    .send_prepared(&PreparedMessage::binary(payload)),
                Msg::Binary(payload.to_vec()),
            ),
        };
        self.check_send(i, result, &errors, before);
        if result.is_ok() {
            self.sides[i].expect_data.push_back(msg);
        }
        self.drain(i);
    }

    fn send_fragment(&mut self, i: usize, kind: DataKind, payload: &[u8], fin: bool) {
        let mut errors = self.send_errors(i);
        if let Some((current, so_far)) = &self.sending[i] {
            if *current != kind {
                errors.push(Error::FragmentTypeMismatch);
            }
            if so_far.len() + payload.len() > LIMIT {
                // The receiver would fail the message (1009); keep the peers well-behaved.
                return;
            }
        }
        let before = self.sides[i].conn.output_len();
        let text = String::from_utf8_lossy(payload);
        let result = match kind {
            DataKind::Text => self.sides[i].conn.send_text_fragment(&text, fin),
            DataKind::Binary => self.sides[i].conn.send_binary_fragment(payload, fin),
        };
        self.check_send(i, result, &errors, before);
        if result.is_ok() {
            let bytes = match kind {
                DataKind::Text => text.as_bytes(),
                DataKind::Binary => payload,
            };
            let (_, so_far) = self.sending[i].get_or_insert_with(|| (kind, Vec::new()));
            so_far.extend_from_slice(bytes);
            if fin && let Some((kind, payload)) = self.sending[i].take() {
                self.sides[i].expect_data.push_back(match kind {
                    DataKind::Text => Msg::Text(payload),
                    DataKind::Binary => Msg::Binary(payload),
                });
            }
        }
        self.drain(i);
    }

    fn send_control(&mut self, i: usize, ping: bool, payload: &[u8]) {
        let mut errors = self.send_errors(i);
        if payload.len() > 125 {
            errors.push(Error::ControlPayloadTooLong);
        }
        let before = self.sides[i].conn.output_len();
        let side = &mut self.sides[i];
        let result = if ping {
            side.conn.send_ping(payload)
        } else {
            side.conn.send_pong(payload)
        };
        if result.is_ok() {
            let queue = if ping {
                &mut side.expect_pings
            } else {
                &mut side.expect_pongs
            };
            queue.push_back(payload.to_vec());
        }
        self.check_send(i, result, &errors, before);
        self.drain(i);
    }

    fn close(&mut self, i: usize, code: CloseCode, reason: &str) {
        let mut errors = Vec::new();
        if self.sides[i].conn.state() != ConnectionState::Open {
            errors.push(Error::Closed);
        }
        if !code.is_valid_on_wire() {
            errors.push(Error::InvalidCloseCode(code.0));
        }
        if 2 + reason.len() > 125 {
            errors.push(Error::ControlPayloadTooLong);
        }
        let before = self.sides[i].conn.output_len();
        let result = self.sides[i].conn.close(self.now, code, reason);
        self.check_send(i, result, &errors, before);
        if result.is_ok() {
            assert_eq!(self.sides[i].conn.state(), ConnectionState::Closing);
        }
        self.drain(i);
    }

    /// Moves every byte both ways until nothing changes (no timer fires). Returns whether
    /// anything moved.
    fn settle(&mut self) -> bool {
        let mut any = false;
        for _ in 0..256 {
            let mut moved = false;
            for i in 0..2 {
                if self.sides[i].conn.output_len() > 0 {
                    self.write(i, usize::MAX, false);
                    moved = true;
                }
                moved |= self.deliver(i, usize::MAX);
            }
            if !moved {
                return any;
            }
            any = true;
        }
        panic!(
            "the pair never settles: {:?}",
            self.sides.each_ref().map(|s| &s.conn)
        );
    }

    /// Ends the run: closes, exchanges everything, lets timers fire, and checks both ended.
    fn finish(&mut self) {
        self.settle();
        if let Some(i) = (0..2).find(|&i| self.sides[i].conn.state() == ConnectionState::Open) {
            self.close(i, CloseCode::NORMAL, "done");
            self.settle();
        }
        let both_closed = |pair: &Pair| pair.sides.iter().all(|s| s.closed.is_some());
        if !self.disturbed {
            // Well-behaved peers finish the closing handshake without any timer.
            assert!(
                both_closed(self),
                "an undisturbed pair did not close: {:?}",
                self.sides.each_ref().map(|s| (&s.conn, &s.closed))
            );
        }
        for _ in 0..16 {
            if both_closed(self) {
                break;
            }
            let next = self
                .sides
                .iter()
                .filter_map(|s| s.conn.poll_timeout())
                .min();
            let Some(next) = next else {
                panic!(
                    "stuck: not closed and no timer: {:?}",
                    self.sides.each_ref().map(|s| (&s.conn, &s.closed))
                );
            };
            self.now = self.now.max(next);
            self.handle_timeouts();
            self.settle();
        }
        assert!(
            both_closed(self),
            "the pair did not close within the bounded steps: {:?}",
            self.sides.each_ref().map(|s| (&s.conn, &s.closed))
        );
        if !self.disturbed {
            let errors: Vec<ProtocolError> = self
                .sides
                .iter()
                .filter_map(|s| s.closed.as_ref().and_then(|o| o.error))
                .collect();
            assert!(
                errors.iter().all(|e| *e == ProtocolError::KeepaliveTimeout),
                "well-behaved peers failed the connection: {errors:?}"
            );
            if errors.is_empty() {
                for i in 0..2 {
                    let (side, peer) = (&self.sides[i], &self.sides[1 - i]);
                    let outcome = side.closed.as_ref().expect("closed");
                    assert!(outcome.clean, "{}: unclean close: {outcome:?}", side.what);
                    assert_eq!(
                        parsed_close(&outcome.received),
                        peer.closed.as_ref().map(|o| o.sent.clone()),
                        "{}: received another Close than the {} sent",
                        side.what,
                        peer.what
                    );
                    assert!(
                        side.expect_data.is_empty()
                            && side.all_pings_written()
                            && side.expect_pongs.is_empty(),
                        "{}: not everything sent was written",
                        side.what
                    );
                    assert_eq!(
                        self.delivered[1 - i],
                        side.out.msgs.len(),
                        "the {} did not receive everything the {} wrote",
                        peer.what,
                        side.what
                    );
                }
            }
        }
    }
}

/// The stateful target: a client and a server connected back to back, driven by a sequence of
/// operations decoded from the input (sends, closes, partial transfers, tampering, EOF, time,
/// abort). Every message must arrive as sent, and the pair must always end up closed.
pub fn pair_ops(data: &[u8]) {
    let mut input = Reader { data };
    let mut pair = Pair::new(input.byte(), data.len());
    let mut ops = 0;
    while !input.is_empty() && ops < 10_000 {
        ops += 1;
        let op = input.byte();
        let i = usize::from(op & 1);
        let kind = (op >> 1) % 60;
        match kind {
            0..=5 => {
                let limit = usize::from(input.byte()).max(1);
                pair.write(i, limit, kind % 2 == 1);
                pair.deliver(i, limit);
            }
            6..=9 => {
                let limit = [usize::MAX, 1, 2, 3][usize::from(kind) - 6];
                pair.write(i, limit, false);
            }
            10..=13 => {
                let n = usize::from(input.byte());
                pair.deliver(i, n.max(1));
            }
            14..=19 => {
                let n = usize::from(input.byte());
                let payload = input.take(n);
                let data_kind = if op & 2 != 0 {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                pair.send_data(i, data_kind, payload, kind >= 18);
            }
            20..=27 => {
                let n = usize::from(input.byte());
                let payload = input.take(n);
                let data_kind = if op & 2 != 0 {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                pair.send_fragment(i, data_kind, payload, op & 4 != 0);
            }
            28..=33 => {
                let n = usize::from(input.byte()) % 140;
                let payload = input.take(n);
                pair.send_control(i, op & 2 != 0, payload);
            }
            34..=37 => {
                let choice = input.byte();
                let code = CloseCode(CLOSE_CODES[usize::from(choice & 15)]);
                let reason = "r".repeat(usize::from(choice >> 4) * 9);
                pair.close(i, code, &reason);
            }
            38..=41 => {
                // Flip bits of one byte in flight.
                let at = usize::from(input.byte());
                let flip = input.byte() | 1;
                let pipe = &mut pair.pipes[i];
                if !pipe.bytes.is_empty() {
                    let at = at % pipe.bytes.len();
                    pipe.bytes[at] ^= flip;
                    pipe.tampered = true;
                    pair.disturbed = true;
                }
            }
            42..=43 => {
                // The network drops: side `i` reads EOF now, and nothing more from its peer.
                let pipe = &mut pair.pipes[1 - i];
                if !pipe.eof_delivered && !pipe.reader_gone {
                    pipe.bytes.clear();
                    pipe.eof_delivered = true;
                    pair.disturbed = true;
                    pair.sides[i].conn.receive_eof(pair.now);
                    pair.drain(i);
                }
            }
            44..=51 => {
                let step = u64::from(input.byte());
                pair.now += Duration::from_millis(step * step / 8);
                pair.handle_timeouts();
            }
            52..=55 => {
                let next = pair
                    .sides
                    .iter()
                    .filter_map(|s| s.conn.poll_timeout())
                    .min();
                if let Some(next) = next {
                    pair.now = pair.now.max(next);
                }
                pair.handle_timeouts();
            }
            56..=57 => {
                if pair.sides[i].conn.state() != ConnectionState::Closed {
                    pair.disturbed = true;
                }
                pair.sides[i].conn.abort();
                pair.drain(i);
            }
            _ => {
                pair.settle();
            }
        }
    }
    pair.finish();
}

// ---------------------------------------------------------------------------- deflate_frames

/// Most bytes of one message a round trip sends, and of all its messages together, so that an
/// input stays well under a millisecond.
const ROUND_TRIP_MESSAGE: usize = 4 << 10;
const ROUND_TRIP_TOTAL: usize = 16 << 10;
const ROUND_TRIP_MESSAGES: usize = 64;

/// Feeds compressed messages (permessage-deflate, RFC 7692) to a connection that negotiated
/// the extension.
///
/// Input: a control byte as for [`server_frames`] (how the bytes are cut, short writes, and
/// with bit 7 tight limits: frames of 100 bytes, messages of 300, 4 fragments), a setup byte,
/// a window byte, then the rest. Setup bits 0 and 1 set `server_no_context_takeover` and
/// `client_no_context_takeover`; bit 2 makes the receiver the client (frames unmasked), else
/// it is the server (frames masked); bit 3 chooses a round trip. The window byte gives
/// `server_max_window_bits` (bits 0-2, plus 8) and `client_max_window_bits` (bits 4-6).
///
/// * Raw: the rest is what the peer sends.
/// * Round trip: the rest is cut into messages that a connection of the other role, with the
///   same parameters and a compression threshold of 0, sends (`send_round_trip`). Its output
///   must be valid frames with RSV1 on the first frame of each compressed message only, and
///   inflate to what was sent.
///
/// Either way the receiver is fed the bytes whole and in the control byte's chunks: both runs
/// must match the reference decoder (which inflates on its own), and so each other, and hold
/// no more buffer than the limits allow (`receive_memory_bound`). With normal limits a round
/// trip delivers every message intact and in order; with tight ones, those before the first
/// that breaks a limit, which fails the connection with 1009.
pub fn deflate_frames(data: &[u8]) {
    let mut input = Reader { data };
    let control = input.byte();
    let setup = input.byte();
    let windows = input.byte();
    let params = DeflateParams {
        server_no_context_takeover: setup & 1 != 0,
        client_no_context_takeover: setup & 2 != 0,
        server_max_window_bits: 8 + (windows & 7),
        client_max_window_bits: 8 + ((windows >> 4) & 7),
    };
    let (role, peer) = if setup & 4 != 0 {
        (Role::Client, Role::Server)
    } else {
        (Role::Server, Role::Client)
    };
    let mut config = Config::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
        .with_max_fragments(1024);
    let tight = control & 0x80 != 0;
    if tight {
        config = config
            .with_max_frame_size(100)
            .with_max_message_size(300)
            .with_max_fragments(4);
    }
    if setup & 8 == 0 {
        check_compressed_receive(role, params, &config, input.data, control, data.len());
        return;
    }
    let sent = send_round_trip(peer, params, setup, &mut input);
    let reference =
        check_compressed_receive(role, params, &config, &sent.wire, control, data.len());
    assert_ne!(
        reference.end,
        Some(End::Unknown),
        "a round trip left what the reference predicts"
    );
    let expected_end = sent.close.map(|frame| End::Close(Some(frame)));
    assert!(
        sent.msgs.starts_with(&reference.msgs),
        "a round trip changed or reordered messages"
    );
    if reference.msgs.len() < sent.msgs.len() || reference.end != expected_end {
        // Only a message over a tight limit may stop it (RFC 6455 §7.4.1: 1009).
        assert!(
            tight && reference.end == Some(End::Fail(CloseCode::MESSAGE_TOO_BIG)),
            "a round trip delivered {} of {} messages and ended with {:?} ({:?})",
            reference.msgs.len(),
            sent.msgs.len(),
            reference.end,
            reference.failure
        );
    }
}

/// Feeds `wire` to a connection of `role` that agreed on `params`, whole and then in the chunks
/// of `control` (see [`Plan`]); checks both runs against the reference decoder and each other.
/// Returns the reference.
fn check_compressed_receive(
    role: Role,
    params: DeflateParams,
    config: &Config,
    wire: &[u8],
    control: u8,
    input_len: usize,
) -> Decoder {
    let now = Instant::now();
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut reference = Decoder::input_of(role, config);
    reference.inflater = Some(RefInflater::new(peer, params));
    reference.feed(wire);
    let what = match role {
        Role::Server => "server",
        Role::Client => "client",
    };
    let mut runs = Vec::with_capacity(2);
    // Whole (largest chunk: all), then cut as the control byte says.
    let plans = if control & 7 == 0 {
        vec![control]
    } else {
        vec![control & !7, control]
    };
    for control in plans {
        let mut plan = Plan::new(control, wire.len());
        let chunks = plan.chunks(wire);
        let keys = Box::new(SeededKeySource::new(CLIENT_SEED));
        let conn =
            Connection::with_key_source(role, config.clone(), keys, now).with_compression(params);
        assert_eq!(conn.compression(), Some(params));
        let mut end = Endpoint::with_connection(what, conn, 0, input_len);
        // What it receives is `wire`: in a round trip, more than the input.
        end.memory_bound = receive_memory_bound(config, wire.len().max(input_len));
        let (received, outcome) = drive(&mut end, config.close_timeout, &chunks, &mut plan, now);
        check_against_reference(&end, &received, &outcome, &reference);
        runs.push((received, outcome));
    }
    if let [(whole_msgs, whole), (split_msgs, split)] = &runs[..] {
        assert_eq!(
            whole_msgs, split_msgs,
            "{what}: the events depend on how the input was cut"
        );
        // They may differ only as `same_failure` allows: two violations in one read.
        let inflate_error = |outcome: &CloseOutcome| {
            use ProtocolError::{InvalidCompressedData, InvalidUtf8, MessageTooLarge};
            matches!(
                outcome.error,
                Some(InvalidCompressedData | InvalidUtf8 | MessageTooLarge)
            )
        };
        let choice = match reference.end {
            Some(End::Unknown) => inflate_error(whole) && inflate_error(split),
            _ => reference.failure.is_some_and(|(_, inflating)| inflating),
        };
        assert!(
            whole == split || choice,
            "{what}: the close depends on how the input was cut: whole {whole:?}, cut {split:?}"
        );
    }
    reference
}

/// Most buffer capacity ([`Connection::buffer_capacity`]) a connection that inflates messages
/// may hold, having received `input_len` bytes: much tighter than [`memory_bound`], so that a
/// message inflated past its limit (a deflate bomb) is caught.
fn receive_memory_bound(config: &Config, input_len: usize) -> usize {
    // The inflated message grows to one byte past the limit, which shows it is too large.
    config.max_message_size + 1
        // The codec: a decompressor (it counts 42 KiB) and the window of the earlier messages
        // kept for context takeover (up to 32 KiB, grown by doubling).
        + (112 << 10)
        // Buffers filled from the input (uncompressed messages, control frames, the unmasked
        // copy of one read, queued Pongs), each grown by doubling.
        + 8 * input_len
}

/// What the sending side of a round trip wrote, and what the receiver must make of it.
struct RoundTrip {
    wire: Vec<u8>,
    /// Data messages and Pings, in order.
    msgs: Vec<Msg>,
    /// The Close frame sent last, if any.
    close: Option<CloseFrame>,
}

/// Sends messages cut from `input` on a connection of `role` that agreed on `params`, with a
/// compression threshold of 0; the setup byte's bits 4-5 choose the level (6, 1, 9 or 0), bit 6
/// frames of at most 50 bytes, bit 7 a Close at the end.
///
/// Each message takes a byte `how` and a length `n`, then `n` bytes repeated `(how >> 3) + 1`
/// times (so that they compress), at most [`ROUND_TRIP_MESSAGE`]; `how` bit 0 makes it binary,
/// else text (the bytes made UTF-8 lossily), bits 1-2 send it whole, prepared, in two
/// uncompressed fragments, or after a Ping.
///
/// Checks that the output is valid framing (RFC 6455 §5) with RSV1 on the first frame of a
/// compressed message only (RFC 7692 §6), inflates to the messages sent, and compresses
/// every message sent whole when this direction takes over context; without, a message is
/// compressed only if that makes it smaller.
fn send_round_trip(role: Role, params: DeflateParams, setup: u8, input: &mut Reader) -> RoundTrip {
    let now = Instant::now();
    let level = [6, 1, 9, 0][usize::from((setup >> 4) & 3)];
    let deflate = DeflateConfig::default().with_threshold(0).with_level(level);
    let mut config = Config::default().with_compression(Some(deflate));
    if setup & 0x40 != 0 {
        config = config.with_send_fragment_size(Some(50));
    }
    let keys = Box::new(SeededKeySource::new(CLIENT_SEED));
    let conn = Connection::with_key_source(role, config, keys, now).with_compression(params);
    let (what, takeover) = match role {
        Role::Server => ("sending server", !params.server_no_context_takeover),
        Role::Client => ("sending client", !params.client_no_context_takeover),
    };
    let mut end = Endpoint::with_connection(what, conn, 0, input.data.len());
    end.out.inflater = Some(RefInflater::new(role, params));
    let mut sent = RoundTrip {
        wire: Vec::new(),
        msgs: Vec::new(),
        close: None,
    };
    // For each data message: whether it was sent in fragments (never compressed), and its size.
    let mut data: Vec<(bool, usize)> = Vec::new();
    let mut total = 0;
    while !input.is_empty() && data.len() < ROUND_TRIP_MESSAGES && total < ROUND_TRIP_TOTAL {
        let how = input.byte();
        let n = usize::from(input.byte());
        let mut bytes = input.take(n).repeat(usize::from(how >> 3) + 1);
        bytes.truncate(ROUND_TRIP_MESSAGE.min(ROUND_TRIP_TOTAL - total));
        total += bytes.len();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let binary = how & 1 != 0;
        let msg = if binary {
            Msg::Binary(bytes.clone())
        } else {
            Msg::Text(text.as_bytes().to_vec())
        };
        let conn = &mut end.conn;
        let whole = |conn: &mut Connection| {
            if binary {
                conn.send_binary(&bytes)
            } else {
                conn.send_text(&text)
            }
        };
        let way = (how >> 1) & 3;
        let result = match way {
            0 => whole(conn),
            1 if binary => conn.send_prepared(&PreparedMessage::binary(&bytes)),
            1 => conn.send_prepared(&PreparedMessage::text(&text)),
            2 if binary => {
                let (a, b) = bytes.split_at(bytes.len() / 2);
                conn.send_binary_fragment(a, false)
                    .and_then(|()| conn.send_binary_fragment(b, true))
            }
            2 => {
                let mut mid = text.len() / 2;
                while !text.is_char_boundary(mid) {
                    mid -= 1;
                }
                conn.send_text_fragment(&text[..mid], false)
                    .and_then(|()| conn.send_text_fragment(&text[mid..], true))
            }
            _ => {
                let ping = &bytes[..bytes.len().min(125)];
                end.expect_pings.push_back(ping.to_vec());
                sent.msgs.push(Msg::Ping(ping.to_vec()));
                end.conn.send_ping(ping).and_then(|()| whole(&mut end.conn))
            }
        };
        if let Err(error) = result {
            panic!("{what}: a send failed: {error:?}");
        }
        end.expect_data.push_back(msg.clone());
        sent.msgs.push(msg);
        let size = if binary { bytes.len() } else { text.len() };
        data.push((way == 2, size));
        sent.wire.extend_from_slice(end.write(usize::MAX, false));
        end.drain();
    }
    if setup & 0x80 != 0 {
        let frame = CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".to_owned(),
        };
        if let Err(error) = end.conn.close(now, frame.code, &frame.reason) {
            panic!("{what}: close failed: {error:?}");
        }
        sent.wire.extend_from_slice(end.write(usize::MAX, false));
        end.drain();
        sent.close = Some(frame);
    }
    assert!(
        end.expect_data.is_empty() && end.all_pings_written() && end.conn.output_len() == 0,
        "{what}: not everything sent was written"
    );
    assert_eq!(
        end.out.wire.len(),
        data.len(),
        "{what}: data messages written"
    );
    for (i, (&(compressed, wire_len), &(fragments, size))) in
        end.out.wire.iter().zip(&data).enumerate()
    {
        let as_expected = if fragments {
            // Fragments go out as they are given: any message may go uncompressed (RFC 7692 §6).
            !compressed
        } else if takeover {
            // An empty message may go out as it is: a second sync flush without input in
            // between gives zlib nothing to do (Z_BUF_ERROR), so the codec sends it plain.
            compressed || size == 0
        } else {
            !compressed || (wire_len as usize) < size
        };
        assert!(
            as_expected,
            "{what}: message #{i} ({size} bytes{}) went out {} ({wire_len} bytes on the wire)",
            if fragments { ", in fragments" } else { "" },
            if compressed {
                "compressed"
            } else {
                "uncompressed"
            }
        );
    }
    sent
}

/// The checked-in seeds of a target (`fuzz/seeds/<target>/`), each with its path, in name order.
/// Panics if the directory cannot be read: the seeds are part of the repository.
pub fn seed_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("seed file");
            (path.display().to_string(), data)
        })
        .collect()
}

/// Runs `body` on every seed of `target`; panics naming the first seed that fails, and if
/// there are none.
pub fn replay_seeds(target: &str, body: fn(&[u8])) {
    let seeds = seed_corpus(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for (name, data) in seeds {
        let result = std::panic::catch_unwind(|| body(&data));
        assert!(result.is_ok(), "{target}: seed {name} failed");
    }
}

// ------------------------------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;

    type Body = fn(&[u8]);

    /// The targets, by the name of their seed directory.
    const TARGETS: [(&str, Body); 6] = [
        ("server_frames", server_frames),
        ("client_frames", client_frames),
        ("server_handshake", server_handshake),
        ("client_handshake", client_handshake),
        ("pair_ops", pair_ops),
        ("deflate_frames", deflate_frames),
    ];

    /// Pseudo-random inputs, some pure noise, some mutated seeds.
    fn run_random(target: &str, body: Body, count: u64) {
        let seeds = seed_corpus(target);
        for n in 0..count {
            let mut rng = XorShift::new(n ^ 0xf00d);
            let mut data = if n % 2 == 0 || seeds.is_empty() {
                let len = rng.below(300);
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                seeds[rng.below(seeds.len())].1.clone()
            };
            for _ in 0..rng.below(6) {
                if data.is_empty() {
                    break;
                }
                let at = rng.below(data.len());
                match rng.below(3) {
                    0 => data[at] = rng.next() as u8,
                    1 => data.insert(at, rng.next() as u8),
                    _ => {
                        data.remove(at);
                    }
                }
            }
            let result = std::panic::catch_unwind(|| body(&data));
            assert!(
                result.is_ok(),
                "{target}: pseudo-random input #{n} failed: {}",
                hex(&data)
            );
        }
    }

    fn hex(data: &[u8]) -> String {
        data.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn endpoint(keepalive: bool) -> Endpoint {
        let config =
            Config::default().with_ping_interval(keepalive.then(|| Duration::from_millis(700)));
        Endpoint::new("server", Role::Server, config, Instant::now(), 0)
    }

    /// An application Ping with a keepalive's payload, queued behind two keepalives: the first
    /// keepalive looks like the application's Ping until the third Ping shows otherwise.
    #[test]
    fn ping_oracle_follows_both_readings_of_an_ambiguous_ping() {
        let mut side = endpoint(true);
        side.expect_pings.push_back(1u64.to_be_bytes().to_vec());
        for counter in [1u64, 2, 1] {
            side.match_ping(&counter.to_be_bytes());
        }
        assert!(side.all_pings_written());
    }

    #[test]
    #[should_panic(expected = "unexpected Ping")]
    fn ping_oracle_refuses_a_repeated_keepalive() {
        let mut side = endpoint(true);
        for counter in [1u64, 2, 1] {
            side.match_ping(&counter.to_be_bytes());
        }
    }

    #[test]
    #[should_panic(expected = "unexpected Ping")]
    fn ping_oracle_refuses_keepalives_when_keepalive_is_off() {
        endpoint(false).match_ping(&1u64.to_be_bytes());
    }

    #[test]
    fn ping_oracle_sees_an_explicit_ping_missing() {
        let mut side = endpoint(true);
        side.expect_pings.push_back(b"app".to_vec());
        side.match_ping(&1u64.to_be_bytes());
        assert!(!side.all_pings_written());
        side.match_ping(b"app");
        assert!(side.all_pings_written());
    }

    #[test]
    fn fuzz_seed_corpora() {
        for (target, body) in TARGETS {
            replay_seeds(target, body);
        }
    }

    /// Every cargo-fuzz target has seeds, and every seed directory is replayed: here, or (for
    /// the targets whose bodies need `ws-api`) by `cargo test --manifest-path fuzz/Cargo.toml`.
    #[test]
    fn fuzz_every_target_has_replayed_seeds() {
        const REPLAYED_IN_FUZZ_CRATE: [&str; 1] = ["http_request"];
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let names = |dir: &str, suffix: &str| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(fuzz.join(dir))
                .expect("fuzz directory")
                .filter_map(|entry| {
                    let name = entry.expect("directory entry").file_name();
                    Some(name.to_str()?.strip_suffix(suffix)?.to_owned())
                })
                .collect();
            names.sort();
            names
        };
        let mut replayed: Vec<String> = TARGETS
            .iter()
            .map(|(name, _)| *name)
            .chain(REPLAYED_IN_FUZZ_CRATE)
            .map(str::to_owned)
            .collect();
        replayed.sort();
        assert_eq!(names("seeds", ""), replayed, "seed directories");
        assert_eq!(names("fuzz_targets", ".rs"), replayed, "fuzz targets");
    }

    #[test]
    fn fuzz_server_frames_random() {
        run_random("server_frames", server_frames, 3000);
    }

    #[test]
    fn fuzz_client_frames_random() {
        run_random("client_frames", client_frames, 3000);
    }

    #[test]
    fn fuzz_server_handshake_random() {
        run_random("server_handshake", server_handshake, 2000);
    }

    #[test]
    fn fuzz_client_handshake_random() {
        run_random("client_handshake", client_handshake, 2000);
    }

    #[test]
    fn fuzz_pair_ops_random() {
        run_random("pair_ops", pair_ops, 3000);
    }

    #[test]
    fn fuzz_deflate_frames_random() {
        run_random("deflate_frames", deflate_frames, 3000);
    }

    /// RFC 7692 §7.2.3: the reference inflates the examples as the RFC says.
    #[test]
    fn fuzz_reference_inflater_agrees_with_rfc_examples() {
        let decode = |stream: &[u8], no_takeover: bool| {
            let params = DeflateParams {
                server_no_context_takeover: no_takeover,
                ..DeflateParams::default()
            };
            let mut d = Decoder::input_of(Role::Client, &Config::default());
            d.inflater = Some(RefInflater::new(Role::Server, params));
            d.feed(stream);
            (d.msgs, d.end)
        };
        let hello = || Msg::Text(b"Hello".to_vec());
        const HELLO: &[u8] = b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00";
        for stream in [
            HELLO,
            b"\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00",
            b"\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00",
            b"\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00",
            b"\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00",
        ] {
            assert_eq!(
                decode(stream, false),
                (vec![hello()], None),
                "{stream:02x?}"
            );
        }
        // §7.2.3.2: the second message refers back to the first, so only with context
        // takeover.
        let pair = [HELLO, b"\xc1\x05\xf2\x00\x11\x00\x00"].concat();
        assert_eq!(decode(&pair, false), (vec![hello(), hello()], None));
        assert_eq!(
            decode(&pair, true),
            (vec![hello()], Some(End::Fail(CloseCode::INVALID_PAYLOAD)))
        );
        // §7.2.3.6: an empty message.
        assert_eq!(
            decode(b"\xc1\x01\x00", false),
            (vec![Msg::Text(Vec::new())], None)
        );
    }

    #[test]
    fn fuzz_reference_decoder_agrees_with_rfc_examples() {
        // RFC 6455 §5.7: unmasked and masked "Hello".
        let mut d = Decoder::input_of(Role::Client, &Config::default());
        d.feed(b"\x81\x05Hello");
        assert_eq!(d.msgs, [Msg::Text(b"Hello".to_vec())]);
        let mut d = Decoder::input_of(Role::Server, &Config::default());
        d.feed(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        assert_eq!(d.msgs, [Msg::Text(b"Hello".to_vec())]);
        // A fragmented text message, then a Close with 1000.
        let mut d = Decoder::input_of(Role::Client, &Config::default());
        d.feed(b"\x01\x03Hel\x80\x02lo\x88\x02\x03\xe8");
        assert_eq!(d.msgs, [Msg::Text(b"Hello".to_vec())]);
        assert_eq!(
            d.end,
            Some(End::Close(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: String::new()
            })))
        );
        // Invalid UTF-8 fails before the frame is complete.
        let mut d = Decoder::input_of(Role::Client, &Config::default());
        d.feed(b"\x81\x05ab\xff");
        assert_eq!(d.end, Some(End::Fail(CloseCode::INVALID_PAYLOAD)));
        // A character split across three fragments, fed whole or byte by byte.
        let stream = b"\x01\x02a\xe2\x00\x01\x82\x80\x02\xac!";
        for step in [stream.len(), 1] {
            let mut d = Decoder::input_of(Role::Client, &Config::default());
            stream.chunks(step).for_each(|chunk| d.feed(chunk));
            assert_eq!(d.msgs, [Msg::Text("a\u{20ac}!".as_bytes().to_vec())]);
            assert_eq!(d.end, None);
        }
        // A broken continuation of a character begun in an earlier fragment fails in the next
        // fragment, before it is complete, and a character left unfinished fails at the end.
        for stream in [
            &b"\x01\x02a\xe2\x80\x03(xx"[..],
            b"\x01\x02a\xe2\x80\x01\x82",
        ] {
            let mut d = Decoder::input_of(Role::Client, &Config::default());
            d.feed(&stream[..stream.len() - 1]);
            d.feed(&stream[stream.len() - 1..]);
            assert_eq!(d.end, Some(End::Fail(CloseCode::INVALID_PAYLOAD)));
        }
    }
}

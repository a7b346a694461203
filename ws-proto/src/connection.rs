//! The WebSocket connection state machine (RFC 6455 §5 to §7), after the opening handshake.
//!
//! # Theory of operation
//!
//! ```text
//!            close() / peer Close / failure
//!   Open ────────────────────────────────────▶ Closing ──── EOF, timeout ───▶ Closed
//!     │     (our Close frame is queued the              (server: FIN once          (Event::Closed,
//!     │      moment we enter Closing)                    the handshake is done)     TransportAction::Close)
//!     └──────────── EOF, abort() ───────────────────────────────────────────────────▶ Closed
//! ```
//!
//! * Entering `Closing` always queues exactly one Close frame: ours (`close()`), the echo of the
//!   peer's (§5.5.1), or the one announcing a failure (§7.1.7).
//! * The server shuts down its write side once its Close frame is written and the close
//!   handshake is complete (or the connection failed), because the server closes TCP first
//!   (§7.1.1). The client waits for the server's EOF.
//! * `Closed` is reached once: on EOF after the output drained, on the close timeout, on EOF in
//!   the open state (abnormal, 1006), or on `abort()`. It emits [`Event::Closed`] and
//!   [`TransportAction::Close`], each exactly once.
//! * After failing the connection, further input is discarded (its framing may be broken).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::close::{CloseFrame, CloseInitiator, CloseOutcome, PeerClose};
use crate::deflate::{CompressorKind, Deflate, DeflateParams, InflateError};
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, extend_masked};
use crate::output::Output;
use crate::rng::{KeySource, default_key_source};
use crate::utf8::Utf8Validator;
use crate::{CloseCode, Config, Error, ProtocolError, Role, Utf8Bytes, deadline};

/// Something the caller must hand on: a message, a control frame, or the end of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A Ping arrived. The Pong is sent automatically (RFC 6455 §5.5.2); this is for observers.
    Ping(Bytes),
    /// A Pong arrived (RFC 6455 §5.5.3).
    Pong(Bytes),
    /// The connection has ended; this is the last event, emitted exactly once.
    Closed(CloseOutcome),
}

/// What the caller must do to the transport, in addition to writing the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportAction {
    /// Everything queued has been written: send a FIN (shut down the write half) and keep
    /// reading until EOF, so the peer gets our Close frame before the socket goes away.
    ShutdownWrite,
    /// Close the transport now. Returned once, together with [`Event::Closed`].
    Close,
}

/// The coarse state of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Messages flow both ways.
    Open,
    /// A Close frame was sent; waiting for the peer's and for the transport to end.
    Closing,
    /// The connection is over; [`Event::Closed`] has been queued.
    Closed,
}

/// Which data type a message or fragment carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Arbitrary bytes (opcode 0x2).
    Binary,
}

impl DataKind {
    fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
}

/// A data message encoded once, to be sent on many connections with
/// [`Connection::send_prepared`] (a broadcast encodes its frame once).
///
/// With permessage-deflate, the message is also compressed once, the first time a connection
/// needs it, for every connection that compresses each message afresh (no context takeover,
/// the default) with the same window bits and level. A connection with other settings
/// compresses its own copy; one with context takeover always does, since its compressor's
/// history is its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedMessage {
    kind: DataKind,
    /// The unmasked frame as a server sends it.
    frame: Bytes,
    header_len: usize,
    /// The compressed frame, made on first use; shared by clones.
    compressed: Arc<OnceLock<CompressedFrame>>,
}

/// A prepared message compressed for one compressor setting.
#[derive(Debug, PartialEq, Eq)]
struct CompressedFrame {
    kind: CompressorKind,
    /// The unmasked frame with RSV1 set and its header length; `None` if compressing did not
    /// make the message smaller.
    frame: Option<(Bytes, usize)>,
}

impl PreparedMessage {
    /// Encodes a text message.
    pub fn text(text: &str) -> Self {
        Self::encode(DataKind::Text, text.as_bytes())
    }

    /// Encodes a binary message.
    pub fn binary(data: &[u8]) -> Self {
        Self::encode(DataKind::Binary, data)
    }

    /// The message's data type.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.frame[self.header_len..]
    }

    fn encode(kind: DataKind, payload: &[u8]) -> Self {
        let (frame, header_len) = whole_frame(kind, 0, payload);
        PreparedMessage {
            kind,
            frame,
            header_len,
            compressed: Arc::default(),
        }
    }

    /// The compressed frame for connections of `kind`, compressing on first use, with its
    /// header length: `None` if another kind got there first, `Some(None)` if compressing does
    /// not make the message smaller.
    fn compressed_for(&self, kind: CompressorKind) -> Option<Option<(Bytes, usize)>> {
        let made = self.compressed.get_or_init(|| CompressedFrame {
            kind,
            frame: Deflate::compress_independent(kind, self.payload())
                .map(|payload| whole_frame(self.kind, RSV1, &payload)),
        });
        (made.kind == kind).then(|| made.frame.clone())
    }
}

/// An unmasked single-frame message, as a server sends it, and its header length.
fn whole_frame(kind: DataKind, rsv: u8, payload: &[u8]) -> (Bytes, usize) {
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode: kind.opcode(),
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let header_len = header.encode(&mut head);
    let mut frame = BytesMut::with_capacity(header_len + payload.len());
    frame.extend_from_slice(&head[..header_len]);
    frame.extend_from_slice(payload);
    (frame.freeze(), header_len)
}

/// One WebSocket connection after the opening handshake: a sans-IO state machine.
///
/// Methods come in families (see the [crate docs](crate) for the drive contract):
///
/// * getters: [`role`](Self::role), [`state`](Self::state), [`config`](Self::config),
///   [`output_len`](Self::output_len), [`can_send`](Self::can_send);
/// * inputs: [`receive`](Self::receive), [`receive_eof`](Self::receive_eof),
///   [`handle_timeout`](Self::handle_timeout);
/// * commands: [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///   [`send_text_fragment`](Self::send_text_fragment),
///   [`send_binary_fragment`](Self::send_binary_fragment), [`send_ping`](Self::send_ping),
///   [`send_pong`](Self::send_pong), [`close`](Self::close), [`abort`](Self::abort);
/// * outputs: [`output`](Self::output) / [`output_vectored`](Self::output_vectored) and
///   [`consume_output`](Self::consume_output), [`poll_transport`](Self::poll_transport),
///   [`poll_event`](Self::poll_event), [`poll_timeout`](Self::poll_timeout).
pub struct Connection {
    role: Role,
    config: Config,
    keys: Box<dyn KeySource>,
    state: State,
    rx: Receiver,
    output: Output,
    /// The latest Ping payload still to be answered; older ones are superseded (§5.5.3 allows
    /// answering only the most recent), so automatic replies never pile up.
    pending_pong: Option<Bytes>,
    /// Events in order, with the peer's Close and protocol failures kept in place: they take
    /// effect when the caller polls up to them (see [`Queued`]).
    events: VecDeque<Queued>,
    /// Payload bytes of the messages in `events`, for the caller's receive backpressure.
    event_bytes: usize,
    /// Set once, when the peer's Close frame or a violation is parsed, when the connection fails
    /// (a violation polled, a keepalive timeout) or when it ends: input after that is discarded
    /// (RFC 6455 §5.5.1, §7.1.7). The one flag [`is_reading`](Self::is_reading) consults.
    input_stopped: bool,
    shutdown_write: Pending,
    close_transport: Pending,
    /// The data type of the fragmented message being sent, if one is unfinished.
    sending: Option<DataKind>,
    keepalive: Keepalive,
    /// permessage-deflate, when negotiated (RFC 7692).
    deflate: Option<Box<Deflate>>,
}

/// Receive-side framing state.
#[derive(Default)]
struct Receiver {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<InFrame>,
    message: Option<InMessage>,
    /// Payload of the data message being received; split off and frozen when it completes.
    message_buf: BytesMut,
    /// The inflated payload of a compressed message being received.
    inflated: Vec<u8>,
    /// The size of the last large message, up to [`REGROW_MAX`]: the next one reserves that
    /// much at once instead of growing (and copying) step by step. Never more than a peer has
    /// actually sent, and never sized from a declared length alone.
    regrow: usize,
    control_buf: BytesMut,
    utf8: Utf8Validator,
}

#[derive(Clone, Copy)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    remaining: u64,
    /// Payload bytes of this frame already received: the mask offset of the next byte.
    received: usize,
}

#[derive(Clone, Copy)]
struct InMessage {
    kind: DataKind,
    fragments: usize,
    /// RSV1 was set on its first frame: the payload is deflate data (RFC 7692 §6).
    compressed: bool,
    /// Payload bytes received so far, compressed or not.
    received: u64,
}

enum State {
    Open,
    Closing(Box<Closing>),
    Closed,
}

struct Closing {
    initiator: CloseInitiator,
    /// Our Close frame (queued on entering this state); `None` if it carried no code.
    sent: Option<CloseFrame>,
    received: PeerClose,
    error: Option<ProtocolError>,
    eof: bool,
    deadline: Instant,
}

impl Closing {
    /// Whether this endpoint may shut down its write side once the output is drained.
    fn done_sending(&self) -> bool {
        self.received.is_received() || self.initiator == CloseInitiator::Failure
    }
}

/// A one-shot signal to the caller: armed, then taken once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    Idle,
    Armed,
    Taken,
}

/// An entry of the event queue.
///
/// A peer's Close frame and a protocol violation do not act the moment they are parsed: they
/// wait in line behind the messages that arrived before them. An application that answers each
/// message as it polls it thus gets its answers out before our Close (Autobahn 3.2, 4.1.3, 5.15:
/// a message, then a bad frame, in one TCP segment, expect the message's echo first).
enum Queued {
    Event(Event),
    Fail(Instant, ProtocolError),
    PeerClose(Instant, Option<CloseFrame>),
}

struct Keepalive {
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    pings_sent: u64,
}

impl Connection {
    /// A connection whose opening handshake has completed, with the default key source.
    ///
    /// Most callers get their connection from the handshake machines instead, which also carry
    /// over any bytes that arrived after the handshake.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        Self::with_key_source(role, config, default_key_source(), now)
    }

    /// Like [`Connection::new`], with mask keys drawn from `keys` (a server never uses them).
    pub fn with_key_source(
        role: Role,
        config: Config,
        keys: Box<dyn KeySource>,
        now: Instant,
    ) -> Self {
        let next_ping = config.ping_interval.map(|interval| deadline(now, interval));
        Connection {
            role,
            config,
            keys,
            state: State::Open,
            rx: Receiver::default(),
            output: Output::default(),
            pending_pong: None,
            events: VecDeque::new(),
            event_bytes: 0,
            input_stopped: false,
            shutdown_write: Pending::Idle,
            close_transport: Pending::Idle,
            sending: None,
            keepalive: Keepalive {
                next_ping,
                pong_deadline: None,
                pings_sent: 0,
            },
            deflate: None,
        }
    }

    /// Turns on permessage-deflate with the parameters both ends agreed on (RFC 7692), with the
    /// level and threshold of [`Config::compression`] (or the defaults). The handshake machines
    /// do this themselves; it is for callers that negotiate the extension on their own. Call it
    /// before any byte is received or sent.
    #[must_use]
    pub fn with_compression(mut self, params: DeflateParams) -> Self {
        let settings = self.config.compression.unwrap_or_default();
        self.deflate = Some(Box::new(Deflate::new(self.role, params, &settings)));
        self
    }

    // ----------------------------------------------------------------------------- getters

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection's coarse state.
    pub fn state(&self) -> ConnectionState {
        match self.state {
            State::Open => ConnectionState::Open,
            State::Closing(_) => ConnectionState::Closing,
            State::Closed => ConnectionState::Closed,
        }
    }

    /// The limits and timeouts in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The permessage-deflate parameters agreed in the handshake, or `None` if the connection
    /// does not compress.
    pub fn compression(&self) -> Option<DeflateParams> {
        self.deflate.as_ref().map(|deflate| deflate.params())
    }

    /// Bytes queued for the socket.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// Whether the adapter should read the transport now: the single flow-control rule every
    /// adapter follows. False once the connection is closed, and while it still processes
    /// input but the events waiting for the application exceed [`Config::read_ahead`]. Once
    /// input is only discarded (after the peer's Close or a violation) reading goes on until
    /// EOF, which the close handshake waits for.
    ///
    /// A full output queue does not stop reading: what reading adds to the output is bounded
    /// anyway (automatic Pongs replace each other, one Close echo), and stopping would
    /// deadlock two peers that both send more than their queues hold before receiving.
    ///
    /// Re-check it after [`poll_event`](Self::poll_event): taking events turns it back on.
    pub fn wants_read(&self) -> bool {
        match &self.state {
            State::Closed => false,
            _ if !self.is_reading() => true,
            _ => self.event_bytes < self.config.read_ahead,
        }
    }

    /// Bytes of buffer capacity this connection holds for receiving and sending, not counting
    /// events already handed out. After a large message it falls back below a small bound
    /// (64 KiB per buffer), so an idle connection does not keep the memory of its largest
    /// message. For monitoring and tests.
    pub fn buffer_capacity(&self) -> usize {
        self.rx.message_buf.capacity()
            + self.rx.inflated.capacity()
            + self.rx.control_buf.capacity()
            + self.output.capacity()
            + self
                .deflate
                .as_ref()
                .map_or(0, |deflate| deflate.capacity())
    }

    /// Whether a data send would be accepted now: the connection is open and the output queue
    /// is below [`Config::max_output_buffer`]. Adapters wait for this to apply backpressure.
    pub fn can_send(&self) -> bool {
        matches!(self.state, State::Open) && self.output.len() < self.config.max_output_buffer
    }

    // ------------------------------------------------------------------------------ inputs

    /// Feeds bytes read from the transport.
    ///
    /// Never fails: a peer that breaks the protocol gets a Close frame with the matching code
    /// (once the events before the violation are polled) and the connection heads for
    /// [`Event::Closed`]. Afterwards, drain the outputs as the [drive contract](crate) says:
    /// write [`output`](Self::output), act on [`poll_transport`](Self::poll_transport), hand on
    /// [`poll_event`](Self::poll_event), repeat until nothing comes out, and re-arm the timer
    /// from [`poll_timeout`](Self::poll_timeout). Bytes that arrive after the peer's Close frame,
    /// after a violation or after the end are discarded (RFC 6455 §5.5.1).
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        if !self.is_reading() || data.is_empty() {
            return;
        }
        self.keepalive.pong_deadline = None;
        self.keepalive.next_ping = self
            .config
            .ping_interval
            .map(|interval| deadline(now, interval));
        if let Err(error) = self.process(now, data) {
            self.input_stopped = true;
            self.events.push_back(Queued::Fail(now, error));
        }
        self.advance();
    }

    /// Tells the connection that the transport reached end of stream: the peer will send nothing
    /// more. Before a close handshake this is an abnormal closure (1006). Drain the outputs
    /// afterwards, as after [`receive`](Self::receive).
    pub fn receive_eof(&mut self, _now: Instant) {
        self.apply_queued_close();
        match &mut self.state {
            State::Open => self.finish(None),
            State::Closing(closing) => {
                closing.eof = true;
                // Nothing more will arrive; our remaining output may still be read by the peer,
                // so wait for it to drain (bounded by the close timeout).
                self.advance();
            }
            State::Closed => {}
        }
    }

    /// Fires the timers that are due at `now`: the close timeout, the keepalive Ping and the
    /// Pong timeout. Call it when the deadline from [`poll_timeout`](Self::poll_timeout) passes
    /// (early or repeated calls are harmless), then drain the outputs.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Closing(closing) if now >= closing.deadline => {
                // §7.1.1: the peer did not finish closing in time; drop the transport.
                self.apply_queued_close();
                let outcome = self.outcome_from_closing().map(|outcome| CloseOutcome {
                    timed_out: true,
                    ..outcome
                });
                self.finish(outcome);
            }
            State::Open => {
                if self
                    .keepalive
                    .pong_deadline
                    .is_some_and(|deadline| now >= deadline)
                {
                    self.fail(now, ProtocolError::KeepaliveTimeout);
                } else if self.keepalive.next_ping.is_some_and(|at| now >= at) {
                    self.send_keepalive_ping(now);
                }
                self.advance();
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------------------- commands

    /// Queues a text message. Fails with [`Error::Closed`] once closing, with
    /// [`Error::OutputFull`] when the output queue is at its bound (drain it and retry), and with
    /// [`Error::MessageInProgress`] while a fragmented message is unfinished.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_message(DataKind::Text, text.as_bytes())
    }

    /// Queues a binary message. Errors as for [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_message(DataKind::Binary, data)
    }

    /// Queues a text message the caller already holds as [`Utf8Bytes`] (for instance one it
    /// received): like [`send_text`](Self::send_text), but a server queues each frame payload
    /// of [`SHARE_MIN`] bytes or more as it is, sharing the buffer instead of copying it. A
    /// client masks a copy (RFC 6455 §5.3). Errors as for [`send_text`](Self::send_text).
    pub fn send_text_shared(&mut self, text: &Utf8Bytes) -> Result<(), Error> {
        self.send_message_shared(DataKind::Text, text.as_shared())
    }

    /// Queues a binary message the caller already holds as [`Bytes`]: like
    /// [`send_binary`](Self::send_binary), but a server queues each frame payload of
    /// [`SHARE_MIN`] bytes or more as it is, sharing the buffer instead of copying it. Errors as
    /// for [`send_text`](Self::send_text).
    pub fn send_binary_shared(&mut self, data: &Bytes) -> Result<(), Error> {
        self.send_message_shared(DataKind::Binary, data)
    }

    /// Queues one fragment of a text message (RFC 6455 §5.4): the first call starts the message,
    /// `is_final` ends it. Each fragment is whole UTF-8, so the message is too. Between fragments
    /// only control frames may be sent; fragments of a binary message fail with
    /// [`Error::FragmentTypeMismatch`].
    pub fn send_text_fragment(&mut self, text: &str, is_final: bool) -> Result<(), Error> {
        self.send_fragment(DataKind::Text, text.as_bytes(), is_final)
    }

    /// Queues one fragment of a binary message; see
    /// [`send_text_fragment`](Self::send_text_fragment).
    pub fn send_binary_fragment(&mut self, data: &[u8], is_final: bool) -> Result<(), Error> {
        self.send_fragment(DataKind::Binary, data, is_final)
    }

    /// Queues a message encoded once for many connections (a broadcast). On a server the
    /// encoded frame is shared, not copied; a client masks its own copy (RFC 6455 §5.3). Errors
    /// as for [`send_text`](Self::send_text); [`Config::send_fragment_size`] does not apply.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(Error::MessageInProgress);
        }
        let payload = message.payload();
        if let Some(deflate) = &self.deflate
            && deflate.wants(payload.len())
        {
            // Compressed once for every connection like this one, or here for this one alone.
            match deflate
                .independent_kind()
                .and_then(|kind| message.compressed_for(kind))
            {
                None => return self.send_whole(message.kind, payload, None),
                Some(Some((frame, header_len))) => {
                    match self.role {
                        Role::Server => self.output.push_bytes(frame),
                        Role::Client => {
                            let opcode = message.kind.opcode();
                            self.push_frame_rsv(opcode, true, RSV1, &frame[header_len..]);
                        }
                    }
                    return Ok(());
                }
                // Compressing does not pay: sent as it is.
                Some(None) => {}
            }
        }
        match self.role {
            Role::Server => self.output.push_bytes(message.frame.clone()),
            Role::Client => self.push_frame(message.kind.opcode(), true, payload),
        }
        Ok(())
    }

    /// Queues a Ping with up to 125 payload bytes (RFC 6455 §5.5.2).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited Pong (a unidirectional heartbeat, RFC 6455 §5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2) with `code` and a `reason` of at most 123
    /// bytes. The code must be one that may be sent: 1000–1003, 1007–1014 or 3000–4999.
    ///
    /// The Close frame is queued even when the output is at its bound. Messages that arrive
    /// until the peer's Close are still delivered; [`Event::Closed`] follows once the peer
    /// answered and the transport ended, or after [`Config::close_timeout`]. Fails with
    /// [`Error::Closed`] if a Close was already sent.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !matches!(self.state, State::Open) {
            return Err(Error::Closed);
        }
        if !code.is_valid_on_wire() {
            return Err(Error::InvalidCloseCode(code.0));
        }
        if 2 + reason.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlPayloadTooLong);
        }
        let frame = CloseFrame {
            code,
            reason: reason.to_owned(),
        };
        self.start_closing(
            now,
            CloseInitiator::Local,
            Some(frame),
            PeerClose::NotReceived,
            None,
        );
        self.advance();
        Ok(())
    }

    /// Ends the connection at once, without a Close frame: queued output is dropped, and
    /// [`TransportAction::Close`] and [`Event::Closed`] (code 1006 unless the peer's Close had
    /// arrived) follow. For shutting a server down hard; a no-op once closed.
    pub fn abort(&mut self) {
        self.apply_queued_close();
        let outcome = match &self.state {
            State::Open => None,
            State::Closing(_) => self.outcome_from_closing(),
            State::Closed => return,
        };
        self.finish(outcome);
    }

    // ----------------------------------------------------------------------------- outputs

    /// The next bytes to write: a prefix of the output queue, empty when there is nothing to
    /// write. Write what the transport takes, then call
    /// [`consume_output`](Self::consume_output) with that count.
    pub fn output(&self) -> &[u8] {
        self.output.front()
    }

    /// Like [`output`](Self::output), as a shared buffer the caller may hold without borrowing
    /// the connection, e.g. to write it after releasing a lock. Consume what was written with
    /// [`consume_output`](Self::consume_output).
    pub fn output_shared(&mut self) -> Bytes {
        self.output.front_shared()
    }

    /// Fills `slices` with the whole output queue in order, for a vectored write; returns how
    /// many slices were filled. Consume what was written as with [`output`](Self::output).
    pub fn output_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.output.io_slices(slices)
    }

    /// Marks `n` bytes of output as written. Then check
    /// [`poll_transport`](Self::poll_transport): draining the output may be what a shutdown was
    /// waiting for.
    ///
    /// Once the connection is closed its output is gone and this does nothing, so a write that
    /// raced with [`abort`](Self::abort) is harmless.
    ///
    /// # Panics
    /// If `n` exceeds [`output_len`](Self::output_len) on a connection that is not closed: only
    /// bytes that were handed out can have been written.
    pub fn consume_output(&mut self, n: usize) {
        // `abort` or the end of the connection dropped the output while the caller was
        // writing it: nothing is left to consume, and nothing can be queued any more.
        if matches!(self.state, State::Closed) {
            return;
        }
        self.output.consume(n);
        self.advance();
    }

    /// The next thing to do to the transport, if any. See [`TransportAction`].
    pub fn poll_transport(&mut self) -> Option<TransportAction> {
        for (pending, action) in [
            (&mut self.shutdown_write, TransportAction::ShutdownWrite),
            (&mut self.close_transport, TransportAction::Close),
        ] {
            if *pending == Pending::Armed {
                *pending = Pending::Taken;
                return Some(action);
            }
        }
        None
    }

    /// The next event, in the order things happened. Poll until `None` after every input.
    ///
    /// Polling may queue output: a peer's Close or a protocol violation takes effect when the
    /// events before it have been polled, so write [`output`](Self::output) again afterwards.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            match self.events.pop_front()? {
                Queued::Event(event) => {
                    self.event_bytes -= event_cost(&event);
                    if self.events.is_empty() && self.events.capacity() > EVENTS_RETAINED {
                        // A burst of small messages left a large queue: give it back.
                        self.events = VecDeque::new();
                    }
                    return Some(event);
                }
                Queued::Fail(now, error) => self.fail(now, error),
                Queued::PeerClose(now, frame) => self.on_close_frame(now, frame),
            }
            self.advance();
        }
    }

    /// What the events waiting in [`poll_event`](Self::poll_event) cost: their payload bytes
    /// plus [`EVENT_OVERHEAD`] each, so a flood of empty messages counts too.
    /// [`wants_read`](Self::wants_read) compares it with [`Config::read_ahead`].
    pub fn pending_event_bytes(&self) -> usize {
        self.event_bytes
    }

    /// Whether [`poll_event`](Self::poll_event) has anything to act on: an event, or a queued
    /// Close or failure that takes effect when polled. An adapter wakes its receiver on this.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Open => match (self.keepalive.pong_deadline, self.keepalive.next_ping) {
                (Some(deadline), _) => Some(deadline),
                (None, next_ping) => next_ping,
            },
            State::Closing(closing) => Some(closing.deadline),
            State::Closed => None,
        }
    }

    // ------------------------------------------------------------------------ crate-private

    /// Appends raw bytes to the output: the handshake response, written before any frame.
    pub(crate) fn queue_raw_output(&mut self, bytes: &[u8]) {
        self.output.push_slice(bytes);
    }

    // ----------------------------------------------------------------------------- helpers

    /// Applies a peer's Close or a failure still waiting behind undelivered messages, when the
    /// connection is about to end without the caller polling up to it: the outcome must not hide
    /// it. At most one is ever queued, since input stops at the first.
    fn apply_queued_close(&mut self) {
        if let Some(at) = self
            .events
            .iter()
            .position(|q| !matches!(q, Queued::Event(_)))
        {
            match self.events.remove(at) {
                Some(Queued::Fail(now, error)) => self.fail(now, error),
                Some(Queued::PeerClose(now, frame)) => self.on_close_frame(now, frame),
                _ => {}
            }
        }
    }

    /// Whether received bytes are still parsed.
    fn is_reading(&self) -> bool {
        !self.input_stopped
    }

    /// Runs bytes through the frame decoder; an error is the peer's violation.
    fn process(&mut self, now: Instant, mut data: &[u8]) -> Result<(), ProtocolError> {
        while !data.is_empty() && self.is_reading() {
            match self.rx.frame {
                None => data = self.read_header(now, data)?,
                Some(frame) => data = self.read_payload(now, frame, data)?,
            }
        }
        Ok(())
    }

    /// Collects header bytes, checking each rule as soon as the bytes it needs are in.
    fn read_header<'d>(&mut self, now: Instant, data: &'d [u8]) -> Result<&'d [u8], ProtocolError> {
        // The common case: a whole header at the start of the input and none begun before it.
        // It is parsed where it lies, with the same checks in the same order as byte by byte.
        if self.rx.header_len == 0
            && let [first, second, ..] = *data
        {
            let header_len = FrameHeader::len_from_prefix(second);
            if let Some((header, rest)) = data.split_at_checked(header_len) {
                self.check_prefix(first, second)?;
                if let Some((parsed, _)) = FrameHeader::parse(header)? {
                    self.start_frame(now, parsed, rest)?;
                }
                return Ok(rest);
            }
        }
        let rx = &mut self.rx;
        let need = if rx.header_len < 2 {
            2
        } else {
            FrameHeader::len_from_prefix(rx.header[1])
        };
        let take = (need - rx.header_len).min(data.len());
        rx.header[rx.header_len..rx.header_len + take].copy_from_slice(&data[..take]);
        rx.header_len += take;
        if rx.header_len == 2 && need == 2 {
            self.check_prefix(self.rx.header[0], self.rx.header[1])?;
        }
        let rx = &mut self.rx;
        if rx.header_len >= 2 && rx.header_len == FrameHeader::len_from_prefix(rx.header[1]) {
            let parsed = FrameHeader::parse(&rx.header[..rx.header_len])?;
            rx.header_len = 0;
            if let Some((header, _)) = parsed {
                self.start_frame(now, header, &data[take..])?;
            }
        }
        Ok(&data[take..])
    }

    /// Rules decided by the first two header bytes and the connection's role and state.
    fn check_prefix(&self, first: u8, second: u8) -> Result<(), ProtocolError> {
        let opcode = FrameHeader::check_prefix(first, second)?;
        // §5.2: RSV bits must be 0 unless an extension defining them was negotiated.
        // permessage-deflate defines RSV1, on the first frame of a data message only: set on a
        // control frame or a continuation it is an error (RFC 7692 §6, §6.1).
        let rsv = (first >> 4) & 0x7;
        let compressed_start = rsv == RSV1
            && self.deflate.is_some()
            && matches!(opcode, OpCode::Text | OpCode::Binary);
        if rsv != 0 && !compressed_start {
            return Err(ProtocolError::ReservedBitsSet);
        }
        // §5.1: clients mask every frame, servers none.
        let masked = second & 0x80 != 0;
        match (self.role, masked) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // §5.4: continuation only inside a message; a new message only outside one.
        match (opcode, self.rx.message.is_some()) {
            (OpCode::Continuation, false) => Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, true) => Err(ProtocolError::ExpectedContinuation),
            _ => Ok(()),
        }
    }

    /// Starts a frame whose header was just read; `arriving` is the rest of the bytes at hand.
    fn start_frame(
        &mut self,
        now: Instant,
        header: FrameHeader,
        arriving: &[u8],
    ) -> Result<(), ProtocolError> {
        if !header.opcode.is_control() {
            let limits = &self.config;
            if header.payload_len > limits.max_frame_size as u64 {
                return Err(ProtocolError::FrameTooLarge);
            }
            // A compressed message counts both what it brings and what it inflates to.
            let received = self.rx.message.map_or(0, |m| m.received);
            if received + header.payload_len > limits.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge);
            }
            let compressed = match self.rx.message {
                Some(message) => message.compressed,
                None => header.rsv == RSV1,
            };
            let buf = &mut self.rx.message_buf;
            if buf.is_empty() && !compressed {
                // A new message reserves once what is sure to come: as much as the previous
                // large message really was (never sized from the header alone), or all the
                // messages of this read, which are then split off one allocation in turn
                // instead of allocating per message.
                let declared = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
                let in_hand = declared.min(arriving.len());
                let earned = declared.min(self.rx.regrow);
                if buf.capacity() < in_hand.max(earned) {
                    buf.reserve(earned.max(burst_len(in_hand, &arriving[in_hand..])));
                }
            }
            match &mut self.rx.message {
                Some(message) => {
                    message.fragments += 1;
                    message.received += header.payload_len;
                    if message.fragments > limits.max_fragments {
                        return Err(ProtocolError::TooManyFragments);
                    }
                }
                None => {
                    let kind = match header.opcode {
                        OpCode::Text => DataKind::Text,
                        _ => DataKind::Binary,
                    };
                    self.rx.message = Some(InMessage {
                        kind,
                        fragments: 1,
                        compressed,
                        received: header.payload_len,
                    })
                }
            }
        }
        let frame = InFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            remaining: header.payload_len,
            received: 0,
        };
        if frame.remaining == 0 {
            self.end_frame(now, frame)
        } else {
            self.rx.frame = Some(frame);
            Ok(())
        }
    }

    fn read_payload<'d>(
        &mut self,
        now: Instant,
        mut frame: InFrame,
        data: &'d [u8],
    ) -> Result<&'d [u8], ProtocolError> {
        let n = usize::try_from(frame.remaining).map_or(data.len(), |left| left.min(data.len()));
        let is_text = self.rx.message.is_some_and(|m| m.kind == DataKind::Text);
        let compressed = self.rx.message.is_some_and(|m| m.compressed);
        if compressed && !frame.opcode.is_control() {
            self.inflate_payload(&data[..n], frame.mask.map(|key| (key, frame.received)))?;
        } else {
            self.store_payload(&data[..n], frame, is_text)?;
        }
        frame.received += n;
        frame.remaining -= n as u64;
        if frame.remaining == 0 {
            self.rx.frame = None;
            self.end_frame(now, frame)?;
        } else {
            self.rx.frame = Some(frame);
        }
        Ok(&data[n..])
    }

    /// Inflates payload bytes of a compressed message as they arrive (RFC 7692 §7.2.2), checking
    /// the size limit on what they inflate to and text as it appears (§8.1 of RFC 6455).
    fn inflate_payload(
        &mut self,
        input: &[u8],
        mask: Option<([u8; 4], usize)>,
    ) -> Result<(), ProtocolError> {
        let Some(deflate) = self.deflate.as_mut() else {
            return Ok(());
        };
        let start = self.rx.inflated.len();
        let inflated = deflate.inflate(
            input,
            mask,
            &mut self.rx.inflated,
            self.config.max_message_size,
        );
        // Whatever was produced before a failure is checked first, so the error reported does
        // not depend on how the bytes were split into reads.
        self.check_inflated_text(start)?;
        inflated.map_err(inflate_error)
    }

    /// Feeds the text inflated since `start` to the UTF-8 validator, up to the size limit
    /// (§8.1: text fails at the first byte that cannot be valid).
    fn check_inflated_text(&mut self, start: usize) -> Result<(), ProtocolError> {
        if self.rx.message.is_some_and(|m| m.kind == DataKind::Text) {
            let end = self.rx.inflated.len().min(self.config.max_message_size);
            let fresh = self.rx.inflated.get(start..end).unwrap_or_default();
            self.rx
                .utf8
                .feed(fresh)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Appends payload bytes of an uncompressed message or a control frame, unmasked.
    fn store_payload(
        &mut self,
        data: &[u8],
        frame: InFrame,
        is_text: bool,
    ) -> Result<(), ProtocolError> {
        let buf = if frame.opcode.is_control() {
            &mut self.rx.control_buf
        } else {
            &mut self.rx.message_buf
        };
        let start = buf.len();
        match frame.mask {
            Some(key) => extend_masked(buf, data, key, frame.received),
            None => buf.extend_from_slice(data),
        }
        let fresh = &buf[start..];
        // §8.1: fail as soon as the text can no longer be valid, not when the message ends.
        if is_text && !frame.opcode.is_control() {
            self.rx
                .utf8
                .feed(fresh)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }

    fn end_frame(&mut self, now: Instant, frame: InFrame) -> Result<(), ProtocolError> {
        match frame.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if frame.fin {
                    self.end_message()?;
                }
            }
            OpCode::Ping => {
                let payload = self.rx.control_buf.split().freeze();
                // §5.5.2: answer with a Pong carrying the same payload, unless closing. Each Ping
                // is answered while the output has room; past that only the latest waits.
                if matches!(self.state, State::Open) {
                    if self.output.len() < self.config.max_output_buffer {
                        self.push_frame(OpCode::Pong, true, &payload);
                    } else {
                        self.pending_pong = Some(payload.clone());
                    }
                }
                self.push_event(Event::Ping(payload));
            }
            OpCode::Pong => {
                let payload = self.rx.control_buf.split().freeze();
                self.push_event(Event::Pong(payload));
            }
            OpCode::Close => {
                let payload = self.rx.control_buf.split();
                let frame = CloseFrame::parse(&payload)?;
                // Acted on once the messages before it are polled; nothing after it is read.
                self.input_stopped = true;
                self.events.push_back(Queued::PeerClose(now, frame));
            }
        }
        Ok(())
    }

    fn end_message(&mut self) -> Result<(), ProtocolError> {
        let Some(message) = self.rx.message else {
            return Ok(());
        };
        let payload = if message.compressed {
            self.finish_inflating()?
        } else {
            take_message(&mut self.rx.message_buf, &mut self.rx.regrow)
        };
        self.rx.message = None;
        let event = match message.kind {
            DataKind::Text => {
                self.rx
                    .utf8
                    .finish()
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                Event::Text(Utf8Bytes::from_validated(payload))
            }
            DataKind::Binary => Event::Binary(payload),
        };
        self.push_event(event);
        Ok(())
    }

    /// Ends a compressed message: inflates the tail the sender removed and takes the payload.
    fn finish_inflating(&mut self) -> Result<Bytes, ProtocolError> {
        if let Some(deflate) = self.deflate.as_mut() {
            let start = self.rx.inflated.len();
            let finished =
                deflate.finish_message(&mut self.rx.inflated, self.config.max_message_size);
            self.check_inflated_text(start)?;
            finished.map_err(inflate_error)?;
        }
        Ok(Bytes::from(std::mem::take(&mut self.rx.inflated)))
    }

    /// §5.5.1: a peer's Close is answered with a Close (the echo) unless ours was already sent.
    fn on_close_frame(&mut self, now: Instant, frame: Option<CloseFrame>) {
        self.input_stopped = true;
        match &mut self.state {
            State::Open => {
                // The echo repeats the code (§5.5.1: "typically echos the status code").
                let echo = frame.as_ref().map(|f| CloseFrame {
                    code: f.code,
                    reason: String::new(),
                });
                self.start_closing(now, CloseInitiator::Remote, echo, frame.into(), None);
            }
            State::Closing(closing) => closing.received = frame.into(),
            State::Closed => {}
        }
        // A message cut short by the Close is dropped (Autobahn 7.1.5 expects a normal close).
        self.drop_receive_state();
    }

    /// §7.1.7 Fail the WebSocket Connection: send a Close with the violation's code (unless one
    /// was sent already), then stop reading.
    fn fail(&mut self, now: Instant, error: ProtocolError) {
        self.input_stopped = true;
        match &mut self.state {
            State::Open => {
                let frame = CloseFrame {
                    code: error.close_code(),
                    reason: error.reason().into(),
                };
                self.start_closing(
                    now,
                    CloseInitiator::Failure,
                    Some(frame),
                    PeerClose::NotReceived,
                    Some(error),
                );
            }
            State::Closing(closing) => {
                if closing.error.is_none() {
                    closing.error = Some(error);
                }
            }
            State::Closed => {}
        }
    }

    fn start_closing(
        &mut self,
        now: Instant,
        initiator: CloseInitiator,
        sent: Option<CloseFrame>,
        received: PeerClose,
        error: Option<ProtocolError>,
    ) {
        let mut payload = Vec::with_capacity(MAX_CONTROL_PAYLOAD);
        if let Some(frame) = &sent {
            payload.extend_from_slice(&frame.code.0.to_be_bytes());
            payload.extend_from_slice(frame.reason.as_bytes());
        }
        // No Pong may follow our Close (§5.5.1: nothing after Close).
        self.pending_pong = None;
        self.sending = None;
        self.push_frame(OpCode::Close, true, &payload);
        self.state = State::Closing(Box::new(Closing {
            initiator,
            sent,
            received,
            error,
            eof: false,
            deadline: deadline(now, self.config.close_timeout),
        }));
    }

    /// Moves the state machine on after any input, command or drained output.
    fn advance(&mut self) {
        if let Some(payload) = self.pending_pong.take() {
            if matches!(self.state, State::Open)
                && self.output.len() < self.config.max_output_buffer
            {
                self.push_frame(OpCode::Pong, true, &payload);
            } else if matches!(self.state, State::Open) {
                self.pending_pong = Some(payload);
            }
        }
        let State::Closing(closing) = &self.state else {
            return;
        };
        if !self.output.is_empty() {
            return;
        }
        // §7.1.1: the server closes TCP first, once the handshake is over; either side closes
        // after failing the connection (§7.1.7).
        let shuts_down = self.role == Role::Server || closing.initiator == CloseInitiator::Failure;
        if shuts_down && closing.done_sending() && self.shutdown_write == Pending::Idle {
            self.shutdown_write = Pending::Armed;
        }
        if closing.eof {
            let outcome = self.outcome_from_closing();
            self.finish(outcome);
        }
    }

    fn outcome_from_closing(&self) -> Option<CloseOutcome> {
        let State::Closing(closing) = &self.state else {
            return None;
        };
        Some(CloseOutcome {
            sent: closing.sent.clone(),
            received: closing.received.clone(),
            initiator: closing.initiator,
            error: closing.error,
            clean: closing.received.is_received() && closing.error.is_none(),
            timed_out: false,
        })
    }

    /// Enters `Closed`: emits the outcome and the transport close, each once. `None` means the
    /// transport ended before any Close frame.
    fn finish(&mut self, outcome: Option<CloseOutcome>) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let outcome = outcome.unwrap_or(CloseOutcome {
            sent: None,
            received: PeerClose::NotReceived,
            initiator: CloseInitiator::Transport,
            error: None,
            clean: false,
            timed_out: false,
        });
        self.state = State::Closed;
        self.input_stopped = true;
        self.output.clear();
        self.pending_pong = None;
        self.drop_receive_state();
        self.push_event(Event::Closed(outcome));
        self.close_transport = Pending::Armed;
    }

    /// Forgets a message being received, and the codec state it was using.
    fn drop_receive_state(&mut self) {
        self.rx = Receiver::default();
        if let Some(deflate) = self.deflate.as_mut() {
            deflate.abandon_message();
        }
    }

    fn push_event(&mut self, event: Event) {
        self.event_bytes += event_cost(&event);
        self.events.push_back(Queued::Event(event));
    }

    fn send_message(&mut self, kind: DataKind, payload: &[u8]) -> Result<(), Error> {
        self.send_whole(kind, payload, None)
    }

    fn send_message_shared(&mut self, kind: DataKind, payload: &Bytes) -> Result<(), Error> {
        // A client masks its frames, so it always copies (RFC 6455 §5.3).
        let shared = (self.role == Role::Server).then_some(payload);
        self.send_whole(kind, payload, shared)
    }

    /// Queues a whole message, in frames of [`Config::send_fragment_size`] if set; `shared` is
    /// the buffer `payload` lies in, if the frames may share it (see
    /// [`push_data_frame`](Self::push_data_frame)).
    #[inline]
    fn send_whole(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<(), Error> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(Error::MessageInProgress);
        }
        if let Some(deflate) = self.deflate.as_mut()
            && deflate.wants(payload.len())
            && let Some(compressed) = deflate.compress(payload)
        {
            // RFC 7692 §6: RSV1 on the first frame only. A server shares a large payload (it
            // needs no mask) instead of copying it; a small one's buffer serves the next message.
            if self.role == Role::Server && compressed.len() >= SHARE_MIN {
                let compressed = Bytes::from(compressed);
                self.push_frames(kind, RSV1, &compressed, Some(&compressed));
            } else {
                self.push_frames(kind, RSV1, &compressed, None);
                if let Some(deflate) = self.deflate.as_mut() {
                    deflate.recycle(compressed);
                }
            }
            return Ok(());
        }
        self.push_frames(kind, 0, payload, shared);
        Ok(())
    }

    /// Queues `payload` as one message, in frames of [`Config::send_fragment_size`] if set,
    /// with `rsv` on the first frame; `shared` as in [`push_data_frame`](Self::push_data_frame).
    #[inline]
    fn push_frames(&mut self, kind: DataKind, rsv: u8, payload: &[u8], shared: Option<&Bytes>) {
        match self.config.send_fragment_size {
            Some(size) if size > 0 && payload.len() > size => {
                let mut chunks = payload.chunks(size).peekable();
                let (mut opcode, mut rsv) = (kind.opcode(), rsv);
                while let Some(chunk) = chunks.next() {
                    self.push_data_frame(opcode, chunks.peek().is_none(), rsv, chunk, shared);
                    (opcode, rsv) = (OpCode::Continuation, 0);
                }
            }
            _ => self.push_data_frame(kind.opcode(), true, rsv, payload, shared),
        }
    }

    /// Queues one data frame: a payload of [`SHARE_MIN`] bytes or more that lies in `shared`
    /// as a slice of it, anything else as a copy.
    #[inline]
    fn push_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        shared: Option<&Bytes>,
    ) {
        match shared {
            Some(bytes) if payload.len() >= SHARE_MIN => {
                let header = FrameHeader {
                    fin,
                    rsv,
                    opcode,
                    mask: None,
                    payload_len: payload.len() as u64,
                };
                self.output
                    .push_frame_shared(header, bytes.slice_ref(payload));
            }
            _ => self.push_frame_rsv(opcode, fin, rsv, payload),
        }
    }

    fn send_fragment(&mut self, kind: DataKind, payload: &[u8], fin: bool) -> Result<(), Error> {
        self.check_can_send()?;
        let opcode = match self.sending {
            None => kind.opcode(),
            Some(current) if current == kind => OpCode::Continuation,
            Some(_) => return Err(Error::FragmentTypeMismatch),
        };
        self.push_frame(opcode, fin, payload);
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlPayloadTooLong);
        }
        self.push_frame(opcode, true, payload);
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if !matches!(self.state, State::Open) {
            Err(Error::Closed)
        } else if self.output.len() >= self.config.max_output_buffer {
            Err(Error::OutputFull)
        } else {
            Ok(())
        }
    }

    fn send_keepalive_ping(&mut self, now: Instant) {
        self.keepalive.pings_sent += 1;
        // A counter makes each keepalive payload distinct without any randomness.
        let payload = self.keepalive.pings_sent.to_be_bytes();
        if self.output.len() < self.config.max_output_buffer {
            self.push_frame(OpCode::Ping, true, &payload);
        }
        // If the output is full the peer is not reading: the deadline catches that too.
        self.keepalive.next_ping = None;
        self.keepalive.pong_deadline = Some(deadline(now, self.config.pong_timeout));
    }

    fn push_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.push_frame_rsv(opcode, fin, 0, payload);
    }

    fn push_frame_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => {
                let mut key = [0u8; 4];
                self.keys.fill(&mut key);
                Some(key)
            }
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        self.output.push_frame(header, payload);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("output_len", &self.output.len())
            .field("events", &self.events.len())
            .field("pending_event_bytes", &self.event_bytes)
            .finish_non_exhaustive()
    }
}

/// The RSV1 bit in [`FrameHeader::rsv`]: permessage-deflate's "compressed message" bit.
const RSV1: u8 = 0b100;

/// The close code of a failed inflate: bad data is 1007 (RFC 7692 §8: fail the connection),
/// too much of it 1009.
fn inflate_error(error: InflateError) -> ProtocolError {
    match error {
        InflateError::Invalid => ProtocolError::InvalidCompressedData,
        InflateError::TooLarge => ProtocolError::MessageTooLarge,
    }
}

/// From this payload size on, a server queues a payload sent as [`Bytes`] or [`Utf8Bytes`]
/// without copying it. Below it, copying into the output buffer costs less than a separate
/// chunk in the vectored write.
pub const SHARE_MIN: usize = 4 << 10;

/// Most a receive buffer is reserved at once from the size of the previous message.
const REGROW_MAX: usize = 256 << 10;

/// Event queue slots kept once the queue drains.
const EVENTS_RETAINED: usize = 64;

/// Spare receive capacity kept between messages; more is released with the message it held.
const RETAIN_CAPACITY: usize = 64 << 10;

/// Takes a completed message out of the receive buffer. A small message is split off, leaving
/// the spare capacity for the next one (no allocation per message); a large one leaves with
/// its whole allocation, and a large spare remainder is released, so the buffer never keeps the
/// memory of the largest message received.
fn take_message(buf: &mut BytesMut, regrow: &mut usize) -> Bytes {
    if buf.len() > RETAIN_CAPACITY {
        *regrow = buf.len().min(REGROW_MAX);
        return std::mem::take(buf).freeze();
    }
    let payload = buf.split().freeze();
    // An empty remainder still shares the allocation the messages were split from: let it go,
    // so the memory is freed as soon as the application drops them.
    if buf.capacity() == 0 || buf.capacity() > RETAIN_CAPACITY {
        *buf = BytesMut::new();
    }
    payload
}

/// The payload bytes a burst of data frames brings: `first` bytes of the frame being started,
/// then those of the whole data frames right behind it in `rest`, while the total stays within
/// [`RETAIN_CAPACITY`], so the allocation they share is kept from one message to the next (see
/// [`take_message`]). Only sizes a reservation: the frames are checked when they are read.
fn burst_len(first: usize, mut rest: &[u8]) -> usize {
    let mut total = first;
    while let Ok(Some((header, header_len))) = FrameHeader::parse(rest) {
        let after = &rest[header_len..];
        // A frame cut short by the end of the read grows the buffer as the rest arrives.
        let Some(len) = usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= after.len())
        else {
            break;
        };
        // Control frames use their own buffer.
        if !header.opcode.is_control() {
            if total + len > RETAIN_CAPACITY {
                break;
            }
            total += len;
        }
        rest = &after[len..];
    }
    total
}

/// What each queued event counts in [`Connection::pending_event_bytes`] besides its payload:
/// roughly its size in the queue.
pub const EVENT_OVERHEAD: usize = 64;

fn event_cost(event: &Event) -> usize {
    EVENT_OVERHEAD
        + match event {
            Event::Text(text) => text.len(),
            Event::Binary(bytes) | Event::Ping(bytes) | Event::Pong(bytes) => bytes.len(),
            Event::Closed(_) => 0,
        }
}

//! A sans-IO implementation of the WebSocket protocol (RFC 6455), client and server.
//!
//! This crate does no IO: it owns no socket, starts no thread, reads no clock and draws no hidden
//! randomness. The caller feeds it bytes and the current time, and gets back bytes to write,
//! events to hand on, transport actions and the next deadline. Runtime adapters (blocking or
//! async) stay thin because every protocol decision is made here, once.
//!
//! ```text
//!                   receive(now, bytes) ──▶ ┌──────────────────┐ ──▶ output() / consume_output(n)
//!                   receive_eof(now)    ──▶ │    Connection    │ ──▶ poll_transport()
//!                   handle_timeout(now) ──▶ │  (frames, close, │ ──▶ poll_event()
//!   send_text / send_binary / close ...  ──▶ │  limits, timers) │ ──▶ poll_timeout()
//!                                           └──────────────────┘
//! ```
//!
//! # Opening handshake
//!
//! A connection starts with one of the handshake machines in [`handshake`]:
//! [`ServerHandshake`] parses and validates the HTTP upgrade request and lets the caller accept
//! or reject it; [`ClientHandshake`] writes the request and validates the `101` response. Both
//! are driven like a connection (bytes in, bytes out, a deadline) and hand over a
//! [`Connection`] that already holds whatever bytes arrived after the HTTP head, so a frame that
//! shares a TCP segment with the handshake is never lost.
//!
//! # The drive contract
//!
//! 1. After **every input** ([`Connection::receive`], [`Connection::receive_eof`],
//!    [`Connection::handle_timeout`]) and **every command** ([`Connection::send_text`],
//!    [`Connection::close`], ...), drain the outputs, in this order:
//!    1. write [`Connection::output`] (or [`Connection::output_vectored`]) to the transport and
//!       report what was written with [`Connection::consume_output`]; a short write is fine,
//!       the rest stays queued;
//!    2. act on every [`Connection::poll_transport`] action: [`TransportAction::ShutdownWrite`]
//!       (send a FIN, keep reading) or [`TransportAction::Close`] (drop the transport);
//!    3. hand on every [`Connection::poll_event`] until it returns `None`, letting the
//!       application react to each (send, close) before polling the next: a peer's Close frame
//!       or a protocol violation waits in line behind the messages that arrived before it and
//!       takes effect, queueing our Close and possibly a transport action, when polled. So
//!       repeat steps 1 to 3 until a round yields no output, no action and no event;
//!    4. sleep until [`Connection::poll_timeout`] (re-read it: any call may move it) and then
//!       call [`Connection::handle_timeout`].
//! 2. **Read only while [`Connection::wants_read`] is true**, and check it again after polling
//!    events. This is the one flow-control rule: it bounds what a
//!    connection holds to [`Config::read_ahead`] of undelivered events plus one message plus
//!    [`Config::max_output_buffer`], whatever the peer sends, and every adapter applies it the
//!    same way.
//! 3. `now` must never go backwards between calls. Pass the time the input was observed.
//! 4. Peer misbehaviour is not an error of the call: the connection queues a Close frame with
//!    the matching code (1002, 1007, 1009, ...) and ends with [`Event::Closed`]. Caller misuse
//!    (sending after close, an invalid close code, a full output queue) returns an [`Error`] and
//!    changes nothing.
//! 5. [`Event::Closed`] is the last event and comes exactly once, together with
//!    [`TransportAction::Close`]. Local-only close codes (1005, 1006, 1015) are reported in its
//!    [`CloseOutcome`], never sent.
//!
//! ```
//! use std::time::Instant;
//! use ws_proto::{CloseCode, Connection, Config, Event, Role, SeededKeySource};
//!
//! let now = Instant::now();
//! let mut client = Connection::with_key_source(
//!     Role::Client, Config::default(), Box::new(SeededKeySource::new(1)), now);
//! let mut server = Connection::new(Role::Server, Config::default(), now);
//!
//! client.send_text("hello").unwrap();
//! let wire = client.output().to_vec();
//! client.consume_output(wire.len());
//! server.receive(now, &wire);
//! assert_eq!(server.poll_event(), Some(Event::Text("hello".into())));
//!
//! server.close(now, CloseCode::NORMAL, "bye").unwrap();
//! let wire = server.output().to_vec();
//! server.consume_output(wire.len());
//! client.receive(now, &wire);
//! // The server's Close takes effect when the client polls up to it: it queues the echo.
//! assert_eq!(client.poll_event(), None);
//! assert!(!client.output().is_empty());
//! ```
//!
//! # Limits
//!
//! [`Config`] bounds everything a peer can make this side hold: frame and message sizes, the
//! number of fragments, the handshake size and header count, and the output queue (automatic
//! Pongs replace each other instead of piling up). Defaults pass the Autobahn test suite.
//!
//! Every limit and timeout, its default and what exceeding it does, and the threat model are listed
//! in the repository's `SECURITY.md`.

#![warn(missing_docs)]

mod close;
mod config;
mod connection;
mod deflate;
mod error;
// Framing and UTF-8 validation are internals. Their items are `pub` so that the hidden
// `testing` module below can hand them to this crate's integration tests and the runtimes'
// tests; without that feature nothing outside the crate reaches them.
#[allow(unreachable_pub)]
mod frame;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod handshake;
mod output;
mod rng;
mod time;
#[allow(unreachable_pub)]
mod utf8;
mod utf8_bytes;

/// Internals for tests: the frame header codec, masking and the incremental UTF-8 validator.
///
/// Compiled only with the `testing` feature, which this crate's and the runtimes' test suites
/// turn on. It is not part of the API: no semver promise covers it.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing {
    pub use crate::frame::{
        FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, apply_mask, extend_masked,
    };
    pub use crate::utf8::{InvalidUtf8, Utf8Validator};
}

pub use close::{CloseCode, CloseFrame, CloseInitiator, CloseOutcome, PeerClose};
pub use config::{Config, Role};
pub use connection::{
    Connection, ConnectionState, DataKind, EVENT_OVERHEAD, Event, PreparedMessage, SHARE_MIN,
    TransportAction,
};
pub use deflate::{DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
pub use error::{Error, ProtocolError};
pub use handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, Established, ExtensionOffer,
    HandshakeError, Headers, Request, RequestError, Response, ResponseError, ServerHandshake,
    UrlError, UsageError, WsUrl,
};
#[cfg(feature = "rand")]
pub use rng::RandKeySource;
pub use rng::{KeySource, SeededKeySource, default_key_source};
pub use time::deadline;
pub use utf8_bytes::Utf8Bytes;

/// The shared byte buffer of binary payloads ([`Event::Binary`], [`Connection::send_binary_shared`]).
pub use bytes::Bytes;

//! What the runtime adapters (`ws-runtime-std`, `ws-runtime-smol`) share, written once, outside
//! the sans-IO core: client options, server limits (a connection cap answered with 503, and a
//! back-off for failing accepts), TLS defaults, and the errors of connecting, accepting and
//! sending, so every runtime behaves and reports failures the same way.
//!
//! The adapters keep only what differs between them: blocking or async IO.
//!
//! # Logging
//!
//! With the cargo feature `tracing` (off by default; `ws-api` turns it on), the adapters log
//! through the `tracing` crate what an operator needs, decided once in [`trace`]. Each
//! connection has a span, `ws_conn`, with its `id` (unique in the process), its `role`
//! (`client` or `server`) and its `peer` (the socket address); the connection's events are in
//! it, whichever thread emits them. At `debug`: a connection open, a connection closed (its
//! code, reason, who started the close, whether it was clean), a plain HTTP request answered,
//! and backpressure, where it starts and where it ends (reading paused because the application
//! is behind, the output queue full). At `info`: a refused upgrade (its status; a 503 at
//! `debug`), an invalid upgrade request (its status and reason), a handshake timeout, a
//! protocol error of the peer (the close code and reason), a keepalive timeout and a close
//! timeout. At `warn`: an upgrade the server's own answer made invalid, a failing `accept` (with
//! the back-off's pause), and a server reaching its connection limit (once; back below it at
//! `info`). Nothing is logged per message. Without the feature the logging functions are empty
//! and the span types zero-sized: logging costs nothing.

#![forbid(unsafe_code)]

mod client;
mod error;
mod handles;
mod limit;
pub mod tls;
pub mod trace;

pub use client::{ClientOptions, Connecting, DEFAULT_CONNECT_TIMEOUT, feed_response, resolve};
pub use error::{
    AcceptError, BindError, ConnectError, Decision, SendError, TcpConnectError, TrySendError,
};
pub use handles::{READ_CHUNK, discard_events, with_read_buffer};
pub use limit::{AcceptBackoff, ConnectionLimit, DEFAULT_MAX_CONNECTIONS, Permit, overloaded};

//! What the runtime adapters (`ws-runtime-std`, `ws-runtime-smol`) share, written once, outside
//! the sans-IO core: client options, server limits (a connection cap answered with 503, and a
//! back-off for failing accepts), TLS defaults, and the errors of connecting, accepting and
//! sending, so every runtime behaves and reports failures the same way.
//!
//! The adapters keep only what differs between them: blocking or async IO.

#![forbid(unsafe_code)]

mod client;
mod error;
mod handles;
mod limit;
pub mod tls;

pub use client::{ClientOptions, Connecting, DEFAULT_CONNECT_TIMEOUT, feed_response, resolve};
pub use error::{
    AcceptError, BindError, ConnectError, Decision, SendError, TcpConnectError, TrySendError,
};
pub use handles::{READ_CHUNK, with_read_buffer};
pub use limit::{AcceptBackoff, ConnectionLimit, DEFAULT_MAX_CONNECTIONS, Permit, overloaded};

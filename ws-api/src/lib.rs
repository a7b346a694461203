//! 4D's `WebSocket`, `WebSocketServer` and `WebSocketConnection` classes, the Rust way.
//!
//! A developer who knows 4D's WebSocket classes finds every property, function and callback
//! here, with the same semantics, in snake_case, on a blocking ([`Runtime::Std`]) or an async
//! ([`Runtime::Smol`]) runtime, chosen in one place. Handlers are plain Rust types implementing
//! a trait; every callback but `on_message` is optional.
//!
//! | 4D | Rust |
//! |---|---|
//! | `4D.WebSocket.new(url; handler)` | [`WebSocket::new`] (+ [`WebSocket::with_options`]) |
//! | `.dataType`, `.handler`, `.id`, `.status`, `.url` | [`WebSocket::data_type`], [`WebSocket::handler`], [`WebSocket::id`], [`WebSocket::status`], [`WebSocket::url`] |
//! | `.send()`, `.terminate()` | [`WebSocket::send`], [`WebSocket::terminate`] / [`WebSocket::terminate_with`] |
//! | handler `onOpen`, `onMessage`, `onError`, `onTerminate`, `dataType`, `headers` | [`WebSocketHandler`] |
//! | `4D.WebSocketServer.new(handler; options)` | [`WebSocketServer::new`] on a [`WebServer`], or [`WebSocketServer::listen`] |
//! | `.connections`, `.dataType`, `.handler`, `.path`, `.terminated`, `.terminate({timeout})` | [`WebSocketServer::connections`], ..., [`WebSocketServer::terminate`] |
//! | `onConnection`, `onOpen`, `onTerminate`, `onError` | [`WebSocketServerHandler`] |
//! | `4D.WebSocketConnection`: `.handler`, `.id`, `.status`, `.send()`, `.terminate()`, `.wss` | [`WebSocketConnection`] (+ [`send_prepared`](WebSocketConnection::send_prepared): one encoding for many connections, from [`Data::prepare`]) |
//! | connection handler `onMessage`, `onOpen`, `onError`, `onTerminate` | [`ConnectionHandler`] |
//!
//! Decisions 4D's documentation leaves open, settled as the repository's `ARCHITECTURE.md`
//! says: a refused connection gets HTTP 403 before any upgrade (or the status set with
//! [`ConnectionEvent::refuse_with`]);
//! `path` matches the request path exactly (no path: every path), one running server per path
//! on a web server (a second is [`Error::PathInUse`]); ids are unique in the
//! process, increasing and never reused; `text` delivers binary frames as blobs, `object` parses
//! JSON and answers a non-JSON message with `on_error` and a 1007 close; `terminate` codes must
//! be 1000 or 3000–4999 on both sides; sends never block (a full output queue is an
//! [`Error::OutputFull`]). What the program holds runs: dropping the last handle it owns closes
//! a [`WebSocket`] with 1001, terminates a [`WebSocketServer`] and stops a [`WebServer`] no
//! WebSocket server runs on, while the handles lent to callbacks keep nothing running (each
//! type's "Lifetime" section says more).
//!
//! ```no_run
//! use ws_api::*;
//!
//! struct Echo;
//! impl ConnectionHandler for Echo {
//!     fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
//!         let _ = conn.send(event.data);
//!     }
//! }
//!
//! struct EchoServer;
//! impl WebSocketServerHandler for EchoServer {
//!     fn on_connection(&self, _: &WebSocketServer, _: &ConnectionEvent) -> Option<Box<dyn ConnectionHandler>> {
//!         Some(Box::new(Echo))
//!     }
//! }
//!
//! let server = WebSocketServer::listen("127.0.0.1:8080", EchoServer, ServerOptions::new())?;
//! # server.terminate(None);
//! # Ok::<(), Error>(())
//! ```
//!
//! Every limit and timeout (keepalive, connection limit, origin rules, callbacks on smol, and the
//! core's limits), with its default and what exceeding it does, and the threat model are listed in
//! the repository's `SECURITY.md`.
//!
//! # Logging
//!
//! The cargo feature `tracing` (on by default) logs through the `tracing` crate; install any
//! subscriber to see it. The runtime adapters log every connection the same way on both
//! runtimes (`ws_adapter`'s "Logging"): a span `ws_conn` per connection with its `id`, `role`
//! and `peer`; at `debug` a connection open or closed and backpressure where it starts and
//! ends; at `info` a refused or invalid upgrade (its status), a handshake timeout, a peer's
//! protocol error (close code and reason), a keepalive or close timeout; at `warn` a failing
//! `accept` and the connection limit reached. This crate adds what only it sees: why a request
//! was refused (the `Origin` allow-list, or `on_connection` said no) at `debug`, and a callback
//! that panicked at `error`. Callbacks run in their connection's span, so what a handler logs
//! carries the connection; this crate's events carry `api_id`, the connection's
//! [`id`](WebSocketConnection::id), and "handler attached" pairs it with the span's `id`.
//! Nothing is logged per message. Without the feature logging costs nothing.

#![forbid(unsafe_code)]

mod client;
mod data;
mod dispatch;
mod error;
mod events;
mod hold;
mod ids;
mod link;
mod origin;
mod runtime;
mod server;
mod static_files;
mod status;
mod trace;
mod web_server;

pub use client::{ClientOptions, WebSocket, WebSocketHandler};
pub use data::{Data, DataType, JsonLimits, UnknownDataType};
pub use error::Error;
pub use events::{
    ConnectionEvent, ErrorEvent, ErrorInfo, MessageEvent, OpenEvent, RequestInfo, ServerEvent,
    TerminateEvent,
};
pub use origin::OriginPolicy;
pub use runtime::Runtime;
pub use server::{
    ConnectionHandler, ServerOptions, WebSocketConnection, WebSocketServer, WebSocketServerHandler,
};
pub use status::Status;
pub use web_server::{HttpHandler, WebServer, WebServerOptions};
pub use ws_adapter::{BindError, ConnectError, DEFAULT_MAX_CONNECTIONS, TcpConnectError};
pub use ws_proto::handshake::{Headers, Response};
pub use ws_proto::{Config, DeflateConfig, PreparedMessage};

use std::time::Duration;

/// Entry points for fuzz targets (cargo feature `fuzzing`); not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::path::{Path, PathBuf};

    /// The file a [`WebServer`](crate::WebServer) with `static_dir` serves for the
    /// request-target `target`, or `None` when it serves none (refused, malformed or missing).
    /// A returned path is canonical and inside the canonical `static_dir`.
    pub fn resolve_static(static_dir: &Path, target: &str) -> Option<PathBuf> {
        crate::static_files::resolve(static_dir, target).ok()
    }

    /// The decoded path segments of `target` that the static resolver would look up, or `None`
    /// when it refuses the target before touching the file system. No segment is empty or
    /// starts with `.`, or holds `/`, `\` or NUL.
    pub fn static_segments(target: &str) -> Option<Vec<String>> {
        crate::static_files::segments(target).ok()
    }
}

/// How long a connection made through this crate may go without receiving anything before it
/// sends a keepalive Ping, unless told otherwise ([`ServerOptions::ping_interval`],
/// [`ClientOptions::ping_interval`]): 20 s, like Python's `websockets`. The runtime adapters
/// leave keepalive off; this crate turns it on so a dead peer is noticed.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);

/// How long the peer has to send anything back after a keepalive Ping before the connection is
/// failed with 1011, unless told otherwise ([`ServerOptions::pong_timeout`],
/// [`ClientOptions::pong_timeout`]): 20 s.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(20);

/// The limits and timeouts [`ServerOptions`] and [`ClientOptions`] start from:
/// [`Config::default`] with keepalive on ([`DEFAULT_PING_INTERVAL`],
/// [`DEFAULT_PONG_TIMEOUT`]). Start from it when setting other limits, to keep keepalive.
pub fn default_config() -> Config {
    Config::default()
        .with_ping_interval(Some(DEFAULT_PING_INTERVAL))
        .with_pong_timeout(DEFAULT_PONG_TIMEOUT)
}

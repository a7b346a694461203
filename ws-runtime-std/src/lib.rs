//! Blocking WebSocket clients and servers on std threads, driving the sans-IO core `ws-proto`.
//!
//! This crate only moves bytes: every protocol decision (framing, close handshake, limits,
//! keepalive and close timeouts) is made by [`ws_proto::Connection`], and flow control is its one
//! rule ([`Connection::wants_read`](ws_proto::Connection::wants_read)).
//!
//! A connection has no thread of its own. The thread that calls `recv` reads the socket (so a
//! server connection costs the one thread running its handler, and a client connection none);
//! writes never block (each is a non-blocking call); and one shared background thread per
//! process, the reactor, writes what the socket could not take at once, fires every
//! connection's timers, and reads for an application that is away from `recv`. So a close
//! timeout, a Pong timeout or [`Sender::abort`] end a connection on time whatever its threads
//! are doing, and a peer that stops reading pins no thread. Sends are bounded: the blocking
//! variants wait (the `try_` variants fail with [`TrySendError::Full`]) while the output queue
//! is full. A server answers connections over its limit with 503
//! ([`Server::max_connections`]).
//!
//! # Logging
//!
//! With the cargo feature `tracing` (off by default; `ws-api` turns it on), connections log
//! through the `tracing` crate, the same things at the same levels as every runtime (see
//! `ws_adapter`'s "Logging"): each in its span `ws_conn` with its `id`, `role` and `peer`,
//! whichever thread (the one in `recv`, the reactor, a sender) drives it. The hook of
//! [`accept`] and a [`Server`]'s handler run in the connection's span, so what they log carries
//! the connection too; elsewhere, enter [`Sender::span`]. Without the feature it costs nothing.
//!
//! ```no_run
//! use ws_runtime_std::{Decision, Event, Server};
//!
//! // An echo server...
//! let server = Server::bind("127.0.0.1:0")?.serve(
//!     |_request| Decision::accept(),
//!     |ws, _request| {
//!         while let Some(event) = ws.recv() {
//!             match event {
//!                 Event::Text(text) => { let _ = ws.send_text(&text); }
//!                 Event::Binary(data) => { let _ = ws.send_binary(&data); }
//!                 _ => {}
//!             }
//!         }
//!     },
//! )?;
//! // ...and a client.
//! let (ws, _response) = ws_runtime_std::connect(&format!("ws://{}", server.local_addr()))?;
//! ws.send_text("hello")?;
//! assert!(matches!(ws.recv(), Some(Event::Text(t)) if t == "hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod reactor;
mod server;
mod socket;
mod sys;
mod transport;

pub use client::{ClientBuilder, ConnectError, connect};
pub use server::{
    AcceptError, DEFAULT_THREAD_STACK, Decision, Reply, Server, ServerHandle, StreamedResponse,
    accept, accept_streaming, refuse, server_transport,
};
pub use socket::{
    Receiver, RecvTimeout, SendError, Sender, TrySendError, WebSocket, live_connections,
};
pub use transport::Transport;
pub use ws_adapter::DEFAULT_MAX_CONNECTIONS;
pub use ws_adapter::tls;
pub use ws_proto::handshake::{Accept, Request, Response};
pub use ws_proto::{CloseCode, CloseOutcome, Config, Event, PreparedMessage};

//! Blocking WebSocket clients and servers on std threads, driving the sans-IO core `ws-proto`.
//!
//! This crate only moves bytes: every protocol decision (framing, close handshake, limits,
//! keepalive and close timeouts) is made by [`ws_proto::Connection`]. Each connection runs a
//! reader thread that only reads and a writer thread that only writes, so two peers sending
//! large messages at each other never deadlock, and sends are bounded: they block (or fail with
//! [`TrySendError::Full`]) while the output queue is full.
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
mod server;
mod socket;
mod transport;

pub use client::{ClientBuilder, ConnectError, connect};
pub use server::{AcceptError, Decision, Server, ServerHandle, accept, server_transport};
pub use socket::{Receiver, SendError, Sender, TrySendError, WebSocket, live_connection_threads};
pub use transport::Transport;
pub use ws_adapter::tls;
pub use ws_proto::handshake::{Accept, Request, Response};
pub use ws_proto::{CloseCode, CloseOutcome, Config, Event, PreparedMessage};

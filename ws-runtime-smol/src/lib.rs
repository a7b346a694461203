//! Async WebSocket clients and servers on `futures-io`, driving the sans-IO core `ws-proto`.
//!
//! Each connection is run by one [`Driver`] future that owns the stream and the timer and polls
//! reads, writes, the user's sends and the core's deadlines together, so it never waits on just
//! one of them: two peers sending large messages at each other never deadlock. Every protocol
//! decision (framing, close handshake, limits, keepalive and close timeouts) is made by
//! [`ws_proto::Connection`]; this crate only moves bytes.
//!
//! It runs on any executor. With the default `smol` feature, [`connect`],
//! [`ClientBuilder::connect`] and [`Server::serve`] spawn drivers on smol's global executor;
//! elsewhere use [`ClientBuilder::connect_with_driver`], [`accept`] or
//! [`WebSocket::from_stream`] and spawn the returned [`Driver`] yourself.
//!
//! Memory is bounded both ways: sends wait (or fail with [`TrySendError::Full`]) while the
//! core's output queue is full, and the driver reads only while
//! [`Connection::wants_read`] says so (undelivered events under [`Config::read_ahead`]), so a
//! peer that outpaces the application meets TCP backpressure.
//!
//! # Logging
//!
//! With the cargo feature `tracing` (off by default; `ws-api` turns it on), connections log
//! through the `tracing` crate, the same things at the same levels as every runtime (see
//! `ws_adapter`'s "Logging"): each in its span `ws_conn` with its `id`, `role` and `peer`,
//! whether the driver or a handle emits the event. The handshake (the hook included) and a
//! [`Server`]'s handler run in the connection's span, so what they log carries the connection
//! too; elsewhere, instrument with [`Sender::span`]. Without the feature it costs nothing.
//!
//! ```no_run
//! use ws_runtime_smol::{Decision, Event, Server};
//!
//! # smol::block_on(async {
//! // An echo server...
//! let server = Server::bind("127.0.0.1:0").await?.serve(
//!     |_request| Decision::accept(),
//!     |ws, _request| async move {
//!         while let Some(event) = ws.recv().await {
//!             match event {
//!                 Event::Text(text) => { let _ = ws.send_text(&text).await; }
//!                 Event::Binary(data) => { let _ = ws.send_binary(&data).await; }
//!                 _ => {}
//!             }
//!         }
//!     },
//! )?;
//! // ...and a client.
//! let url = format!("ws://{}", server.local_addr());
//! let (ws, _response) = ws_runtime_smol::connect(&url).await?;
//! ws.send_text("hello").await?;
//! assert!(matches!(ws.recv().await, Some(Event::Text(t)) if t == "hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # });
//! ```

#![forbid(unsafe_code)]

mod client;
mod driver;
mod server;
mod socket;

use std::future::Future;
use std::time::Instant;

#[cfg(feature = "smol")]
pub use client::connect;
pub use client::{ClientBuilder, ConnectError};
pub use driver::Driver;
pub use server::{
    AcceptError, Decision, Reply, Server, ServerHandle, StreamedResponse, accept, accept_tcp,
    accept_tcp_streaming, accept_tcp_with,
};
pub use socket::{Cork, Receiver, SendError, Sender, TrySendError, WebSocket};
pub use ws_adapter::tls;
pub use ws_proto::handshake::{Accept, Request, Response};
pub use ws_proto::{
    CloseCode, CloseOutcome, Config, Connection, ConnectionState, Event, PreparedMessage,
};

/// Runs `future` until `deadline`: `None` if the deadline came first.
async fn with_deadline<T>(deadline: Instant, future: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        async_io::Timer::at(deadline).await;
        None
    })
    .await
}

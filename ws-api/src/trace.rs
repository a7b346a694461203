//! What this crate logs through `tracing` (cargo feature `tracing`, on by default), beside what
//! the runtime adapters log for every connection (`ws_adapter::trace`): what only this crate
//! sees. Without the feature every function here is empty.
//!
//! The adapters log a refused upgrade with its status; this crate adds why (the `Origin`
//! allow-list, or `on_connection` said no) at `debug`. A callback that panicked is the
//! application's bug: `error`, with the callback's name and the panic's message. Connection
//! events carry `api_id`, the connection's [`id`](crate::WebSocketConnection::id), and happen in
//! the adapter's connection span (whose `id` is the adapter's own), so the two can be matched.

use crate::dispatch::Panicked;

/// The `Origin` allow-list refused a request (the adapter logs the 403 itself).
#[inline]
pub(crate) fn origin_refused(origin: Option<&str>) {
    #[cfg(feature = "tracing")]
    tracing::debug!(origin, "origin not allowed by the server's allow-list");
    #[cfg(not(feature = "tracing"))]
    let _ = origin;
}

/// `on_connection` refused a request with `status` (the adapter logs the refusal itself).
#[inline]
pub(crate) fn refused_by_handler(status: u16) {
    #[cfg(feature = "tracing")]
    tracing::debug!(status, "on_connection refused the connection");
    #[cfg(not(feature = "tracing"))]
    let _ = status;
}

/// A connection of this crate, with its `api_id`, is open and its handler attached.
#[inline]
pub(crate) fn opened(api_id: u64) {
    #[cfg(feature = "tracing")]
    tracing::debug!(api_id, "handler attached");
    #[cfg(not(feature = "tracing"))]
    let _ = api_id;
}

/// A connection of this crate could not be opened (a client's DNS, TCP, TLS or handshake
/// failure): `debug`, since the application's `on_error` is told.
#[inline]
pub(crate) fn failed(api_id: u64, message: &str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(api_id, error = message, "connection failed to open");
    #[cfg(not(feature = "tracing"))]
    let _ = (api_id, message);
}

/// An application callback panicked (the panic was caught): `error`. `api_id` is the
/// connection's, for a connection's callback.
#[inline]
pub(crate) fn callback_panicked(callback: &str, api_id: Option<u64>, panic: &Panicked) {
    #[cfg(feature = "tracing")]
    tracing::error!(callback, api_id, panic = %panic, "callback panicked (the panic was caught)");
    #[cfg(not(feature = "tracing"))]
    let _ = (callback, api_id, panic);
}

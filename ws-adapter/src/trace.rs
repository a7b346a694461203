//! What the adapters log, and at which level, decided once for every runtime (cargo feature
//! `tracing`). The core is sans-IO and logs nothing: everything an operator needs is visible
//! here, in a refused request's status, a `HandshakeError`, the [`CloseOutcome`] of
//! [`Event::Closed`](ws_proto::Event::Closed), and the adapters' own backpressure points.
//!
//! Without the feature every function here is an empty `#[inline]` function and [`ConnSpan`],
//! [`Entered`] and [`Flow`] are zero-sized, so the adapters call them unconditionally and pay
//! nothing.
//!
//! Each connection has one span, `ws_conn`, with its `id`, `role` and `peer`. A connection is
//! driven from several threads or tasks (the application's, a reactor, a sender's), so the
//! events of a connection name its span as their parent explicitly instead of relying on the
//! span the emitting thread happens to be in: no span is entered or left on the per-message
//! paths. The adapters enter the span where they run application code (a server's hook), so
//! what that code logs carries the connection too.
//!
//! Levels: `debug` for what happens to every connection (open, closed, plain HTTP answers) and
//! for backpressure (logged when it starts and when it ends, never per message); `info` for
//! what a peer did wrong or failed to do (a refused or invalid upgrade, a protocol error, a
//! timeout); `warn` for what the server itself should not run into (a failing `accept`, the
//! connection limit reached, an upgrade the server's own answer made invalid). Nothing is
//! logged per message, at any level.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[cfg(not(feature = "tracing"))]
use std::marker::PhantomData;

use ws_proto::handshake::Request;
use ws_proto::{CloseOutcome, Connection, Role};

use crate::AcceptError;

#[cfg(feature = "tracing")]
use {
    std::sync::atomic::{AtomicU64, Ordering},
    tracing::{debug, info, warn},
    ws_proto::handshake::HandshakeError,
    ws_proto::{CloseInitiator, ConnectionState, ProtocolError},
};

/// Connection ids: unique in the process, increasing, never reused.
#[cfg(feature = "tracing")]
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A connection's span: `ws_conn`, with the fields `id` (unique in the process), `role`
/// (`client` or `server`) and `peer` (the socket address, when known). Cheap to clone; every
/// clone is the same span. Zero-sized without the `tracing` feature.
#[derive(Clone, Debug)]
pub struct ConnSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// The guard of an entered [`ConnSpan`]: the span is left when it is dropped. Like `tracing`'s
/// own guard it stays on the thread that entered the span (it is not `Send`), with or without
/// the feature.
#[must_use = "the span is left as soon as the guard is dropped"]
pub struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::Entered<'a>,
    #[cfg(not(feature = "tracing"))]
    _span: PhantomData<(&'a ConnSpan, *const ())>,
}

impl ConnSpan {
    /// The span of a new connection, with the next id. `peer` is asked for the peer's address
    /// only if a subscriber records the span (it is a system call).
    #[inline]
    pub fn new(role: Role, peer: impl FnOnce() -> Option<SocketAddr>) -> ConnSpan {
        #[cfg(feature = "tracing")]
        {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let role = match role {
                Role::Client => "client",
                Role::Server => "server",
            };
            let span = tracing::info_span!("ws_conn", id, role, peer = tracing::field::Empty);
            if !span.is_disabled()
                && let Some(peer) = peer()
            {
                span.record("peer", tracing::field::display(peer));
            }
            ConnSpan { span }
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (role, peer);
            ConnSpan {}
        }
    }

    /// The span the calling thread or task is in (a connection's, inside a hook the adapter
    /// runs), to carry it onto another thread: a blocking pool running application code for
    /// the connection, for instance.
    #[inline]
    pub fn current() -> ConnSpan {
        ConnSpan {
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
        }
    }

    /// Enters the span on this thread until the guard is dropped: what is logged meanwhile
    /// (by application code too) carries the connection. Never hold the guard across an
    /// `.await`; use [`instrument`](Self::instrument) for a future.
    #[inline]
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _entered: self.span.enter(),
            #[cfg(not(feature = "tracing"))]
            _span: PhantomData,
        }
    }

    /// `future`, in this span whenever it is polled.
    #[inline]
    pub fn instrument<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        #[cfg(feature = "tracing")]
        {
            tracing::Instrument::instrument(future, self.span.clone())
        }
        #[cfg(not(feature = "tracing"))]
        {
            future
        }
    }
}

/// The connection's opening handshake is complete (either role): `debug`.
#[inline]
pub fn opened(span: &ConnSpan) {
    #[cfg(feature = "tracing")]
    debug!(parent: &span.span, "connection open");
    #[cfg(not(feature = "tracing"))]
    let _ = span;
}

/// A server answered `request` with `status` instead of upgrading. A refused upgrade is
/// `info`, except a 503 (load shedding, which [`ConnectionLimit`](crate::ConnectionLimit)
/// reports once when it starts); a
/// plain HTTP request answered (a page, a file, a redirect) is `debug`. The path is logged,
/// never the query, which may carry credentials.
#[inline]
pub fn refused(span: &ConnSpan, request: &Request, status: u16) {
    #[cfg(feature = "tracing")]
    {
        let span = &span.span;
        let (method, path) = (request.method(), request.path());
        if !request.is_upgrade() {
            debug!(parent: span, status, method, path, "HTTP request answered");
        } else if status == 503 {
            debug!(parent: span, status, path, "upgrade refused");
        } else {
            info!(parent: span, status, path, "upgrade refused");
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (span, request, status);
}

/// A server's handshake ended without a WebSocket. An invalid request (answered with the
/// status the core chose) and a handshake timeout are the peer's doing: `info`. An upgrade
/// made invalid by the server's own answer (a subprotocol the client did not offer, a bad
/// header: status 500) is `warn`. A transport failure (the peer went away, TLS failed) is
/// `debug`: probes and health checks do it all the time. A refusal is logged where it is
/// decided, by [`refused`].
#[inline]
pub fn accept_failed(span: &ConnSpan, error: &AcceptError) {
    #[cfg(feature = "tracing")]
    {
        let span = &span.span;
        match error {
            AcceptError::Handshake(HandshakeError::Timeout) => {
                info!(parent: span, "handshake timed out");
            }
            AcceptError::Handshake(e) if e.status() >= 500 => {
                warn!(parent: span, status = e.status(), error = %e, "upgrade failed: invalid answer");
            }
            AcceptError::Handshake(e) => {
                info!(parent: span, status = e.status(), error = %e, "invalid upgrade request");
            }
            AcceptError::Io(e) => {
                debug!(parent: span, error = %e, "connection failed during the handshake");
            }
            AcceptError::Rejected(_) => {}
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (span, error);
}

/// How a connection ended, from its [`CloseOutcome`]: a protocol error (the peer's fault: the
/// close code and reason the violation maps to), a keepalive timeout and a close timeout (the
/// peer did not finish the close handshake in time, RFC 6455 §7.1.1) are `info`; every other
/// ending (a close handshake, the peer going away, an abort) is `debug`.
#[inline]
pub fn closed(span: &ConnSpan, outcome: &CloseOutcome) {
    #[cfg(feature = "tracing")]
    {
        let span = &span.span;
        let initiator = match outcome.initiator {
            CloseInitiator::Local => "local",
            CloseInitiator::Remote => "remote",
            CloseInitiator::Failure => "failure",
            CloseInitiator::Transport => "transport",
        };
        match outcome.error {
            Some(ProtocolError::KeepaliveTimeout) => info!(
                parent: span,
                code = ProtocolError::KeepaliveTimeout.close_code().0,
                timed_out = outcome.timed_out,
                "keepalive timeout: no answer to a Ping in time, connection failed",
            ),
            Some(error) => info!(
                parent: span,
                code = error.close_code().0,
                reason = %error,
                initiator,
                timed_out = outcome.timed_out,
                "protocol error by the peer, connection failed",
            ),
            None if outcome.timed_out => info!(
                parent: span,
                sent = outcome.sent.as_ref().map(|frame| frame.code.0),
                initiator,
                clean = outcome.clean,
                "close timeout: the peer did not finish the close handshake",
            ),
            None => debug!(
                parent: span,
                code = outcome.code().0,
                reason = outcome.reason(),
                sent = outcome.sent.as_ref().map(|frame| frame.code.0),
                initiator,
                clean = outcome.clean,
                "connection closed",
            ),
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (span, outcome);
}

/// A connection's backpressure, logged at `debug` when it starts and when it ends, never per
/// message: reading paused because the application is behind
/// ([`Connection::wants_read`] is false: undelivered events over
/// [`Config::read_ahead`](ws_proto::Config::read_ahead)), and the output queue full (a send
/// refused with [`Error::OutputFull`](ws_proto::Error::OutputFull): the peer reads slower than
/// the application sends). Keep one per connection; zero-sized without the feature.
#[derive(Debug, Default)]
pub struct Flow {
    #[cfg(feature = "tracing")]
    reading_paused: bool,
    #[cfg(feature = "tracing")]
    output_full: bool,
}

impl Flow {
    /// A send met a full output queue.
    #[inline]
    pub fn output_full(&mut self, span: &ConnSpan, ws: &Connection) {
        #[cfg(feature = "tracing")]
        if !self.output_full {
            self.output_full = true;
            debug!(
                parent: &span.span,
                queued = ws.output_len(),
                max = ws.config().max_output_buffer,
                "output queue full: sends wait until the peer reads",
            );
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (span, ws);
    }

    /// Looks at the connection after a round of driving: logs where reading paused or resumed,
    /// and where the output queue has room again.
    #[inline]
    pub fn observe(&mut self, span: &ConnSpan, ws: &Connection) {
        #[cfg(feature = "tracing")]
        {
            let open = ws.state() != ConnectionState::Closed;
            let paused = open && !ws.wants_read();
            if paused != self.reading_paused {
                self.reading_paused = paused;
                if paused {
                    debug!(
                        parent: &span.span,
                        pending = ws.pending_event_bytes(),
                        read_ahead = ws.config().read_ahead,
                        "reading paused: the application is behind",
                    );
                } else if open {
                    debug!(parent: &span.span, "reading resumed");
                }
            }
            if self.output_full && (ws.can_send() || ws.state() != ConnectionState::Open) {
                self.output_full = false;
                if ws.state() == ConnectionState::Open {
                    debug!(parent: &span.span, "output queue has room again");
                }
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (span, ws);
    }
}

/// A server answered a connection without a thread and without reading its request (the
/// blocking runtime's refusals at the connection limit): `debug`, like a 503 in [`refused`].
#[inline]
pub fn refused_unread(tcp: &TcpStream) {
    #[cfg(feature = "tracing")]
    if tracing::enabled!(tracing::Level::DEBUG) {
        let peer = tcp.peer_addr().ok().map(tracing::field::display);
        debug!(peer, "connection refused before its request was read");
    }
    #[cfg(not(feature = "tracing"))]
    let _ = tcp;
}

/// A listener's `accept` failed (out of file descriptors, ...) and the loop pauses for `delay`
/// ([`AcceptBackoff`](crate::AcceptBackoff)): `warn`, once per failure, which the back-off
/// itself spaces out.
#[inline]
pub(crate) fn accept_backoff(error: &io::Error, delay: Duration) {
    #[cfg(feature = "tracing")]
    warn!(error = %error, retry_in = ?delay, "accepting a connection failed");
    #[cfg(not(feature = "tracing"))]
    let _ = (error, delay);
}

/// A server reached its connection limit of `max` and answers new connections with 503: `warn`,
/// once until the load falls back (see [`ConnectionLimit`](crate::ConnectionLimit)).
#[cfg(feature = "tracing")]
pub(crate) fn limit_reached(max: usize) {
    warn!(
        max,
        "connection limit reached: new connections are answered 503"
    );
}

/// A server that had reached its connection limit is back below it with `open` connections:
/// `info`.
#[cfg(feature = "tracing")]
pub(crate) fn limit_relieved(open: usize, max: usize) {
    info!(open, max, "below the connection limit again");
}

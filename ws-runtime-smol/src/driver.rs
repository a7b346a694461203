//! The driver: one future per connection that owns the stream and the timer and moves bytes,
//! deadlines and transport actions between them and the core, following the core's drive
//! contract. It never waits on just one thing: each poll tries to write, flush, act on the
//! transport, read and arm the timer, registering interest in all of them before it sleeps.
//!
//! No protocol decision is made here: the core says what to write, when to shut down the write
//! side, when to close, and when its next deadline is.

use std::any::Any;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_io::{AsyncRead, AsyncWrite};
use socket2::SockRef;
use ws_adapter::with_read_buffer;
use ws_proto::TransportAction;

use crate::socket::{Inner, Shared};

/// Most output chunks handed to one vectored write.
const MAX_SLICES: usize = 64;
/// Rounds of work per poll before yielding to other tasks on the executor, so a busy connection
/// cannot starve its neighbours.
const ROUNDS_PER_POLL: usize = 32;

/// A stream the driver can own without knowing its type.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn as_any(&self) -> &dyn Any;
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The future that runs one connection: reads, writes, the close handshake and the core's
/// timers. Spawn it on any executor; it completes once the connection is closed and its stream
/// dropped.
///
/// Dropping it before it completes aborts the connection: handles then see [`Event::Closed`]
/// (1006) instead of waiting forever.
///
/// [`Event::Closed`]: ws_proto::Event::Closed
#[must_use = "a WebSocket makes no progress unless its driver is polled: spawn it"]
pub struct Driver {
    shared: Arc<Shared>,
    state: DriverState,
}

struct DriverState {
    /// `None` once the core said [`TransportAction::Close`].
    io: Option<Box<dyn Io>>,
    timer: Timer,
    /// The deadline the timer is set to; it may be earlier than the core's current one, which
    /// only costs an early (harmless) wake-up and saves re-arming on every read.
    armed: Option<Instant>,
    /// Bytes were written since the last flush (TLS keeps records until flushed).
    unflushed: bool,
    write: WriteSide,
    /// The stream reached EOF (or failed): nothing more to read.
    read_done: bool,
    /// Wakers to wake once the lock is released; kept to reuse its allocation.
    wake: Vec<Waker>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteSide {
    Open,
    /// The core asked for [`TransportAction::ShutdownWrite`]; `poll_close` is in progress.
    ShuttingDown,
    Shut,
}

impl Driver {
    pub(crate) fn new(io: Box<dyn Io>, shared: Arc<Shared>) -> Driver {
        Driver {
            shared,
            state: DriverState {
                io: Some(io),
                timer: Timer::never(),
                armed: None,
                unflushed: false,
                write: WriteSide::Open,
                read_done: false,
                // Sized now, with the connection's other long-lived state: grown at the first
                // message instead, it would be a small allocation that outlives the message's
                // buffers around it and keeps their freed memory from going back to the system.
                wake: Vec::with_capacity(2),
            },
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Driver { shared, state } = self.get_mut();
        let mut inner = shared.lock();
        inner.set_driver(cx.waker());
        let mut rounds = 0;
        let result = loop {
            let progress = state.step(&mut inner, cx);
            inner.pump(&shared.span, &mut state.wake);
            if state.io.is_none() {
                break Poll::Ready(());
            }
            if !progress {
                break Poll::Pending;
            }
            rounds += 1;
            if rounds == ROUNDS_PER_POLL {
                cx.waker().wake_by_ref();
                break Poll::Pending;
            }
        };
        drop(inner);
        state.wake.drain(..).for_each(Waker::wake);
        result
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        // Nothing moves this connection without its driver: end it, so handles see `Closed`.
        inner.ws.abort();
        if let Some(io) = &self.state.io
            && inner.reset
        {
            reset(&**io);
        }
        inner.pump(&self.shared.span, &mut self.state.wake);
        drop(inner);
        self.state.wake.drain(..).for_each(Waker::wake);
    }
}

impl DriverState {
    /// One round of the drive contract. Returns whether anything happened, i.e. whether another
    /// round may find more to do; when it returns `false` every source has registered `cx`.
    fn step(&mut self, inner: &mut Inner, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let now = Instant::now();
        if inner.ws.poll_timeout().is_some_and(|at| at <= now) {
            inner.ws.handle_timeout(now);
            progress = true;
        }
        let ws = &mut inner.ws;
        let Some(io) = self.io.as_mut() else {
            return progress;
        };
        let mut io = Pin::new(&mut **io);

        // 1. Write what the stream takes of the output, then flush once it is all written.
        if self.write == WriteSide::Open && ws.output_len() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = ws.output_vectored(&mut slices);
            match io.as_mut().poll_write_vectored(cx, &slices[..n]) {
                Poll::Ready(Ok(written)) if written > 0 => {
                    ws.consume_output(written);
                    self.unflushed = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => progress = true,
                // A failed or zero-length write: the peer is gone and nothing queued can be
                // delivered.
                Poll::Ready(_) => {
                    ws.abort();
                    progress = true;
                }
                Poll::Pending => {}
            }
        }
        if self.write == WriteSide::Open && self.unflushed && ws.output_len() == 0 {
            match io.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => {
                    ws.abort();
                    progress = true;
                }
                Poll::Pending => {}
            }
        }

        // 2. Transport actions. ShutdownWrite closes the write side only (TLS: close_notify, then
        //    TCP: FIN) and reading goes on; Close drops the stream.
        let mut close = false;
        while let Some(action) = ws.poll_transport() {
            match action {
                TransportAction::ShutdownWrite if self.write == WriteSide::Open => {
                    self.write = WriteSide::ShuttingDown;
                }
                TransportAction::ShutdownWrite => {}
                TransportAction::Close => close = true,
            }
        }
        if self.write == WriteSide::ShuttingDown && !(close && inner.reset) {
            // With `Close` also due, one attempt is all it gets: the core wants the stream gone.
            if io.as_mut().poll_close(cx).is_ready() || close {
                // `poll_close` flushed (and for TLS sent close_notify), but some streams, such as
                // `Async<TcpStream>`, only flush: shut the TCP write half down explicitly. A
                // failure means the peer is gone, which the read side reports to the core.
                if let Some(socket) = socket_of((*io).as_any()) {
                    let _ = socket.shutdown(Shutdown::Write);
                }
                self.write = WriteSide::Shut;
                progress = true;
            }
        }
        if close {
            if inner.reset {
                reset(&*io);
            }
            self.io = None;
            return true;
        }

        // 3. Read until EOF, but only while the core wants input (its one flow-control rule:
        //    undelivered events under `read_ahead`). The receiver, whose taking events turns it
        //    back on, wakes this task when it does.
        if !self.read_done && ws.wants_read() {
            let read = with_read_buffer(|buf| match io.as_mut().poll_read(cx, buf) {
                Poll::Ready(Ok(0)) => Some(true),
                Poll::Ready(Ok(n)) => {
                    ws.receive(Instant::now(), &buf[..n]);
                    Some(false)
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Some(false),
                // A reset, or a TLS failure: nothing more will arrive.
                Poll::Ready(Err(_)) => Some(true),
                Poll::Pending => None,
            });
            if let Some(eof) = read {
                if eof {
                    ws.receive_eof(Instant::now());
                    self.read_done = true;
                }
                progress = true;
            }
        }

        // 4. Sleep until the core's next deadline (re-read: any call may have moved it).
        if let Some(at) = ws.poll_timeout()
            && self.armed.is_none_or(|armed| at < armed)
        {
            self.timer.set_at(at);
            self.armed = Some(at);
        }
        if self.armed.is_some() && Pin::new(&mut self.timer).poll(cx).is_ready() {
            self.armed = None;
            progress = true;
        }
        progress
    }
}

/// The TCP socket under the streams this crate knows (`Async<TcpStream>`, `async_net::TcpStream`
/// and `futures-rustls` streams over either), for the peer address, the write-half shutdown and
/// aborting with a reset.
pub(crate) fn socket_of(stream: &dyn Any) -> Option<SockRef<'_>> {
    if let Some(tcp) = find::<Async<TcpStream>>(stream) {
        return Some(SockRef::from(tcp.get_ref()));
    }
    find::<async_net::TcpStream>(stream).map(SockRef::from)
}

/// The peer's address, when `stream` is one [`socket_of`] knows.
pub(crate) fn peer_addr_of(stream: &dyn Any) -> Option<SocketAddr> {
    socket_of(stream)
        .and_then(|socket| socket.peer_addr().ok())
        .and_then(|addr| addr.as_socket())
}

/// `stream` as a `B`, or the `B` under a TLS stream.
fn find<B: Any>(stream: &dyn Any) -> Option<&B> {
    use futures_rustls::{client, server};
    stream
        .downcast_ref::<B>()
        .or_else(|| {
            stream
                .downcast_ref::<client::TlsStream<B>>()
                .map(|s| s.get_ref().0)
        })
        .or_else(|| {
            stream
                .downcast_ref::<server::TlsStream<B>>()
                .map(|s| s.get_ref().0)
        })
}

/// Makes dropping the stream send a RST instead of a FIN: SO_LINGER 0 discards unsent data and
/// resets the connection on close.
fn reset(io: &dyn Io) {
    if let Some(socket) = socket_of((*io).as_any()) {
        let _ = socket.set_linger(Some(Duration::ZERO));
    }
}

//! The user's handles on a running connection: [`WebSocket`], [`Sender`] and [`Receiver`], and
//! the small state they share with the connection's [`Driver`].
//!
//! ```text
//!   Sender::send_* ──▶ ┌───────────────────────────┐ ──wake──▶ Driver (owns the stream and timer)
//!   (any task)         │ Mutex<Inner>: Connection, │
//!   Receiver::recv ◀── │ wakers                    │ ◀─receive/output/timeouts── Driver
//!                      └───────────────────────────┘
//! ```
//!
//! Handles call the core directly under the lock, so a send is accepted or refused at once with
//! the core's own error; the driver does all IO. Nothing here waits in a loop: a send that meets
//! a full output queue, or a receive with nothing queued, parks its waker until the driver
//! changes that.

use std::any::Any;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::Stream;
use futures_lite::future::poll_fn;
use ws_adapter::trace::{self, ConnSpan, Flow};
use ws_proto::{CloseCode, Connection, ConnectionState, Error as CoreError, Event};

use crate::driver::{Driver, peer_addr_of};
pub use ws_adapter::{SendError, TrySendError};

ws_adapter::handles! {
    shared: Shared, guard: HandleGuard;
    /// An async WebSocket connection.
    ///
    /// Receive with [`recv`](Self::recv) or as a [`Stream`] of events; send from any task through
    /// [`sender`](Self::sender) clones or the methods this type shares with [`Sender`] by `Deref`.
    /// The connection only makes progress while its [`Driver`] is polled. Dropping every handle
    /// (the `WebSocket`, its [`Receiver`] and all [`Sender`]s) closes the connection with 1001.
    websocket;
    /// The sending half: cheap to clone, usable from any task or thread.
    sender;
    /// The receiving half: [`recv`](Self::recv), or a [`Stream`] of events.
    receiver;
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    peer_addr: Option<SocketAddr>,
    /// The connection's span: the driver and the handles log in it.
    pub(crate) span: ConnSpan,
}

/// Everything the handles and the driver share; only ever touched under the lock, never held
/// across an `.await`.
pub(crate) struct Inner {
    pub(crate) ws: Connection,
    /// `Event::Closed` was handed to the user: receiving returns `None` from now on.
    finished: bool,
    /// The receiving half is gone: events are dropped instead of queued.
    receiver_gone: bool,
    /// End with a RST rather than a FIN ([`Sender::abort`]).
    pub(crate) reset: bool,
    driver: Option<Waker>,
    receivers: Vec<Waker>,
    senders: Vec<Waker>,
    /// Backpressure, logged where it starts and ends.
    flow: Flow,
    /// [`Cork`]s held: while any is, sends leave waking the driver to the last one's drop.
    corks: usize,
}

/// Closes the connection when the last user handle is dropped.
struct HandleGuard {
    shared: Arc<Shared>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let _ = inner.ws.close(Instant::now(), CloseCode::GOING_AWAY, "");
        let driver = inner.driver.clone();
        drop(inner);
        wake(driver);
    }
}

impl WebSocket {
    /// Runs `connection` (whose opening handshake is complete) over `stream`.
    ///
    /// Returns the user's handle and the connection's [`Driver`], a future that must be
    /// spawned (or otherwise polled) on any executor for the connection to make progress. For
    /// `async_io::Async<TcpStream>`, `async_net::TcpStream` and `futures-rustls` streams over
    /// either,
    /// [`abort`](Sender::abort) ends the connection with a TCP reset and
    /// [`peer_addr`](Sender::peer_addr) is known; other streams are simply dropped on abort.
    pub fn from_stream<S>(stream: S, connection: Connection) -> (WebSocket, Driver)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let span = ConnSpan::new(connection.role(), || peer_addr_of(&stream as &dyn Any));
        WebSocket::start(stream, connection, span)
    }

    /// [`from_stream`](Self::from_stream) in `span`, the one the handshake was logged in.
    pub(crate) fn start<S>(stream: S, connection: Connection, span: ConnSpan) -> (WebSocket, Driver)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer_addr = peer_addr_of(&stream as &dyn Any);
        trace::opened(&span);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                ws: connection,
                finished: false,
                receiver_gone: false,
                reset: false,
                driver: None,
                // One receiver is the rule; sized now for the reason the driver's list is.
                receivers: Vec::with_capacity(1),
                senders: Vec::new(),
                flow: Flow::default(),
                corks: 0,
            }),
            peer_addr,
            span,
        });
        let driver = Driver::new(Box::new(stream), Arc::clone(&shared));
        let ws = WebSocket::from_shared(shared);
        (ws, driver)
    }

    /// Waits for the next event: a message, a Ping or Pong, and finally [`Event::Closed`] with
    /// the outcome. Returns `None` after `Closed` was returned.
    pub async fn recv(&self) -> Option<Event> {
        self.receiver.recv().await
    }
}

impl Stream for WebSocket {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.receiver.poll_recv(cx)
    }
}

impl Receiver {
    /// See [`WebSocket::recv`].
    pub async fn recv(&self) -> Option<Event> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next event; see [`WebSocket::recv`].
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut inner = self.shared.lock();
        let was_paused = !inner.ws.wants_read();
        let had_output = inner.ws.output_len() > 0;
        let state = inner.ws.state();
        // The application polls the core itself, one event at a time, so what it sends in
        // answer goes out before a Close that arrived after the event (ws-proto's drive
        // contract).
        let Some(event) = inner.ws.poll_event() else {
            // Polling may have applied a queued Close or failure: then the driver has output or
            // a transport action to act on. An open connection with nothing queued needs no
            // wake, nor one whose output a cork holds back (the cork's drop wakes it).
            let output = inner.ws.output_len() > 0 && inner.corks == 0;
            let driver = (output || inner.ws.state() != ConnectionState::Open)
                .then(|| inner.driver.clone())
                .flatten();
            if inner.finished {
                drop(inner);
                wake(driver);
                return Poll::Ready(None);
            }
            register(&mut inner.receivers, cx.waker());
            drop(inner);
            wake(driver);
            return Poll::Pending;
        };
        if let Event::Closed(outcome) = &event {
            trace::closed(&self.shared.span, outcome);
            inner.finished = true;
        }
        // Wake the driver only when this call gave it something to do: reading may resume (the
        // core's flow-control rule), output appeared where there was none (an automatic Pong,
        // a Close echo), or the connection started closing (a transport action, a new timer).
        // Output that was already queued has woken it before; waking it for every event
        // would cost a wake-up per message.
        let needs_driver = was_paused && inner.ws.wants_read()
            || !had_output && inner.ws.output_len() > 0
            || inner.ws.state() != state;
        let driver = needs_driver.then(|| inner.driver.clone()).flatten();
        drop(inner);
        wake(driver);
        Poll::Ready(Some(event))
    }
}

impl Stream for Receiver {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.poll_recv(cx)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        // Nobody can take events any more: drop them, so reading never stalls on a full queue.
        inner.receiver_gone = true;
        ws_adapter::discard_events(&self.shared.span, &mut inner.ws);
        let driver = inner.driver.clone();
        drop(inner);
        wake(driver);
    }
}

macro_rules! send_methods {
    ($($(#[$doc:meta])* $name:ident / $try_name:ident ($($arg:ident: $ty:ty),*)
        => |$ws:ident| $call:expr;)*) => {
        impl Sender {
            $(
                $(#[$doc])*
                ///
                /// Waits while the output queue is full (backpressure), then completes as soon
                /// as the frame is queued; the driver writes it.
                pub async fn $name(&self, $($arg: $ty),*) -> Result<(), SendError> {
                    poll_fn(|cx| self.poll_send(Some(cx), |$ws| $call))
                        .await
                        .map_err(SendError::from)
                }

                $(#[$doc])*
                ///
                /// Never waits: fails with [`TrySendError::Full`] while the output queue is full.
                pub fn $try_name(&self, $($arg: $ty),*) -> Result<(), TrySendError> {
                    match self.poll_send(None, |$ws| $call) {
                        Poll::Ready(result) => result,
                        Poll::Pending => Err(TrySendError::Full),
                    }
                }
            )*
        }
    };
}

ws_adapter::for_each_send!(send_methods);

impl Sender {
    /// Starts the closing handshake with `code` and a `reason` of at most 123 bytes.
    ///
    /// Completes as soon as the Close frame is queued (it never waits for room); the outcome
    /// arrives as [`Event::Closed`] once the peer answered, or after the close timeout.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.try_close(code, reason)
    }

    /// [`close`](Self::close) without a future, for callers outside async code: queuing the
    /// Close frame never waits.
    pub fn try_close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let mut inner = self.shared.lock();
        let result = inner.ws.close(Instant::now(), code, reason);
        let driver = inner.driver.clone();
        drop(inner);
        wake(driver);
        SendError::from_close(result)
    }

    /// Drops the connection at once: no Close frame and no FIN (on TCP the peer sees a reset).
    /// The local outcome is [`Event::Closed`] with 1006 unless the peer's Close had arrived.
    pub fn abort(&self) {
        let mut inner = self.shared.lock();
        inner.reset = true;
        inner.ws.abort();
        let mut wakers = Vec::new();
        inner.pump(&self.shared.span, &mut wakers);
        wakers.extend(inner.driver.clone());
        drop(inner);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Holds back the driver while the returned guard lives: sends queue their frames without
    /// waking it, and dropping the last cork wakes it once to write them all, in as few writes
    /// as they fill. For code that sends many messages in a row from outside the executor (a
    /// thread pool running callbacks, another thread), where waking the driver for the first
    /// of them would have it write each one on its own. A driver that runs for another reason
    /// meanwhile (data arrived, a timer) writes what is queued, as always. Sends never wait on
    /// a cork: a full output queue still wakes the driver. Corks nest and may be held from
    /// several threads; the last one dropped wakes the driver.
    ///
    /// ```no_run
    /// # async fn run(ws: ws_runtime_smol::WebSocket) -> Result<(), ws_runtime_smol::SendError> {
    /// let cork = ws.cork();
    /// for i in 0..100 {
    ///     ws.send_text(&i.to_string()).await?;
    /// }
    /// drop(cork); // one wake-up of the driver, which writes all hundred
    /// # Ok(())
    /// # }
    /// ```
    pub fn cork(&self) -> Cork<'_> {
        self.shared.lock().corks += 1;
        Cork { sender: self }
    }

    /// The connection's state.
    pub fn state(&self) -> ConnectionState {
        self.shared.lock().ws.state()
    }

    /// Bytes of buffer capacity the connection holds for receiving and sending, not counting
    /// events already handed out (see
    /// [`Connection::buffer_capacity`](ws_proto::Connection::buffer_capacity)). After a large
    /// message it falls back to a small bound, so an idle connection does not keep the memory
    /// of its largest message. For monitoring and tests.
    pub fn buffer_capacity(&self) -> usize {
        self.shared.lock().ws.buffer_capacity()
    }

    /// The peer's address, when the stream is a TCP stream this crate knows.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.shared.peer_addr
    }

    /// The connection's span (`ws_conn`, with its `id`, `role` and `peer`; cargo feature
    /// `tracing`, zero-sized without it). Instrument the application's work for this
    /// connection with it, so what it logs carries the connection too.
    pub fn span(&self) -> &ConnSpan {
        &self.shared.span
    }

    /// Tries `send` on the core. With a context, a full output queue parks the task until the
    /// driver drains it; without one it is reported as [`TrySendError::Full`].
    fn poll_send(
        &self,
        cx: Option<&mut Context<'_>>,
        send: impl FnOnce(&mut Connection) -> Result<(), CoreError>,
    ) -> Poll<Result<(), TrySendError>> {
        let mut inner = self.shared.lock();
        let idle = inner.ws.output_len() == 0;
        let error = match send(&mut inner.ws) {
            Ok(()) => {
                // With output already queued the driver is waiting on the socket and will write
                // this too; only an idle driver needs a wake-up (saves one per pipelined send),
                // and not while corked: the last cork wakes it.
                let driver = if idle && inner.corks == 0 {
                    inner.driver.clone()
                } else {
                    None
                };
                drop(inner);
                wake(driver);
                return Poll::Ready(Ok(()));
            }
            Err(CoreError::OutputFull) => {
                inner.output_full(&self.shared.span);
                // The driver is draining the queue already, unless a cork held it back: then it
                // must be woken, or a full queue would never drain.
                let driver = (inner.corks > 0).then(|| inner.driver.clone()).flatten();
                let result = match cx {
                    Some(cx) => {
                        register(&mut inner.senders, cx.waker());
                        Poll::Pending
                    }
                    None => Poll::Ready(Err(TrySendError::Full)),
                };
                drop(inner);
                wake(driver);
                return result;
            }
            Err(CoreError::Closed) => TrySendError::Closed,
            Err(e) => TrySendError::Invalid(e),
        };
        Poll::Ready(Err(error))
    }
}

/// Holds back a connection's driver while it lives: see [`Sender::cork`].
#[must_use = "the cork is released as soon as it is dropped"]
pub struct Cork<'a> {
    sender: &'a Sender,
}

impl Drop for Cork<'_> {
    fn drop(&mut self) {
        let mut inner = self.sender.shared.lock();
        inner.corks -= 1;
        let driver = (inner.corks == 0 && inner.ws.output_len() > 0)
            .then(|| inner.driver.clone())
            .flatten();
        drop(inner);
        wake(driver);
    }
}

impl std::fmt::Debug for Cork<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cork").finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the core half-updated in a way that
        // matters more than stopping the connection; keep going with the data as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Collects the wakers of whoever can now make progress, to be woken once the lock is
    /// released: receivers when the core holds events (they stay in the core until a receiver
    /// polls them), senders when the core takes sends again or never will. With no receiver
    /// left, the core's events are dropped here.
    pub(crate) fn pump(&mut self, span: &ConnSpan, wake: &mut Vec<Waker>) {
        if self.receiver_gone {
            // Nobody will take events: drop them so reading never stalls on them.
            ws_adapter::discard_events(span, &mut self.ws);
        } else if self.ws.has_events() {
            wake.append(&mut self.receivers);
        }
        self.flow.observe(span, &self.ws);
        if !self.senders.is_empty()
            && (self.ws.can_send() || self.ws.state() != ConnectionState::Open)
        {
            wake.append(&mut self.senders);
        }
    }

    /// A send met a full output queue: backpressure (logged where it starts).
    fn output_full(&mut self, span: &ConnSpan) {
        self.flow.output_full(span, &self.ws);
    }

    /// Remembers the driver's waker for the handles.
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        match &self.driver {
            Some(known) if known.will_wake(waker) => {}
            _ => self.driver = Some(waker.clone()),
        }
    }
}

/// Adds `waker` to `list` unless an equivalent one is there: a task polled again before it was
/// woken does not grow the list.
fn register(list: &mut Vec<Waker>, waker: &Waker) {
    if !list.iter().any(|known| known.will_wake(waker)) {
        list.push(waker.clone());
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

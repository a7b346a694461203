//! A running WebSocket: the core behind a lock, handles for the user, and no thread of its own.
//!
//! ```text
//!   socket ──read (blocking)──▶ the thread in recv() ──receive()──▶ ┌──────────────┐ ──events──▶ recv()
//!          ──read (idle app)──▶ reactor                            │  Connection  │
//!   socket ◀─non-blocking write── whoever has output:               │ (ws-proto)   │ ◀──send_*── any thread
//!                                sender, recv(), reactor (when the  └──────────────┘
//!                                socket has room again)             ◀── timers ── reactor
//! ```
//!
//! The application thread that calls [`Receiver::recv`] reads the socket itself (tungstenite's
//! model): a server connection costs the one thread running its handler, a client connection
//! none. Writes never block: each is a non-blocking call, and what the socket cannot take now is
//! written by the shared [reactor](crate::reactor) when it has room. The reactor also fires the
//! core's timers and reads for an application that is away, so a close timeout, a Pong timeout
//! or [`Sender::abort`] end a connection on time whatever its threads are doing.
//!
//! No protocol decision is made here, and flow control is the core's one rule: the socket is
//! read only while [`Connection::wants_read`] says so.

use std::cell::RefCell;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ws_proto::{
    CloseCode, Connection, ConnectionState, Error as CoreError, Event, TransportAction,
};

use crate::reactor::Reactor;
use crate::sys;
use crate::transport::{Transport, clear_deadline, close_tcp};
use ws_adapter::READ_CHUNK;
use ws_adapter::trace::{self, ConnSpan, Flow};
pub use ws_adapter::{SendError, TrySendError};

/// Most plaintext handed to TLS per round, so rustls never buffers more than this.
const TLS_WRITE_CHUNK: usize = 64 << 10;
/// Most output slices per vectored write.
const MAX_SLICES: usize = 64;
/// Output deferred inside a receive batch is written at once past this much.
const DEFER_LIMIT: usize = 64 << 10;
/// How long the application may be away from `recv` before the reactor reads for it (so Pings
/// are answered, Pongs seen and deferred output written while it is busy).
const READ_SWEEP: Duration = Duration::from_millis(100);
/// Rounds of non-blocking reads per reactor visit, so one busy connection cannot hold it.
const SWEEP_READS: usize = 16;

ws_adapter::handles! {
    shared: Shared, guard: HandleGuard;
    /// A WebSocket connection on a blocking socket.
    ///
    /// Receive with [`recv`](Self::recv) (the calling thread reads the socket); send from any
    /// thread through [`sender`](Self::sender) clones or the methods this type shares with
    /// [`Sender`] by `Deref` (sends never block on the socket; the blocking variants wait only
    /// while the output queue is full). Dropping every handle (the `WebSocket`, its [`Receiver`]
    /// and all [`Sender`]s) closes the connection with 1001; the close handshake then completes
    /// in the background.
    websocket;
    /// The sending half: cheap to clone, usable from any thread.
    sender;
    /// The receiving half: [`recv`](Self::recv), or an iterator of events.
    receiver;
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// An event was queued, the connection ended, or the reading role was released: receivers
    /// look.
    readable: Condvar,
    /// Output drained: blocked senders look.
    space: Condvar,
    peer_addr: Option<SocketAddr>,
    reactor: &'static Reactor,
    /// The connection's span: every thread that drives the connection logs in it.
    span: ConnSpan,
}

struct Inner {
    ws: Connection,
    tls: Option<Box<rustls::Connection>>,
    /// Encrypted bytes TLS produced that the socket has not taken yet.
    tls_out: Vec<u8>,
    tls_out_pos: usize,
    /// The socket; `None` once the core said `Close`. A reading thread holds a clone of the
    /// `Arc` while it reads, so the descriptor closes when the last of them lets go.
    tcp: Option<Arc<TcpStream>>,
    /// The reactor's key for this connection.
    key: usize,
    /// A thread is blocked reading the socket: nobody else reads.
    reading: bool,
    /// Since when no application thread has been reading (`None` while one is).
    away_since: Option<Instant>,
    /// The thread that called `recv` has more events already read to go through: sends made
    /// meanwhile are written together when it comes back (or by the reactor's sweep).
    in_batch: bool,
    /// The transport reached EOF or failed: nothing more to read.
    read_done: bool,
    /// `ShutdownWrite` was asked for and waits for the TLS records before it.
    shutdown_pending: bool,
    /// Output waits for the socket to have room (the reactor watches for it).
    write_blocked: bool,
    /// Every user handle is gone: the reactor reads until the close handshake completes.
    orphaned: bool,
    /// The application has been away from `recv` for a while: the reactor reads when data
    /// arrives.
    watching: bool,
    /// The readiness the reactor was last asked to watch (one-shot: cleared when it fires).
    registered: (bool, bool),
    /// Threads waiting in a blocking send.
    senders_waiting: usize,
    /// Threads waiting in `recv` for an event or for the reading role. Condvars are only
    /// notified when someone waits: a notification is a system call even with no waiter.
    receivers_waiting: usize,
    /// `Event::Closed` was handed to the user: `recv` returns `None` from now on.
    finished: bool,
    /// Abort with a RST rather than a FIN.
    reset: bool,
    /// The earliest deadline the reactor was asked to call back at.
    armed: Option<Instant>,
    /// A read timeout is set on the socket (by `recv_timeout`).
    read_timeout_set: bool,
    /// Backpressure, logged where it starts and ends.
    flow: Flow,
}

/// Closes the connection when the last user handle is dropped.
struct HandleGuard {
    shared: Arc<Shared>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let shared = &self.shared;
        let mut inner = shared.lock();
        let _ = inner.ws.close(Instant::now(), CloseCode::GOING_AWAY, "");
        inner.orphaned = true;
        // Nobody will take events any more: drop them, so reading never stalls on them.
        ws_adapter::discard_events(&shared.span, &mut inner.ws);
        shared.drive(&mut inner, None);
    }
}

static LIVE_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

impl WebSocket {
    /// Starts a connection whose opening handshake is complete. No thread is started: the
    /// calling thread of [`recv`](Self::recv) reads, and the shared reactor writes what
    /// non-blocking writes could not, fires the core's timers and reads for an absent
    /// application. The transport's handshake timeouts are cleared; the core's timers take
    /// over.
    pub fn from_transport(transport: Transport, ws: Connection) -> io::Result<WebSocket> {
        let span = ConnSpan::new(ws.role(), || transport.tcp.peer_addr().ok());
        WebSocket::start(transport, ws, span)
    }

    /// [`from_transport`](Self::from_transport) in `span`, the one the handshake was logged in.
    pub(crate) fn start(
        transport: Transport,
        ws: Connection,
        span: ConnSpan,
    ) -> io::Result<WebSocket> {
        let Transport { tcp, tls } = transport;
        clear_deadline(&tcp)?;
        sys::prepare(&tcp)?;
        let _ = tcp.set_nodelay(true);
        let reactor = Reactor::get()?;
        let peer_addr = tcp.peer_addr().ok();
        let tcp = Arc::new(tcp);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                ws,
                tls: tls.map(Box::new),
                tls_out: Vec::new(),
                tls_out_pos: 0,
                tcp: Some(Arc::clone(&tcp)),
                key: 0,
                reading: false,
                away_since: Some(Instant::now()),
                in_batch: false,
                read_done: false,
                shutdown_pending: false,
                write_blocked: false,
                orphaned: false,
                watching: false,
                registered: (false, false),
                senders_waiting: 0,
                receivers_waiting: 0,
                finished: false,
                reset: false,
                armed: None,
                read_timeout_set: false,
                flow: Flow::default(),
            }),
            readable: Condvar::new(),
            space: Condvar::new(),
            peer_addr,
            reactor,
            span,
        });
        let key = reactor.register(&tcp, &shared)?;
        LIVE_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
        trace::opened(&shared.span);
        {
            let mut inner = shared.lock();
            inner.key = key;
            // The handshake response (server) and any frames after it go out now.
            shared.drive(&mut inner, None);
        }
        Ok(WebSocket::from_shared(shared))
    }

    /// Waits for the next event: a message, a Ping or Pong, and finally [`Event::Closed`] with
    /// the outcome. Returns `None` after `Closed` was returned. The calling thread reads the
    /// socket while it waits.
    pub fn recv(&self) -> Option<Event> {
        self.receiver.recv()
    }

    /// Like [`recv`](Self::recv), giving up after `timeout` with [`RecvTimeout`]. A timeout
    /// leaves the connection as it was: call again to keep waiting.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, RecvTimeout> {
        self.receiver.recv_timeout(timeout)
    }
}

/// No event came within the timeout given to [`WebSocket::recv_timeout`]. The connection is
/// unaffected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvTimeout;

impl std::fmt::Display for RecvTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no event within the timeout")
    }
}

impl std::error::Error for RecvTimeout {}

impl Receiver {
    /// See [`WebSocket::recv`].
    pub fn recv(&self) -> Option<Event> {
        self.recv_until(None).unwrap_or(None)
    }

    /// See [`WebSocket::recv_timeout`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, RecvTimeout> {
        self.recv_until(Some(ws_proto::deadline(Instant::now(), timeout)))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Option<Event>, RecvTimeout> {
        let shared = &*self.shared;
        let mut inner = shared.lock();
        inner.in_batch = false;
        loop {
            // The application polls the core itself, one event at a time, so whatever it sends
            // in answer goes out before a Close that arrived after the event (see the drive
            // contract of ws-proto).
            if let Some(event) = inner.ws.poll_event() {
                if let Event::Closed(outcome) = &event {
                    trace::closed(&shared.span, outcome);
                    inner.finished = true;
                }
                inner.in_batch = inner.ws.has_events();
                shared.drive(&mut inner, None);
                return Ok(Some(event));
            }
            // Nothing queued: what the batch sent goes out before this thread blocks.
            shared.drive(&mut inner, None);
            if inner.finished {
                return Ok(None);
            }
            let can_read = !inner.reading && !inner.read_done && inner.ws.wants_read();
            let tcp = match inner.tcp.clone() {
                Some(tcp) if can_read => tcp,
                // Someone else is reading, or progress depends on the reactor (output to drain,
                // a timer): wait for it.
                _ => {
                    inner.receivers_waiting += 1;
                    let woken = shared.wait(&shared.readable, inner, deadline);
                    let timed_out = woken.is_none();
                    inner = woken.unwrap_or_else(|| shared.lock());
                    inner.receivers_waiting -= 1;
                    if timed_out {
                        return Err(RecvTimeout);
                    }
                    continue;
                }
            };
            if deadline.is_some() || inner.read_timeout_set {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if left.is_some_and(|left| left.is_zero()) {
                    return Err(RecvTimeout);
                }
                // A zero timeout means "block forever" to the socket: at least 1 ms.
                let left = left.map(|left| left.max(Duration::from_millis(1)));
                if tcp.set_read_timeout(left).is_ok() {
                    inner.read_timeout_set = left.is_some();
                }
            }
            inner.reading = true;
            inner.away_since = None;
            inner.watching = false;
            drop(inner);
            let (result, relocked, now) = with_recv_buffer(|buf| {
                let result = read_some(&tcp, buf);
                let mut inner = shared.lock();
                let now = Instant::now();
                let result = match result {
                    Ok(n) => {
                        inner.receive(now, &buf[..n]);
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                (result, inner, now)
            });
            drop(tcp);
            inner = relocked;
            inner.reading = false;
            inner.away_since = Some(now);
            // Another receiver may have waited for the reading role.
            if inner.receivers_waiting > 0 {
                shared.readable.notify_all();
            }
            if result.is_err() {
                // Timed out (`recv_timeout`): the deadline decides.
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    shared.drive(&mut inner, None);
                    return Err(RecvTimeout);
                }
            }
        }
    }
}

impl Iterator for Receiver {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

/// Reads once; EOF and failures are reported as `Ok(0)` (nothing more will arrive), a read
/// timeout as the error.
fn read_some(tcp: &TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match sys::recv_into(tcp, buf, false) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(e);
            }
            // A reset or a local shutdown: nothing more will arrive.
            Err(_) => return Ok(0),
        }
    }
}

macro_rules! send_methods {
    ($($(#[$doc:meta])* $name:ident / $try_name:ident ($($arg:ident: $ty:ty),*)
        => |$ws:ident| $call:expr;)*) => {
        impl Sender {
            $(
                $(#[$doc])*
                ///
                /// Blocks only while the output queue is full (backpressure), never on the
                /// socket: what it cannot take now is written in the background.
                pub fn $name(&self, $($arg: $ty),*) -> Result<(), SendError> {
                    self.send_with(true, |$ws| $call).map_err(SendError::from)
                }

                $(#[$doc])*
                ///
                /// Never blocks: fails with [`TrySendError::Full`] while the output queue is full.
                pub fn $try_name(&self, $($arg: $ty),*) -> Result<(), TrySendError> {
                    self.send_with(false, |$ws| $call)
                }
            )*
        }
    };
}

ws_adapter::for_each_send!(send_methods);

impl Sender {
    /// Starts the closing handshake. Returns at once; the outcome arrives as [`Event::Closed`]
    /// once the peer answered, or after the close timeout
    /// ([`Config::close_timeout`](ws_proto::Config::close_timeout)), which the reactor enforces
    /// even if no thread is in `recv`.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let mut inner = self.shared.lock();
        let result = inner.ws.close(Instant::now(), code, reason);
        self.shared.drive(&mut inner, None);
        SendError::from_close(result)
    }

    /// Drops the connection at once: no Close frame and no FIN (the peer sees a reset). A
    /// thread blocked in `recv` returns [`Event::Closed`] (1006) at once and the socket is
    /// released.
    pub fn abort(&self) {
        let mut inner = self.shared.lock();
        inner.reset = true;
        inner.ws.abort();
        self.shared.drive(&mut inner, None);
    }

    /// The connection's state.
    pub fn state(&self) -> ConnectionState {
        self.shared.lock().ws.state()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.shared.peer_addr
    }

    /// The connection's span (`ws_conn`, with its `id`, `role` and `peer`; cargo feature
    /// `tracing`, zero-sized without it). Enter it where the application works for this
    /// connection, so what it logs carries the connection too.
    pub fn span(&self) -> &ConnSpan {
        &self.shared.span
    }

    /// Bytes of buffer capacity the connection holds for receiving and sending, not counting
    /// events already handed out (see
    /// [`Connection::buffer_capacity`](ws_proto::Connection::buffer_capacity)). After a large
    /// message it falls back to a small bound, so an idle connection does not keep the memory
    /// of its largest message. For monitoring and tests.
    pub fn buffer_capacity(&self) -> usize {
        self.shared.lock().ws.buffer_capacity()
    }

    fn send_with(
        &self,
        block: bool,
        mut send: impl FnMut(&mut Connection) -> Result<(), CoreError>,
    ) -> Result<(), TrySendError> {
        let shared = &*self.shared;
        let mut inner = shared.lock();
        loop {
            match send(&mut inner.ws) {
                Ok(()) => {
                    shared.drive(&mut inner, None);
                    return Ok(());
                }
                Err(CoreError::OutputFull) if block => {
                    inner.output_full(&shared.span);
                    inner.senders_waiting += 1;
                    inner = shared
                        .wait(&shared.space, inner, None)
                        .unwrap_or_else(|| shared.lock());
                    inner.senders_waiting -= 1;
                }
                Err(e) => {
                    if e == CoreError::OutputFull {
                        inner.output_full(&shared.span);
                    }
                    return Err(TrySendError::from_core(e));
                }
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the core half-updated in a way that
        // matters more than stopping the connection; keep going with the data as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits on `condvar` until notified or `deadline`; `None` once the deadline passed.
    fn wait<'a>(
        &self,
        condvar: &Condvar,
        inner: MutexGuard<'a, Inner>,
        deadline: Option<Instant>,
    ) -> Option<MutexGuard<'a, Inner>> {
        match deadline {
            None => Some(condvar.wait(inner).unwrap_or_else(|p| p.into_inner())),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                let (inner, _) = condvar
                    .wait_timeout(inner, left)
                    .unwrap_or_else(|p| p.into_inner());
                Some(inner)
            }
        }
    }

    /// Everything that follows any input, command or event, following the core's drive
    /// contract: write the output (unless a receive batch defers it), act on transport
    /// actions, wake whoever can now make progress, and tell the reactor what to watch and
    /// when to call back.
    ///
    /// `now` is the time if the caller has it; otherwise the clock is read only while the
    /// application is away from `recv` (a clock read per message adds up).
    fn drive(&self, inner: &mut Inner, now: Option<Instant>) {
        if inner.orphaned {
            // Events that came after the handles were dropped: nobody takes them either.
            ws_adapter::discard_events(&self.span, &mut inner.ws);
        }
        let defer = inner.in_batch && !inner.orphaned && inner.ws.output_len() < DEFER_LIMIT;
        if !defer && !inner.write_blocked {
            inner.flush();
        }
        while let Some(action) = inner.ws.poll_transport() {
            match action {
                TransportAction::ShutdownWrite => {
                    if let Some(tls) = &mut inner.tls {
                        tls.send_close_notify();
                    }
                    inner.shutdown_pending = true;
                    inner.flush();
                }
                TransportAction::Close => self.close_transport(inner),
            }
        }
        inner.flow.observe(&self.span, &inner.ws);
        if inner.receivers_waiting > 0
            && (inner.ws.has_events()
                || inner.finished
                || inner.ws.state() == ConnectionState::Closed)
        {
            self.readable.notify_all();
        }
        if inner.senders_waiting > 0
            && (inner.ws.can_send() || inner.ws.state() != ConnectionState::Open)
        {
            self.space.notify_all();
        }
        let Some(tcp) = &inner.tcp else {
            return;
        };
        // Readiness: writable while output waits for room; readable when no application thread
        // reads (every handle gone, or away from `recv` for a while) and the core wants input.
        let watch_read = (inner.orphaned || inner.watching)
            && !inner.reading
            && !inner.read_done
            && inner.ws.wants_read();
        let wanted = (watch_read, inner.write_blocked);
        if wanted != inner.registered && (wanted.0 || wanted.1) {
            self.reactor.interest(inner.key, tcp, wanted.0, wanted.1);
            inner.registered = wanted;
        }
        // The next call-back: the core's deadline, or the read sweep while the application is
        // away from `recv` (which also writes output a batch left deferred). A call-back already
        // due by `since + READ_SWEEP` covers the sweep (one that comes
        // early finds the application not away long enough and re-arms): no clock read then,
        // which keeps it off the per-message path.
        let sweep = inner
            .away_since
            .filter(|_| !inner.watching && !inner.read_done && inner.ws.wants_read() || defer)
            .filter(|&since| inner.armed.is_none_or(|armed| armed > since + READ_SWEEP))
            .map(|since| since.max(now.unwrap_or_else(Instant::now)) + READ_SWEEP);
        let next = match (inner.ws.poll_timeout(), sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = next
            && inner.armed.is_none_or(|armed| at < armed)
        {
            inner.armed = Some(at);
            self.reactor.schedule(inner.key, at);
        }
    }

    /// The core said `Close`: forget the connection in the reactor and end the socket (a reading
    /// thread wakes up; the descriptor closes when it lets go).
    fn close_transport(&self, inner: &mut Inner) {
        if let Some(tcp) = inner.tcp.take() {
            self.reactor.deregister(inner.key, &tcp);
            close_tcp(&tcp, inner.reset);
            LIVE_CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        }
        inner.tls_out = Vec::new();
        self.readable.notify_all();
        self.space.notify_all();
    }

    /// The reactor's call-back at a deadline.
    pub(crate) fn on_timer(&self, now: Instant) {
        let mut inner = self.lock();
        inner.armed = None;
        if inner.tcp.is_none() {
            return;
        }
        let away = inner
            .away_since
            .is_some_and(|since| now.saturating_duration_since(since) >= READ_SWEEP);
        if away || inner.orphaned {
            // The application is not reading: read for it, so a Pong that arrived is seen
            // before the Pong timeout judges, and a Ping is answered; then watch the socket
            // until the application is back.
            inner.in_batch = false;
            inner.read_available(now);
            inner.watching = true;
        }
        if inner.ws.poll_timeout().is_some_and(|at| at <= now) {
            inner.ws.handle_timeout(now);
        }
        self.drive(&mut inner, Some(now));
    }

    /// The reactor's call-back when the socket is ready.
    pub(crate) fn on_ready(&self, readable: bool, writable: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        // The one-shot registration fired: nothing is watched until asked again.
        inner.registered = (false, false);
        if writable {
            inner.write_blocked = false;
        }
        if readable && !inner.reading {
            inner.read_available(now);
        }
        self.drive(&mut inner, Some(now));
    }
}

impl Inner {
    /// A send met a full output queue: backpressure (logged where it starts).
    fn output_full(&mut self, span: &ConnSpan) {
        self.flow.output_full(span, &self.ws);
    }

    /// Writes what the socket takes now, without blocking: the TLS records waiting, then the
    /// core's output (through TLS when there is TLS), then the write-side shutdown once all of
    /// it is out. What remains waits for the reactor to see room.
    fn flush(&mut self) {
        let Some(tcp) = self.tcp.clone() else {
            return;
        };
        loop {
            let result = if self.tls.is_some() {
                self.flush_tls_round(&tcp)
            } else if self.ws.output_len() > 0 {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.ws.output_vectored(&mut slices);
                sys::send_vectored_nonblocking(&tcp, &slices[..n]).map(|written| {
                    self.ws.consume_output(written);
                    written > 0
                })
            } else {
                Ok(false)
            };
            match result {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    return;
                }
                // The peer is gone: nothing queued can be delivered.
                Err(_) => {
                    self.ws.abort();
                    return;
                }
            }
        }
        self.write_blocked = false;
        if self.shutdown_pending {
            self.shutdown_pending = false;
            let _ = tcp.shutdown(std::net::Shutdown::Write);
        }
    }

    /// One round of TLS writing: `Ok(true)` if something moved.
    fn flush_tls_round(&mut self, tcp: &TcpStream) -> io::Result<bool> {
        if self.tls_out_pos < self.tls_out.len() {
            let n = sys::send_nonblocking(tcp, &self.tls_out[self.tls_out_pos..])?;
            self.tls_out_pos += n;
            if self.tls_out_pos == self.tls_out.len() {
                self.tls_out.clear();
                self.tls_out_pos = 0;
                if self.tls_out.capacity() > TLS_WRITE_CHUNK * 2 {
                    self.tls_out = Vec::new();
                }
            }
            return Ok(n > 0);
        }
        let Some(tls) = &mut self.tls else {
            return Ok(false);
        };
        if tls.wants_write() {
            tls.write_tls(&mut self.tls_out)?;
            return Ok(true);
        }
        let out = self.ws.output();
        if out.is_empty() {
            return Ok(false);
        }
        let take = out.len().min(TLS_WRITE_CHUNK);
        let n = tls.writer().write(&out[..take])?;
        self.ws.consume_output(n);
        Ok(n > 0)
    }

    /// Feeds bytes read from the socket (empty at EOF) through TLS, if any, into the core.
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        if bytes.is_empty() {
            self.read_done = true;
            self.ws.receive_eof(now);
            return;
        }
        if self.tls.is_none() {
            self.ws.receive(now, bytes);
            return;
        }
        self.receive_tls(now, bytes);
    }

    /// [`receive`](Self::receive) through TLS. Its own function, never inlined: the plaintext
    /// buffer's stack frame (and the stack probe that touches every page of it) is paid only
    /// by TLS connections, not by every thread that reads.
    #[inline(never)]
    fn receive_tls(&mut self, now: Instant, bytes: &[u8]) {
        let Some(tls) = &mut self.tls else {
            return;
        };
        let mut input = bytes;
        let mut plain = [0u8; 16 << 10];
        while !input.is_empty() {
            let accepted = tls.read_tls(&mut input);
            if !matches!(accepted, Ok(k) if k > 0) || tls.process_new_packets().is_err() {
                // A TLS failure ends the connection: there is no way to reach the peer safely.
                self.read_done = true;
                self.ws.abort();
                return;
            }
            loop {
                match tls.reader().read(&mut plain) {
                    Ok(0) => {
                        // close_notify: the peer's stream ended.
                        self.read_done = true;
                        self.ws.receive_eof(now);
                        return;
                    }
                    Ok(k) => self.ws.receive(now, &plain[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        self.read_done = true;
                        self.ws.receive_eof(now);
                        return;
                    }
                }
            }
        }
    }

    /// The reactor reads what has arrived, without blocking, as far as the core wants input.
    fn read_available(&mut self, now: Instant) {
        let Some(tcp) = self.tcp.clone() else {
            return;
        };
        with_recv_buffer(|buf| {
            for _ in 0..SWEEP_READS {
                if self.read_done || !self.ws.wants_read() {
                    return;
                }
                match sys::recv_into(&tcp, buf, true) {
                    Ok(n) => self.receive(now, &buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(_) => self.receive(now, &[]),
                }
            }
        });
    }
}

thread_local! {
    /// One receive buffer per thread (a connection's reading thread, or the reactor), read into
    /// as spare capacity so only the pages data touched are resident, and given back after a
    /// burst of large reads so an idle connection's thread does not keep it.
    static RECV_BUFFER: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// Largest read after which the buffer is kept as it is; past it, the next small read releases
/// it.
const RECV_KEEP: usize = 16 << 10;

fn with_recv_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    RECV_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let (buf, peak) = &mut *slot;
            if buf.capacity() == 0 {
                *buf = Vec::with_capacity(READ_CHUNK);
            }
            let result = f(buf);
            *peak = (*peak).max(buf.len());
            if *peak > RECV_KEEP && buf.len() < RECV_KEEP / 4 {
                // The burst is over: let the pages it touched go.
                *buf = Vec::new();
                *peak = 0;
            }
            result
        }
        Err(_) => f(&mut Vec::with_capacity(READ_CHUNK)),
    })
}

/// Connections of this process whose socket is still open (the core has not said `Close`).
/// Connections need no thread of their own; this is what tests check for leaks.
pub fn live_connections() -> usize {
    LIVE_CONNECTIONS.load(Ordering::SeqCst)
}

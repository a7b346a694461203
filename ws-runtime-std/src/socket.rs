//! A running WebSocket: the core behind a lock, a reader thread that only reads, a writer thread
//! that only writes (and fires the core's timers), and handles for the user.
//!
//! ```text
//!   socket ──read──▶ reader thread ──receive()──▶ ┌──────────────┐ ──events──▶ recv()
//!                                                 │  Connection  │
//!   socket ◀─write── writer thread ◀──output()─── │ (ws-proto)   │ ◀──send_*── Sender (any thread)
//!                    (timers, transport actions)  └──────────────┘
//! ```
//!
//! No protocol decision is made here. Memory is bounded on both sides: senders block (or get
//! [`TrySendError::Full`]) while the core's output queue is full, and the reader stops reading
//! while undelivered messages exceed [`Config::max_message_size`](ws_proto::Config) bytes, so a
//! peer that outpaces the application meets TCP backpressure.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_proto::{
    CloseCode, Connection, ConnectionState, Error as CoreError, Event, PreparedMessage,
    TransportAction,
};

use crate::transport::{Transport, clear_deadline, close_tcp};
pub use ws_adapter::{SendError, TrySendError};

/// Size of each read from the socket.
const READ_CHUNK: usize = 64 << 10;
/// Most plaintext handed to TLS per write, so rustls never buffers more than this.
const TLS_WRITE_CHUNK: usize = 64 << 10;

/// A WebSocket connection on blocking sockets.
///
/// Receive with [`recv`](Self::recv); send from any thread through [`sender`](Self::sender)
/// clones or the methods this type shares with [`Sender`] by `Deref`. Dropping every handle
/// (the `WebSocket`, its [`Receiver`] and all [`Sender`]s) closes the connection with 1001.
pub struct WebSocket {
    sender: Sender,
    receiver: Receiver,
}

/// The sending half: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
    _guard: Arc<HandleGuard>,
}

/// The receiving half.
pub struct Receiver {
    shared: Arc<Shared>,
    _guard: Arc<HandleGuard>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Output, timers or transport actions changed: the writer should look.
    writer_wake: Condvar,
    /// An event was queued or the connection ended: receivers should look.
    events_ready: Condvar,
    /// Output drained or events were taken: blocked senders and the reader should look.
    space: Condvar,
    peer_addr: Option<SocketAddr>,
}

struct Inner {
    ws: Connection,
    tls: Option<rustls::Connection>,
    /// `Event::Closed` was handed to the user: `recv` returns `None` from now on.
    finished: bool,
    /// Abort with a RST rather than a FIN.
    reset: bool,
}

/// Closes the connection when the last user handle is dropped.
struct HandleGuard {
    shared: Arc<Shared>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let _ = inner.ws.close(Instant::now(), CloseCode::GOING_AWAY, "");
        drop(inner);
        self.shared.writer_wake.notify_all();
    }
}

static LIVE_THREADS: AtomicUsize = AtomicUsize::new(0);

impl WebSocket {
    /// Starts a connection whose opening handshake is complete: spawns its reader and writer
    /// threads. The transport's handshake timeouts are cleared; the core's timers take over.
    pub fn from_transport(transport: Transport, ws: Connection) -> io::Result<WebSocket> {
        let Transport { tcp, tls } = transport;
        clear_deadline(&tcp)?;
        let _ = tcp.set_nodelay(true);
        let reader_tcp = tcp.try_clone()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                ws,
                tls,
                finished: false,
                reset: false,
            }),
            writer_wake: Condvar::new(),
            events_ready: Condvar::new(),
            space: Condvar::new(),
            peer_addr: tcp.peer_addr().ok(),
        });
        let reader_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("ws-reader".into())
            .spawn(move || counted(|| read_loop(&reader_shared, reader_tcp)))?;
        let writer_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("ws-writer".into())
            .spawn(move || counted(|| write_loop(&writer_shared, tcp)))?;
        let guard = Arc::new(HandleGuard {
            shared: Arc::clone(&shared),
        });
        Ok(WebSocket {
            sender: Sender {
                shared: Arc::clone(&shared),
                _guard: Arc::clone(&guard),
            },
            receiver: Receiver {
                shared,
                _guard: guard,
            },
        })
    }

    /// Waits for the next event: a message, a Ping or Pong, and finally [`Event::Closed`] with
    /// the outcome. Returns `None` after `Closed` was returned.
    pub fn recv(&self) -> Option<Event> {
        self.receiver.recv()
    }

    /// Like [`recv`](Self::recv), giving up after `timeout` (`Err(())` on timeout).
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, ()> {
        self.receiver.recv_timeout(timeout)
    }

    /// A handle to send from other threads.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Splits into the two halves.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }
}

impl std::ops::Deref for WebSocket {
    type Target = Sender;

    fn deref(&self) -> &Sender {
        &self.sender
    }
}

impl Receiver {
    /// See [`WebSocket::recv`].
    pub fn recv(&self) -> Option<Event> {
        self.recv_until(None).unwrap_or(None)
    }

    /// See [`WebSocket::recv_timeout`].
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, ()> {
        self.recv_until(Some(Instant::now() + timeout))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Option<Event>, ()> {
        let shared = &self.shared;
        let mut inner = shared.lock();
        loop {
            // The application polls the core itself, one event at a time, so whatever it sends
            // in answer goes out before a Close that arrived after the event (see the drive
            // contract of ws-proto).
            let was_backlogged = inner.backlogged();
            let event = inner.ws.poll_event();
            // Polling may have applied a Close or a failure that queued output.
            if inner.writer_has_work() {
                shared.writer_wake.notify_all();
            }
            if let Some(event) = event {
                if matches!(event, Event::Closed(_)) {
                    inner.finished = true;
                }
                drop(inner);
                if was_backlogged {
                    shared.space.notify_all();
                }
                return Ok(Some(event));
            }
            if inner.finished {
                return Ok(None);
            }
            inner = match deadline {
                None => shared
                    .events_ready
                    .wait(inner)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(());
                    }
                    shared
                        .events_ready
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl Iterator for Receiver {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

macro_rules! send_methods {
    ($($(#[$doc:meta])* $name:ident / $try_name:ident ($arg:ident: $ty:ty) => |$ws:ident| $call:expr;)*) => {
        impl Sender {
            $(
                $(#[$doc])*
                ///
                /// Blocks while the output queue is full (backpressure).
                pub fn $name(&self, $arg: $ty) -> Result<(), SendError> {
                    self.send_with(true, |$ws| $call).map_err(SendError::from)
                }

                $(#[$doc])*
                ///
                /// Never blocks: fails with [`TrySendError::Full`] while the output queue is full.
                pub fn $try_name(&self, $arg: $ty) -> Result<(), TrySendError> {
                    self.send_with(false, |$ws| $call)
                }
            )*
        }
    };
}

send_methods! {
    /// Sends a text message.
    send_text / try_send_text (text: &str) => |ws| ws.send_text(text);
    /// Sends a binary message.
    send_binary / try_send_binary (data: &[u8]) => |ws| ws.send_binary(data);
    /// Sends a message encoded once for many connections (a broadcast).
    send_prepared / try_send_prepared (message: &PreparedMessage) => |ws| ws.send_prepared(message);
    /// Sends a Ping (at most 125 bytes).
    send_ping / try_send_ping (payload: &[u8]) => |ws| ws.send_ping(payload);
    /// Sends an unsolicited Pong (at most 125 bytes).
    send_pong / try_send_pong (payload: &[u8]) => |ws| ws.send_pong(payload);
}

impl Sender {
    /// Sends one fragment of a text message; `is_final` ends the message.
    pub fn send_text_fragment(&self, text: &str, is_final: bool) -> Result<(), SendError> {
        self.send_with(true, |ws| ws.send_text_fragment(text, is_final))
            .map_err(SendError::from)
    }

    /// Sends one fragment of a binary message; `is_final` ends the message.
    pub fn send_binary_fragment(&self, data: &[u8], is_final: bool) -> Result<(), SendError> {
        self.send_with(true, |ws| ws.send_binary_fragment(data, is_final))
            .map_err(SendError::from)
    }

    /// Starts the closing handshake. Returns at once; the outcome arrives as [`Event::Closed`]
    /// once the peer answered, or after the close timeout.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let mut inner = self.shared.lock();
        let result = inner.ws.close(Instant::now(), code, reason);
        drop(inner);
        self.shared.writer_wake.notify_all();
        match result {
            Ok(()) => Ok(()),
            Err(CoreError::Closed) => Err(SendError::Closed),
            Err(e) => Err(SendError::Invalid(e)),
        }
    }

    /// Drops the connection at once: no Close frame and no FIN (the peer sees a reset).
    pub fn abort(&self) {
        let mut inner = self.shared.lock();
        inner.reset = true;
        inner.ws.abort();
        drop(inner);
        self.shared.notify_all();
    }

    /// The connection's state.
    pub fn state(&self) -> ConnectionState {
        self.shared.lock().ws.state()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.shared.peer_addr
    }

    fn send_with(
        &self,
        block: bool,
        mut send: impl FnMut(&mut Connection) -> Result<(), CoreError>,
    ) -> Result<(), TrySendError> {
        let shared = &self.shared;
        let mut inner = shared.lock();
        loop {
            match send(&mut inner.ws) {
                Ok(()) => {
                    drop(inner);
                    shared.writer_wake.notify_all();
                    return Ok(());
                }
                Err(CoreError::OutputFull) if block => {
                    inner = shared.space.wait(inner).unwrap_or_else(|p| p.into_inner());
                }
                Err(e) => return Err(TrySendError::from_core(e)),
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

    fn notify_all(&self) {
        self.writer_wake.notify_all();
        self.events_ready.notify_all();
        self.space.notify_all();
    }
}

impl Inner {
    /// Whether the writer has anything to act on: output, or a closing connection (whose
    /// transport actions and timers it handles). An open connection with nothing queued does
    /// not need waking.
    fn writer_has_work(&self) -> bool {
        self.ws.output_len() > 0 || self.ws.state() != ConnectionState::Open
    }

    /// Whether the reader should pause: undelivered messages exceed one maximum message.
    fn backlogged(&self) -> bool {
        self.ws.pending_event_bytes() > self.ws.config().max_message_size
    }

    /// Feeds bytes from the socket through TLS (if any) into the core.
    fn receive(&mut self, now: Instant, buf: &mut [u8], n: usize) {
        let Some(tls) = &mut self.tls else {
            if n == 0 {
                self.ws.receive_eof(now);
            } else {
                self.ws.receive(now, &buf[..n]);
            }
            return;
        };
        if n == 0 {
            self.ws.receive_eof(now);
            return;
        }
        let mut input = &buf[..n];
        let mut plain = [0u8; 16 << 10];
        while !input.is_empty() {
            let accepted = tls.read_tls(&mut input);
            if !matches!(accepted, Ok(k) if k > 0) || tls.process_new_packets().is_err() {
                // A TLS failure ends the connection: there is no way to reach the peer safely.
                self.ws.abort();
                return;
            }
            loop {
                match tls.reader().read(&mut plain) {
                    Ok(0) => {
                        // close_notify: the peer's stream ended.
                        self.ws.receive_eof(now);
                        break;
                    }
                    Ok(k) => self.ws.receive(now, &plain[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        self.ws.receive_eof(now);
                        break;
                    }
                }
            }
        }
    }

    /// The next bytes to put on the socket, if any: the core's output directly, or for TLS,
    /// records encrypted from at most [`TLS_WRITE_CHUNK`] of it.
    fn next_write(&mut self) -> Option<Bytes> {
        let Some(tls) = &mut self.tls else {
            let out = self.ws.output_shared();
            return (!out.is_empty()).then_some(out);
        };
        if !tls.wants_write() {
            let mut moved = 0;
            while moved < TLS_WRITE_CHUNK {
                let out = self.ws.output();
                if out.is_empty() {
                    break;
                }
                let take = out.len().min(TLS_WRITE_CHUNK - moved);
                match tls.writer().write(&out[..take]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        self.ws.consume_output(k);
                        moved += k;
                    }
                }
            }
        }
        let mut records = Vec::new();
        while tls.wants_write() {
            if tls.write_tls(&mut records).is_err() {
                break;
            }
        }
        (!records.is_empty()).then(|| Bytes::from(records))
    }
}

/// Counts live connection threads, so tests can check none is leaked.
fn counted(body: impl FnOnce()) {
    LIVE_THREADS.fetch_add(1, Ordering::SeqCst);
    body();
    LIVE_THREADS.fetch_sub(1, Ordering::SeqCst);
}

/// Connection threads (readers and writers) currently running in this process.
pub fn live_connection_threads() -> usize {
    LIVE_THREADS.load(Ordering::SeqCst)
}

/// The reader: reads the socket and feeds the core; never writes.
fn read_loop(shared: &Shared, mut tcp: TcpStream) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        {
            let mut inner = shared.lock();
            while inner.backlogged() && inner.ws.state() != ConnectionState::Closed {
                inner = shared.space.wait(inner).unwrap_or_else(|p| p.into_inner());
            }
            if inner.ws.state() == ConnectionState::Closed {
                return;
            }
        }
        let n = loop {
            match tcp.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A reset or a local shutdown: nothing more will arrive.
                Err(_) => break 0,
            }
        };
        let mut inner = shared.lock();
        inner.receive(Instant::now(), &mut buf, n);
        shared.events_ready.notify_all();
        let closed = inner.ws.state() == ConnectionState::Closed;
        drop(inner);
        shared.writer_wake.notify_all();
        if n == 0 || closed {
            return;
        }
    }
}

/// The writer: writes the core's output, acts on transport actions and fires timers.
fn write_loop(shared: &Shared, mut tcp: TcpStream) {
    let mut inner = shared.lock();
    loop {
        let now = Instant::now();
        if inner.ws.poll_timeout().is_some_and(|at| at <= now) {
            inner.ws.handle_timeout(now);
            shared.events_ready.notify_all();
        }
        if let Some(bytes) = inner.next_write() {
            drop(inner);
            let written = write_some(&mut tcp, &bytes);
            inner = shared.lock();
            match written {
                Ok(n) if inner.tls.is_none() => inner.ws.consume_output(n),
                Ok(_) => {}
                // The peer is gone: nothing queued can be delivered.
                Err(_) => {
                    inner.ws.abort();
                    shared.events_ready.notify_all();
                }
            }
            shared.space.notify_all();
            continue;
        }
        match inner.ws.poll_transport() {
            Some(TransportAction::ShutdownWrite) => {
                if let Some(tls) = &mut inner.tls {
                    tls.send_close_notify();
                    let mut records = Vec::new();
                    while tls.wants_write() && tls.write_tls(&mut records).is_ok() {}
                    let _ = tcp.write_all(&records);
                }
                let _ = tcp.shutdown(std::net::Shutdown::Write);
                continue;
            }
            Some(TransportAction::Close) => {
                close_tcp(&tcp, inner.reset);
                drop(inner);
                shared.notify_all();
                return;
            }
            None => {}
        }
        inner = match inner.ws.poll_timeout() {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                shared
                    .writer_wake
                    .wait_timeout(inner, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => shared
                .writer_wake
                .wait(inner)
                .unwrap_or_else(|p| p.into_inner()),
        };
    }
}

/// Writes what the socket takes of `bytes` (all of it for TLS records, which cannot be split
/// from the core's view). Returns how many bytes were written.
fn write_some(tcp: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match tcp.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) if n == bytes.len() => return Ok(n),
            Ok(n) => return tcp.write_all(&bytes[n..]).map(|()| bytes.len()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

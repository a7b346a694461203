//! Serving: a listener with an accept loop, the core's handshake validation, and a hook that
//! accepts or rejects each request.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws_adapter::trace::{self, ConnSpan};
use ws_adapter::{AcceptBackoff, ConnectionLimit, DEFAULT_MAX_CONNECTIONS, overloaded};
use ws_proto::handshake::{HandshakeError, Request, Response, ServerHandshake};
use ws_proto::{Config, Role};

use crate::reactor::Reactor;
use crate::socket::WebSocket;
use crate::transport::Transport;
pub use ws_adapter::{AcceptError, Decision};

/// Runs the server side of the opening handshake on `transport`: reads the request (within the
/// handshake timeout), asks `hook`, and answers. `hook` sees every well-formed HTTP request,
/// upgrade or not ([`Request::is_upgrade`]), so one listener can also serve plain HTTP; the
/// upgrade is validated when the hook accepts. On success the WebSocket is running and the
/// request is returned with it.
pub fn accept(
    transport: Transport,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket, Request), AcceptError> {
    accept_streaming(transport, config, |request| Reply::Decision(hook(request)))
}

/// What the hook of [`accept_streaming`] does with a request: what a [`Decision`] says, or
/// answer with a [`StreamedResponse`].
pub enum Reply {
    /// As in [`accept`].
    Decision(Decision),
    /// Answer with this response, its body written as the peer reads it, and close.
    Stream(StreamedResponse),
}

impl From<Decision> for Reply {
    fn from(decision: Decision) -> Self {
        Reply::Decision(decision)
    }
}

/// A response whose body is read from a reader as the peer takes it (a file), never held whole
/// in memory: at most one chunk of 64 KiB is buffered, plus what TLS holds.
///
/// Only the request head is bound by the handshake timeout. The response is bound by progress:
/// it fails, and the connection is closed, when no byte could be written for
/// [`Config::handshake_timeout`], so a slow but steady reader gets all of it, however long it
/// takes, and a peer that stops reading holds the connection that long at most.
pub struct StreamedResponse {
    status: u16,
    head: Vec<u8>,
    body: Box<dyn Read + Send>,
    len: u64,
}

impl StreamedResponse {
    /// A response of `status` whose `head` (status line and header fields, ending with the
    /// empty line) is written as it is, then exactly `len` bytes of `body`. The head frames the
    /// body itself: `Content-Length: len` and `Connection: close` (the connection ends after
    /// the response). A body that ends before `len` bytes closes the connection early; one
    /// that has more is cut at `len`. A response without a body (to `HEAD`) has `len` 0 and
    /// any `Content-Length`.
    pub fn new(status: u16, head: Vec<u8>, body: impl Read + Send + 'static, len: u64) -> Self {
        StreamedResponse {
            status,
            head,
            body: Box::new(body),
            len,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Like [`accept`], with a hook that may also answer with a [`StreamedResponse`] (a file).
/// A streamed response ends in [`AcceptError::Rejected`] with its status once it was written,
/// or [`AcceptError::Io`] if writing it failed or stalled.
///
/// The connection's span is entered while the hook runs (see the crate's "Logging").
pub fn accept_streaming(
    transport: Transport,
    config: &Config,
    hook: impl FnOnce(&Request) -> Reply,
) -> Result<(WebSocket, Request), AcceptError> {
    let span = ConnSpan::new(Role::Server, || transport.tcp.peer_addr().ok());
    let entered = span.enter();
    let accepted = handshake(transport, config, hook, &span);
    drop(entered);
    if let Err(e) = &accepted {
        trace::accept_failed(&span, e);
    }
    accepted
}

/// [`accept_streaming`], logging in `span`.
fn handshake(
    mut transport: Transport,
    config: &Config,
    hook: impl FnOnce(&Request) -> Reply,
    span: &ConnSpan,
) -> Result<(WebSocket, Request), AcceptError> {
    let start = Instant::now();
    let deadline = ws_proto::deadline(start, config.handshake_timeout);
    transport
        .complete_tls_handshake(deadline)
        .map_err(AcceptError::Io)?;
    let mut handshake = ServerHandshake::new(config, start);
    let mut buf = vec![0u8; 4 << 10];
    let request = loop {
        transport.set_deadline(deadline).map_err(AcceptError::Io)?;
        let n = match transport.read(&mut buf) {
            Ok(0) => return Err(AcceptError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(AcceptError::Handshake(HandshakeError::Timeout));
            }
            Err(e) => return Err(AcceptError::Io(e)),
        };
        match handshake.receive(Instant::now(), &buf[..n]) {
            Ok(Some(request)) => break request.clone(),
            Ok(None) => {}
            Err(e) => {
                return Err(answer(
                    &mut transport,
                    e.to_response().encode(),
                    AcceptError::Handshake(e),
                ));
            }
        }
    };
    match hook(&request) {
        Reply::Stream(response) => {
            trace::refused(span, &request, response.status);
            Err(stream(transport, response, config.handshake_timeout))
        }
        Reply::Decision(Decision::Reject(response)) => {
            let status = response.status;
            trace::refused(span, &request, status);
            Err(answer(
                &mut transport,
                handshake.reject(response),
                AcceptError::Rejected(status),
            ))
        }
        Reply::Decision(Decision::Accept(accept)) => {
            match handshake.accept(Instant::now(), &accept) {
                Ok(connection) => {
                    let ws = WebSocket::start(transport, connection, span.clone())
                        .map_err(AcceptError::Io)?;
                    Ok((ws, request))
                }
                Err(e) => Err(answer(
                    &mut transport,
                    e.to_response().encode(),
                    AcceptError::Handshake(e),
                )),
            }
        }
    }
}

/// Writes an error response, closes, and returns `error`.
fn answer(transport: &mut Transport, response: Vec<u8>, error: AcceptError) -> AcceptError {
    let _ = transport
        .write_all(&response)
        .and_then(|()| transport.flush());
    let _ = transport.tcp().shutdown(std::net::Shutdown::Write);
    error
}

/// Writes a streamed response and closes: the head, then the body a chunk at a time. Each write
/// may wait up to `stall` for the socket to take something (the socket's write timeout), so
/// only a response that stops making progress fails.
fn stream(
    mut transport: Transport,
    mut response: StreamedResponse,
    stall: Duration,
) -> AcceptError {
    let status = response.status;
    let written = (|| {
        let tcp = transport.tcp();
        tcp.set_read_timeout(None)?;
        tcp.set_write_timeout(Some(stall.max(Duration::from_millis(1))))?;
        transport.write_all(&response.head)?;
        let mut left = response.len;
        let mut buf =
            vec![0u8; ws_adapter::READ_CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX))];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match response.body.read(&mut buf[..want]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            transport.write_all(&buf[..n])?;
            left -= n as u64;
        }
        transport.flush()
    })();
    match written {
        Ok(()) => {
            let _ = transport.tcp().shutdown(std::net::Shutdown::Write);
            AcceptError::Rejected(status)
        }
        Err(e) => AcceptError::Io(e),
    }
}

/// Stack size of a connection's thread unless told otherwise: it runs the handler, which is
/// the application's code.
pub const DEFAULT_THREAD_STACK: usize = 512 << 10;

/// A WebSocket server on a TCP listener.
///
/// Each connection costs one thread, the one that runs its handler (and reads the socket while
/// the handler is in `recv`); timers and writes the socket could not take at once are handled
/// by one shared background thread. Connections over [`max_connections`](Self::max_connections)
/// are answered with 503 before the upgrade, without a thread.
pub struct Server {
    listener: TcpListener,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
    max_connections: usize,
    stack_size: usize,
}

impl Server {
    /// Listens on `addr` (the first resolved address that binds). A failure's message names
    /// the address, and keeps the system error's kind (see [`ws_adapter::BindError`]).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        let listener =
            ws_adapter::BindError::bind_first(addr.to_socket_addrs()?, TcpListener::bind)?;
        Ok(Server::from_listener(listener))
    }

    /// Serves on an existing listener.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: Config::default(),
            tls: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            stack_size: DEFAULT_THREAD_STACK,
        }
    }

    /// Limits and timeouts for every connection.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serve `wss://` with this TLS configuration.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Most connections open at once, from accept to close (default
    /// [`DEFAULT_MAX_CONNECTIONS`]). One more is answered `503 Service Unavailable` with
    /// `Retry-After` before any upgrade.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Stack size of each connection's thread (default [`DEFAULT_THREAD_STACK`]). Only the
    /// pages a handler touches cost memory; raise it for handlers that recurse deeply.
    pub fn thread_stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the accept loop on its own thread. For every connection, on a thread of its own:
    /// the handshake, `hook` deciding on the request, then `handler` with the running WebSocket.
    /// A failing `accept` (out of file descriptors, ...) pauses the loop with a growing back-off
    /// instead of spinning; a thread that cannot be started costs that one connection a 503.
    pub fn serve<H, F>(self, hook: H, handler: F) -> io::Result<ServerHandle>
    where
        H: Fn(&Request) -> Decision + Send + Sync + 'static,
        F: Fn(WebSocket, Request) + Send + Sync + 'static,
    {
        let addr = self.listener.local_addr()?;
        let reactor = Reactor::get()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let (hook, handler) = (Arc::new(hook), Arc::new(handler));
        let limit = ConnectionLimit::new(self.max_connections);
        let thread = thread::Builder::new()
            .name("ws-accept".into())
            .stack_size(ACCEPT_STACK)
            .spawn(move || {
                let mut backoff = AcceptBackoff::default();
                let refusal = overloaded().encode();
                loop {
                    let accepted = self.listener.accept();
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let tcp = match accepted {
                        Ok((tcp, _)) => {
                            backoff.succeeded();
                            tcp
                        }
                        Err(e) => {
                            let pause = backoff.failed(&e);
                            thread::sleep(pause);
                            continue;
                        }
                    };
                    let Some(permit) = limit.try_acquire() else {
                        reactor.refuse(tcp, &refusal);
                        continue;
                    };
                    let (config, tls) = (self.config.clone(), self.tls.clone());
                    let (hook, handler) = (Arc::clone(&hook), Arc::clone(&handler));
                    let slot = Arc::new(Mutex::new(Some(tcp)));
                    let taken = Arc::clone(&slot);
                    let spawned = thread::Builder::new()
                        .name("ws-conn".into())
                        .stack_size(self.stack_size)
                        .spawn(move || {
                            let _permit = permit;
                            let tcp = taken.lock().ok().and_then(|mut tcp| tcp.take());
                            let Some(transport) =
                                tcp.and_then(|tcp| server_transport(tcp, tls).ok())
                            else {
                                return;
                            };
                            if let Ok((ws, request)) = accept(transport, &config, |r| hook(r)) {
                                // The handler is the application's: what it logs carries the
                                // connection.
                                let span = ws.span().clone();
                                let _entered = span.enter();
                                handler(ws, request);
                            }
                        });
                    if spawned.is_err() {
                        // Out of threads or memory: this connection is refused, the server
                        // goes on.
                        if let Some(tcp) = slot.lock().ok().and_then(|mut tcp| tcp.take()) {
                            reactor.refuse(tcp, &refusal);
                        }
                    }
                }
            })?;
        Ok(ServerHandle {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// Stack of the accept loop: only this crate's code runs there.
const ACCEPT_STACK: usize = 128 << 10;

/// Answers `tcp` with `response` and closes it once the peer has read it, without a thread: for
/// requests refused before any upgrade (a server at its connection limit). The request is not
/// read, only drained.
pub fn refuse(tcp: TcpStream, response: &Response) -> io::Result<()> {
    Reactor::get()?.refuse(tcp, &response.encode());
    Ok(())
}

/// Wraps an accepted stream in TLS when a configuration is given.
pub fn server_transport(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<Transport> {
    match tls {
        Some(config) => Transport::server_tls(tcp, config),
        None => Ok(Transport::plain(tcp)),
    }
}

/// Controls a running [`Server`]: stops its accept loop (connections already open carry on).
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept loop to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own; it sees the flag and ends.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

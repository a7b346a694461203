//! Serving: the server side of the opening handshake on any stream ([`accept`]), and a TCP
//! listener with an accept loop ([`Server`]).

use std::any::Any;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use ws_proto::handshake::{HandshakeError, Request, ServerHandshake};
use ws_proto::{Config, Role};

use crate::driver::{Driver, peer_addr_of, socket_of};
use crate::socket::WebSocket;
use crate::with_deadline;
#[cfg(feature = "smol")]
use ws_adapter::AcceptBackoff;
use ws_adapter::trace::{self, ConnSpan};
pub use ws_adapter::{AcceptError, Decision};
use ws_adapter::{ConnectionLimit, Permit};

/// Runs the server side of the opening handshake on `stream` (plain, or TLS already
/// established): reads the request within the handshake timeout, asks `hook`, and answers. On
/// success returns the WebSocket, the request, and the connection's [`Driver`] for the caller
/// to spawn on any executor.
///
/// `hook` sees every well-formed HTTP request, upgrade or not ([`Request::is_upgrade`]), so a
/// web server that also serves plain HTTP can answer those with [`Decision::Reject`] and a
/// full response; the upgrade is validated when the hook accepts.
///
/// The handshake, the hook included, runs in the connection's span (see the crate's
/// "Logging").
pub async fn accept<S>(
    stream: S,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket, Request, Driver), AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now();
    let span = ConnSpan::new(Role::Server, || peer_addr_of(&stream as &dyn Any));
    let hook = |request: &Request| std::future::ready(Reply::Decision(hook(request)));
    let deadline = ws_proto::deadline(start, config.handshake_timeout);
    in_span(
        &span,
        accept_until(stream, config, hook, start, deadline, &span),
    )
    .await
}

/// Runs a server handshake in its connection's `span`, and logs how it failed, if it did.
async fn in_span<T>(
    span: &ConnSpan,
    handshake: impl Future<Output = Result<T, AcceptError>>,
) -> Result<T, AcceptError> {
    let accepted = span.instrument(handshake).await;
    if let Err(e) = &accepted {
        trace::accept_failed(span, e);
    }
    accepted
}

/// What the hook of [`accept_tcp_streaming`] does with a request: what a [`Decision`] says, or
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

/// A response whose body is read from an async reader as the peer takes it (a file read on a
/// blocking pool, for instance `blocking::Unblock`), never held whole in memory: this crate
/// buffers one chunk of at most 64 KiB, plus what TLS holds.
///
/// Only the request head is bound by the handshake timeout. The response is bound by progress:
/// it fails, and the connection is closed, when no byte could be read from the body or written
/// to the peer for [`Config::handshake_timeout`], so a slow but steady reader gets all of it,
/// however long it takes, and a peer that stops reading holds the connection that long at most.
pub struct StreamedResponse {
    status: u16,
    head: Vec<u8>,
    body: Pin<Box<dyn AsyncRead + Send>>,
    len: u64,
}

impl StreamedResponse {
    /// A response of `status` whose `head` (status line and header fields, ending with the
    /// empty line) is written as it is, then exactly `len` bytes of `body`. The head frames the
    /// body itself: `Content-Length: len` and `Connection: close` (the connection ends after
    /// the response). A body that ends before `len` bytes closes the connection early; one
    /// that has more is cut at `len`. A response without a body (to `HEAD`) has `len` 0 and
    /// any `Content-Length`.
    pub fn new(
        status: u16,
        head: Vec<u8>,
        body: impl AsyncRead + Send + 'static,
        len: u64,
    ) -> Self {
        StreamedResponse {
            status,
            head,
            body: Box::pin(body),
            len,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }
}

async fn accept_until<S, H, F>(
    mut stream: S,
    config: &Config,
    hook: H,
    start: Instant,
    deadline: Instant,
    span: &ConnSpan,
) -> Result<(WebSocket, Request, Driver), AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: FnOnce(&Request) -> F,
    F: Future<Output = Reply>,
{
    let mut handshake = ServerHandshake::new(config, start);
    let request = match with_deadline(deadline, read_request(&mut stream, &mut handshake)).await {
        Some(Ok(request)) => request,
        Some(Err(Ok(e))) => {
            let error = AcceptError::Handshake(e.clone());
            return Err(answer(stream, handshake.reject(e.to_response()), error, deadline).await);
        }
        Some(Err(Err(e))) => return Err(AcceptError::Io(e)),
        None => return Err(AcceptError::Handshake(HandshakeError::Timeout)),
    };
    let reply = hook(&request).await;
    // The hook's wait is not bound by the handshake timeout (see `accept_tcp_with`): an answer
    // decided after the deadline gets a timeout of its own to be written in.
    let now = Instant::now();
    let deadline = if now < deadline {
        deadline
    } else {
        ws_proto::deadline(now, config.handshake_timeout)
    };
    match reply {
        Reply::Stream(response) => {
            trace::refused(span, &request, response.status());
            Err(stream_response(stream, response, config).await)
        }
        Reply::Decision(Decision::Reject(response)) => {
            let status = response.status;
            trace::refused(span, &request, status);
            let response = handshake.reject(response);
            Err(answer(stream, response, AcceptError::Rejected(status), deadline).await)
        }
        // `accept` validates the upgrade; the 101 starts the connection's output, which the
        // driver writes.
        Reply::Decision(Decision::Accept(accept)) => {
            match handshake.accept(Instant::now(), &accept) {
                Ok(connection) => {
                    let (ws, driver) = WebSocket::start(stream, connection, span.clone());
                    Ok((ws, request, driver))
                }
                Err(e) => {
                    let response = e.to_response().encode();
                    Err(answer(stream, response, AcceptError::Handshake(e), deadline).await)
                }
            }
        }
    }
}

/// Reads until the request head is complete. The inner `Result` tells a bad request (to be
/// answered) from a failed stream.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    handshake: &mut ServerHandshake,
) -> Result<Request, Result<HandshakeError, io::Error>> {
    let mut buf = vec![0u8; 4 << 10];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => return Err(Err(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Err(e)),
        };
        match handshake.receive(Instant::now(), &buf[..n]) {
            Ok(Some(request)) => return Ok(request.clone()),
            Ok(None) => {}
            Err(e) => return Err(Ok(e)),
        }
    }
}

/// Writes an error response and closes the write side (FIN, or close_notify then FIN), within
/// the handshake deadline; returns `error`.
async fn answer<S: AsyncWrite + Unpin + 'static>(
    mut stream: S,
    response: Vec<u8>,
    error: AcceptError,
    deadline: Instant,
) -> AcceptError {
    let write = async {
        stream.write_all(&response).await?;
        stream.close().await
    };
    if let Some(Ok(())) = with_deadline(deadline, write).await {
        // `close` only flushes some streams (`Async<TcpStream>`): send the FIN explicitly, so
        // the client reads the response to its end before the socket goes away.
        if let Some(socket) = socket_of(&stream as &dyn Any) {
            let _ = socket.shutdown(std::net::Shutdown::Write);
        }
    }
    error
}

/// Writes a streamed response and closes the write side: the head, then the body a chunk at a
/// time. Every read of the body and every write to the peer must make progress within
/// `config.handshake_timeout`; the response as a whole has no deadline.
async fn stream_response<S: AsyncWrite + Unpin + 'static>(
    mut stream: S,
    mut response: StreamedResponse,
    config: &Config,
) -> AcceptError {
    let stall = config.handshake_timeout;
    let until = || ws_proto::deadline(Instant::now(), stall);
    let progress = |deadline: Option<io::Result<usize>>| {
        deadline.unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::TimedOut, "no progress")))
    };
    let status = response.status;
    let written = async {
        let mut head = &response.head[..];
        while !head.is_empty() {
            let n = progress(with_deadline(until(), stream.write(head)).await)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            head = &head[n..];
        }
        let mut left = response.len;
        let mut buf =
            vec![0u8; ws_adapter::READ_CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX))];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let read = response.body.read(&mut buf[..want]);
            let n = match with_deadline(until(), read).await {
                Some(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => progress(other)?,
            };
            let mut chunk = &buf[..n];
            while !chunk.is_empty() {
                let n = progress(with_deadline(until(), stream.write(chunk)).await)?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                chunk = &chunk[n..];
            }
            left -= n as u64;
        }
        match with_deadline(until(), stream.close()).await {
            Some(result) => result,
            None => Err(io::Error::new(io::ErrorKind::TimedOut, "no progress")),
        }
    }
    .await;
    match written {
        Ok(()) => {
            // As in `answer`: the FIN, so the client reads the response to its end.
            if let Some(socket) = socket_of(&stream as &dyn Any) {
                let _ = socket.shutdown(std::net::Shutdown::Write);
            }
            AcceptError::Rejected(status)
        }
        Err(e) => AcceptError::Io(e),
    }
}

/// A WebSocket server on a TCP listener.
///
/// It holds at most [`max_connections`](Self::max_connections) connections at once (default
/// [`ws_adapter::DEFAULT_MAX_CONNECTIONS`]), counting each from accept until its handler and
/// its driver have both finished; a connection over the limit has its request read and answered
/// with `503 Service Unavailable` ([`ws_adapter::overloaded`]) before any upgrade.
pub struct Server {
    listener: Async<TcpListener>,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
    limit: ConnectionLimit,
}

impl Server {
    /// Listens on `addr` (the first resolved address that binds). A failure's message names
    /// the address, and keeps the system error's kind (see [`ws_adapter::BindError`]).
    pub async fn bind(addr: impl async_net::AsyncToSocketAddrs) -> io::Result<Server> {
        let addrs = async_net::resolve(addr).await?;
        let listener = ws_adapter::BindError::bind_first(addrs, Async::<TcpListener>::bind)?;
        Ok(Server::from_listener(listener))
    }

    /// Serves on an existing listener.
    pub fn from_listener(listener: Async<TcpListener>) -> Server {
        Server {
            listener,
            config: Config::default(),
            tls: None,
            limit: ConnectionLimit::default(),
        }
    }

    /// Limits and timeouts for every connection.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Most connections open at once (default [`ws_adapter::DEFAULT_MAX_CONNECTIONS`]). Each
    /// counts from accept until both its handler and its driver have finished; one over the
    /// limit is answered with `503 Service Unavailable` and `Retry-After`
    /// ([`ws_adapter::overloaded`]) after its request was read, before any upgrade.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limit = ConnectionLimit::new(max);
        self
    }

    /// Serve `wss://` with this TLS configuration.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }

    /// Starts the accept loop on smol's global executor. For every connection, in a task of
    /// its own: TLS if configured, the handshake, `hook` deciding on the request, then
    /// `handler` with the running WebSocket (its driver in another task).
    ///
    /// The loop runs until [`ServerHandle::stop`] or until the handle is dropped; connections
    /// already open carry on. A failing `accept` (out of file descriptors, ...) pauses the loop
    /// with [`ws_adapter::AcceptBackoff`] instead of spinning. A connection over
    /// [`max_connections`](Self::max_connections) gets a 503 in its task instead of `hook`.
    #[cfg(feature = "smol")]
    pub fn serve<H, F, Fut>(self, hook: H, handler: F) -> io::Result<ServerHandle>
    where
        H: Fn(&Request) -> Decision + Send + Sync + 'static,
        F: Fn(WebSocket, Request) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let addr = self.local_addr()?;
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let (hook, handler) = (Arc::new(hook), Arc::new(handler));
        // One copy for every connection's handshake, not one each.
        let config = Arc::new(self.config.clone());
        smol::spawn(async move {
            let mut backoff = AcceptBackoff::default();
            loop {
                let next = futures_lite::future::or(
                    async {
                        // Only ever closed, never sent on: the handle is gone or stopped.
                        let _ = stopped.recv().await;
                        None
                    },
                    async { Some(self.listener.accept().await) },
                );
                let tcp = match next.await {
                    None => break,
                    Some(Ok((tcp, _peer))) => {
                        backoff.succeeded();
                        tcp
                    }
                    // Out of descriptors or similar: pause rather than spin on the error.
                    Some(Err(e)) => {
                        let pause = backoff.failed(&e);
                        async_io::Timer::after(pause).await;
                        continue;
                    }
                };
                // Counted from accept, so connections still in their handshake count too.
                let permit = self.limit.try_acquire();
                let (config, tls) = (Arc::clone(&config), self.tls.clone());
                let (hook, handler) = (Arc::clone(&hook), Arc::clone(&handler));
                // The handshake in a task of its own, which ends with it: the tasks that live as
                // long as the connection (its driver and its handler) are sized for what they
                // hold, not for the handshake's state (TLS included).
                smol::spawn(async move {
                    let Some(permit) = permit else {
                        // Read the request, then answer 503: the client learns why.
                        let overloaded = |_: &Request| Decision::Reject(ws_adapter::overloaded());
                        let _ = accept_tcp(tcp, tls, &config, overloaded).await;
                        return;
                    };
                    let Ok((ws, request, driver)) = accept_tcp(tcp, tls, &config, &*hook).await
                    else {
                        return;
                    };
                    // The place is held until both the handler and the driver are done. Both
                    // futures are spawned in a `Holding`, not awaited in an `async` block, which
                    // would store each of them twice (once captured, once awaited).
                    let permit = Arc::new(permit);
                    smol::spawn(Holding {
                        future: driver,
                        _permit: Arc::clone(&permit),
                    })
                    .detach();
                    // The handler is the application's: what it logs carries the connection.
                    let application = ws.span().clone().instrument(handler(ws, request));
                    smol::spawn(Holding {
                        future: application,
                        _permit: permit,
                    })
                    .detach();
                })
                .detach();
            }
        })
        .detach();
        Ok(ServerHandle { addr, stop })
    }
}

pin_project_lite::pin_project! {
    /// A future that holds a share of a connection's place under the limit until it completes
    /// (or is dropped).
    struct Holding<F> {
        #[pin]
        future: F,
        _permit: Arc<Permit>,
    }
}

impl<F: Future> Future for Holding<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

/// Like [`accept`] for an accepted TCP stream: TLS first when `tls` is given, then the
/// WebSocket handshake, together within the handshake timeout. The returned [`Driver`] must be
/// spawned.
pub async fn accept_tcp(
    tcp: Async<std::net::TcpStream>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket, Request, Driver), AcceptError> {
    accept_tcp_streaming(tcp, tls, config, |request| Reply::Decision(hook(request))).await
}

/// Like [`accept_tcp`], with a hook that may also answer with a [`StreamedResponse`] (a file).
/// A streamed response ends in [`AcceptError::Rejected`] with its status once it was written,
/// or [`AcceptError::Io`] if writing it failed or stalled.
pub async fn accept_tcp_streaming(
    tcp: Async<std::net::TcpStream>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: &Config,
    hook: impl FnOnce(&Request) -> Reply,
) -> Result<(WebSocket, Request, Driver), AcceptError> {
    accept_tcp_with(tcp, tls, config, |request| {
        std::future::ready(hook(request))
    })
    .await
}

/// Like [`accept_tcp_streaming`], with a hook that decides asynchronously: the decision may
/// wait without holding the executor (for a thread pool running application code that
/// blocks, a database, another service). The wait is not bound by the handshake timeout.
///
/// The handshake, TLS and the hook included, runs in the connection's span (see the crate's
/// "Logging"); [`ws_adapter::trace::ConnSpan::current`] carries it to another thread.
pub async fn accept_tcp_with<H, F>(
    tcp: Async<std::net::TcpStream>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: &Config,
    hook: H,
) -> Result<(WebSocket, Request, Driver), AcceptError>
where
    H: FnOnce(&Request) -> F,
    F: Future<Output = Reply>,
{
    let start = Instant::now();
    let deadline = ws_proto::deadline(start, config.handshake_timeout);
    // Frames are written whole by the driver; don't let Nagle hold back the last segment.
    let _ = tcp.get_ref().set_nodelay(true);
    let span = ConnSpan::new(Role::Server, || tcp.get_ref().peer_addr().ok());
    let handshake = async {
        match tls {
            None => accept_until(tcp, config, hook, start, deadline, &span).await,
            Some(tls) => {
                let accepting = futures_rustls::TlsAcceptor::from(tls).accept(tcp);
                let tls = with_deadline(deadline, accepting)
                    .await
                    .ok_or(AcceptError::Handshake(HandshakeError::Timeout))?
                    .map_err(AcceptError::Io)?;
                accept_until(tls, config, hook, start, deadline, &span).await
            }
        }
    };
    in_span(&span, handshake).await
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr().ok())
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .field("max_connections", &self.limit.max())
            .finish()
    }
}

/// Controls a running [`Server`]: stops its accept loop (connections already open carry on).
/// Dropping the handle stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    /// Closing this channel is the stop signal.
    stop: async_channel::Sender<()>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; the listener is closed as soon as the accept loop sees it.
    pub fn stop(self) {
        self.stop.close();
    }
}

//! Serving: the server side of the opening handshake on any stream ([`accept`]), and a TCP
//! listener with an accept loop ([`Server`]).

use std::any::Any;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use ws_proto::Config;
use ws_proto::handshake::{HandshakeError, Request, ServerHandshake};

use crate::driver::{Driver, socket_of};
use crate::socket::WebSocket;
use crate::with_deadline;
use ws_adapter::{AcceptBackoff, ConnectionLimit};
pub use ws_adapter::{AcceptError, Decision};

/// Runs the server side of the opening handshake on `stream` (plain, or TLS already
/// established): reads the request within the handshake timeout, asks `hook`, and answers. On
/// success returns the WebSocket, the request, and the connection's [`Driver`] for the caller
/// to spawn on any executor.
///
/// `hook` sees every well-formed HTTP request, upgrade or not ([`Request::is_upgrade`]), so a
/// web server that also serves plain HTTP can answer those with [`Decision::Reject`] and a
/// full response; the upgrade is validated when the hook accepts.
pub async fn accept<S>(
    stream: S,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket, Request, Driver), AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let start = Instant::now();
    accept_until(
        stream,
        config,
        hook,
        start,
        start + config.handshake_timeout,
    )
    .await
}

async fn accept_until<S>(
    mut stream: S,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
    start: Instant,
    deadline: Instant,
) -> Result<(WebSocket, Request, Driver), AcceptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
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
    match hook(&request) {
        Decision::Reject(response) => {
            let status = response.status;
            let response = handshake.reject(response);
            Err(answer(stream, response, AcceptError::Rejected(status), deadline).await)
        }
        // `accept` validates the upgrade; the 101 starts the connection's output, which the
        // driver writes.
        Decision::Accept(accept) => match handshake.accept(Instant::now(), &accept) {
            Ok(connection) => {
                let (ws, driver) = WebSocket::from_stream(stream, connection);
                Ok((ws, request, driver))
            }
            Err(e) => {
                let response = e.to_response().encode();
                Err(answer(stream, response, AcceptError::Handshake(e), deadline).await)
            }
        },
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
    /// Listens on `addr` (the first resolved address that binds).
    pub async fn bind(addr: impl async_net::AsyncToSocketAddrs) -> io::Result<Server> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to");
        for addr in async_net::resolve(addr).await? {
            match Async::<TcpListener>::bind(addr) {
                Ok(listener) => return Ok(Server::from_listener(listener)),
                Err(e) => last = e,
            }
        }
        Err(last)
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
                    Some(Err(_)) => {
                        async_io::Timer::after(backoff.failed()).await;
                        continue;
                    }
                };
                // Counted from accept, so connections still in their handshake count too.
                let permit = self.limit.try_acquire();
                let (config, tls) = (self.config.clone(), self.tls.clone());
                let (hook, handler) = (Arc::clone(&hook), Arc::clone(&handler));
                smol::spawn(async move {
                    let Some(permit) = permit else {
                        // Read the request, then answer 503: the client learns why.
                        let overloaded = |_: &Request| Decision::Reject(ws_adapter::overloaded());
                        let _ = accept_tcp(tcp, tls, &config, overloaded).await;
                        return;
                    };
                    // The place is held until both the handler and the driver are done.
                    let permit = Arc::new(permit);
                    if let Ok((ws, request, driver)) = accept_tcp(tcp, tls, &config, &*hook).await {
                        let held = Arc::clone(&permit);
                        smol::spawn(async move {
                            driver.await;
                            drop(held);
                        })
                        .detach();
                        handler(ws, request).await;
                    }
                    drop(permit);
                })
                .detach();
            }
        })
        .detach();
        Ok(ServerHandle { addr, stop })
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
    let start = Instant::now();
    let deadline = start + config.handshake_timeout;
    // Frames are written whole by the driver; don't let Nagle hold back the last segment.
    let _ = tcp.get_ref().set_nodelay(true);
    match tls {
        None => accept_until(tcp, config, hook, start, deadline).await,
        Some(tls) => {
            let tls = with_deadline(deadline, futures_rustls::TlsAcceptor::from(tls).accept(tcp))
                .await
                .ok_or(AcceptError::Handshake(HandshakeError::Timeout))?
                .map_err(AcceptError::Io)?;
            accept_until(tls, config, hook, start, deadline).await
        }
    }
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

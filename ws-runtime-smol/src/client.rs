//! Connecting as a client: DNS, TCP, TLS, then the opening handshake, each step reported by
//! name when it fails.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use ws_proto::handshake::{ClientHandshake, Established, HandshakeError, Response, WsUrl};

use crate::driver::Driver;
use crate::socket::WebSocket;
use crate::with_deadline;
pub use ws_adapter::ConnectError;
use ws_adapter::{Connecting, TcpConnectError, feed_response};

/// Connects to `url` with default options; the connection's driver runs on smol's global
/// executor.
///
/// ```no_run
/// # smol::block_on(async {
/// let (ws, _response) = ws_runtime_smol::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send_text("hello").await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
#[cfg(feature = "smol")]
pub async fn connect(url: &str) -> Result<(WebSocket, Response), ConnectError> {
    ClientBuilder::new(url)?.connect().await
}

ws_adapter::client_builder! {
    /// Options for a client connection.
    pub struct ClientBuilder;
}

impl ClientBuilder {
    /// Connects (see [`connect_with_driver`](Self::connect_with_driver)) and spawns the
    /// connection's driver on smol's global executor.
    #[cfg(feature = "smol")]
    pub async fn connect(self) -> Result<(WebSocket, Response), ConnectError> {
        let (ws, response, driver) = self.connect_with_driver().await?;
        smol::spawn(driver).detach();
        Ok((ws, response))
    }

    /// Connects: DNS, TCP, TLS for `wss://`, then the opening handshake, all within the
    /// handshake timeout (TCP connect also within the connect timeout). Returns the
    /// connection's [`Driver`] for the caller to spawn on any executor.
    pub async fn connect_with_driver(self) -> Result<(WebSocket, Response, Driver), ConnectError> {
        // Invalid builder input fails here, before any lookup or connection.
        let Connecting {
            url,
            handshake,
            connect_timeout,
            deadline,
            tls,
            ..
        } = self.0.start(Instant::now())?;
        let addrs = resolve(&url, deadline).await?;
        let tcp = connect_tcp(&url, &addrs, connect_timeout, deadline).await?;
        // Frames are written whole by the driver; don't let Nagle hold back the last segment.
        let _ = tcp.get_ref().set_nodelay(true);
        if url.is_secure() {
            let name = ws_adapter::tls::server_name(url.host()).map_err(ConnectError::Tls)?;
            let connecting = futures_rustls::TlsConnector::from(tls).connect(name, tcp);
            let stream = with_deadline(deadline, connecting)
                .await
                .ok_or_else(|| ConnectError::Tls(io::ErrorKind::TimedOut.into()))?
                .map_err(ConnectError::Tls)?;
            finish(stream, handshake, deadline).await
        } else {
            finish(tcp, handshake, deadline).await
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.0.url)
            .field("config", &self.0.config)
            .field("connect_timeout", &self.0.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Runs the opening handshake on `stream` and starts the connection.
async fn finish<S>(
    mut stream: S,
    mut handshake: ClientHandshake,
    deadline: Instant,
) -> Result<(WebSocket, Response, Driver), ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let established = with_deadline(deadline, drive_handshake(&mut stream, &mut handshake))
        .await
        .unwrap_or(Err(ConnectError::Handshake(HandshakeError::Timeout)))?;
    let (ws, driver) = WebSocket::from_stream(stream, established.connection);
    Ok((ws, established.response, driver))
}

async fn resolve(url: &WsUrl, deadline: Instant) -> Result<Vec<SocketAddr>, ConnectError> {
    // An address literal needs no lookup (and no trip through the blocking thread pool).
    if let Ok(ip) = url.host().parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, url.port())]);
    }
    let addrs = with_deadline(deadline, async_net::resolve((url.host(), url.port())))
        .await
        .ok_or_else(|| ConnectError::Dns(io::ErrorKind::TimedOut.into()))?
        .map_err(ConnectError::Dns)?;
    if addrs.is_empty() {
        return Err(ConnectError::Dns(io::Error::new(
            io::ErrorKind::NotFound,
            "no address found",
        )));
    }
    Ok(addrs)
}

/// Connects to the first of `addrs` that answers; the error names the URL's host and port and
/// the address tried last.
async fn connect_tcp(
    url: &WsUrl,
    addrs: &[SocketAddr],
    timeout: Duration,
    deadline: Instant,
) -> Result<Async<TcpStream>, ConnectError> {
    let mut last = (
        None,
        io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
    );
    for addr in addrs {
        let until = deadline.min(ws_proto::deadline(Instant::now(), timeout));
        match with_deadline(until, Async::<TcpStream>::connect(*addr)).await {
            Some(Ok(tcp)) => return Ok(tcp),
            Some(Err(e)) => last = (Some(*addr), e),
            None => last = (Some(*addr), io::ErrorKind::TimedOut.into()),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let (addr, error) = last;
    Err(ConnectError::Tcp(TcpConnectError::new(
        url.host(),
        url.port(),
        addr,
        error,
    )))
}

/// Writes the request and reads the response until the handshake machine is done.
async fn drive_handshake<S>(
    stream: &mut S,
    handshake: &mut ClientHandshake,
) -> Result<Established, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(handshake.output())
        .await
        .map_err(ConnectError::Io)?;
    handshake.consume_output(handshake.output().len());
    stream.flush().await.map_err(ConnectError::Io)?;
    let mut buf = vec![0u8; 4 << 10];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ConnectError::Io(e)),
        };
        if let Some(established) = feed_response(handshake, Instant::now(), &buf[..n])? {
            return Ok(established);
        }
    }
}

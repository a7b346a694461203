//! Connecting as a client: DNS, TCP, TLS, then the opening handshake, each step reported by
//! name when it fails.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, HandshakeError, Response, WsUrl};

use crate::socket::WebSocket;
use crate::transport::Transport;
pub use ws_adapter::ConnectError;
use ws_adapter::{Connecting, TcpConnectError, feed_response, resolve};

/// Connects to `url` with default options.
///
/// ```no_run
/// let (ws, _response) = ws_runtime_std::connect("ws://127.0.0.1:9001/chat")?;
/// ws.send_text("hello")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect(url: &str) -> Result<(WebSocket, Response), ConnectError> {
    ClientBuilder::new(url)?.connect()
}

ws_adapter::client_builder! {
    /// Options for a client connection.
    pub struct ClientBuilder;
}

impl ClientBuilder {
    /// Connects: DNS, TCP, TLS for `wss://`, then the opening handshake, all within the
    /// handshake timeout (TCP connect also within the connect timeout).
    pub fn connect(self) -> Result<(WebSocket, Response), ConnectError> {
        let Connecting {
            url,
            mut handshake,
            connect_timeout,
            deadline,
            tls,
            ..
        } = self.0.start(Instant::now())?;
        let addrs = resolve(&url)?;
        let tcp = connect_tcp(&url, &addrs, connect_timeout, deadline)?;
        let mut transport = if url.is_secure() {
            let mut t = Transport::client_tls(tcp, tls, url.host()).map_err(ConnectError::Tls)?;
            t.complete_tls_handshake(deadline)
                .map_err(ConnectError::Tls)?;
            t
        } else {
            Transport::plain(tcp)
        };
        let established = drive_handshake(&mut transport, &mut handshake, deadline)?;
        let ws = WebSocket::from_transport(transport, established.connection)
            .map_err(ConnectError::Io)?;
        Ok((ws, established.response))
    }
}

/// Connects to the first of `addrs` that answers; the error names the URL's host and port and
/// the address tried last.
fn connect_tcp(
    url: &WsUrl,
    addrs: &[SocketAddr],
    timeout: Duration,
    deadline: Instant,
) -> Result<TcpStream, ConnectError> {
    let mut last = (
        None,
        io::Error::new(io::ErrorKind::NotFound, "no address to connect to"),
    );
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = (Some(*addr), io::ErrorKind::TimedOut.into());
            break;
        }
        match TcpStream::connect_timeout(addr, timeout.min(left)) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = (Some(*addr), e),
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
fn drive_handshake(
    transport: &mut Transport,
    handshake: &mut ClientHandshake,
    deadline: Instant,
) -> Result<ws_proto::handshake::Established, ConnectError> {
    let timed_out = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    let fail = |e: io::Error| {
        if timed_out(&e) {
            ConnectError::Handshake(HandshakeError::Timeout)
        } else {
            ConnectError::Io(e)
        }
    };
    transport.set_deadline(deadline).map_err(fail)?;
    while !handshake.output().is_empty() {
        let n = transport.write(handshake.output()).map_err(fail)?;
        handshake.consume_output(n);
    }
    transport.flush().map_err(fail)?;
    let mut buf = vec![0u8; 8 << 10];
    loop {
        transport.set_deadline(deadline).map_err(fail)?;
        let n = match transport.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e)),
        };
        if let Some(established) = feed_response(handshake, Instant::now(), &buf[..n])? {
            return Ok(established);
        }
    }
}

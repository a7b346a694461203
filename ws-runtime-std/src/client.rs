//! Connecting as a client: DNS, TCP, TLS, then the opening handshake, each step reported by
//! name when it fails.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, ClientRequest, HandshakeError, Response, WsUrl};
use ws_proto::{Config, KeySource};

use crate::socket::WebSocket;
use crate::tls;
use crate::transport::Transport;
pub use ws_proto::adapter::ConnectError;

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

/// Options for a client connection.
pub struct ClientBuilder {
    url: WsUrl,
    request: ClientRequest,
    config: Config,
    connect_timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    keys: Option<Box<dyn KeySource>>,
}

impl ClientBuilder {
    /// Starts from a `ws://` or `wss://` URL; an invalid URL fails here.
    pub fn new(url: &str) -> Result<Self, ConnectError> {
        let url = WsUrl::parse(url).map_err(ConnectError::Url)?;
        Ok(ClientBuilder {
            request: ClientRequest::new(url.clone()),
            url,
            config: Config::default(),
            connect_timeout: Duration::from_secs(10),
            tls: None,
            keys: None,
        })
    }

    /// Adds a request header (repeat the call for repeated keys). An invalid name or value, or
    /// one of the headers the handshake itself sets, fails [`connect`](Self::connect) with
    /// [`ConnectError::Request`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.with_header(name, value);
        self
    }

    /// Sets the `Cookie` header from one `a=1; b=2` string.
    pub fn cookie(mut self, cookies: &str) -> Self {
        self.request = self.request.with_cookie(cookies);
        self
    }

    /// Offers a subprotocol (repeat for several, most preferred first).
    pub fn subprotocol(mut self, protocol: &str) -> Self {
        self.request = self.request.with_subprotocol(protocol);
        self
    }

    /// Limits and timeouts (the handshake timeout included).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long the TCP connect may take, per address. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The TLS configuration for `wss://` (default: the Mozilla root store from
    /// `webpki-roots`, with the `ring` provider).
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Where mask keys and the handshake nonce come from (default: the OS-seeded generator).
    pub fn key_source(mut self, keys: Box<dyn KeySource>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Connects: DNS, TCP, TLS for `wss://`, then the opening handshake, all within the
    /// handshake timeout (TCP connect also within the connect timeout).
    pub fn connect(self) -> Result<(WebSocket, Response), ConnectError> {
        let ClientBuilder {
            url,
            request,
            config,
            connect_timeout,
            tls,
            keys,
        } = self;
        let start = Instant::now();
        let deadline = start + config.handshake_timeout;
        request.check().map_err(ConnectError::Request)?;
        let addrs = resolve(&url)?;
        let tcp = connect_tcp(&addrs, connect_timeout, deadline)?;
        let mut transport = if url.is_secure() {
            let tls = tls.unwrap_or_else(tls::default_client_config);
            let mut t = Transport::client_tls(tcp, tls, url.host()).map_err(ConnectError::Tls)?;
            t.complete_tls_handshake(deadline)
                .map_err(ConnectError::Tls)?;
            t
        } else {
            Transport::plain(tcp)
        };
        let keys = keys.unwrap_or_else(ws_proto::rng::default_key_source);
        let mut handshake =
            ClientHandshake::new(request, config, keys, start).map_err(ConnectError::Request)?;
        let established = drive_handshake(&mut transport, &mut handshake, deadline)?;
        let ws = WebSocket::from_transport(transport, established.connection)
            .map_err(ConnectError::Io)?;
        Ok((ws, established.response))
    }
}

fn resolve(url: &WsUrl) -> Result<Vec<SocketAddr>, ConnectError> {
    let addrs: Vec<SocketAddr> = (url.host(), url.port())
        .to_socket_addrs()
        .map_err(ConnectError::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Dns(io::Error::new(
            io::ErrorKind::NotFound,
            "no address found",
        )));
    }
    Ok(addrs)
}

fn connect_tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
    deadline: Instant,
) -> Result<TcpStream, ConnectError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConnectError::Tcp(io::ErrorKind::TimedOut.into()));
        }
        match TcpStream::connect_timeout(addr, timeout.min(left)) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Tcp(last))
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
        let now = Instant::now();
        let step = if n == 0 {
            handshake.receive_eof(now)
        } else {
            handshake.receive(now, &buf[..n])
        };
        match step {
            Ok(Some(established)) => return Ok(established),
            Ok(None) if n == 0 => {
                return Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(None) => {}
            Err(HandshakeError::Rejected(response)) => {
                return Err(ConnectError::Rejected(response));
            }
            Err(e) => return Err(ConnectError::Handshake(e)),
        }
    }
}

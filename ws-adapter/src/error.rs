//! The errors of connecting, accepting and sending, and a server hook's decision: every runtime
//! reports the same failures the same way.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use ws_proto::Error as CoreError;
use ws_proto::handshake::{Accept, HandshakeError, Response, UrlError};

/// The step of connecting that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a valid `ws://` or `wss://` URL.
    Url(UrlError),
    /// A header or option given to the builder is invalid.
    Request(HandshakeError),
    /// The host name did not resolve.
    Dns(io::Error),
    /// No TCP connection could be made to any resolved address: the host and port, the last
    /// address tried and its error (`kind()` and the `io::Error` as `source()`).
    Tcp(TcpConnectError),
    /// The TLS handshake failed.
    Tls(io::Error),
    /// The server answered the upgrade request with another status than 101: its status,
    /// headers and body.
    Rejected(Response),
    /// The server's 101 response is invalid (RFC 6455 §4.1), or the handshake timed out.
    Handshake(HandshakeError),
    /// The connection failed while sending the request or reading the response.
    Io(io::Error),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Url(e) => write!(f, "invalid URL: {e}"),
            ConnectError::Request(e) => write!(f, "invalid request: {e}"),
            ConnectError::Dns(e) => write!(f, "DNS lookup failed: {e}"),
            ConnectError::Tcp(e) => write!(f, "{e}"),
            ConnectError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ConnectError::Rejected(r) => {
                write!(f, "server answered HTTP {} {}", r.status, r.reason)
            }
            ConnectError::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            ConnectError::Io(e) => write!(f, "connection failed during the handshake: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Dns(e) | ConnectError::Tls(e) | ConnectError::Io(e) => Some(e),
            ConnectError::Tcp(e) => Some(e.io_error()),
            ConnectError::Request(e) | ConnectError::Handshake(e) => Some(e),
            ConnectError::Url(e) => Some(e),
            ConnectError::Rejected(_) => None,
        }
    }
}

/// A TCP connect that failed ([`ConnectError::Tcp`]): the host and port of the URL, the
/// resolved address tried last, and the system's error. Its message names all three, e.g.
/// `TCP connect to localhost:9 (127.0.0.1:9) failed: Connection refused (os error 111)`, like
/// Node's `ws` and Python's `websockets` do.
#[derive(Debug)]
pub struct TcpConnectError {
    host: String,
    port: u16,
    addr: Option<SocketAddr>,
    source: io::Error,
}

impl TcpConnectError {
    /// A failed connect to `host`:`port` (as the URL names them), whose address `addr` (the
    /// last one tried; `None` when none was) failed with `source`.
    pub fn new(host: &str, port: u16, addr: Option<SocketAddr>, source: io::Error) -> Self {
        TcpConnectError {
            host: host.to_owned(),
            port,
            addr,
            source,
        }
    }

    /// The host of the URL: a name, or an address literal (an IPv6 one without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resolved address tried last, whose error this is; `None` when no address was tried.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The kind of the system's error (`ConnectionRefused`, `TimedOut`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The system's error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for TcpConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        f.write_str("TCP connect to ")?;
        f.write_str(&target)?;
        // A name says which of its addresses failed; an address literal already did.
        if let Some(addr) = self.addr.filter(|addr| addr.to_string() != target) {
            write!(f, " ({addr})")?;
        }
        write!(f, " failed: {}", self.source)
    }
}

impl std::error::Error for TcpConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A listener that could not be bound: the address, and the system's error. Its message names
/// the address, e.g. `cannot listen on 127.0.0.1:8080: Address already in use (os error 98)`.
///
/// The runtimes' `Server::bind` return it inside an [`io::Error`] of the same
/// [`kind`](io::Error::kind) (`AddrInUse`, `PermissionDenied`, ...), whose message is this one
/// and whose `source()` is the system's error; [`io::Error::get_ref`] and a downcast give this
/// value back.
#[derive(Debug)]
pub struct BindError {
    addr: SocketAddr,
    source: io::Error,
}

impl BindError {
    /// Binding `addr` failed with `source`.
    pub fn new(addr: SocketAddr, source: io::Error) -> Self {
        BindError { addr, source }
    }

    /// The address that could not be bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kind of the system's error (`AddrInUse`, `PermissionDenied`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    /// The system's error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// Binds the first of `addrs` that `bind` accepts (what `TcpListener::bind` does with
    /// several addresses); when none does, the error of the last one tried, naming its
    /// address.
    pub fn bind_first<L>(
        addrs: impl IntoIterator<Item = SocketAddr>,
        mut bind: impl FnMut(SocketAddr) -> io::Result<L>,
    ) -> io::Result<L> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to");
        for addr in addrs {
            match bind(addr) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = BindError::new(addr, e).into(),
            }
        }
        Err(last)
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on {}: {}", self.addr, self.source)
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<BindError> for io::Error {
    /// An `io::Error` of the same kind that carries the address in its message.
    fn from(error: BindError) -> Self {
        io::Error::new(error.kind(), error)
    }
}

/// What to do with a request.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Complete the WebSocket handshake (optionally choosing a subprotocol and adding
    /// headers). A request that is not a valid upgrade is answered with the status the core
    /// chose for it instead (400, 405, 426, ...).
    Accept(Accept),
    /// Answer with this response and close: a refusal (403, 401, ...) or, for a plain HTTP
    /// request, a page.
    Reject(Response),
}

impl Decision {
    /// Accept with no subprotocol and no extra headers.
    pub fn accept() -> Self {
        Decision::Accept(Accept::new())
    }

    /// Reject with a bare status.
    pub fn reject(status: u16) -> Self {
        Decision::Reject(Response::new(status))
    }
}

/// Why an adapter's `accept` did not produce a WebSocket.
#[derive(Debug)]
pub enum AcceptError {
    /// The request was not a valid upgrade; the error response was sent.
    Handshake(HandshakeError),
    /// The hook rejected the request; its response was sent.
    Rejected(u16),
    /// TLS or socket failure.
    Io(io::Error),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::Handshake(e) => write!(f, "invalid upgrade request: {e}"),
            AcceptError::Rejected(status) => write!(f, "request rejected with {status}"),
            AcceptError::Io(e) => write!(f, "connection failed during the handshake: {e}"),
        }
    }
}

impl std::error::Error for AcceptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcceptError::Handshake(e) => Some(e),
            AcceptError::Io(e) => Some(e),
            AcceptError::Rejected(_) => None,
        }
    }
}

/// Why a send did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closing or closed.
    Closed,
    /// The call itself was invalid (an invalid close code, a control payload over 125 bytes, a
    /// message while a fragmented one is unfinished); nothing was sent.
    Invalid(CoreError),
}

/// Why a non-blocking send did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrySendError {
    /// The output queue is full; retry later, or use the blocking variant.
    Full,
    /// The connection is closing or closed.
    Closed,
    /// The call itself was invalid; nothing was sent.
    Invalid(CoreError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the WebSocket is closing or closed"),
            SendError::Invalid(e) => write!(f, "invalid send: {e}"),
        }
    }
}

impl fmt::Display for TrySendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full => f.write_str("the output queue is full"),
            TrySendError::Closed => f.write_str("the WebSocket is closing or closed"),
            TrySendError::Invalid(e) => write!(f, "invalid send: {e}"),
        }
    }
}

impl std::error::Error for SendError {}
impl std::error::Error for TrySendError {}

impl TrySendError {
    /// Maps the core's refusal of a send: a full output queue, a closed connection, or misuse.
    pub fn from_core(error: CoreError) -> Self {
        match error {
            CoreError::OutputFull => TrySendError::Full,
            CoreError::Closed => TrySendError::Closed,
            other => TrySendError::Invalid(other),
        }
    }
}

impl SendError {
    /// Maps the core's answer to `close`: a connection already closing, or misuse.
    pub fn from_close(result: Result<(), CoreError>) -> Result<(), SendError> {
        match result {
            Ok(()) => Ok(()),
            Err(CoreError::Closed) => Err(SendError::Closed),
            Err(e) => Err(SendError::Invalid(e)),
        }
    }
}

impl From<TrySendError> for SendError {
    /// A waiting send only gives up when the connection closed or the call was invalid.
    fn from(error: TrySendError) -> Self {
        match error {
            TrySendError::Invalid(e) => SendError::Invalid(e),
            TrySendError::Full | TrySendError::Closed => SendError::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_tcp_connect_error_names_the_host_port_and_address_tried() {
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let named = ConnectError::Tcp(TcpConnectError::new("localhost", 9, Some(addr), refused()));
        let message = named.to_string();
        assert!(
            message.starts_with("TCP connect to localhost:9 (127.0.0.1:9) failed: "),
            "{message}"
        );
        let source = named.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::ConnectionRefused)
        );

        // An address literal is not repeated; an IPv6 one is bracketed.
        let literal = TcpConnectError::new("127.0.0.1", 9, Some(addr), refused());
        assert!(
            literal
                .to_string()
                .starts_with("TCP connect to 127.0.0.1:9 failed: ")
        );
        let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 9));
        let literal = TcpConnectError::new("::1", 9, Some(v6), refused());
        assert!(
            literal
                .to_string()
                .starts_with("TCP connect to [::1]:9 failed: ")
        );
        assert_eq!(literal.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn binding_a_used_port_names_the_address_and_keeps_the_kind() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = taken.local_addr().expect("its address");
        let error =
            BindError::bind_first([addr], TcpListener::bind).expect_err("the port is taken");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot listen on {addr}: ")),
            "{message}"
        );
        // The system's error is the source, and the address can be read back.
        let source = error.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert!(
            source.is_some_and(|s| s.raw_os_error().is_some()),
            "{source:?}"
        );
        let bind = error.get_ref().and_then(|e| e.downcast_ref::<BindError>());
        assert_eq!(bind.map(BindError::addr), Some(addr));
    }
}

//! The errors of connecting, accepting and sending, and a server hook's decision: every runtime
//! reports the same failures the same way.

use std::fmt;
use std::io;

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
    /// No TCP connection could be made to any resolved address (the last error).
    Tcp(io::Error),
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
            ConnectError::Tcp(e) => write!(f, "TCP connect failed: {e}"),
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
            ConnectError::Dns(e)
            | ConnectError::Tcp(e)
            | ConnectError::Tls(e)
            | ConnectError::Io(e) => Some(e),
            ConnectError::Request(e) | ConnectError::Handshake(e) => Some(e),
            ConnectError::Url(e) => Some(e),
            ConnectError::Rejected(_) => None,
        }
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

//! Errors returned to the caller: misuse of the API, or a connection that cannot take the call.

use std::fmt;

/// Why a call failed. Nothing was sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a valid `ws://` or `wss://` URL (4D: `new()` returns null and raises an
    /// error).
    InvalidUrl(ws_proto::handshake::UrlError),
    /// `terminate` was given a close code other than 1000 or 3000–4999.
    InvalidCloseCode(u16),
    /// The close reason is longer than 123 bytes.
    ReasonTooLong,
    /// The connection is not open yet (a client still `Connecting`).
    NotConnected,
    /// The connection is closing or closed.
    Closed,
    /// The connection's output queue is full: the peer is not reading. Sends never block in
    /// this API; retry later, or raise `Config::max_output_buffer`.
    OutputFull,
    /// The protocol core refused the call as invalid under RFC 6455 (the adapters'
    /// `Invalid`: a whole message while a fragmented one is unfinished, a control payload over
    /// 125 bytes, a close code that may not be sent); nothing was sent. The core's reason is
    /// the `source()`. This API checks what it can before, so this names a rule only the core
    /// knows.
    Invalid(ws_proto::Error),
    /// Connecting failed before any callback could be told (the adapters' [`ConnectError`],
    /// kept whole as the `source()`). An invalid URL is [`Error::InvalidUrl`]; failures after
    /// [`WebSocket::new`](crate::WebSocket::new) returned reach the handler's `on_error`.
    ///
    /// [`ConnectError`]: crate::ConnectError
    Connect(ws_adapter::ConnectError),
    /// The value could not be serialized to JSON.
    Json(serde_json::Error),
    /// The requested runtime is not compiled in (cargo features `std`, `smol`).
    RuntimeUnavailable(&'static str),
    /// [`WebSocketServer::new`](crate::WebSocketServer::new) needs a web server to live on
    /// ([`ServerOptions::web_server`](crate::ServerOptions::web_server)).
    NoWebServer,
    /// The web server already runs a WebSocket server on this path (`None`: a server without
    /// a path, answering every path no other server claims). A web server has at most one
    /// WebSocket server per path; the path is free again once that server is terminated.
    PathInUse(Option<String>),
    /// The web server could not listen on its address (in use, not permitted, ...). The
    /// message names the address; [`BindError::addr`](crate::BindError::addr) and
    /// [`BindError::kind`](crate::BindError::kind) give it and the kind of the system's error,
    /// which is this error's `source()`.
    Bind(ws_adapter::BindError),
    /// A socket could not be opened, or a thread started.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl(e) => write!(f, "invalid WebSocket URL: {e}"),
            Error::InvalidCloseCode(code) => {
                write!(f, "close code {code} is not allowed: use 1000 or 3000-4999")
            }
            Error::ReasonTooLong => f.write_str("close reason longer than 123 bytes"),
            Error::NotConnected => f.write_str("the WebSocket is not connected yet"),
            Error::Closed => f.write_str("the WebSocket is closing or closed"),
            Error::OutputFull => f.write_str("the output queue is full (the peer is not reading)"),
            Error::Invalid(e) => write!(f, "invalid call: {e}"),
            Error::Connect(e) => write!(f, "{e}"),
            Error::Json(e) => write!(f, "cannot serialize to JSON: {e}"),
            Error::RuntimeUnavailable(name) => write!(f, "runtime {name} is not compiled in"),
            Error::NoWebServer => f.write_str(
                "a WebSocketServer lives on a WebServer: set ServerOptions::web_server, or use \
                 WebSocketServer::listen",
            ),
            Error::PathInUse(Some(path)) => {
                write!(
                    f,
                    "a WebSocket server already serves the path {path} on this web server"
                )
            }
            Error::PathInUse(None) => f.write_str(
                "a WebSocket server without a path (answering every path) already runs on this \
                 web server",
            ),
            Error::Bind(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InvalidUrl(e) => Some(e),
            Error::Json(e) => Some(e),
            Error::Invalid(e) => Some(e),
            Error::Connect(e) => Some(e),
            Error::Bind(e) => Some(e.io_error()),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<ws_adapter::ConnectError> for Error {
    /// An invalid URL is [`Error::InvalidUrl`], as 4D's `new()` reports it; the rest is
    /// [`Error::Connect`].
    fn from(e: ws_adapter::ConnectError) -> Self {
        match e {
            ws_adapter::ConnectError::Url(e) => Error::InvalidUrl(e),
            other => Error::Connect(other),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}

/// Checks a close code given to `terminate` (4D: "must be 1000 or 3000–4999"; ARCHITECTURE.md
/// settles the connection's "> 3000" wording the same way) and the reason's length.
pub(crate) fn check_close(code: u16, reason: &str) -> Result<ws_proto::CloseCode, Error> {
    if code != 1000 && !(3000..=4999).contains(&code) {
        return Err(Error::InvalidCloseCode(code));
    }
    if reason.len() > 123 {
        return Err(Error::ReasonTooLong);
    }
    Ok(ws_proto::CloseCode(code))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_connect_error_stays_typed() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let tcp = ws_adapter::TcpConnectError::new("localhost", 9, None, refused);
        let error = Error::from(ws_adapter::ConnectError::Tcp(tcp));
        assert!(
            error
                .to_string()
                .starts_with("TCP connect to localhost:9 failed"),
            "{error}"
        );
        let source = error
            .source()
            .and_then(|s| s.downcast_ref::<ws_adapter::ConnectError>());
        let Some(ws_adapter::ConnectError::Tcp(tcp)) = source else {
            panic!("{source:?}")
        };
        assert_eq!(tcp.kind(), std::io::ErrorKind::ConnectionRefused);

        let url = ws_adapter::ClientOptions::new("http://x/").err();
        let error = url.map(Error::from);
        assert!(matches!(error, Some(Error::InvalidUrl(_))), "{error:?}");
    }
}

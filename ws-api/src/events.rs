//! The event objects handed to callbacks, mirroring 4D's `event` parameters.

use std::net::SocketAddr;
use std::sync::Mutex;

use ws_proto::handshake::{Headers, Request, Response};

use crate::Data;

/// `on_open`'s event (4D: `event.type = "open"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenEvent {}

impl OpenEvent {
    /// 4D's `event.type`: `"open"`.
    pub fn event_type(&self) -> &'static str {
        "open"
    }
}

/// `on_message`'s event (4D: `event.type = "message"`, `event.data`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MessageEvent {
    /// The message, converted according to the `data_type`.
    pub data: Data,
}

impl MessageEvent {
    /// 4D's `event.type`: `"message"`.
    pub fn event_type(&self) -> &'static str {
        "message"
    }
}

/// One entry of 4D's `errors` collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// 4D's `errCode`; see the constants of this type.
    pub code: u32,
    /// A description of what went wrong.
    pub message: String,
    /// 4D's `componentSignature`: `"ws-net"` (name resolution, TCP, TLS, IO), `"ws-http"` (the
    /// opening handshake), `"ws-proto"` (the peer broke RFC 6455; `code` is the close code
    /// sent) or `"ws-api"` (data conversion, limits of JSON messages, a callback that
    /// panicked).
    pub component: &'static str,
}

impl ErrorInfo {
    /// The host name did not resolve.
    pub const DNS: u32 = 1;
    /// No TCP connection could be made.
    pub const TCP: u32 = 2;
    /// The TLS handshake failed.
    pub const TLS: u32 = 3;
    /// The server refused the upgrade (the message names the HTTP status).
    pub const HANDSHAKE_REFUSED: u32 = 4;
    /// The opening handshake was invalid or timed out.
    pub const HANDSHAKE: u32 = 5;
    /// The connection failed on a socket error.
    pub const IO: u32 = 6;
    /// A message of an `object` connection was not JSON, or nested arrays and objects deeper
    /// than [`JsonLimits::max_depth`](crate::JsonLimits::max_depth) (the connection closes
    /// with 1007).
    pub const INVALID_JSON: u32 = 1007;
    /// A message of an `object` connection was larger than
    /// [`JsonLimits::max_size`](crate::JsonLimits::max_size), or its value would have taken
    /// more than [`JsonLimits::max_memory`](crate::JsonLimits::max_memory) (the connection
    /// closes with 1009). A message refused by the core's size check before it was buffered is
    /// reported with the same code and component `"ws-proto"`.
    pub const JSON_TOO_BIG: u32 = 1009;
    /// A callback panicked (component `"ws-api"`; the message names the callback and the
    /// panic's message). The panic was caught: a connection whose callback panicked is closed
    /// with 1011 and gets its `on_terminate` as usual; the server and every other connection
    /// carry on. A panic in `on_error` or `on_terminate` is not reported to `on_error` but
    /// written to stderr.
    pub const CALLBACK_PANICKED: u32 = 1011;

    pub(crate) fn new(code: u32, component: &'static str, message: impl Into<String>) -> Self {
        ErrorInfo {
            code,
            message: message.into(),
            component,
        }
    }

    /// The entry for a caught panic of `callback` (e.g. `"on_message"`).
    pub(crate) fn panicked(callback: &str, panic: &crate::dispatch::Panicked) -> Self {
        ErrorInfo::new(
            ErrorInfo::CALLBACK_PANICKED,
            "ws-api",
            format!("{callback} panicked: {panic}"),
        )
    }
}

/// `on_error`'s event (4D: `event.type = "error"`, `event.errors`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// What went wrong, most specific first.
    pub errors: Vec<ErrorInfo>,
}

impl ErrorEvent {
    /// 4D's `event.type`: `"error"`.
    pub fn event_type(&self) -> &'static str {
        "error"
    }

    pub(crate) fn one(info: ErrorInfo) -> Self {
        ErrorEvent { errors: vec![info] }
    }
}

/// `on_terminate`'s event (4D: `event.type = "terminate"`, `event.code`, `event.reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TerminateEvent {
    /// The close code the peer sent; 1005 if its Close frame had none, 1006 if the connection
    /// ended without a Close frame from the peer (an error, a vanished peer, an abort).
    pub code: u16,
    /// The peer's close reason, empty when it gave none.
    pub reason: String,
    /// Whether both Close frames were exchanged (4D's early `wasClean`).
    pub clean: bool,
}

impl TerminateEvent {
    /// 4D's `event.type`: `"terminate"`.
    pub fn event_type(&self) -> &'static str {
        "terminate"
    }
}

/// A server's own `on_open` / `on_terminate` event (4D: `event.type`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerEvent {
    kind: &'static str,
}

impl ServerEvent {
    pub(crate) fn open() -> Self {
        ServerEvent { kind: "open" }
    }

    pub(crate) fn terminate() -> Self {
        ServerEvent { kind: "terminate" }
    }

    /// 4D's `event.type`: `"open"` or `"terminate"`.
    pub fn event_type(&self) -> &'static str {
        self.kind
    }
}

/// The upgrade request, as 4D's `event.request` shows it.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// All headers in order; repeated keys are kept ([`Headers::get_all`] gives the list).
    pub headers: Headers,
    /// The query parameters, percent-decoded, in order (`?k1=v1&k2=v2`).
    pub query: Vec<(String, String)>,
    /// The request target: path and query, e.g. `/status?name=ryan`.
    pub url: String,
    /// The path part of `url`.
    pub path: String,
    /// The client's IP address.
    pub remote_address: String,
    /// The client's address with its port.
    pub remote: Option<SocketAddr>,
    /// The subprotocols the client offered.
    pub subprotocols: Vec<String>,
}

impl RequestInfo {
    pub(crate) fn new(request: &Request, remote: Option<SocketAddr>) -> Self {
        RequestInfo {
            headers: request.headers().clone(),
            query: request.query().to_vec(),
            url: request.target().to_owned(),
            path: request.path().to_owned(),
            remote_address: remote.map(|a| a.ip().to_string()).unwrap_or_default(),
            remote,
            subprotocols: request.subprotocols().to_vec(),
        }
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// `on_connection`'s event (4D: `event.type = "connection"`, `event.request`).
#[derive(Debug)]
pub struct ConnectionEvent {
    /// The upgrade request.
    pub request: RequestInfo,
    refusal: Mutex<Option<Response>>,
}

impl ConnectionEvent {
    pub(crate) fn new(request: RequestInfo) -> Self {
        ConnectionEvent {
            request,
            refusal: Mutex::new(None),
        }
    }

    /// 4D's `event.type`: `"connection"`.
    pub fn event_type(&self) -> &'static str {
        "connection"
    }

    /// When `on_connection` returns `None`, answer with this status instead of 403.
    pub fn refuse_with(&self, status: u16) {
        self.refuse_with_response(Response::new(status));
    }

    /// When `on_connection` returns `None`, answer with this response instead of a bare 403.
    pub fn refuse_with_response(&self, response: Response) {
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(response);
    }

    pub(crate) fn take_refusal(&self) -> Response {
        self.refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| Response::new(403).with_body("WebSocket connection refused\n"))
    }
}

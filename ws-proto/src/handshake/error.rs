//! Why an opening handshake failed, named by who is at fault.

use std::fmt;

use super::response::Response;

/// Why an opening handshake failed, by the party at fault.
///
/// * [`Request`](Self::Request): **the client's request is wrong** (seen by a server). Answer
///   with [`to_response`](Self::to_response), which carries the status and headers RFC 6455
///   §4.2.2 and §4.4 ask for.
/// * [`Response`](Self::Response): **the server's response is wrong** (seen by a client). The
///   connection is simply dropped.
/// * [`Usage`](Self::Usage): **the caller misused the API**. Nothing was sent.
/// * [`Timeout`](Self::Timeout): the handshake took longer than
///   [`Config::handshake_timeout`](crate::Config::handshake_timeout). It belongs to both sides:
///   a server usually closes without answering, but may send the 408 of
///   [`to_response`](Self::to_response).
///
/// A server that answers with a status other than 101 is not an error of the handshake: the
/// client's [`receive`](super::ClientHandshake::receive) returns it as
/// [`ClientOutcome::Rejected`](super::ClientOutcome::Rejected).
///
/// ```
/// use ws_proto::handshake::{HandshakeError, RequestError};
///
/// let error = HandshakeError::from(RequestError::MissingKey);
/// match &error {
///     HandshakeError::Request(why) => assert_eq!(why.status(), 400),
///     _ => unreachable!(),
/// }
/// assert_eq!(error.to_response().status, 400);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The client's request is not a valid opening handshake.
    Request(RequestError),
    /// The server's response is not a valid acceptance of the opening handshake.
    Response(ResponseError),
    /// The caller misused the API.
    Usage(UsageError),
    /// The handshake took longer than
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Timeout,
}

/// What is wrong with a client's opening request (RFC 6455 §4.1, §4.2.1), seen by a server.
/// Each maps to the HTTP status to answer with ([`status`](Self::status)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The request is not valid HTTP/1.x, has a header that is not UTF-8, a request-target that
    /// is not a path, a duplicate `Host`, a body, or a malformed WebSocket list header: why.
    /// Status 400.
    Malformed(&'static str),
    /// The method is not GET (RFC 6455 §4.1). Status 405, with `Allow: GET`.
    MethodNotAllowed,
    /// The request is HTTP/1.0 or an unknown version; RFC 6455 §4.1 requires HTTP/1.1 or
    /// higher. Status 505 (HTTP Version Not Supported).
    UnsupportedHttpVersion,
    /// No `Host` header, or an empty one (RFC 6455 §4.1). Status 400.
    MissingHost,
    /// No `websocket` token in `Upgrade` (RFC 6455 §4.2.1). Status 426, with
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
    MissingUpgrade,
    /// No `upgrade` token in `Connection` (RFC 6455 §4.2.1). Status 426, with
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is missing, repeated or not `13` (the value received, if any).
    /// Status 426 with `Sec-WebSocket-Version: 13`, the version this side speaks (§4.4).
    UnsupportedVersion(Option<String>),
    /// No `Sec-WebSocket-Key` header (RFC 6455 §4.1). Status 400.
    MissingKey,
    /// `Sec-WebSocket-Key` is repeated or is not base64 of exactly 16 bytes (§4.1). Status 400.
    InvalidKey,
    /// More header lines than [`Config::max_headers`](crate::Config::max_headers). Status 431.
    TooManyHeaders,
    /// A request head (or bytes buffered behind it) over
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size). Status 431.
    TooLarge,
}

/// What is wrong with a server's answer to the opening handshake (RFC 6455 §4.1), seen by a
/// client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The response is not valid HTTP/1.1, or its body framing is broken: why.
    Malformed(&'static str),
    /// The 101 has no `websocket` token in `Upgrade` (RFC 6455 §4.1).
    MissingUpgrade,
    /// The 101 has no `upgrade` token in `Connection` (RFC 6455 §4.1).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing, repeated, or not the digest of the key sent
    /// (RFC 6455 §4.1, §4.2.2).
    InvalidAccept,
    /// The 101 names a subprotocol the client did not offer, or several (RFC 6455 §4.1).
    UnexpectedSubprotocol(String),
    /// The 101 accepts an extension the client did not offer, or more than one (RFC 6455 §4.1,
    /// §9.1).
    UnexpectedExtension(String),
    /// The 101 accepts permessage-deflate with a parameter that is unknown, repeated, malformed
    /// or beyond what was offered (RFC 7692 §7.1): why.
    InvalidExtension(&'static str),
    /// The response head, its header count, or a rejection's body exceeds the configured
    /// limits.
    TooLarge,
    /// The server closed the connection before the response was complete.
    UnexpectedEof,
}

/// How the caller misused a handshake API. Nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The subprotocol passed to [`Accept`](super::Accept) is not one the client offered; RFC
    /// 6455 §4.2.2 only lets a server pick from the client's list.
    SubprotocolNotOffered(String),
    /// A header the caller supplied (the name is given) is not a valid field, or is one the
    /// handshake writes itself.
    InvalidHeader(String),
    /// A subprotocol the client was asked to offer is not a token, or is repeated (RFC 6455
    /// §4.1).
    InvalidSubprotocol(String),
    /// [`ServerHandshake::accept`](super::ServerHandshake::accept) was called before the
    /// request head was complete.
    NotReady,
    /// [`ClientHandshake::receive`](super::ClientHandshake::receive) was called after the
    /// handshake had already ended (with a connection or a rejection).
    Finished,
}

impl HandshakeError {
    /// The HTTP status a server answers this failure with.
    ///
    /// Request faults map as documented on each [`RequestError`] variant (400, 405, 426, 431,
    /// 505), a timeout to 408, caller misuse to 500. Response faults never arise on a server;
    /// they map to 502 (Bad Gateway), which is what a gateway relaying a failed upstream
    /// handshake answers.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::Request(why) => why.status(),
            HandshakeError::Timeout => 408,
            HandshakeError::Usage(_) => 500,
            HandshakeError::Response(_) => 502,
        }
    }

    /// The response a server sends for this failure: [`status`](Self::status), a one-line
    /// `text/plain` body, `Connection: close`, and the headers the RFC asks for: `Allow: GET`
    /// with 405; `Upgrade: websocket` and `Sec-WebSocket-Version: 13` with 426 (§4.2.2, §4.4).
    pub fn to_response(&self) -> Response {
        let mut response = Response::new(self.status());
        if let HandshakeError::Request(why) = self {
            match why {
                RequestError::MethodNotAllowed => {
                    response = response.with_header("Allow", "GET");
                }
                RequestError::MissingUpgrade | RequestError::MissingConnectionUpgrade => {
                    response = response
                        .with_header("Upgrade", "websocket")
                        .with_header("Sec-WebSocket-Version", "13");
                }
                RequestError::UnsupportedVersion(_) => {
                    response = response.with_header("Sec-WebSocket-Version", "13");
                }
                _ => {}
            }
        }
        response
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_header("Connection", "close")
            .with_body(format!("{self}\n"))
    }
}

impl RequestError {
    /// The HTTP status a server answers this request with (documented on each variant).
    pub fn status(&self) -> u16 {
        use RequestError::*;
        match self {
            Malformed(_) | MissingHost | MissingKey | InvalidKey => 400,
            MethodNotAllowed => 405,
            MissingUpgrade | MissingConnectionUpgrade | UnsupportedVersion(_) => 426,
            TooManyHeaders | TooLarge => 431,
            UnsupportedHttpVersion => 505,
        }
    }
}

impl RequestError {
    /// The response a server sends for this request: see [`HandshakeError::to_response`].
    pub fn to_response(&self) -> Response {
        HandshakeError::Request(self.clone()).to_response()
    }
}

impl From<RequestError> for HandshakeError {
    fn from(why: RequestError) -> Self {
        HandshakeError::Request(why)
    }
}

impl From<ResponseError> for HandshakeError {
    fn from(why: ResponseError) -> Self {
        HandshakeError::Response(why)
    }
}

impl From<UsageError> for HandshakeError {
    fn from(why: UsageError) -> Self {
        HandshakeError::Usage(why)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Request(why) => why.fmt(f),
            HandshakeError::Response(why) => why.fmt(f),
            HandshakeError::Usage(why) => why.fmt(f),
            HandshakeError::Timeout => f.write_str("opening handshake timed out"),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RequestError::*;
        match self {
            Malformed(why) => write!(f, "malformed request: {why}"),
            MethodNotAllowed => f.write_str("a WebSocket handshake must use GET"),
            UnsupportedHttpVersion => f.write_str("a WebSocket handshake requires HTTP/1.1"),
            MissingHost => f.write_str("missing Host header"),
            MissingUpgrade => f.write_str("missing `Upgrade: websocket`"),
            MissingConnectionUpgrade => f.write_str("missing `Connection: upgrade`"),
            UnsupportedVersion(Some(v)) => {
                write!(f, "unsupported Sec-WebSocket-Version {v:?}; supported: 13")
            }
            UnsupportedVersion(None) => f.write_str("missing Sec-WebSocket-Version; supported: 13"),
            MissingKey => f.write_str("missing Sec-WebSocket-Key"),
            InvalidKey => f.write_str("Sec-WebSocket-Key must be base64 of 16 bytes"),
            TooManyHeaders => f.write_str("too many header fields"),
            TooLarge => f.write_str("request head too large"),
        }
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseError::*;
        match self {
            Malformed(why) => write!(f, "invalid handshake response: {why}"),
            MissingUpgrade => f.write_str("the 101 response lacks `Upgrade: websocket`"),
            MissingConnectionUpgrade => f.write_str("the 101 response lacks `Connection: upgrade`"),
            InvalidAccept => f.write_str("wrong Sec-WebSocket-Accept"),
            UnexpectedSubprotocol(p) => write!(f, "server chose unoffered subprotocol {p:?}"),
            UnexpectedExtension(e) => write!(f, "server chose unoffered extension {e:?}"),
            InvalidExtension(why) => write!(f, "invalid permessage-deflate response: {why}"),
            TooLarge => f.write_str("handshake response too large"),
            UnexpectedEof => f.write_str("connection closed during the handshake"),
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use UsageError::*;
        match self {
            SubprotocolNotOffered(p) => write!(f, "subprotocol {p:?} was not offered"),
            InvalidHeader(name) => write!(f, "invalid or reserved header {name:?}"),
            InvalidSubprotocol(p) => write!(f, "invalid or repeated subprotocol {p:?}"),
            NotReady => f.write_str("the request head is not complete"),
            Finished => f.write_str("the handshake has already finished"),
        }
    }
}

// The Display of a HandshakeError is its part's, so the part is not repeated as a source.
impl std::error::Error for HandshakeError {}
impl std::error::Error for RequestError {}
impl std::error::Error for ResponseError {}
impl std::error::Error for UsageError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_the_rfc_headers() {
        let r = HandshakeError::Request(RequestError::MethodNotAllowed).to_response();
        assert_eq!((r.status, r.headers.get("allow")), (405, Some("GET")));
        let r = HandshakeError::Request(RequestError::UnsupportedVersion(Some("8".into())))
            .to_response();
        assert_eq!(
            (r.status, r.headers.get("Sec-WebSocket-Version")),
            (426, Some("13"))
        );
        let r = HandshakeError::Request(RequestError::MissingUpgrade).to_response();
        assert_eq!(r.headers.get("upgrade"), Some("websocket"));
        assert_eq!(r.headers.get("sec-websocket-version"), Some("13"));
        let r = HandshakeError::Request(RequestError::InvalidKey).to_response();
        assert_eq!(r.status, 400);
        assert_eq!(
            r.headers.get("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(
            &r.body[..],
            b"Sec-WebSocket-Key must be base64 of 16 bytes\n"
        );
        let bytes = r.encode();
        assert_eq!(bytes.windows(10).filter(|w| w == b"Connection").count(), 1);
    }

    #[test]
    fn statuses() {
        use RequestError::*;
        let cases: [(HandshakeError, u16); 13] = [
            (Malformed("x").into(), 400),
            (MissingHost.into(), 400),
            (MissingKey.into(), 400),
            (InvalidKey.into(), 400),
            (MethodNotAllowed.into(), 405),
            (HandshakeError::Timeout, 408),
            (MissingConnectionUpgrade.into(), 426),
            (UnsupportedVersion(None).into(), 426),
            (TooManyHeaders.into(), 431),
            (TooLarge.into(), 431),
            (UnsupportedHttpVersion.into(), 505),
            (UsageError::NotReady.into(), 500),
            (ResponseError::UnexpectedEof.into(), 502),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
            assert_eq!(error.to_response().status, status);
        }
    }

    #[test]
    fn a_party_displays_as_itself() {
        let error = HandshakeError::from(ResponseError::InvalidAccept);
        assert_eq!(error.to_string(), ResponseError::InvalidAccept.to_string());
        assert!(std::error::Error::source(&error).is_none());
    }
}

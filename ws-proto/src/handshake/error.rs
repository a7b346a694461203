//! Why an opening handshake failed, named by who is at fault.

use std::fmt;

use super::response::Response;

/// Why an opening handshake failed.
///
/// Variants fall in three groups:
///
/// * **the client's request is wrong** (seen by a server): each maps to the HTTP status to
///   answer with ([`status`](Self::status)), and [`to_response`](Self::to_response) builds that
///   answer, with the headers RFC 6455 §4.2.2 and §4.4 ask for;
/// * **the server's response is wrong** (seen by a client): the connection is simply dropped.
///   `MissingUpgrade` and `MissingConnectionUpgrade` belong to both sides;
/// * **the caller misused the API**: nothing was sent.
///
/// [`Timeout`](Self::Timeout) belongs to both sides. A server usually closes without answering,
/// but may send the 408 of [`to_response`](Self::to_response).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    // ------------------------------------------------------------- the client's request (server)
    /// The request is not valid HTTP/1.x, has a header that is not UTF-8, a request-target that
    /// is not a path, a duplicate `Host`, a body, or a malformed WebSocket list header.
    /// Status 400.
    MalformedRequest(&'static str),
    /// The method is not GET (RFC 6455 §4.1). Status 405, with `Allow: GET`.
    MethodNotAllowed,
    /// The request is HTTP/1.0 or an unknown version; RFC 6455 §4.1 requires HTTP/1.1 or
    /// higher. Status 505 (HTTP Version Not Supported).
    UnsupportedHttpVersion,
    /// No `Host` header, or an empty one (RFC 6455 §4.1). Status 400.
    MissingHost,
    /// No `websocket` token in `Upgrade` (RFC 6455 §4.2.1 for a request, §4.1 for a 101).
    /// A server answers 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
    MissingUpgrade,
    /// No `upgrade` token in `Connection` (RFC 6455 §4.2.1 for a request, §4.1 for a 101).
    /// A server answers 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
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
    RequestTooLarge,
    /// The handshake took longer than
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout). A server may answer
    /// 408 or just close.
    Timeout,

    // -------------------------------------------------------------------- the caller's misuse
    /// The subprotocol passed to [`Accept`](super::Accept) is not one the client offered; RFC
    /// 6455 §4.2.2 only lets a server pick from the client's list. Status 500.
    SubprotocolNotOffered(String),
    /// A header the caller supplied (the name is given) is not a valid field, or is one the
    /// handshake writes itself. Status 500.
    InvalidHeader(String),
    /// A subprotocol the client was asked to offer is not a token, or is repeated (RFC 6455
    /// §4.1). Status 500.
    InvalidSubprotocol(String),
    /// [`ServerHandshake::accept`](super::ServerHandshake::accept) was called before the
    /// request head was complete. Status 500.
    NotReady,
    /// [`ClientHandshake::receive`](super::ClientHandshake::receive) was called after the
    /// handshake had already produced its connection. Status 500.
    Finished,

    // ------------------------------------------------------------ the server's response (client)
    /// The response is not valid HTTP/1.1, or its body framing is broken.
    InvalidResponse(&'static str),
    /// The server answered with a status other than 101: the whole response, with the body
    /// read up to [`Config::max_handshake_size`](crate::Config::max_handshake_size).
    Rejected(Response),
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
    ResponseTooLarge,
    /// The server closed the connection before the response was complete.
    UnexpectedEof,
}

impl HandshakeError {
    /// The HTTP status a server answers this failure with.
    ///
    /// Request faults map as documented on each variant (400, 405, 426, 431, 505, and 408 for a
    /// timeout); caller misuse maps to 500. Response faults never arise on a server; they map to
    /// 502 (Bad Gateway), which is what a gateway relaying a failed upstream handshake answers.
    pub fn status(&self) -> u16 {
        use HandshakeError::*;
        match self {
            MalformedRequest(_) | MissingHost | MissingKey | InvalidKey => 400,
            MethodNotAllowed => 405,
            Timeout => 408,
            MissingUpgrade | MissingConnectionUpgrade | UnsupportedVersion(_) => 426,
            TooManyHeaders | RequestTooLarge => 431,
            UnsupportedHttpVersion => 505,
            SubprotocolNotOffered(_)
            | InvalidHeader(_)
            | InvalidSubprotocol(_)
            | NotReady
            | Finished => 500,
            InvalidResponse(_)
            | Rejected(_)
            | InvalidAccept
            | UnexpectedSubprotocol(_)
            | UnexpectedExtension(_)
            | InvalidExtension(_)
            | ResponseTooLarge
            | UnexpectedEof => 502,
        }
    }

    /// The response a server sends for this failure: [`status`](Self::status), a one-line
    /// `text/plain` body, `Connection: close`, and the headers the RFC asks for: `Allow: GET`
    /// with 405; `Upgrade: websocket` and `Sec-WebSocket-Version: 13` with 426 (§4.2.2, §4.4).
    pub fn to_response(&self) -> Response {
        let mut response = Response::new(self.status());
        match self {
            HandshakeError::MethodNotAllowed => {
                response = response.with_header("Allow", "GET");
            }
            HandshakeError::MissingUpgrade | HandshakeError::MissingConnectionUpgrade => {
                response = response
                    .with_header("Upgrade", "websocket")
                    .with_header("Sec-WebSocket-Version", "13");
            }
            HandshakeError::UnsupportedVersion(_) => {
                response = response.with_header("Sec-WebSocket-Version", "13");
            }
            _ => {}
        }
        response
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_header("Connection", "close")
            .with_body(format!("{self}\n"))
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HandshakeError::*;
        match self {
            MalformedRequest(why) => write!(f, "malformed request: {why}"),
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
            RequestTooLarge => f.write_str("request head too large"),
            Timeout => f.write_str("opening handshake timed out"),
            SubprotocolNotOffered(p) => write!(f, "subprotocol {p:?} was not offered"),
            InvalidHeader(name) => write!(f, "invalid or reserved header {name:?}"),
            InvalidSubprotocol(p) => write!(f, "invalid or repeated subprotocol {p:?}"),
            NotReady => f.write_str("the request head is not complete"),
            Finished => f.write_str("the handshake has already finished"),
            InvalidResponse(why) => write!(f, "invalid handshake response: {why}"),
            Rejected(response) => {
                write!(
                    f,
                    "server rejected the handshake: {} {}",
                    response.status, response.reason
                )
            }
            InvalidAccept => f.write_str("wrong Sec-WebSocket-Accept"),
            UnexpectedSubprotocol(p) => write!(f, "server chose unoffered subprotocol {p:?}"),
            UnexpectedExtension(e) => write!(f, "server chose unoffered extension {e:?}"),
            InvalidExtension(why) => write!(f, "invalid permessage-deflate response: {why}"),
            ResponseTooLarge => f.write_str("handshake response too large"),
            UnexpectedEof => f.write_str("connection closed during the handshake"),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_the_rfc_headers() {
        let r = HandshakeError::MethodNotAllowed.to_response();
        assert_eq!((r.status, r.headers.get("allow")), (405, Some("GET")));
        let r = HandshakeError::UnsupportedVersion(Some("8".into())).to_response();
        assert_eq!(
            (r.status, r.headers.get("Sec-WebSocket-Version")),
            (426, Some("13"))
        );
        let r = HandshakeError::MissingUpgrade.to_response();
        assert_eq!(r.headers.get("upgrade"), Some("websocket"));
        assert_eq!(r.headers.get("sec-websocket-version"), Some("13"));
        let r = HandshakeError::InvalidKey.to_response();
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
        use HandshakeError::*;
        let cases = [
            (MalformedRequest("x"), 400),
            (MissingHost, 400),
            (MissingKey, 400),
            (InvalidKey, 400),
            (MethodNotAllowed, 405),
            (Timeout, 408),
            (MissingConnectionUpgrade, 426),
            (UnsupportedVersion(None), 426),
            (TooManyHeaders, 431),
            (RequestTooLarge, 431),
            (UnsupportedHttpVersion, 505),
            (NotReady, 500),
            (UnexpectedEof, 502),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
            assert_eq!(error.to_response().status, status);
        }
    }
}

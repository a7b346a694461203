//! HTTP/1.1 responses: the server's 101, a refusal or an ordinary page, and what a client
//! received.

use bytes::Bytes;

use super::headers::{Headers, is_token, is_valid_value};

/// An HTTP/1.1 response: the answer to an opening handshake, or an ordinary page.
///
/// It has two uses:
///
/// * **Around the WebSocket handshake.** A server builds one to refuse an upgrade request
///   ([`ServerHandshake::reject`](super::ServerHandshake::reject)): 403 for an origin it does
///   not trust, 401 without credentials, 503 when full. A client receives one, either with its
///   101 ([`Established::response`](super::Established::response)) or, for any other status,
///   as [`ClientOutcome::Rejected`](super::ClientOutcome::Rejected).
/// * **Plain HTTP.** A server that shares its port with web pages answers the requests that
///   are not upgrades ([`Request::is_upgrade`](super::Request::is_upgrade) is false) with a
///   response too: a page, a health check, a redirect. The runtime adapters' hooks answer any
///   request with `Decision::Reject(response)`, and `ws-api`'s `HttpHandler` returns one.
///
/// Either way [`encode`](Self::encode) frames the body with `Content-Length` and, for any
/// status but 101, ends the connection after it (`Connection: close`): one request per
/// connection.
///
/// Refusing an upgrade:
///
/// ```
/// use ws_proto::handshake::Response;
///
/// let bytes = Response::new(403).with_header("X-Why", "origin").with_body("go away").encode();
/// assert!(bytes.starts_with(b"HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\n"));
/// assert!(bytes.ends_with(b"Content-Length: 7\r\nConnection: close\r\n\r\ngo away"));
/// ```
///
/// Serving an ordinary page:
///
/// ```
/// use ws_proto::handshake::Response;
///
/// let page = Response::new(200)
///     .with_header("Content-Type", "text/html; charset=utf-8")
///     .with_body("<h1>Chat</h1>");
/// let bytes = page.encode();
/// assert!(bytes.starts_with(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"));
/// assert!(bytes.ends_with(b"Content-Length: 13\r\nConnection: close\r\n\r\n<h1>Chat</h1>"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The status code, e.g. 101 or 403.
    pub status: u16,
    /// The reason phrase; [`Response::new`] sets the canonical one.
    pub reason: String,
    /// The header fields, in order.
    pub headers: Headers,
    /// The body; always empty for a 101.
    pub body: Bytes,
}

impl Response {
    /// A response with `status`, its canonical reason phrase, no headers and no body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: canonical_reason(status).to_owned(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Appends a header field (repeated names are kept).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Replaces the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Replaces the reason phrase.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Encodes the response as HTTP/1.1 bytes, ready to write to the socket.
    ///
    /// * `Content-Length` is always written by this method for statuses that carry a body
    ///   (everything but 1xx, 204 and 304); any `Content-Length` or `Transfer-Encoding` the
    ///   caller set is dropped, so the framing always matches the body.
    /// * Any status but 101 (a refusal or a page) gets `Connection: close` unless a
    ///   `Connection` header was set: the connection ends after it.
    /// * Header fields whose name is not a token or whose value contains CR, LF or NUL are
    ///   skipped, and such characters in the reason phrase are replaced by spaces, so no input
    ///   can inject extra header lines. A status outside 100..=999 is written as 500.
    pub fn encode(&self) -> Vec<u8> {
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        };
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c == '\t' || !c.is_control() { c } else { ' ' })
            .collect();
        let has_body = !matches!(status, 100..=199 | 204 | 304);
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
        for (name, value) in self.headers.iter() {
            let framing = name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding");
            if framing || !is_token(name) || !is_valid_value(value) {
                continue;
            }
            push_header(&mut out, name, value);
        }
        if has_body {
            push_header(&mut out, "Content-Length", &self.body.len().to_string());
        }
        if status != 101 && !self.headers.contains("connection") {
            push_header(&mut out, "Connection", "close");
        }
        out.extend_from_slice(b"\r\n");
        if has_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

// ----------------------------------------------------------------------------------- helpers

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase RFC 7231 §6.1 (and RFC 6585 for 428/429/431) gives a status code.
pub(crate) fn canonical_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_gets_length_and_close() {
        let r = Response::new(404).with_body("nope");
        assert_eq!(r.reason, "Not Found");
        assert_eq!(
            r.encode(),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
        );
    }

    #[test]
    fn caller_connection_header_is_kept() {
        let r = Response::new(400).with_header("connection", "keep-alive");
        assert_eq!(
            r.encode(),
            b"HTTP/1.1 400 Bad Request\r\nconnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn switching_protocols_has_no_length_or_close() {
        let r = Response::new(101).with_header("Upgrade", "websocket");
        assert_eq!(
            r.encode(),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        );
    }

    #[test]
    fn injection_is_impossible() {
        let r = Response::new(403)
            .with_reason("No\r\nX-Evil: 1")
            .with_header("X-Ok", "fine")
            .with_header("X-Bad", "a\r\nX-Evil: 1")
            .with_header("Bad Name", "v")
            .with_header("Content-Length", "999")
            .with_header("Transfer-Encoding", "chunked");
        let text = String::from_utf8(r.encode()).unwrap_or_default();
        assert_eq!(
            text,
            "HTTP/1.1 403 No  X-Evil: 1\r\nX-Ok: fine\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        assert!(
            Response::new(7)
                .encode()
                .starts_with(b"HTTP/1.1 500 Unknown\r\n")
        );
        assert_eq!(Response::new(599).reason, "Unknown");
    }
}

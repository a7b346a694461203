//! The server side of the opening handshake (RFC 6455 §4.2).

use std::time::Instant;

use super::accept_key;
use super::error::{HandshakeError, RequestError, UsageError};
use super::headers::{Headers, is_token, is_valid_value};
use super::request::Request;
use super::response::Response;
use crate::deflate;
use crate::rng::default_key_source;
use crate::{Config, Connection, Role};

/// The server's opening handshake: reads a request head, then accepts or rejects it.
///
/// ```
/// use std::time::Instant;
/// use ws_proto::Config;
/// use ws_proto::handshake::{Accept, ServerHandshake};
///
/// let now = Instant::now();
/// let mut handshake = ServerHandshake::new(&Config::default(), now);
/// let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let head = handshake.receive(now, request).unwrap().expect("complete");
/// assert_eq!(head.path(), "/chat");
/// match head.validate_upgrade() {
///     Ok(()) => {
///         let connection = handshake.accept(now, &Accept::new()).unwrap();
///         assert!(connection.output().starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
///     }
///     Err(error) => {
///         let _bytes_to_write = handshake.reject(error.to_response());
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    config: Config,
    deadline: Option<Instant>,
    /// The request head followed by any bytes received after it.
    buf: Vec<u8>,
    state: State,
}

/// How a server accepts a handshake: the subprotocol it picks and extra 101 headers.
///
/// ```
/// use ws_proto::handshake::Accept;
///
/// let accept = Accept::new().with_subprotocol("chat").with_header("Set-Cookie", "id=1");
/// assert_eq!(accept.subprotocol(), Some("chat"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    subprotocol: Option<String>,
    headers: Headers,
    config: Option<Config>,
}

impl ServerHandshake {
    /// Starts a handshake at `now` with a copy of `config`; the request must be complete by
    /// `now + config.handshake_timeout`.
    pub fn new(config: &Config, now: Instant) -> Self {
        Self::with_config(config.clone(), now)
    }

    /// Like [`new`](Self::new), taking the configuration by value.
    pub fn with_config(config: Config, now: Instant) -> Self {
        let deadline = Some(crate::deadline(now, config.handshake_timeout));
        ServerHandshake {
            config,
            deadline,
            buf: Vec::new(),
            state: State::Reading,
        }
    }

    /// Feeds bytes received from the client. Returns `Ok(None)` while the request head is
    /// incomplete and `Ok(Some(request))` once it is (also on later calls, whose bytes are
    /// kept for the connection).
    ///
    /// Any well-formed HTTP/1.x head is returned, WebSocket or not; call
    /// [`Request::validate_upgrade`] (or go straight to [`accept`](Self::accept), which
    /// does) to check the upgrade. An `Err` is final, and is repeated by later calls: answer it
    /// with [`reject`](Self::reject)`(error.to_response())` and close.
    ///
    /// The head may not exceed [`Config::max_handshake_size`] or
    /// [`Config::max_headers`] (431), and no more than `max_handshake_size` bytes may be
    /// buffered after it before [`accept`](Self::accept) (431: a client must wait for the 101
    /// before sending frames, RFC 6455 §4.1). Data received at or after the deadline fails with
    /// [`HandshakeError::Timeout`].
    pub fn receive(
        &mut self,
        now: Instant,
        data: &[u8],
    ) -> Result<Option<&Request>, HandshakeError> {
        match &self.state {
            State::Failed(error) => return Err(error.clone()),
            State::Reading if self.deadline.is_some_and(|d| now >= d) => {
                return Err(self.fail(HandshakeError::Timeout));
            }
            State::Reading | State::Complete { .. } => {}
        }
        self.buf.extend_from_slice(data);
        let max = self.config.max_handshake_size;
        // Every chunk re-parses the whole head, so an error is found as soon as its byte
        // arrives, however the bytes were split. The head is at most `max_handshake_size`, and
        // httparse scans it at several GB/s, so this costs a few microseconds per read at worst.
        if matches!(self.state, State::Reading) {
            self.parse()?;
        }
        let too_large = match &self.state {
            State::Reading => self.buf.len() > max,
            State::Complete { head_len, .. } => self.buf.len().saturating_sub(*head_len) > max,
            State::Failed(_) => false,
        };
        if too_large {
            return Err(self.fail(HandshakeError::Request(RequestError::TooLarge)));
        }
        match &self.state {
            State::Reading => Ok(None),
            State::Complete { request, .. } => Ok(Some(request)),
            State::Failed(error) => Err(error.clone()),
        }
    }

    /// The request, once its head is complete.
    pub fn request(&self) -> Option<&Request> {
        match &self.state {
            State::Complete { request, .. } => Some(request),
            State::Reading | State::Failed(_) => None,
        }
    }

    /// Bytes received after the request head (empty before it is complete). They are fed to
    /// the connection by [`accept`](Self::accept).
    pub fn leftover(&self) -> &[u8] {
        match &self.state {
            State::Complete { head_len, .. } => self.buf.get(*head_len..).unwrap_or_default(),
            State::Reading | State::Failed(_) => &[],
        }
    }

    /// Accepts the handshake (RFC 6455 §4.2.2).
    ///
    /// Re-checks the request with [`Request::validate_upgrade`], then returns a server
    /// [`Connection`] whose output already holds the 101 response (`Upgrade: websocket`,
    /// `Connection: Upgrade`, `Sec-WebSocket-Accept`, the chosen subprotocol, then the extra
    /// headers), and which has already received the bytes that followed the request head. The
    /// adapter just writes the connection's output from here on.
    ///
    /// Fails without side effects if the request is incomplete or invalid, if the subprotocol
    /// was not offered by the client, or if an extra header is malformed or one the 101 sets
    /// itself; answer with [`HandshakeError::to_response`].
    pub fn accept(self, now: Instant, accept: &Accept) -> Result<Connection, HandshakeError> {
        let (request, head_len) = match &self.state {
            State::Complete { request, head_len } => (request, *head_len),
            State::Reading => return Err(HandshakeError::Usage(UsageError::NotReady)),
            State::Failed(error) => return Err(error.clone()),
        };
        request.validate_upgrade()?;
        let key = request
            .key()
            .ok_or(HandshakeError::Request(RequestError::MissingKey))?;
        let config = accept.config.clone().unwrap_or(self.config);
        let mut response = Response::new(101)
            .with_header("Upgrade", "websocket")
            .with_header("Connection", "Upgrade")
            .with_header("Sec-WebSocket-Accept", accept_key(key));
        if let Some(protocol) = &accept.subprotocol {
            // §4.2.2 step 5.3: the server picks one of the values the client sent, or none.
            if !request
                .subprotocols()
                .iter()
                .any(|offered| offered == protocol)
            {
                return Err(HandshakeError::Usage(UsageError::SubprotocolNotOffered(
                    protocol.clone(),
                )));
            }
            response
                .headers
                .push("Sec-WebSocket-Protocol", protocol.as_str());
        }
        for (name, value) in accept.headers.iter() {
            let reserved = RESERVED_101.iter().any(|r| r.eq_ignore_ascii_case(name));
            if reserved || !is_token(name) || !is_valid_value(value) {
                return Err(HandshakeError::Usage(UsageError::InvalidHeader(
                    name.to_owned(),
                )));
            }
        }
        // RFC 7692 §5.1: the first acceptable permessage-deflate offer, or none.
        let compression = config
            .compression
            .as_ref()
            .and_then(|settings| deflate::accept_offer(request.extensions(), settings));
        if let Some((_, value)) = &compression {
            response
                .headers
                .push("Sec-WebSocket-Extensions", value.as_str());
        }
        for (name, value) in accept.headers.iter() {
            response.headers.push(name, value);
        }

        // A server never masks (§5.1), so the key source is never drawn from.
        let mut connection =
            Connection::with_key_source(Role::Server, config, default_key_source(), now);
        if let Some((params, _)) = compression {
            connection = connection.with_compression(params);
        }
        connection.queue_raw_output(&response.encode());
        let leftover = self.buf.get(head_len..).unwrap_or_default();
        if !leftover.is_empty() {
            connection.receive(now, leftover);
        }
        Ok(connection)
    }

    /// Rejects the handshake: the encoded `response`, to write before closing the connection.
    /// A response with any status but 101 carries `Connection: close` unless it sets its own
    /// `Connection` header (see [`Response::encode`]).
    pub fn reject(self, response: Response) -> Vec<u8> {
        response.encode()
    }

    /// When the handshake times out, while the request head is incomplete; `None` once it is
    /// complete (the application decides how long to take over accepting) or has failed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Reading => self.deadline,
            State::Complete { .. } | State::Failed(_) => None,
        }
    }

    /// Fails the handshake with [`HandshakeError::Timeout`] if the request head is still
    /// incomplete at `now` and the deadline has passed. A server usually just closes then.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), HandshakeError> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => Err(self.fail(HandshakeError::Timeout)),
            _ => Ok(()),
        }
    }
}

impl Accept {
    /// Accepts with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Picks the subprotocol to confirm; it must be one of [`Request::subprotocols`] (compared
    /// exactly).
    #[must_use]
    pub fn with_subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds a header to the 101 response (e.g. `Set-Cookie`). The headers the handshake sets
    /// itself are refused by [`ServerHandshake::accept`].
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Gives the connection its own limits and timeouts instead of the handshake's (a listener
    /// serving several paths with different limits picks them once the request is known).
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The chosen subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extra headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}

// ----------------------------------------------------------------------------------- helpers

#[derive(Debug)]
enum State {
    Reading,
    Complete { request: Request, head_len: usize },
    Failed(HandshakeError),
}

/// Headers of the 101 that [`Accept`] may not set: the handshake writes them, or they would
/// change how the bytes after the head are read.
const RESERVED_101: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

impl ServerHandshake {
    /// Moves to the failed state, dropping buffered bytes, and returns the error.
    fn fail(&mut self, error: HandshakeError) -> HandshakeError {
        self.buf = Vec::new();
        self.state = State::Failed(error.clone());
        error
    }

    /// Tries to parse the buffered head, moving to `Complete` or `Failed` when it can.
    fn parse(&mut self) -> Result<(), HandshakeError> {
        let mut slots = vec![httparse::EMPTY_HEADER; self.config.max_headers];
        let mut parsed = httparse::Request::new(&mut slots);
        let outcome = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Partial) => Ok(None),
            Ok(httparse::Status::Complete(head_len)) => {
                if head_len > self.config.max_handshake_size {
                    Err(HandshakeError::Request(RequestError::TooLarge))
                } else {
                    Request::from_parsed(&parsed)
                        .map(|request| Some((request, head_len)))
                        .ok_or(HandshakeError::Request(RequestError::Malformed(
                            "header value is not UTF-8",
                        )))
                }
            }
            Err(error) => Err(map_parse_error(error, &self.buf)),
        };
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some((request, head_len))) => {
                self.state = State::Complete { request, head_len };
                Ok(())
            }
            Err(error) => Err(self.fail(error)),
        }
    }
}

fn map_parse_error(error: httparse::Error, buf: &[u8]) -> HandshakeError {
    use httparse::Error::*;
    match error {
        TooManyHeaders => HandshakeError::Request(RequestError::TooManyHeaders),
        Version if names_http_version(buf) => {
            HandshakeError::Request(RequestError::UnsupportedHttpVersion)
        }
        Version => HandshakeError::Request(RequestError::Malformed("invalid HTTP version")),
        HeaderName => HandshakeError::Request(RequestError::Malformed("invalid header name")),
        HeaderValue => HandshakeError::Request(RequestError::Malformed("invalid header value")),
        NewLine => HandshakeError::Request(RequestError::Malformed("invalid line ending")),
        Token => {
            HandshakeError::Request(RequestError::Malformed("invalid method or request-target"))
        }
        Status => HandshakeError::Request(RequestError::Malformed("invalid request line")),
    }
}

/// Whether the request line's version starts `HTTP/<digit>`: an HTTP version other than 1.0 or
/// 1.1 (answered 505), not garbage (answered 400). The version is the token after the target
/// (RFC 9112 §3: method SP request-target SP HTTP-version), and only its start is looked at, so
/// the answer is the same whether the error was found in part of the line or in all of it.
fn names_http_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let line = buf.get(..line_end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    matches!(
        line.split(|&b| b == b' ').nth(2),
        Some([b'H', b'T', b'T', b'P', b'/', major, ..]) if major.is_ascii_digit()
    )
}

#[cfg(test)]
mod tests;

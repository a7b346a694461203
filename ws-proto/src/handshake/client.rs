//! The client side of the opening handshake (RFC 6455 §4.1).

use std::fmt;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::accept_key;
use super::body::{Framing, framing};
use super::error::{HandshakeError, ResponseError, UsageError};
use super::headers::{ExtensionOffer, Headers, is_token, is_valid_value, split_list};
use super::response::Response;
use super::url::WsUrl;
use crate::deflate::{self, ResponseFault};
use crate::rng::KeySource;
use crate::{Config, Connection, DeflateParams, Role};

/// What a client asks for: the URL, and optional subprotocols, origin, cookies and headers.
///
/// Invalid input does not fail the builder call; the first problem is reported by
/// [`ClientHandshake::new`] (or [`check`](Self::check)).
///
/// ```
/// use ws_proto::handshake::{ClientRequest, WsUrl};
///
/// let url = WsUrl::parse("wss://example.com/chat").unwrap();
/// let request = ClientRequest::new(url)
///     .with_subprotocol("v2.chat")
///     .with_origin("https://example.com")
///     .with_cookie("session=abc")
///     .with_header("Authorization", "Bearer t0k3n");
/// assert!(request.check().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    url: WsUrl,
    subprotocols: Vec<String>,
    origin: Option<String>,
    cookie: Option<String>,
    headers: Headers,
    error: Option<HandshakeError>,
}

/// The client's opening handshake: writes the request, reads and checks the response.
///
/// Write [`output`](Self::output) to the socket (calling
/// [`consume_output`](Self::consume_output) with what was written), feed what the socket
/// returns to [`receive`](Self::receive) until it yields a [`ClientOutcome`], and call
/// [`receive_eof`](Self::receive_eof) if the server closes first.
///
/// ```
/// use std::time::Instant;
/// use ws_proto::handshake::{ClientHandshake, ClientRequest, WsUrl};
/// use ws_proto::{Config, SeededKeySource};
///
/// let url = WsUrl::parse("ws://example.com/chat").unwrap();
/// let keys = Box::new(SeededKeySource::new(1));
/// let mut handshake =
///     ClientHandshake::new(ClientRequest::new(url), Config::default(), keys, Instant::now())
///         .unwrap();
/// assert!(handshake.output().starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
/// let n = handshake.output().len();
/// handshake.consume_output(n);
/// ```
pub struct ClientHandshake {
    config: Config,
    /// Moved into the connection once the handshake succeeds.
    keys: Option<Box<dyn KeySource>>,
    deadline: Option<Instant>,
    expected_accept: String,
    subprotocols: Vec<String>,
    output: Vec<u8>,
    written: usize,
    /// Received bytes not yet consumed: the head being read, then the body.
    buf: Vec<u8>,
    /// Bytes of interim (1xx) responses already consumed; they count against the head limit.
    interim: usize,
    state: State,
}

/// How the server answered the opening handshake: it upgraded the connection, or it answered
/// with another status. A rejection is an answer, not an error of the handshake: the server
/// spoke HTTP correctly and chose not to upgrade (401, 403, 404, 503, ...).
///
/// ```
/// use std::time::Instant;
/// use ws_proto::handshake::{
///     ClientHandshake, ClientOutcome, ClientRequest, Response, ServerHandshake, WsUrl,
/// };
/// use ws_proto::{Config, SeededKeySource};
///
/// let now = Instant::now();
/// let url = WsUrl::parse("ws://example.com/chat").unwrap();
/// let keys = Box::new(SeededKeySource::new(1));
/// let mut client =
///     ClientHandshake::new(ClientRequest::new(url), Config::default(), keys, now).unwrap();
///
/// // A server that refuses: its 403 is an answer, not an error.
/// let mut server = ServerHandshake::new(&Config::default(), now);
/// server.receive(now, client.output()).unwrap();
/// let answer = server.reject(Response::new(403).with_body("members only"));
/// match client.receive(now, &answer) {
///     Ok(Some(ClientOutcome::Rejected(response))) => {
///         assert_eq!((response.status, &response.body[..]), (403, &b"members only"[..]));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
// Returned once per handshake and taken apart at once: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ClientOutcome {
    /// A valid 101: the connection.
    Upgraded(Established),
    /// Any other final status: the whole response, with the body read up to
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size).
    Rejected(Response),
}

/// A successful handshake: the connection and what the server answered.
#[derive(Debug)]
#[non_exhaustive]
pub struct Established {
    /// The client connection. It has already received any bytes the server sent after the 101
    /// head, and its output starts with whatever part of the request was not yet written.
    pub connection: Connection,
    /// The 101 response (status, reason and headers; no body).
    pub response: Response,
    /// The subprotocol the server chose among those offered (RFC 6455 §4.1), if any.
    pub subprotocol: Option<String>,
}

impl ClientRequest {
    /// A request for `url`, with no subprotocol, origin, cookie or extra header.
    pub fn new(url: WsUrl) -> Self {
        ClientRequest {
            url,
            subprotocols: Vec::new(),
            origin: None,
            cookie: None,
            headers: Headers::new(),
            error: None,
        }
    }

    /// Adds a header line; repeated names are sent as separate lines. The name must be a token
    /// and the value may not contain CR, LF or other control characters. Names the handshake
    /// writes itself (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`) or that have their own method (`Origin`, `Cookie`) are refused.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let reserved = RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name));
        if reserved || !is_token(&name) || !is_valid_value(&value) {
            self.error
                .get_or_insert(HandshakeError::Usage(UsageError::InvalidHeader(name)));
        } else {
            self.headers.push(name, value);
        }
        self
    }

    /// Adds cookies, e.g. `"a=1; b=2"`. All cookies are sent in one `Cookie` header, joined
    /// with `"; "` (RFC 6265 §5.4).
    #[must_use]
    pub fn with_cookie(mut self, cookies: impl Into<String>) -> Self {
        let cookies = cookies.into();
        if !is_valid_value(&cookies) {
            self.error
                .get_or_insert(HandshakeError::Usage(UsageError::InvalidHeader(
                    "Cookie".into(),
                )));
            return self;
        }
        let cookies = cookies.trim_matches([' ', '\t', ';']);
        if cookies.is_empty() {
            return self;
        }
        match &mut self.cookie {
            Some(all) => {
                all.push_str("; ");
                all.push_str(cookies);
            }
            None => self.cookie = Some(cookies.to_owned()),
        }
        self
    }

    /// Offers a subprotocol; call once per protocol, in order of preference. All are sent in
    /// one `Sec-WebSocket-Protocol` header. Each must be a token and appear once (RFC 6455
    /// §4.1).
    #[must_use]
    pub fn with_subprotocol(mut self, protocol: impl Into<String>) -> Self {
        let protocol = protocol.into();
        if !is_token(&protocol) || self.subprotocols.contains(&protocol) {
            self.error
                .get_or_insert(HandshakeError::Usage(UsageError::InvalidSubprotocol(
                    protocol,
                )));
        } else {
            self.subprotocols.push(protocol);
        }
        self
    }

    /// Sends an `Origin` header (RFC 6455 §4.1 item 8; browsers always do, other clients
    /// may).
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        if is_valid_value(&origin) {
            self.origin = Some(origin);
        } else {
            self.error
                .get_or_insert(HandshakeError::Usage(UsageError::InvalidHeader(
                    "Origin".into(),
                )));
        }
        self
    }

    /// The URL.
    pub fn url(&self) -> &WsUrl {
        &self.url
    }

    /// The subprotocols offered, in order.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The first invalid input given to the builder, if any.
    pub fn check(&self) -> Result<(), HandshakeError> {
        match &self.error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

impl ClientHandshake {
    /// Starts a handshake at `now`: draws the 16-byte nonce from `keys` (RFC 6455 §4.1 item 7)
    /// and queues the request. `keys` then moves into the [`Connection`] for its mask keys.
    ///
    /// The request is `GET {resource} HTTP/1.1` with `Host`, `Upgrade: websocket`,
    /// `Connection: Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, then `Origin`,
    /// `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions` (the permessage-deflate offer of
    /// [`Config::compression`]) and `Cookie` when set, `Authorization: Basic` for credentials
    /// in the URL (`ws://user:pass@host/`) unless an `Authorization` header was given, then the
    /// extra headers. Fails if the builder was given invalid input.
    pub fn new(
        request: ClientRequest,
        config: Config,
        mut keys: Box<dyn KeySource>,
        now: Instant,
    ) -> Result<ClientHandshake, HandshakeError> {
        request.check()?;
        let mut nonce = [0u8; 16];
        keys.fill(&mut nonce);
        let key = STANDARD.encode(nonce);

        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            request.url.resource(),
            request.url.host_header(),
        );
        let mut line = |name: &str, value: &str| {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        };
        if let Some(origin) = &request.origin {
            line("Origin", origin);
        }
        if !request.subprotocols.is_empty() {
            line("Sec-WebSocket-Protocol", &request.subprotocols.join(", "));
        }
        if let Some(compression) = &config.compression {
            line("Sec-WebSocket-Extensions", &deflate::offer(compression));
        }
        if let Some(cookie) = &request.cookie {
            line("Cookie", cookie);
        }
        // The URL's userinfo goes as HTTP Basic credentials (RFC 7617), as browsers, Node `ws`
        // and Python `websockets` send it, unless the caller set `Authorization` itself.
        if let Some(authorization) = request.url.basic_authorization()
            && !request.headers.contains("Authorization")
        {
            line("Authorization", &authorization);
        }
        for (name, value) in request.headers.iter() {
            line(name, value);
        }
        out.push_str("\r\n");

        Ok(ClientHandshake {
            deadline: Some(crate::deadline(now, config.handshake_timeout)),
            config,
            keys: Some(keys),
            expected_accept: accept_key(&key),
            subprotocols: request.subprotocols,
            output: out.into_bytes(),
            written: 0,
            buf: Vec::new(),
            interim: 0,
            state: State::Head,
        })
    }

    /// The request bytes not yet written.
    pub fn output(&self) -> &[u8] {
        self.output.get(self.written..).unwrap_or_default()
    }

    /// Marks `n` bytes of [`output`](Self::output) as written (clamped to what is queued).
    pub fn consume_output(&mut self, n: usize) {
        self.written = self.written.saturating_add(n).min(self.output.len());
    }

    /// Feeds bytes received from the server.
    ///
    /// Returns `Ok(None)` while the response is incomplete and
    /// `Ok(Some(ClientOutcome::Upgraded(established)))` once a valid 101 arrived (RFC 6455 §4.1): `Upgrade: websocket`, `Connection: upgrade`, the
    /// right `Sec-WebSocket-Accept`, a subprotocol among those offered (or none) and no
    /// extension. For any other final status the body is read (by `Content-Length`, chunked,
    /// or until [`receive_eof`](Self::receive_eof)) up to
    /// [`Config::max_handshake_size`], then returned as [`ClientOutcome::Rejected`]. Interim
    /// 1xx responses are skipped. Errors are final and repeated by later calls; after an
    /// outcome, later calls return [`UsageError::Finished`].
    pub fn receive(
        &mut self,
        now: Instant,
        data: &[u8],
    ) -> Result<Option<ClientOutcome>, HandshakeError> {
        match &self.state {
            State::Failed(error) => return Err(error.clone()),
            State::Done => return Err(HandshakeError::Usage(UsageError::Finished)),
            State::Head | State::Body { .. } if self.deadline.is_some_and(|d| now >= d) => {
                return Err(self.fail(HandshakeError::Timeout));
            }
            State::Head | State::Body { .. } => {}
        }
        self.buf.extend_from_slice(data);
        self.advance(now)
    }

    /// Reports that the server closed the connection. Finishes a rejection whose body runs to
    /// the end of the connection ([`ClientOutcome::Rejected`]); otherwise the response was cut
    /// short ([`ResponseError::UnexpectedEof`]). A 101 is complete before any EOF, so this
    /// never returns [`ClientOutcome::Upgraded`]; the return type matches
    /// [`receive`](Self::receive) so both can be handled alike.
    pub fn receive_eof(&mut self, _now: Instant) -> Result<Option<ClientOutcome>, HandshakeError> {
        let error = match &mut self.state {
            State::Failed(error) => return Err(error.clone()),
            State::Done => return Err(HandshakeError::Usage(UsageError::Finished)),
            State::Body {
                response,
                framing: Framing::UntilEof,
            } => {
                let mut response = std::mem::replace(response, Response::new(0));
                response.body = Bytes::from(std::mem::take(&mut self.buf));
                self.buf = Vec::new();
                self.state = State::Done;
                return Ok(Some(ClientOutcome::Rejected(response)));
            }
            State::Head | State::Body { .. } => {
                HandshakeError::Response(ResponseError::UnexpectedEof)
            }
        };
        Err(self.fail(error))
    }

    /// When the handshake times out, while it is in progress.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Head | State::Body { .. } => self.deadline,
            State::Done | State::Failed(_) => None,
        }
    }

    /// Fails the handshake with [`HandshakeError::Timeout`] if it is still in progress at `now`
    /// and the deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), HandshakeError> {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => Err(self.fail(HandshakeError::Timeout)),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("state", &self.state)
            .field("deadline", &self.deadline)
            .field("subprotocols", &self.subprotocols)
            .field("unwritten", &self.output().len())
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

// ----------------------------------------------------------------------------------- helpers

/// Request headers [`ClientRequest::with_header`] refuses.
const RESERVED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-accept",
    "content-length",
    "transfer-encoding",
    "origin",
    "cookie",
];

#[derive(Debug)]
enum State {
    /// Reading a response head.
    Head,
    /// Reading the body of a rejection.
    Body {
        response: Response,
        framing: Framing,
    },
    /// The connection, or the rejection, was handed out.
    Done,
    Failed(HandshakeError),
}

/// A parsed response head.
struct Head {
    status: u16,
    minor_version: u8,
    reason: String,
    headers: Headers,
}

impl ClientHandshake {
    fn fail(&mut self, error: HandshakeError) -> HandshakeError {
        self.buf = Vec::new();
        self.state = State::Failed(error.clone());
        error
    }

    /// Processes buffered bytes as far as they go.
    fn advance(&mut self, now: Instant) -> Result<Option<ClientOutcome>, HandshakeError> {
        let max = self.config.max_handshake_size;
        loop {
            match &mut self.state {
                State::Head => {
                    let budget = max.saturating_sub(self.interim);
                    // Every chunk re-parses the whole head (at most `max_handshake_size`, a few
                    // microseconds), so an error is found as soon as its byte arrives, however
                    // the bytes were split.
                    let (head, head_len) = match self.parse_head() {
                        Err(error) => return Err(self.fail(error)),
                        Ok(None) if self.buf.len() > budget => {
                            return Err(
                                self.fail(HandshakeError::Response(ResponseError::TooLarge))
                            );
                        }
                        Ok(None) => return Ok(None),
                        Ok(Some((_, head_len))) if head_len > budget => {
                            return Err(
                                self.fail(HandshakeError::Response(ResponseError::TooLarge))
                            );
                        }
                        Ok(Some(parsed)) => parsed,
                    };
                    match head.status {
                        101 => {
                            let established = self.establish(now, head, head_len)?;
                            return Ok(Some(ClientOutcome::Upgraded(established)));
                        }
                        // Interim responses (RFC 7231 §6.2) precede the real answer.
                        100..=199 => {
                            self.buf.drain(..head_len);
                            self.interim += head_len;
                        }
                        _ => {
                            self.buf.drain(..head_len);
                            let framing = match framing(head.status, &head.headers, max) {
                                Ok(framing) => framing,
                                Err(error) => return Err(self.fail(error.into())),
                            };
                            let response = Response {
                                status: head.status,
                                reason: head.reason,
                                headers: head.headers,
                                body: Bytes::new(),
                            };
                            self.state = State::Body { response, framing };
                        }
                    }
                }
                State::Body { response, framing } => {
                    let body = match framing {
                        Framing::Length(n) => match self.buf.get(..*n) {
                            Some(body) => Bytes::copy_from_slice(body),
                            None => return Ok(None),
                        },
                        Framing::UntilEof if self.buf.len() > max => {
                            return Err(
                                self.fail(HandshakeError::Response(ResponseError::TooLarge))
                            );
                        }
                        Framing::UntilEof => return Ok(None),
                        Framing::Chunked(chunked) => match chunked.feed(&mut self.buf, max) {
                            Ok(true) => Bytes::from(std::mem::take(&mut chunked.body)),
                            Ok(false) => return Ok(None),
                            Err(error) => return Err(self.fail(error.into())),
                        },
                    };
                    let mut response = std::mem::replace(response, Response::new(0));
                    response.body = body;
                    self.buf = Vec::new();
                    self.state = State::Done;
                    return Ok(Some(ClientOutcome::Rejected(response)));
                }
                State::Done => return Err(HandshakeError::Usage(UsageError::Finished)),
                State::Failed(error) => return Err(error.clone()),
            }
        }
    }

    /// Parses a response head from the buffer, if complete.
    fn parse_head(&self) -> Result<Option<(Head, usize)>, HandshakeError> {
        let mut slots = vec![httparse::EMPTY_HEADER; self.config.max_headers];
        let mut parsed = httparse::Response::new(&mut slots);
        let head_len = match parsed.parse(&self.buf) {
            Ok(httparse::Status::Partial) => return Ok(None),
            Ok(httparse::Status::Complete(head_len)) => head_len,
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HandshakeError::Response(ResponseError::TooLarge));
            }
            Err(_) => {
                return Err(HandshakeError::Response(ResponseError::Malformed(
                    "malformed HTTP response head",
                )));
            }
        };
        let invalid =
            HandshakeError::Response(ResponseError::Malformed("malformed HTTP response head"));
        let headers = Headers::from_parsed(parsed.headers).ok_or(HandshakeError::Response(
            ResponseError::Malformed("header value is not UTF-8"),
        ))?;
        let head = Head {
            status: parsed.code.ok_or_else(|| invalid.clone())?,
            minor_version: parsed.version.ok_or_else(|| invalid.clone())?,
            reason: parsed.reason.unwrap_or_default().to_owned(),
            headers,
        };
        Ok(Some((head, head_len)))
    }

    /// Checks a 101 (RFC 6455 §4.1, the client's checks of the server's handshake) and builds
    /// the connection.
    fn establish(
        &mut self,
        now: Instant,
        head: Head,
        head_len: usize,
    ) -> Result<Established, HandshakeError> {
        let (subprotocol, compression) = match self.check_101(&head) {
            Ok(checked) => checked,
            Err(error) => return Err(self.fail(error)),
        };
        let Some(keys) = self.keys.take() else {
            return Err(self.fail(HandshakeError::Usage(UsageError::Finished)));
        };
        let mut connection =
            Connection::with_key_source(Role::Client, self.config.clone(), keys, now);
        if let Some(params) = compression {
            connection = connection.with_compression(params);
        }
        // Whatever of the request is still unwritten must go out before any frame.
        let unwritten = self.output.get(self.written..).unwrap_or_default();
        if !unwritten.is_empty() {
            connection.queue_raw_output(unwritten);
        }
        self.written = self.output.len();
        // A server may send its first frames in the same segment as the 101.
        let leftover = self.buf.get(head_len..).unwrap_or_default();
        if !leftover.is_empty() {
            connection.receive(now, leftover);
        }
        self.buf = Vec::new();
        self.state = State::Done;
        let response = Response {
            status: head.status,
            reason: head.reason,
            headers: head.headers,
            body: Bytes::new(),
        };
        Ok(Established {
            connection,
            response,
            subprotocol,
        })
    }

    /// The checks of §4.1 on a 101; returns the chosen subprotocol and the agreed
    /// permessage-deflate parameters.
    fn check_101(
        &self,
        head: &Head,
    ) -> Result<(Option<String>, Option<DeflateParams>), HandshakeError> {
        let headers = &head.headers;
        if head.minor_version != 1 {
            return Err(HandshakeError::Response(ResponseError::Malformed(
                "101 must be HTTP/1.1",
            )));
        }
        if !headers.contains_token("upgrade", "websocket") {
            return Err(HandshakeError::Response(ResponseError::MissingUpgrade));
        }
        if !headers.contains_token("connection", "upgrade") {
            return Err(HandshakeError::Response(
                ResponseError::MissingConnectionUpgrade,
            ));
        }
        let mut accepts = headers.get_all("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (Some(accept), None) if accept.trim_matches([' ', '\t']) == self.expected_accept => {}
            _ => return Err(HandshakeError::Response(ResponseError::InvalidAccept)),
        }
        let compression = self.check_extensions(headers)?;
        let chosen: Vec<&str> = headers
            .get_all("sec-websocket-protocol")
            .flat_map(split_list)
            .collect();
        let subprotocol = match chosen.as_slice() {
            [] => None,
            [one] if self.subprotocols.iter().any(|offered| offered == one) => {
                Some((*one).to_owned())
            }
            _ => {
                return Err(HandshakeError::Response(
                    ResponseError::UnexpectedSubprotocol(chosen.join(", ")),
                ));
            }
        };
        Ok((subprotocol, compression))
    }

    /// §4.1, §9.1: the server may only accept extensions that were offered, each once; only
    /// permessage-deflate is ever offered, and its parameters must fit the offer (RFC 7692
    /// §7.1).
    fn check_extensions(&self, headers: &Headers) -> Result<Option<DeflateParams>, HandshakeError> {
        let mut accepted = Vec::new();
        for value in headers.get_all("sec-websocket-extensions") {
            let offers = ExtensionOffer::parse_list(value).map_err(|_| {
                HandshakeError::Response(ResponseError::Malformed(
                    "malformed Sec-WebSocket-Extensions",
                ))
            })?;
            accepted.extend(offers);
        }
        let Some(compression) = &self.config.compression else {
            return match accepted.first() {
                None => Ok(None),
                Some(extension) => Err(HandshakeError::Response(
                    ResponseError::UnexpectedExtension(extension.to_string()),
                )),
            };
        };
        deflate::check_response(&accepted, compression).map_err(|fault| match fault {
            ResponseFault::NotOffered(extension) => {
                HandshakeError::Response(ResponseError::UnexpectedExtension(extension))
            }
            ResponseFault::Invalid(reason) => {
                HandshakeError::Response(ResponseError::InvalidExtension(reason))
            }
        })
    }
}

#[cfg(test)]
mod tests;

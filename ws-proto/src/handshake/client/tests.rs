use std::time::Duration;

use super::*;
use crate::handshake::{Accept, ServerHandshake};
use crate::{Event, SeededKeySource};

const SEED: u64 = 0x5eed;

fn url(s: &str) -> WsUrl {
    match WsUrl::parse(s) {
        Ok(url) => url,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn client_with(request: ClientRequest, config: Config, now: Instant) -> ClientHandshake {
    match ClientHandshake::new(request, config, Box::new(SeededKeySource::new(SEED)), now) {
        Ok(hs) => hs,
        Err(e) => panic!("{e}"),
    }
}

fn client(request: ClientRequest) -> ClientHandshake {
    client_with(request, Config::default(), Instant::now())
}

/// The key a client seeded with `SEED` sends.
fn seeded_key() -> String {
    let mut nonce = [0u8; 16];
    SeededKeySource::new(SEED).fill(&mut nonce);
    STANDARD.encode(nonce)
}

fn response_101(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(&seeded_key())
    )
}

#[derive(Clone, Copy, Debug)]
enum Way {
    Whole,
    ByteByByte,
    WithTrailer,
}

/// A text frame "hi" from the server (unmasked, §5.1).
const SERVER_HI: &[u8] = b"\x81\x02hi";

/// Feeds `response` to a fresh client (offering `protocols`), one way; then EOF if `eof`.
/// With a trailer, a server frame follows the response and must reach the connection.
fn run(
    response: &[u8],
    way: Way,
    protocols: &[&str],
    eof: bool,
) -> Result<ClientOutcome, HandshakeError> {
    let mut request = ClientRequest::new(url("ws://example.com/chat"));
    for p in protocols {
        request = request.with_subprotocol(*p);
    }
    let mut hs = client(request);
    let now = Instant::now();
    let mut result = Ok(None);
    match way {
        Way::Whole => result = hs.receive(now, response),
        Way::WithTrailer => result = hs.receive(now, &[response, SERVER_HI].concat()),
        Way::ByteByByte => {
            for byte in response {
                result = hs.receive(now, std::slice::from_ref(byte));
                if !matches!(result, Ok(None)) {
                    break;
                }
            }
        }
    }
    if eof && matches!(result, Ok(None)) {
        result = hs.receive_eof(now);
    }
    match result {
        Ok(Some(ClientOutcome::Upgraded(mut established))) => {
            let event = established.connection.poll_event();
            match way {
                Way::WithTrailer => assert!(
                    matches!(&event, Some(Event::Text(t)) if t == "hi"),
                    "{event:?}"
                ),
                Way::Whole | Way::ByteByByte => assert!(event.is_none(), "{event:?}"),
            }
            Ok(ClientOutcome::Upgraded(established))
        }
        Ok(Some(rejected)) => Ok(rejected),
        Ok(None) => Err(HandshakeError::Usage(UsageError::NotReady)),
        Err(e) => Err(e),
    }
}

/// The outcome of a response, asserted equal for all three ways of feeding it: the status and
/// the subprotocol of a 101, or the status of a rejection. A trailer does not change the
/// outcome of a head-delimited response.
fn outcome(
    response: &str,
    protocols: &[&str],
    eof: bool,
) -> Result<(u16, Option<String>), HandshakeError> {
    let simplify = |r: Result<ClientOutcome, HandshakeError>| {
        r.map(|outcome| match outcome {
            ClientOutcome::Upgraded(e) => (e.response.status, e.subprotocol),
            ClientOutcome::Rejected(response) => (response.status, None),
        })
    };
    let whole = simplify(run(response.as_bytes(), Way::Whole, protocols, eof));
    assert_eq!(
        simplify(run(response.as_bytes(), Way::ByteByByte, protocols, eof)),
        whole,
        "{response:?}"
    );
    // Trailing bytes only make sense once the response is delimited without EOF.
    if !eof && whole != Err(HandshakeError::Usage(UsageError::NotReady)) {
        assert_eq!(
            simplify(run(response.as_bytes(), Way::WithTrailer, protocols, eof)),
            whole,
            "{response:?}"
        );
    }
    whole
}

/// The server's refusal, read the same whole and byte by byte (then EOF if `eof`), or why
/// there is none.
fn rejection(response: &str, eof: bool) -> Result<Response, HandshakeError> {
    let mut answers = [Way::Whole, Way::ByteByByte].map(|way| {
        run(response.as_bytes(), way, &[], eof).map(|outcome| match outcome {
            ClientOutcome::Rejected(response) => response,
            ClientOutcome::Upgraded(_) => panic!("upgraded by {response:?}"),
        })
    });
    assert_eq!(answers[0], answers[1], "{response:?}");
    std::mem::replace(&mut answers[0], Err(HandshakeError::Timeout))
}

#[test]
fn request_is_byte_exact_and_reproducible() {
    let request = ClientRequest::new(url("ws://example.com:9001/chat?room=1"))
        .with_subprotocol("chat")
        .with_subprotocol("superchat")
        .with_origin("http://example.com")
        .with_cookie("a=1; b=2")
        .with_cookie("c=3")
        .with_header("X-Trace", "1")
        .with_header("x-trace", "2");
    let a = client(request.clone());
    let b = client(request);
    assert_eq!(a.output(), b.output());
    let want = format!(
        "GET /chat?room=1 HTTP/1.1\r\nHost: example.com:9001\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; \
         client_no_context_takeover\r\n\
         Cookie: a=1; b=2; c=3\r\nX-Trace: 1\r\nx-trace: 2\r\n\r\n",
        seeded_key()
    );
    assert_eq!(String::from_utf8_lossy(a.output()), want);
    // The seeded key is fixed: a change here changes every recorded transcript.
    assert_eq!(seeded_key(), "tKnwA5398Ql1hL8bFnQyVQ==");
    assert_eq!(STANDARD.decode(seeded_key()).map(|k| k.len()), Ok(16));
}

#[test]
fn output_is_peeked_and_consumed() {
    let mut hs = client(ClientRequest::new(url("ws://h/")));
    let total = hs.output().len();
    let first = hs.output()[..10].to_vec();
    hs.consume_output(4);
    assert_eq!(hs.output().len(), total - 4);
    assert_eq!(hs.output()[..6], first[4..]);
    hs.consume_output(usize::MAX);
    assert!(hs.output().is_empty());
}

#[test]
fn builder_rejects_bad_input() {
    let base = || ClientRequest::new(url("ws://h/"));
    let cases = [
        (
            base().with_header("X-A", "a\r\nInjected: 1"),
            HandshakeError::Usage(UsageError::InvalidHeader("X-A".into())),
        ),
        (
            base().with_header("X-A", "a\nb"),
            HandshakeError::Usage(UsageError::InvalidHeader("X-A".into())),
        ),
        (
            base().with_header("X A", "v"),
            HandshakeError::Usage(UsageError::InvalidHeader("X A".into())),
        ),
        (
            base().with_header("X:A", "v"),
            HandshakeError::Usage(UsageError::InvalidHeader("X:A".into())),
        ),
        (
            base().with_header("", "v"),
            HandshakeError::Usage(UsageError::InvalidHeader(String::new())),
        ),
        (
            base().with_header("host", "evil"),
            HandshakeError::Usage(UsageError::InvalidHeader("host".into())),
        ),
        (
            base().with_header("Sec-WebSocket-Key", "x"),
            HandshakeError::Usage(UsageError::InvalidHeader("Sec-WebSocket-Key".into())),
        ),
        (
            base().with_header("Connection", "close"),
            HandshakeError::Usage(UsageError::InvalidHeader("Connection".into())),
        ),
        (
            base().with_header("Sec-WebSocket-Extensions", "x"),
            HandshakeError::Usage(UsageError::InvalidHeader("Sec-WebSocket-Extensions".into())),
        ),
        (
            base().with_cookie("a=1\r\nX: y"),
            HandshakeError::Usage(UsageError::InvalidHeader("Cookie".into())),
        ),
        (
            base().with_origin("o\r\n"),
            HandshakeError::Usage(UsageError::InvalidHeader("Origin".into())),
        ),
        (
            base().with_subprotocol("a b"),
            HandshakeError::Usage(UsageError::InvalidSubprotocol("a b".into())),
        ),
        (
            base().with_subprotocol(""),
            HandshakeError::Usage(UsageError::InvalidSubprotocol(String::new())),
        ),
        (
            base().with_subprotocol("x").with_subprotocol("x"),
            HandshakeError::Usage(UsageError::InvalidSubprotocol("x".into())),
        ),
        // The first problem is the one reported.
        (
            base().with_header("A B", "1").with_subprotocol("a,b"),
            HandshakeError::Usage(UsageError::InvalidHeader("A B".into())),
        ),
    ];
    for (request, want) in cases {
        assert_eq!(request.check(), Err(want.clone()));
        let result = ClientHandshake::new(
            request,
            Config::default(),
            Box::new(SeededKeySource::new(1)),
            Instant::now(),
        );
        assert_eq!(result.err(), Some(want));
    }
    assert_eq!(base().with_cookie("").with_cookie(" ; ").cookie, None);
}

#[test]
fn valid_101_is_accepted_three_ways() {
    assert_eq!(outcome(&response_101(""), &[], false), Ok((101, None)));
    let with = response_101("Sec-WebSocket-Protocol: superchat\r\n");
    assert_eq!(
        outcome(&with, &["chat", "superchat"], false),
        Ok((101, Some("superchat".into())))
    );
    // Token case and list forms are tolerated.
    let loose = response_101("")
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "connection: keep-alive, upgrade");
    assert_eq!(outcome(&loose, &[], false), Ok((101, None)));
    // Interim responses are skipped.
    let interim = format!("HTTP/1.1 100 Continue\r\n\r\n{}", response_101(""));
    assert_eq!(outcome(&interim, &[], false), Ok((101, None)));
}

#[test]
fn established_carries_the_response() {
    let Ok(ClientOutcome::Upgraded(established)) = run(
        response_101("X-Server: 1\r\n").as_bytes(),
        Way::Whole,
        &[],
        false,
    ) else {
        panic!("not established")
    };
    assert_eq!(established.response.reason, "Switching Protocols");
    assert_eq!(established.response.headers.get("x-server"), Some("1"));
    assert!(established.response.body.is_empty());
    assert_eq!(established.connection.role(), Role::Client);
}

#[test]
fn bad_101s_are_refused() {
    let good = response_101("");
    let wrong_accept = good.replace(
        &accept_key(&seeded_key()),
        &accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
    );
    assert_eq!(
        outcome(&wrong_accept, &[], false),
        Err(HandshakeError::Response(ResponseError::InvalidAccept))
    );
    let no_accept =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    assert_eq!(
        outcome(no_accept, &[], false),
        Err(HandshakeError::Response(ResponseError::InvalidAccept))
    );
    let twice = response_101(&format!(
        "Sec-WebSocket-Accept: {}\r\n",
        accept_key(&seeded_key())
    ));
    assert_eq!(
        outcome(&twice, &[], false),
        Err(HandshakeError::Response(ResponseError::InvalidAccept))
    );
    assert_eq!(
        outcome(&good.replace("Upgrade: websocket\r\n", ""), &[], false),
        Err(HandshakeError::Response(ResponseError::MissingUpgrade))
    );
    assert_eq!(
        outcome(
            &good.replace("Connection: Upgrade", "Connection: close"),
            &[],
            false
        ),
        Err(HandshakeError::Response(
            ResponseError::MissingConnectionUpgrade
        ))
    );
    assert_eq!(
        outcome(&good.replace("HTTP/1.1", "HTTP/1.0"), &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "101 must be HTTP/1.1"
        )))
    );
    // Subprotocols: only one, and only an offered one.
    let chose = |p: &str| response_101(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    assert_eq!(
        outcome(&chose("chat"), &[], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedSubprotocol("chat".into())
        ))
    );
    assert_eq!(
        outcome(&chose("mqtt"), &["chat"], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedSubprotocol("mqtt".into())
        ))
    );
    assert_eq!(
        outcome(&chose("chat, superchat"), &["chat", "superchat"], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedSubprotocol("chat, superchat".into())
        ))
    );
    assert_eq!(
        outcome(&chose("Chat"), &["chat"], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedSubprotocol("Chat".into())
        ))
    );
    // Extensions: only the permessage-deflate offered, once, within the offer (the full
    // matrix is in the deflate module's tests).
    let ext = |value: &str| response_101(&format!("Sec-WebSocket-Extensions: {value}\r\n"));
    assert_eq!(
        outcome(&ext("permessage-deflate"), &[], false),
        Ok((101, None))
    );
    assert_eq!(
        outcome(&ext("x-foo"), &[], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedExtension("x-foo".into())
        ))
    );
    assert_eq!(
        outcome(&ext("permessage-deflate, permessage-deflate"), &[], false),
        Err(HandshakeError::Response(
            ResponseError::UnexpectedExtension("permessage-deflate".into())
        ))
    );
    assert_eq!(
        outcome(&ext("permessage-deflate; x=1"), &[], false),
        Err(HandshakeError::Response(ResponseError::InvalidExtension(
            "unknown permessage-deflate parameter"
        )))
    );
    assert_eq!(
        outcome(&ext("permessage-deflate;;"), &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "malformed Sec-WebSocket-Extensions"
        )))
    );
    // Malformed HTTP.
    assert_eq!(
        outcome("HTTP/1.1 10x Nope\r\n\r\n", &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "malformed HTTP response head"
        )))
    );
    assert_eq!(
        outcome("SSH-2.0-OpenSSH_9.6\r\n", &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "malformed HTTP response head"
        )))
    );
    let binary = [&good.as_bytes()[..good.len() - 2], b"X-Bin: \xff\r\n\r\n"].concat();
    let mut hs = client(ClientRequest::new(url("ws://example.com/chat")));
    assert_eq!(
        hs.receive(Instant::now(), &binary).err(),
        Some(HandshakeError::Response(ResponseError::Malformed(
            "header value is not UTF-8"
        )))
    );
}

#[test]
fn rejection_with_content_length() {
    let response = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\
                    Content-Length: 9\r\n\r\nno thanks";
    let r = rejection(response, false).expect("a rejection");
    assert_eq!(
        (r.status, r.reason.as_str(), &r.body[..]),
        (403, "Forbidden", &b"no thanks"[..])
    );
    assert_eq!(r.headers.get("content-type"), Some("text/plain"));
    // Bytes after the body are ignored; a short body waits, then EOF cuts it.
    let short = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nno th";
    assert_eq!(
        outcome(short, &[], false),
        Err(HandshakeError::Usage(UsageError::NotReady))
    );
    assert_eq!(
        outcome(short, &[], true),
        Err(HandshakeError::Response(ResponseError::UnexpectedEof))
    );
    let empty = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: Basic\r\n\r\n";
    let r = rejection(empty, false).expect("a rejection");
    assert_eq!((r.status, r.body.len()), (401, 0));
    let no_content = "HTTP/1.1 204 No Content\r\n\r\n";
    assert_eq!(outcome(no_content, &[], false), Ok((204, None)));
}

#[test]
fn rejection_read_until_eof() {
    let response = "HTTP/1.1 403 Forbidden\r\n\r\ngo away";
    assert_eq!(
        outcome(response, &[], false),
        Err(HandshakeError::Usage(UsageError::NotReady))
    );
    let r = rejection(response, true).expect("a rejection");
    assert_eq!((r.status, &r.body[..]), (403, &b"go away"[..]));
    // EOF before the head ends is an error of its own.
    assert_eq!(
        outcome("HTTP/1.1 403 Forb", &[], true),
        Err(HandshakeError::Response(ResponseError::UnexpectedEof))
    );
    assert_eq!(
        outcome("", &[], true),
        Err(HandshakeError::Response(ResponseError::UnexpectedEof))
    );
}

#[test]
fn rejection_with_chunked_body() {
    let response = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let r = rejection(response, false).expect("a rejection");
    assert_eq!((r.status, &r.body[..]), (503, &b"hello, world"[..]));
    let bad = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_eq!(
        outcome(bad, &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "malformed chunked body"
        )))
    );
    let bad = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n";
    assert_eq!(
        outcome(bad, &[], false),
        Err(HandshakeError::Response(ResponseError::Malformed(
            "malformed chunked body"
        )))
    );
    let cut = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    assert_eq!(
        outcome(cut, &[], true),
        Err(HandshakeError::Response(ResponseError::UnexpectedEof))
    );
    let huge = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n";
    assert_eq!(
        outcome(huge, &[], false),
        Err(HandshakeError::Response(ResponseError::TooLarge))
    );
}

#[test]
fn bad_content_length() {
    for cl in ["x", "-1", "1, 2", "+5"] {
        let response = format!("HTTP/1.1 403 Forbidden\r\nContent-Length: {cl}\r\n\r\n");
        assert!(
            matches!(
                outcome(&response, &[], false),
                Err(HandshakeError::Response(ResponseError::Malformed(_)))
            ),
            "{cl}"
        );
    }
    let same = "HTTP/1.1 403 Forbidden\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(
        rejection(same, false).map(|r| r.body),
        Ok(Bytes::from_static(b"ok"))
    );
}

#[test]
fn response_too_large() {
    // A body over the limit, announced or streamed.
    let announced = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n",
        (16 << 10) + 1
    );
    assert_eq!(
        outcome(&announced, &[], false),
        Err(HandshakeError::Response(ResponseError::TooLarge))
    );
    let mut hs = client(ClientRequest::new(url("ws://h/")));
    let now = Instant::now();
    assert!(matches!(
        hs.receive(now, b"HTTP/1.1 403 Forbidden\r\n\r\n"),
        Ok(None)
    ));
    assert!(matches!(hs.receive(now, &vec![b'x'; 16 << 10]), Ok(None)));
    assert_eq!(
        hs.receive(now, b"x").err(),
        Some(HandshakeError::Response(ResponseError::TooLarge))
    );
    // A head over the limit, complete or not.
    let big = response_101(&format!("X-Big: {}\r\n", "a".repeat(17 << 10)));
    assert_eq!(
        outcome(&big, &[], false),
        Err(HandshakeError::Response(ResponseError::TooLarge))
    );
    let mut hs = client(ClientRequest::new(url("ws://h/")));
    let endless = format!("HTTP/1.1 200 OK\r\nX-Endless: {}", "a".repeat(16 << 10));
    assert_eq!(
        hs.receive(now, endless.as_bytes()).err(),
        Some(HandshakeError::Response(ResponseError::TooLarge))
    );
    // Too many header lines.
    let many: String = (0..65).map(|i| format!("X-{i}: {i}\r\n")).collect();
    assert_eq!(
        outcome(&response_101(&many), &[], false),
        Err(HandshakeError::Response(ResponseError::TooLarge))
    );
    // Interim responses count against the head limit.
    let config = Config::default().with_max_handshake_size(64);
    let mut hs = client_with(ClientRequest::new(url("ws://h/")), config, now);
    let interim = "HTTP/1.1 102 Processing\r\n\r\n".repeat(3);
    assert_eq!(
        hs.receive(now, interim.as_bytes()).err(),
        Some(HandshakeError::Response(ResponseError::TooLarge))
    );
}

#[test]
fn timeouts() {
    let base = Instant::now();
    let mut hs = client_with(ClientRequest::new(url("ws://h/")), Config::default(), base);
    assert_eq!(hs.poll_timeout(), Some(base + Duration::from_secs(10)));
    assert_eq!(hs.handle_timeout(base + Duration::from_secs(9)), Ok(()));
    assert!(matches!(
        hs.receive(base + Duration::from_secs(5), b"HTTP/1.1 101 Swi"),
        Ok(None)
    ));
    assert_eq!(
        hs.handle_timeout(base + Duration::from_secs(10)),
        Err(HandshakeError::Timeout)
    );
    assert_eq!(hs.poll_timeout(), None);
    assert_eq!(
        hs.receive(base, b"tching Protocols\r\n").err(),
        Some(HandshakeError::Timeout)
    );

    // A response arriving after the deadline is too late.
    let config = Config::default().with_handshake_timeout(Duration::from_millis(250));
    let mut hs = client_with(ClientRequest::new(url("ws://h/")), config, base);
    let late = base + Duration::from_millis(250);
    assert_eq!(
        hs.receive(late, response_101("").as_bytes()).err(),
        Some(HandshakeError::Timeout)
    );

    // A rejection still reading its body keeps the clock running.
    let mut hs = client_with(ClientRequest::new(url("ws://h/")), Config::default(), base);
    assert!(matches!(
        hs.receive(base, b"HTTP/1.1 403 Forbidden\r\n\r\nsome"),
        Ok(None)
    ));
    assert!(hs.poll_timeout().is_some());
    assert_eq!(
        hs.handle_timeout(base + Duration::from_secs(11)),
        Err(HandshakeError::Timeout)
    );

    // Done: no timer.
    let mut hs = client_with(
        ClientRequest::new(url("ws://example.com/chat")),
        Config::default(),
        base,
    );
    assert!(matches!(
        hs.receive(base, response_101("").as_bytes()),
        Ok(Some(ClientOutcome::Upgraded(_)))
    ));
    assert_eq!(hs.poll_timeout(), None);
    assert_eq!(hs.handle_timeout(base + Duration::from_secs(60)), Ok(()));
    assert_eq!(
        hs.receive(base, b"x").err(),
        Some(HandshakeError::Usage(UsageError::Finished))
    );
    assert_eq!(
        hs.receive_eof(base).err(),
        Some(HandshakeError::Usage(UsageError::Finished))
    );
}

#[test]
fn unwritten_request_bytes_go_out_first() {
    let mut hs = client(ClientRequest::new(url("ws://example.com/chat")));
    let request = hs.output().to_vec();
    hs.consume_output(10);
    let Ok(Some(ClientOutcome::Upgraded(mut established))) =
        hs.receive(Instant::now(), response_101("").as_bytes())
    else {
        panic!()
    };
    assert_eq!(established.connection.output(), &request[10..]);
    let n = established.connection.output().len();
    established.connection.consume_output(n);
    assert!(established.connection.send_text("x").is_ok());
    assert_eq!(established.connection.output()[0], 0x81);
    assert!(hs.output().is_empty());
}

#[test]
fn round_trip_through_both_machines() {
    let base = Instant::now();
    let request = ClientRequest::new(url("ws://[::1]:9001/chat?room=1"))
        .with_subprotocol("chat")
        .with_subprotocol("superchat");
    let mut client = client_with(request, Config::default(), base);

    // Client → server, in awkward pieces.
    let mut server = ServerHandshake::new(&Config::default(), base);
    let wire = client.output().to_vec();
    client.consume_output(wire.len());
    let mut parsed = false;
    for piece in wire.chunks(7) {
        parsed = matches!(server.receive(base, piece), Ok(Some(_)));
    }
    assert!(parsed);
    let request = server.request().cloned();
    let Some(request) = request else {
        panic!("no request")
    };
    assert_eq!(request.headers().get("host"), Some("[::1]:9001"));
    assert_eq!(request.query_value("room"), Some("1"));
    assert_eq!(request.subprotocols(), ["chat", "superchat"]);
    assert_eq!(request.validate_upgrade(), Ok(()));

    let Ok(mut server_conn) = server.accept(base, &Accept::new().with_subprotocol("superchat"))
    else {
        panic!("accept failed")
    };
    assert!(server_conn.send_text("welcome").is_ok());

    // Server → client: the 101 and the first frame in one segment.
    let to_client = server_conn.output().to_vec();
    server_conn.consume_output(to_client.len());
    let Ok(Some(ClientOutcome::Upgraded(mut established))) = client.receive(base, &to_client)
    else {
        panic!("not established")
    };
    assert_eq!(established.subprotocol.as_deref(), Some("superchat"));
    assert!(matches!(established.connection.poll_event(), Some(Event::Text(t)) if t == "welcome"));

    // And a masked frame back.
    assert!(established.connection.send_text("hello").is_ok());
    let to_server = established.connection.output().to_vec();
    assert_eq!(to_server[1] & 0x80, 0x80, "client frames are masked");
    server_conn.receive(base, &to_server);
    assert!(matches!(server_conn.poll_event(), Some(Event::Text(t)) if t == "hello"));
}

#[test]
fn seeded_round_trip_is_reproducible() {
    let run = || {
        let base = Instant::now();
        let mut client = client_with(ClientRequest::new(url("ws://h/")), Config::default(), base);
        let wire = client.output().to_vec();
        let mut server = ServerHandshake::new(&Config::default(), base);
        assert!(matches!(server.receive(base, &wire), Ok(Some(_))));
        let Ok(server_conn) = server.accept(base, &Accept::new()) else {
            panic!()
        };
        let Ok(Some(ClientOutcome::Upgraded(mut est))) = client.receive(base, server_conn.output())
        else {
            panic!()
        };
        assert!(est.connection.send_binary(b"abc").is_ok());
        (
            wire,
            server_conn.output().to_vec(),
            est.connection.output().to_vec(),
        )
    };
    assert_eq!(run(), run());
}

/// Feeds `input` cut at `cuts` to a client offering `chat`, then EOF; the outcome.
fn drive(input: &[u8], cuts: &[usize]) -> Result<(u16, Option<String>), HandshakeError> {
    let request = ClientRequest::new(url("ws://example.com/chat")).with_subprotocol("chat");
    let mut hs = client(request);
    let now = Instant::now();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let mut from = 0;
    let mut result = Ok(None);
    for to in cuts {
        result = hs.receive(now, &input[from..to]);
        from = to;
        if !matches!(result, Ok(None)) {
            break;
        }
    }
    if matches!(result, Ok(None)) {
        result = hs.receive_eof(now);
    }
    match result {
        Ok(Some(ClientOutcome::Upgraded(e))) => Ok((e.response.status, e.subprotocol)),
        Ok(Some(ClientOutcome::Rejected(r))) => Ok((r.status, None)),
        Ok(None) => Err(HandshakeError::Usage(UsageError::NotReady)),
        Err(e) => Err(e),
    }
}

/// A head whose last line end is broken by a byte that is not itself a line end: the
/// error is the one the whole response gives, however it was split.
#[test]
fn a_broken_last_line_end_is_refused_however_it_was_split() {
    let input = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\0nope!\x81\x02hi";
    let malformed = Err(HandshakeError::Response(ResponseError::Malformed(
        "malformed HTTP response head",
    )));
    assert_eq!(drive(input, &[]), malformed);
    for cut in 0..input.len() {
        assert_eq!(drive(input, &[cut]), malformed, "cut at {cut}");
    }
    let cut_short = b"HTTP/1.1 403 Forbidden\r\nContent-Le";
    assert_eq!(
        drive(cut_short, &[10]),
        Err(HandshakeError::Response(ResponseError::UnexpectedEof))
    );
}

proptest::proptest! {
    #[test]
    fn chunking_never_changes_the_outcome(
        which in 0usize..3,
        at in 0usize..400,
        byte in proptest::prelude::any::<u8>(),
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let responses = [
            response_101("Sec-WebSocket-Protocol: chat\r\n"),
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!".to_string(),
            "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                .to_string(),
        ];
        let mut input = [responses[which].as_bytes(), SERVER_HI].concat();
        let at = at % input.len();
        input[at] = byte;
        proptest::prop_assert_eq!(drive(&input, &cuts), drive(&input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let input = [b"HTTP/1.1 ", &data[..], b"\r\n\r\n"].concat();
        proptest::prop_assert_eq!(drive(&input, &cuts), drive(&input, &[]));
    }
}

#[test]
fn url_credentials_go_as_basic_authorization_unless_one_is_given() {
    let head = |request: ClientRequest| String::from_utf8(client(request).output().to_vec());
    let request = ClientRequest::new(url("ws://Aladdin:open%20sesame@example.com/chat"));
    let sent = head(request.clone()).expect("ASCII request");
    assert!(
        sent.contains("\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
        "{sent}"
    );
    assert!(sent.contains("\r\nHost: example.com\r\n"), "{sent}");
    assert!(!sent.contains("Aladdin"), "{sent}");
    let explicit = request.with_header("authorization", "Bearer t");
    let sent = head(explicit).expect("ASCII request");
    assert_eq!(sent.matches("uthorization:").count(), 1, "{sent}");
    assert!(sent.contains("\r\nauthorization: Bearer t\r\n"), "{sent}");
    let none = head(ClientRequest::new(url("ws://example.com/"))).expect("ASCII request");
    assert!(!none.contains("Authorization"), "{none}");
}

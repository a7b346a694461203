use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::Event;

/// RFC 6455 §1.2's sample request.
const SAMPLE: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// RFC 6455 §1.3's answer to it (with `chat` chosen).
const SAMPLE_101: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Protocol: chat\r\n\r\n";

/// A masked "Hello" text frame (RFC 6455 §5.7).
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

const TRAILER: &[u8] = b"\x88\x80trailing";

/// A valid request with `extra` header lines in place of the sample's optional ones.
fn request_with(first_line: &str, lines: &[&str]) -> String {
    let mut s = format!("{first_line}\r\n");
    for line in lines {
        s.push_str(line);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

fn base_lines() -> Vec<&'static str> {
    vec![
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
}

/// Replaces (or with `None` removes) the base line starting with `prefix`.
fn base_with(prefix: &str, line: Option<&str>) -> String {
    let lines: Vec<&str> = base_lines()
        .into_iter()
        .filter_map(|l| if l.starts_with(prefix) { line } else { Some(l) })
        .collect();
    request_with("GET /chat HTTP/1.1", &lines)
}

fn start() -> (Instant, ServerHandshake) {
    let now = Instant::now();
    (now, ServerHandshake::new(&Config::default(), now))
}

#[derive(Clone, Copy, Debug)]
enum Way {
    Whole,
    ByteByByte,
    WithTrailer,
}

/// Feeds `input` one way; returns the handshake and the outcome of parsing + validation.
fn feed(input: &[u8], way: Way, config: &Config) -> (ServerHandshake, Result<(), HandshakeError>) {
    let now = Instant::now();
    let mut hs = ServerHandshake::new(config, now);
    let outcome = match way {
        Way::Whole => hs.receive(now, input).map(|r| r.map(|_| ())),
        Way::WithTrailer => hs
            .receive(now, &[input, TRAILER].concat())
            .map(|r| r.map(|_| ())),
        Way::ByteByByte => {
            let mut outcome = Ok(None);
            for byte in input {
                outcome = hs
                    .receive(now, std::slice::from_ref(byte))
                    .map(|r| r.map(|_| ()));
                if !matches!(outcome, Ok(None)) {
                    break;
                }
            }
            outcome
        }
    };
    let outcome = match outcome {
        Ok(Some(())) => hs.request().map_or(
            Err(HandshakeError::Usage(UsageError::NotReady)),
            |request| Ok(request.validate_upgrade()?),
        ),
        Ok(None) => Err(HandshakeError::Usage(UsageError::NotReady)),
        Err(e) => Err(e),
    };
    if let (Way::WithTrailer, Ok(())) = (way, &outcome) {
        assert_eq!(hs.leftover(), TRAILER);
    }
    if let (Way::Whole | Way::ByteByByte, Ok(())) = (way, &outcome) {
        assert_eq!(hs.leftover(), b"");
    }
    (hs, outcome)
}

/// The outcome of `input`, asserted to be the same whichever way it is fed.
fn outcome_with(input: &str, config: &Config) -> Result<(), HandshakeError> {
    let whole = feed(input.as_bytes(), Way::Whole, config).1;
    for way in [Way::ByteByByte, Way::WithTrailer] {
        assert_eq!(
            feed(input.as_bytes(), way, config).1,
            whole,
            "{way:?}: {input:?}"
        );
    }
    whole
}

fn outcome(input: &str) -> Result<(), HandshakeError> {
    outcome_with(input, &Config::default())
}

fn status(input: &str) -> u16 {
    match outcome(input) {
        Ok(()) => 101,
        Err(e) => e.status(),
    }
}

#[test]
fn rfc_sample_is_accepted_byte_exact() {
    for way in [Way::Whole, Way::ByteByByte, Way::WithTrailer] {
        let (hs, result) = feed(SAMPLE.as_bytes(), way, &Config::default());
        assert_eq!(result, Ok(()));
        let request = hs.request().cloned();
        let request = request.as_ref();
        assert_eq!(request.map(Request::method), Some("GET"));
        assert_eq!(request.map(Request::target), Some("/chat"));
        assert_eq!(request.map(Request::http_version), Some(1));
        assert_eq!(
            request.and_then(Request::key),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        assert_eq!(
            request.map(Request::subprotocols),
            Some(&["chat".to_string(), "superchat".to_string()][..])
        );
        assert_eq!(
            request.and_then(|r| r.headers().get("origin")),
            Some("http://example.com")
        );
        let conn = hs.accept(Instant::now(), &Accept::new().with_subprotocol("chat"));
        let Ok(conn) = conn else {
            panic!("accept failed: {conn:?}")
        };
        let out = conn.output();
        assert!(
            out.starts_with(SAMPLE_101.as_bytes()),
            "{}",
            String::from_utf8_lossy(out)
        );
        if let Way::Whole | Way::ByteByByte = way {
            assert_eq!(out, SAMPLE_101.as_bytes());
        }
    }
}

#[test]
fn header_lines_split_across_chunks() {
    for size in 1..=17 {
        let (now, mut hs) = start();
        let mut result = Ok(None);
        for chunk in SAMPLE.as_bytes().chunks(size) {
            assert!(matches!(result, Ok(None)), "completed early at size {size}");
            result = hs
                .receive(now, chunk)
                .map(|r| r.map(Request::path).map(str::to_owned));
        }
        assert_eq!(result, Ok(Some("/chat".to_string())), "chunk size {size}");
    }
}

#[test]
fn pipelined_frame_reaches_the_connection() {
    let (now, mut hs) = start();
    let input = [SAMPLE.as_bytes(), &MASKED_HELLO].concat();
    assert!(matches!(hs.receive(now, &input), Ok(Some(_))));
    assert_eq!(hs.leftover(), MASKED_HELLO);
    let Ok(mut conn) = hs.accept(now, &Accept::new()) else {
        panic!("accept failed")
    };
    match conn.poll_event() {
        Some(Event::Text(text)) => assert_eq!(text, "Hello"),
        other => panic!("expected Text, got {other:?}"),
    }
    assert!(
        conn.output()
            .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n")
    );
}

#[test]
fn pipelined_frame_split_over_calls_is_kept() {
    let (now, mut hs) = start();
    let input = [SAMPLE.as_bytes(), &MASKED_HELLO].concat();
    let (a, b) = input.split_at(SAMPLE.len() + 3);
    assert!(matches!(hs.receive(now, a), Ok(Some(_))));
    assert!(matches!(hs.receive(now, b), Ok(Some(_))));
    assert_eq!(hs.leftover(), MASKED_HELLO);
    let Ok(mut conn) = hs.accept(now, &Accept::new()) else {
        panic!("accept failed")
    };
    assert!(matches!(conn.poll_event(), Some(Event::Text(t)) if t == "Hello"));
}

#[test]
fn pipelined_garbage_goes_to_the_connection_after_the_101() {
    let (now, mut hs) = start();
    let input = [SAMPLE.as_bytes(), b"\xff\xff garbage"].concat();
    assert!(matches!(hs.receive(now, &input), Ok(Some(_))));
    let Ok(mut conn) = hs.accept(now, &Accept::new()) else {
        panic!("accept failed")
    };
    // The failure surfaces once pending events are taken.
    for _ in 0..4 {
        let _ = conn.poll_event();
    }
    let out = conn.output();
    let head = b"HTTP/1.1 101 Switching Protocols\r\n";
    assert!(out.starts_with(head));
    // The connection failed on the garbage and queued its Close after the 101.
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    assert!(out.len() > end);
    assert_eq!(out[end] & 0x0f, 0x8, "a Close frame follows the 101");
}

#[test]
fn too_many_bytes_after_the_head_is_431() {
    let (now, mut hs) = start();
    assert!(matches!(hs.receive(now, SAMPLE.as_bytes()), Ok(Some(_))));
    assert!(matches!(hs.receive(now, &vec![0u8; 16 << 10]), Ok(Some(_))));
    assert_eq!(
        hs.receive(now, b"x").err(),
        Some(HandshakeError::Request(RequestError::TooLarge))
    );
    assert_eq!(
        hs.receive(now, b"x").err(),
        Some(HandshakeError::Request(RequestError::TooLarge))
    );
}

#[test]
fn accepts_the_usual_variants() {
    // Connection lists more than one token; tokens in any case; extra list elements.
    assert_eq!(
        outcome(&base_with(
            "Connection",
            Some("Connection: keep-alive, Upgrade")
        )),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with("Upgrade", Some("upgrade: WebSocket"))),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with("Connection", Some("connection: UPGRADE"))),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with("Upgrade", Some("Upgrade: h2c, websocket"))),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with("Host", Some("host: [::1]:9001"))),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with(
            "Sec-WebSocket-Key",
            Some("Sec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ==  ")
        )),
        Ok(())
    );
    assert_eq!(
        outcome(&base_with(
            "Sec-WebSocket-Version",
            Some("Sec-WebSocket-Version: 13 ")
        )),
        Ok(())
    );
    let mut lines = base_lines();
    lines.push("Content-Length: 0");
    lines.push("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
    assert_eq!(
        outcome(&request_with("GET /x?y=1 HTTP/1.1", &lines)),
        Ok(())
    );
    assert_eq!(
        outcome(&request_with(
            "GET ws://example.com/x HTTP/1.1",
            &base_lines()
        )),
        Ok(())
    );
    // Bare LF line endings are tolerated, as by most servers.
    assert_eq!(
        outcome(&request_with("GET / HTTP/1.1", &base_lines()).replace("\r\n", "\n")),
        Ok(())
    );
}

#[test]
fn rejects_with_exact_statuses() {
    let key = |bytes: &[u8]| format!("Sec-WebSocket-Key: {}", STANDARD.encode(bytes));
    let (key15, key17) = (key(&[7; 15]), key(&[7; 17]));
    let cases: Vec<(String, u16)> = vec![
        (
            base_with(
                "Sec-WebSocket-Key",
                Some("Sec-WebSocket-Key: not base64 at all!!!!!!"),
            ),
            400,
        ),
        (base_with("Sec-WebSocket-Key", Some(&key15)), 400),
        (base_with("Sec-WebSocket-Key", Some(&key17)), 400),
        (
            base_with("Sec-WebSocket-Key", Some("Sec-WebSocket-Key:")),
            400,
        ),
        (base_with("Sec-WebSocket-Key", None), 400),
        (base_with("Host", None), 400),
        (base_with("Host", Some("Host: ")), 400),
        (base_with("Upgrade", None), 426),
        (base_with("Upgrade", Some("Upgrade: h2c")), 426),
        (base_with("Upgrade", Some("Upgrade: websocket2")), 426),
        (base_with("Connection", None), 426),
        (base_with("Connection", Some("Connection: keep-alive")), 426),
        (
            base_with("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8")),
            426,
        ),
        (base_with("Sec-WebSocket-Version", None), 426),
        (request_with("POST /chat HTTP/1.1", &base_lines()), 405),
        (request_with("get /chat HTTP/1.1", &base_lines()), 405),
        (request_with("GET /chat HTTP/1.0", &base_lines()), 505),
        (request_with("GET /chat HTTP/2.0", &base_lines()), 505),
        (request_with("GET * HTTP/1.1", &base_lines()), 400),
        (request_with("GET /chat HTTP/3", &base_lines()), 505),
        (request_with("GET /chat HTTPS/1.1", &base_lines()), 400),
        ("BAD REQUEST LINE\r\n\r\n".to_string(), 400),
        ("GARBAGE\r\n\r\n".to_string(), 400),
        ("\x16\x03\x01\x02\x00\x01\x00\x01".to_string(), 400),
        (
            "GET /chat HTTP/1.1\r\nHost example.com\r\n\r\n".to_string(),
            400,
        ),
        (
            "GET /chat HTTP/1.1\r\nHost: a\r\n folded: x\r\n\r\n".to_string(),
            400,
        ),
        ("GET /chat HTTP/1.1\r\nHost: a\rb\r\n\r\n".to_string(), 400),
    ];
    for (input, want) in cases {
        assert_eq!(status(&input), want, "{input:?}");
    }
    let mut lines = base_lines();
    lines.push("Host: other.example.com");
    assert_eq!(
        outcome(&request_with("GET / HTTP/1.1", &lines)),
        Err(HandshakeError::Request(RequestError::Malformed(
            "duplicate Host"
        )))
    );
    for extra in [
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Sec-WebSocket-Protocol: a b",
        "Sec-WebSocket-Protocol: chat, chat",
        "Sec-WebSocket-Extensions: ;x",
    ] {
        let mut lines = base_lines();
        lines.push(extra);
        assert_eq!(
            status(&request_with("GET / HTTP/1.1", &lines)),
            400,
            "{extra}"
        );
    }
    let mut lines = base_lines();
    lines.push("Sec-WebSocket-Version: 13");
    assert_eq!(status(&request_with("GET / HTTP/1.1", &lines)), 426);
}

#[test]
fn version_8_gets_426_with_version_13() {
    let input = base_with("Sec-WebSocket-Version", Some("Sec-WebSocket-Version: 8"));
    let (now, mut hs) = start();
    assert!(matches!(hs.receive(now, input.as_bytes()), Ok(Some(_))));
    let error = hs.request().map(Request::validate_upgrade);
    let Some(Err(error)) = error else {
        panic!("version 8 accepted")
    };
    assert_eq!(error, RequestError::UnsupportedVersion(Some("8".into())));
    let bytes = hs.reject(error.to_response());
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
}

#[test]
fn post_gets_405_with_allow() {
    let (now, mut hs) = start();
    let input = request_with("POST /chat HTTP/1.1", &base_lines());
    assert!(matches!(hs.receive(now, input.as_bytes()), Ok(Some(_))));
    let accepted = hs.accept(now, &Accept::new());
    let Err(error) = accepted else {
        panic!("POST accepted")
    };
    let text = String::from_utf8_lossy(&error.to_response().encode()).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"),
        "{text}"
    );
}

#[test]
fn missing_upgrade_426_names_websocket() {
    let error = outcome(&base_with("Upgrade", None)).err();
    assert_eq!(
        error,
        Some(HandshakeError::Request(RequestError::MissingUpgrade))
    );
    let response = HandshakeError::Request(RequestError::MissingUpgrade).to_response();
    assert_eq!(response.headers.get("Upgrade"), Some("websocket"));
    assert_eq!(response.headers.get("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn header_limits_are_431() {
    let filler: Vec<String> = (0..60).map(|i| format!("X-Filler-{i}: {i}")).collect();
    let mut lines = base_lines();
    lines.extend(filler.iter().map(String::as_str));
    assert_eq!(lines.len(), 65);
    assert_eq!(
        outcome(&request_with("GET / HTTP/1.1", &lines)),
        Err(HandshakeError::Request(RequestError::TooManyHeaders))
    );
    assert_eq!(status(&request_with("GET / HTTP/1.1", &lines)), 431);
    lines.pop();
    assert_eq!(outcome(&request_with("GET / HTTP/1.1", &lines)), Ok(()));

    let big = format!("X-Big: {}", "a".repeat(17 << 10));
    let mut lines = base_lines();
    lines.push(&big);
    let input = request_with("GET / HTTP/1.1", &lines);
    assert_eq!(
        outcome(&input),
        Err(HandshakeError::Request(RequestError::TooLarge))
    );
    // Exactly at the limit is fine; one byte over is not.
    let config = Config::default().with_max_handshake_size(SAMPLE.len());
    assert_eq!(outcome_with(SAMPLE, &config), Ok(()));
    let config = Config::default().with_max_handshake_size(SAMPLE.len() - 1);
    assert_eq!(
        outcome_with(SAMPLE, &config),
        Err(HandshakeError::Request(RequestError::TooLarge))
    );
    // An endless first line without a newline is cut off too.
    let (now, mut hs) = start();
    assert!(matches!(hs.receive(now, b"GET /"), Ok(None)));
    assert_eq!(
        hs.receive(now, &vec![b'a'; 16 << 10]).err(),
        Some(HandshakeError::Request(RequestError::TooLarge))
    );
}

#[test]
fn non_utf8_header_is_400() {
    let input = [
        &SAMPLE.as_bytes()[..SAMPLE.len() - 2],
        b"X-Bin: \xff\xfe\r\n\r\n",
    ]
    .concat();
    let (now, mut hs) = start();
    let error = hs.receive(now, &input).err();
    assert_eq!(
        error,
        Some(HandshakeError::Request(RequestError::Malformed(
            "header value is not UTF-8"
        )))
    );
    assert_eq!(error.map(|e| e.status()), Some(400));
    // The error is sticky.
    assert_eq!(
        hs.receive(now, b"more").err().map(|e| e.status()),
        Some(400)
    );
    assert!(hs.request().is_none());
}

#[test]
fn repeated_headers_are_kept_in_order() {
    let mut lines = base_lines();
    lines.extend([
        "X-Multi: 1",
        "x-multi: 2",
        "Sec-WebSocket-Protocol: a",
        "X-MULTI: 3",
        "Sec-WebSocket-Protocol: b, c",
    ]);
    let input = request_with("GET / HTTP/1.1", &lines);
    let (now, mut hs) = start();
    let Ok(Some(request)) = hs.receive(now, input.as_bytes()) else {
        panic!("incomplete")
    };
    assert_eq!(
        request.headers().get_all("X-Multi").collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(request.headers().len(), 10);
    assert_eq!(request.subprotocols(), ["a", "b", "c"]);
}

#[test]
fn query_is_parsed() {
    let input = request_with(
        "GET /room?name=J%C3%BCrgen+K&flag&n=%2B1 HTTP/1.1",
        &base_lines(),
    );
    let (now, mut hs) = start();
    let Ok(Some(request)) = hs.receive(now, input.as_bytes()) else {
        panic!("incomplete")
    };
    assert_eq!(request.path(), "/room");
    assert_eq!(request.query_value("name"), Some("Jürgen K"));
    assert_eq!(request.query_value("flag"), Some(""));
    assert_eq!(request.query_value("n"), Some("+1"));
    assert_eq!(request.query().len(), 3);
}

#[test]
fn subprotocol_must_be_offered() {
    let accept = |accept: Accept| {
        let (now, mut hs) = start();
        assert!(matches!(hs.receive(now, SAMPLE.as_bytes()), Ok(Some(_))));
        hs.accept(now, &accept)
            .map(|c| String::from_utf8_lossy(c.output()).into_owned())
    };
    let Ok(out) = accept(Accept::new().with_subprotocol("superchat")) else {
        panic!()
    };
    assert!(out.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
    let Ok(out) = accept(Accept::new()) else {
        panic!()
    };
    assert!(!out.contains("Sec-WebSocket-Protocol"));
    assert_eq!(
        accept(Accept::new().with_subprotocol("Chat")).err(),
        Some(HandshakeError::Usage(UsageError::SubprotocolNotOffered(
            "Chat".into()
        )))
    );
    assert_eq!(
        accept(Accept::new().with_subprotocol("mqtt"))
            .err()
            .map(|e| e.status()),
        Some(500)
    );
}

#[test]
fn accept_extra_headers() {
    let (now, mut hs) = start();
    assert!(matches!(hs.receive(now, SAMPLE.as_bytes()), Ok(Some(_))));
    let accept = Accept::new()
        .with_header("Set-Cookie", "id=1")
        .with_header("Set-Cookie", "b=2");
    let Ok(conn) = hs.accept(now, &accept) else {
        panic!("accept failed")
    };
    let out = String::from_utf8_lossy(conn.output()).into_owned();
    assert!(
        out.ends_with(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: id=1\r\nSet-Cookie: b=2\r\n\r\n"
        ),
        "{out}"
    );

    for (name, value) in [
        ("Sec-WebSocket-Accept", "x"),
        ("connection", "close"),
        ("Bad Name", "v"),
        ("X-Ok", "a\r\nb: c"),
    ] {
        let (now, mut hs) = start();
        assert!(matches!(hs.receive(now, SAMPLE.as_bytes()), Ok(Some(_))));
        let result = hs.accept(now, &Accept::new().with_header(name, value));
        assert_eq!(
            result.err(),
            Some(HandshakeError::Usage(UsageError::InvalidHeader(
                name.into()
            )))
        );
    }
}

#[test]
fn accept_before_complete_or_after_failure() {
    let (now, mut hs) = start();
    assert!(matches!(hs.receive(now, b"GET / HTTP/1.1\r\n"), Ok(None)));
    assert_eq!(
        hs.accept(now, &Accept::new()).err(),
        Some(HandshakeError::Usage(UsageError::NotReady))
    );
    let (now, mut hs) = start();
    assert!(hs.receive(now, b"BAD REQUEST LINE\r\n\r\n").is_err());
    assert_eq!(
        hs.accept(now, &Accept::new()).err().map(|e| e.status()),
        Some(400)
    );
}

#[test]
fn plain_http_can_be_answered() {
    let (now, mut hs) = start();
    let Ok(Some(request)) = hs.receive(now, b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n") else {
        panic!("incomplete")
    };
    assert!(!request.is_upgrade());
    assert_eq!(
        request.validate_upgrade(),
        Err(RequestError::MissingUpgrade)
    );
    let bytes = hs.reject(Response::new(200).with_body("ok"));
    assert_eq!(
        bytes,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

#[test]
fn timeouts() {
    let (base, mut hs) = start();
    assert_eq!(hs.poll_timeout(), Some(base + Duration::from_secs(10)));
    assert_eq!(
        hs.handle_timeout(base + Duration::from_millis(9_999)),
        Ok(())
    );
    assert!(matches!(
        hs.receive(base + Duration::from_secs(1), b"GET / HTTP/1.1\r\n"),
        Ok(None)
    ));
    assert_eq!(
        hs.handle_timeout(base + Duration::from_secs(10)),
        Err(HandshakeError::Timeout)
    );
    assert_eq!(hs.poll_timeout(), None);
    assert_eq!(
        hs.receive(base, SAMPLE.as_bytes()).err(),
        Some(HandshakeError::Timeout)
    );
    assert_eq!(HandshakeError::Timeout.to_response().status, 408);

    // Data that arrives after the deadline is too late.
    let (base, mut hs) = start();
    let late = base + Duration::from_secs(11);
    assert_eq!(
        hs.receive(late, SAMPLE.as_bytes()).err(),
        Some(HandshakeError::Timeout)
    );

    // A complete head stops the clock.
    let (base, mut hs) = start();
    assert!(matches!(hs.receive(base, SAMPLE.as_bytes()), Ok(Some(_))));
    assert_eq!(hs.poll_timeout(), None);
    assert_eq!(hs.handle_timeout(base + Duration::from_secs(60)), Ok(()));

    // A timeout too large to represent saturates (crate::deadline): decades away, no panic.
    let config = Config::default().with_handshake_timeout(Duration::MAX);
    let hs = ServerHandshake::with_config(config, base);
    let far = hs.poll_timeout().expect("a deadline");
    assert!(
        far > base + Duration::from_secs(10 * 365 * 24 * 3600),
        "{far:?}"
    );
}

/// A complete head's validation result and leftover.
type Drove = (Result<(), RequestError>, Vec<u8>);

/// Feeds `input` cut at `cuts` (stopping at the first final answer); the outcome, with the
/// validation result and leftover of a complete head.
fn drive(input: &[u8], cuts: &[usize]) -> Result<Option<Drove>, HandshakeError> {
    let (now, mut hs) = start();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let mut from = 0;
    let mut result = Ok(None);
    for to in cuts {
        result = hs
            .receive(now, &input[from..to])
            .map(|r| r.map(Request::validate_upgrade));
        from = to;
        if result.is_err() {
            break;
        }
    }
    result.map(|r| r.map(|validated| (validated, hs.leftover().to_vec())))
}

#[test]
fn a_broken_request_line_gets_the_same_answer_whole_or_in_pieces() {
    // A space inside the target: the version position holds "hat", not "HTTP/1.1".
    let mut input = [SAMPLE.as_bytes(), &MASKED_HELLO].concat();
    input[5] = b' ';
    assert_eq!(drive(&input, &[7]), drive(&input, &[]));
    assert_eq!(
        drive(&input, &[]),
        Err(HandshakeError::Request(RequestError::Malformed(
            "invalid HTTP version"
        )))
    );
}

#[test]
fn a_broken_last_line_end_is_refused_however_it_was_split() {
    // The head's final line end broken by a byte that is not itself a line end.
    let mut input = [SAMPLE.as_bytes(), &MASKED_HELLO].concat();
    input[SAMPLE.len() - 1] = 0;
    let expected = Err(HandshakeError::Request(RequestError::Malformed(
        "invalid line ending",
    )));
    assert_eq!(drive(&input, &[]), expected);
    for cut in 0..input.len() {
        assert_eq!(drive(&input, &[cut]), expected, "cut at {cut}");
    }
}

proptest::proptest! {
    #[test]
    fn chunking_never_changes_the_outcome(
        at in 0..SAMPLE.len(),
        byte in proptest::prelude::any::<u8>(),
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let mut input = [SAMPLE.as_bytes(), &MASKED_HELLO].concat();
        input[at] = byte;
        proptest::prop_assert_eq!(drive(&input, &cuts), drive(&input, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        // Ending with an empty line makes every split see the whole input parsed.
        let input = [&data[..], b"\r\n\r\n"].concat();
        proptest::prop_assert_eq!(drive(&input, &cuts), drive(&input, &[]));
    }

    #[test]
    fn limits_hold_however_the_input_is_split(
        len in 0usize..300,
        cuts in proptest::collection::vec(0usize..400, 0..6),
    ) {
        let config = Config::default().with_max_handshake_size(200).with_max_headers(4);
        let input = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(len));
        let now = Instant::now();
        let mut whole = ServerHandshake::new(&config, now);
        let want = whole.receive(now, input.as_bytes()).map(|r| r.is_some());
        let too_large = input.len() > 200;
        let expected = if too_large { Err(HandshakeError::Request(RequestError::TooLarge)) } else { Ok(true) };
        proptest::prop_assert_eq!(&want, &expected);
        let mut split = ServerHandshake::new(&config, now);
        let mut got = Ok(false);
        let mut from = 0;
        let end = input.len();
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(end)).chain([end]).collect();
        cuts.sort_unstable();
        for to in cuts {
            got = split.receive(now, &input.as_bytes()[from..to]).map(|r| r.is_some());
            from = to;
            if got.is_err() {
                break;
            }
        }
        proptest::prop_assert_eq!(got, want);
    }
}

//! Loopback tests of the blocking adapter: real sockets on 127.0.0.1, every wait bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::handshake::accept_key;
use ws_runtime_std::{
    ClientBuilder, CloseCode, Config, ConnectError, Decision, Event, RecvTimeout, Response, Server,
    ServerHandle, TrySendError, WebSocket, connect,
};

const WAIT: Duration = Duration::from_secs(20);

fn echo_server(config: Config) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .serve(
            |_| Decision::accept(),
            |ws, _| {
                while let Some(event) = ws.recv() {
                    let _ = match event {
                        Event::Text(t) => ws.send_text(&t),
                        Event::Binary(b) => ws.send_binary(&b),
                        _ => Ok(()),
                    };
                }
            },
        )
        .unwrap()
}

fn url(server: &ServerHandle) -> String {
    format!("ws://{}/", server.local_addr())
}

fn next(ws: &WebSocket) -> Event {
    ws.recv_timeout(WAIT)
        .expect("timed out waiting for an event")
        .expect("an event")
}

fn closed(ws: &WebSocket) -> ws_proto::CloseOutcome {
    loop {
        if let Event::Closed(outcome) = next(ws) {
            return outcome;
        }
    }
}

#[test]
fn echo_round_trip_text_binary_and_large() {
    let server = echo_server(Config::default());
    let (ws, response) = connect(&url(&server)).unwrap();
    assert_eq!(response.status, 101);
    ws.send_text("hello").unwrap();
    assert_eq!(next(&ws), Event::Text("hello".into()));
    ws.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(next(&ws), Event::Binary(vec![1, 2, 3].into()));
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i * 7) as u8).collect();
    ws.send_binary(&big).unwrap();
    assert_eq!(next(&ws), Event::Binary(big.into()));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    let outcome = closed(&ws);
    assert_eq!(outcome.code(), CloseCode::NORMAL);
    assert!(outcome.clean);
    assert_eq!(ws.recv_timeout(WAIT), Ok(None));
}

#[test]
fn server_closes_first_and_client_sees_its_code() {
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_| Decision::accept(),
            |ws, _| {
                ws.close(CloseCode(4001), "done").unwrap();
                while ws.recv().is_some() {}
            },
        )
        .unwrap();
    let (ws, _) = connect(&url(&server)).unwrap();
    let outcome = closed(&ws);
    assert_eq!(
        (outcome.code(), outcome.reason()),
        (CloseCode(4001), "done")
    );
    assert!(outcome.clean);
}

#[test]
fn abort_is_seen_as_abnormal_1006() {
    let (tx, rx) = mpsc::channel();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_| Decision::accept(),
            move |ws, _| {
                let outcome = loop {
                    match ws.recv() {
                        Some(Event::Closed(o)) => break o,
                        Some(_) => {}
                        None => return,
                    }
                };
                let _ = tx.send(outcome);
            },
        )
        .unwrap();
    let (ws, _) = connect(&url(&server)).unwrap();
    ws.send_text("x").unwrap();
    thread::sleep(Duration::from_millis(50));
    ws.abort();
    let server_saw = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(server_saw.code(), CloseCode::ABNORMAL);
    assert!(!server_saw.clean);
}

#[test]
fn connect_errors_name_the_step() {
    assert!(matches!(
        ClientBuilder::new("http://x"),
        Err(ConnectError::Url(_))
    ));
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = connect(&format!("ws://127.0.0.1:{port}/")).err().unwrap();
    assert!(matches!(err, ConnectError::Tcp(_)), "{err}");
    assert!(err.to_string().contains("TCP"));
    let err = connect("ws://no-such-host.invalid/").err().unwrap();
    assert!(matches!(err, ConnectError::Dns(_)), "{err}");

    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_| Decision::Reject(Response::new(403).with_body("go away")),
            |_, _| unreachable!("rejected"),
        )
        .unwrap();
    match connect(&url(&server)) {
        Err(ConnectError::Rejected(r)) => {
            assert_eq!((r.status, &r.body[..]), (403, &b"go away"[..]))
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn request_details_reach_the_hook() {
    let (tx, rx) = mpsc::channel();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            move |request| {
                let headers: Vec<String> = request
                    .headers()
                    .get_all("x-token")
                    .map(String::from)
                    .collect();
                let cookie = request.headers().get("cookie").map(String::from);
                let _ = tx.send((
                    request.path().to_owned(),
                    request.query_value("room").map(String::from),
                    headers,
                    cookie,
                ));
                Decision::Accept(ws_runtime_std::Accept::new().with_subprotocol("chat"))
            },
            |ws, _| while ws.recv().is_some() {},
        )
        .unwrap();
    let (_ws, response) =
        ClientBuilder::new(&format!("ws://{}/chat?room=a%20b", server.local_addr()))
            .unwrap()
            .header("X-Token", "1")
            .header("X-Token", "2")
            .cookie("a=1; b=2")
            .subprotocol("chat")
            .connect()
            .unwrap();
    assert_eq!(response.headers.get("sec-websocket-protocol"), Some("chat"));
    let (path, room, tokens, cookie) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((path.as_str(), room.as_deref()), ("/chat", Some("a b")));
    assert_eq!(tokens, ["1", "2"]);
    assert_eq!(cookie.as_deref(), Some("a=1; b=2"));
}

#[test]
fn both_peers_blast_16_mib_messages_at_each_other() {
    // The server sends three 16 MiB messages without reading while the client does the same.
    // Sending several messages before receiving needs a read-ahead that holds them (the default
    // 1 MiB would leave both peers waiting on each other, by design: memory stays bounded).
    let config = Config::default().with_read_ahead(64 << 20);
    let big = Arc::new(vec![0xabu8; 16 << 20]);
    let server_big = Arc::clone(&big);
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config.clone())
        .serve(
            |_| Decision::accept(),
            move |ws, _| {
                for _ in 0..3 {
                    ws.send_binary(&server_big).unwrap();
                }
                let mut got = 0;
                while got < 3 {
                    match ws.recv() {
                        Some(Event::Binary(b)) => {
                            assert_eq!(b.len(), 16 << 20);
                            got += 1;
                        }
                        Some(_) => {}
                        None => return,
                    }
                }
                let _ = ws.send_text("done");
                while ws.recv().is_some() {}
            },
        )
        .unwrap();
    let (ws, _) = ClientBuilder::new(&url(&server))
        .unwrap()
        .config(config)
        .connect()
        .unwrap();
    let start = Instant::now();
    for _ in 0..3 {
        ws.send_binary(&big).unwrap();
    }
    let mut got = 0;
    while got < 3 {
        if let Event::Binary(b) = next(&ws) {
            assert_eq!(b.len(), 16 << 20);
            got += 1;
        }
    }
    assert_eq!(next(&ws), Event::Text("done".into()));
    assert!(start.elapsed() < WAIT);
}

#[test]
fn a_peer_that_stops_reading_meets_backpressure() {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_| Decision::accept(),
            move |ws, _| {
                // Never read until told to.
                let _ = rx.lock().unwrap().recv_timeout(WAIT);
                drop(ws);
            },
        )
        .unwrap();
    // Backpressure is counted in wire bytes: compression would shrink the zeros sent here.
    let config = Config::default()
        .with_max_output_buffer(1 << 20)
        .with_compression(None);
    let (ws, _) = ClientBuilder::new(&url(&server))
        .unwrap()
        .config(config)
        .connect()
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    let mut sent = 0usize;
    let deadline = Instant::now() + WAIT;
    loop {
        match ws.try_send_binary(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(TrySendError::Full) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "never saw backpressure after {sent} bytes"
        );
        if sent > (512 << 20) {
            panic!("sent {sent} bytes without backpressure");
        }
    }
    // The server's receive queue, socket buffers and our 1 MiB output queue hold it all: bounded.
    assert!(sent < 200 << 20, "{sent}");
    tx.send(()).unwrap();
}

#[test]
fn first_frame_in_the_same_segment_as_the_101() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("Sec-WebSocket-Key: ")
                    .or_else(|| l.strip_prefix("sec-websocket-key: "))
            })
            .unwrap()
            .trim();
        let mut reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key)
        )
        .into_bytes();
        reply.extend_from_slice(&[0x81, 0x05]);
        reply.extend_from_slice(b"early");
        tcp.write_all(&reply).unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let (ws, _) = connect(&format!("ws://{addr}/")).unwrap();
    assert_eq!(next(&ws), Event::Text("early".into()));
    server.join().unwrap();
}

#[test]
fn handlers_may_send_from_the_receive_path_and_other_threads() {
    let server = echo_server(Config::default());
    let (ws, _) = connect(&url(&server)).unwrap();
    let sender = ws.sender();
    let other = thread::spawn(move || {
        for i in 0..100 {
            sender.send_text(&format!("t{i}")).unwrap();
        }
    });
    let mut seen = 0;
    while seen < 100 {
        if let Event::Text(_) = next(&ws) {
            seen += 1;
        }
    }
    other.join().unwrap();
}

#[test]
fn tls_round_trip() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_der = cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    let server_config =
        ws_runtime_std::tls::server_config(vec![cert_der.clone()], key_der).unwrap();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .tls(server_config)
        .serve(
            |_| Decision::accept(),
            |ws, _| {
                while let Some(event) = ws.recv() {
                    if let Event::Text(t) = event {
                        let _ = ws.send_text(&t);
                    }
                }
            },
        )
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client_tls = ws_runtime_std::tls::client_config_with_roots(roots);
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    let (ws, _) = ClientBuilder::new(&url)
        .unwrap()
        .tls_config(Arc::clone(&client_tls))
        .connect()
        .unwrap();
    for size in [5usize, 70_000, 3 << 20] {
        let text = "y".repeat(size);
        ws.send_text(&text).unwrap();
        assert_eq!(next(&ws), Event::Text(text.into()));
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(closed(&ws).clean);

    // Without the test root, the TLS step fails and says so.
    let err = connect(&url).err().unwrap();
    assert!(matches!(err, ConnectError::Tls(_)), "{err}");
}

#[test]
fn dropping_every_handle_closes_with_1001() {
    let (tx, rx) = mpsc::channel();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_| Decision::accept(),
            move |ws, _| {
                while let Some(e) = ws.recv() {
                    if let Event::Closed(o) = e {
                        let _ = tx.send(o.code());
                    }
                }
            },
        )
        .unwrap();
    let (ws, _) = connect(&url(&server)).unwrap();
    drop(ws);
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), CloseCode::GOING_AWAY);
}

#[test]
fn handshake_timeout_on_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = thread::spawn(move || {
        let conn = listener.accept();
        thread::sleep(Duration::from_secs(2));
        drop(conn);
    });
    let config = Config::default().with_handshake_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let err = ClientBuilder::new(&format!("ws://{addr}/"))
        .unwrap()
        .config(config)
        .connect()
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ConnectError::Handshake(ws_proto::HandshakeError::Timeout)
        ),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn invalid_requests_get_the_core_status() {
    let server = echo_server(Config::default());
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 426"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13")
    );
}

/// A raw TCP peer that answers the opening handshake, then runs `script` on the socket.
fn scripted_server(
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|l| {
                l.split_once(": ")
                    .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key"))
            })
            .unwrap()
            .1
            .trim()
            .to_owned();
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(&key)
        );
        tcp.write_all(reply.as_bytes()).unwrap();
        script(tcp);
    });
    (format!("ws://{addr}/"), handle)
}

#[test]
fn frames_trickling_in_one_byte_at_a_time() {
    let (url, server) = scripted_server(|mut tcp| {
        let mut frame = vec![0x81, 0x7e, 0x01, 0x00];
        frame.extend(std::iter::repeat_n(b'z', 256));
        for b in frame {
            tcp.write_all(&[b]).unwrap();
            tcp.flush().unwrap();
            thread::sleep(Duration::from_micros(200));
        }
        thread::sleep(Duration::from_millis(200));
    });
    let (ws, _) = connect(&url).unwrap();
    assert_eq!(next(&ws), Event::Text("z".repeat(256).into()));
    server.join().unwrap();
}

#[test]
fn eof_in_the_middle_of_a_frame_is_abnormal() {
    let (url, server) = scripted_server(|mut tcp| {
        // A 10-byte text frame, cut after 4 payload bytes, then FIN.
        tcp.write_all(&[0x81, 0x0a, b'h', b'a', b'l', b'f'])
            .unwrap();
        tcp.shutdown(std::net::Shutdown::Write).unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let (ws, _) = connect(&url).unwrap();
    let outcome = closed(&ws);
    assert_eq!(outcome.code(), CloseCode::ABNORMAL);
    assert!(!outcome.clean);
    server.join().unwrap();
}

#[test]
fn short_writes_to_a_slow_reader_lose_nothing() {
    // The peer reads in small bites with pauses, so the kernel buffers fill and our writes
    // come back short; every byte must still arrive in order.
    const LEN: usize = 4 << 20;
    let (url, server) = scripted_server(|mut tcp| {
        let mut got = Vec::with_capacity(LEN + 16);
        let mut buf = [0u8; 4096];
        while got.len() < LEN + 14 {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "EOF after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
            if got.len() < 1 << 20 {
                thread::sleep(Duration::from_micros(50));
            }
        }
        let header = ws_proto::testing::FrameHeader::parse(&got)
            .unwrap()
            .unwrap();
        let (h, len) = header;
        assert_eq!(h.payload_len as usize, LEN);
        let mut payload = got[len..len + LEN].to_vec();
        ws_proto::testing::apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert!(
            payload
                .iter()
                .enumerate()
                .all(|(i, b)| *b == (i % 251) as u8)
        );
    });
    let (ws, _) = connect(&url).unwrap();
    let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    ws.send_binary(&data).unwrap();
    server.join().unwrap();
}

/// Two threads in `recv` on one connection: one reads the socket, the other waits for it and
/// must be woken for the event it did not read itself; a `recv_timeout` that waits behind the
/// reader times out on time.
#[test]
fn two_receiving_threads_each_get_woken() {
    let server = echo_server(Config::default());
    let (ws, _) = connect(&url(&server)).unwrap();
    let ws = Arc::new(ws);
    let started = Instant::now();
    assert_eq!(
        ws.recv_timeout(Duration::from_millis(200)),
        Err(RecvTimeout)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let (tx, rx) = mpsc::channel();
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let (ws, tx) = (Arc::clone(&ws), tx.clone());
            thread::spawn(move || tx.send(ws.recv_timeout(WAIT)).unwrap())
        })
        .collect();
    // Both threads are in `recv` (one reading, one waiting) before anything arrives.
    thread::sleep(Duration::from_millis(100));
    let waiting = Arc::clone(&ws);
    let timed = thread::spawn(move || {
        let started = Instant::now();
        let result = waiting.recv_timeout(Duration::from_millis(300));
        (result, started.elapsed())
    });
    let (result, took) = timed.join().unwrap();
    assert_eq!(
        result,
        Err(RecvTimeout),
        "nothing arrived for the third receiver"
    );
    assert!(took < Duration::from_secs(5), "the timeout took {took:?}");
    ws.send_text("one").unwrap();
    ws.send_text("two").unwrap();
    let mut got: Vec<Event> = (0..2)
        .map(|_| rx.recv_timeout(WAIT).unwrap().unwrap().unwrap())
        .collect();
    got.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        got,
        vec![Event::Text("one".into()), Event::Text("two".into())]
    );
    for receiver in receivers {
        receiver.join().unwrap();
    }
}

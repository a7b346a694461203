//! The server's limit at the door, over TCP on 127.0.0.1: connections over `max_connections`
//! are answered with 503 (and `Retry-After`) before any upgrade, by the reactor and without a
//! thread, and a place frees when a connection ends. Every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws_runtime_std::{CloseCode, ConnectError, Event, Response, Server, WebSocket, connect};

fn echoes(ws: &WebSocket, text: &str) {
    ws.send_text(text).expect("send");
    assert_eq!(next(ws), Event::Text(text.into()));
}

/// Connects expecting a refusal; returns the server's response.
fn refused(url: &str) -> Response {
    match connect(url) {
        Err(ConnectError::Rejected(response)) => response,
        Ok(_) => panic!("a connection over the limit was upgraded"),
        Err(e) => panic!("expected a refusal, got {e}"),
    }
}

fn limited_echo_server(max: usize) -> ws_runtime_std::ServerHandle {
    echo_server(
        Server::bind("127.0.0.1:0")
            .expect("bind")
            .max_connections(max),
    )
}

#[test]
fn a_connection_over_the_limit_gets_503_and_a_closed_one_frees_its_place() {
    let _serial = serial();
    let server = limited_echo_server(2);
    let url = format!("ws://{}/", server.local_addr());
    let (first, _) = connect(&url).expect("first");
    let (second, _) = connect(&url).expect("second");
    echoes(&first, "one");
    echoes(&second, "two");

    let response = refused(&url);
    assert_eq!(response.status, 503);
    assert_eq!(response.headers.get("retry-after"), Some("1"));
    // The refusal did not disturb the open connections.
    echoes(&first, "still one");

    // Close one; its place frees once the server's handler has returned, which may trail the
    // client's `Closed` by a moment.
    first.close(CloseCode::NORMAL, "").expect("close");
    assert!(closed(&first).clean);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    let mut refusals = 0;
    let third = loop {
        match connect(&url) {
            Ok((ws, _)) => break ws,
            Err(ConnectError::Rejected(r)) if r.status == 503 && Instant::now() < deadline => {
                refusals += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the closed connection's place was not freed: {e}"),
        }
    };
    eprintln!(
        "a place freed {:?} after the client saw Closed ({refusals} refusals meanwhile)",
        start.elapsed()
    );
    echoes(&third, "three");
    echoes(&second, "still two");

    // Two are open again: the limit still holds.
    assert_eq!(refused(&url).status, 503);
}

#[test]
fn a_plain_request_over_the_limit_is_answered_503_by_the_reactor() {
    let _serial = serial();
    let server = limited_echo_server(1);
    let addr = server.local_addr();
    let (held, _) = connect(&format!("ws://{addr}/")).expect("first");
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    tcp.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    // The refusal ends with the server's FIN: read to the end (bounded by the timeout).
    tcp.read_to_string(&mut reply).expect("read the refusal");
    assert!(reply.starts_with("HTTP/1.1 503 "), "{reply}");
    assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
    echoes(&held, "held");
}

#[cfg(target_os = "linux")]
#[test]
fn refused_connections_cost_no_thread() {
    let _serial = serial();
    const REFUSED: usize = 20;
    let server = limited_echo_server(1);
    let addr = server.local_addr();
    let (held, _) = connect(&format!("ws://{addr}/")).expect("first");
    echoes(&held, "warm");
    let before = thread_count();
    // Peers that connect and then say nothing: each is answered and kept (for up to the
    // refusal linger) waiting for its close, which a thread per refusal would have to sit
    // through.
    let mut peers = Vec::new();
    for _ in 0..REFUSED {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).expect("the refusal");
        assert_eq!(&head, b"HTTP/1.1 503");
        peers.push(tcp);
    }
    let during = thread_count();
    eprintln!("threads: {before} before, {during} with {REFUSED} refused peers still connected");
    assert!(
        during <= before + 2,
        "{REFUSED} refused connections took {} threads",
        during.saturating_sub(before)
    );
    echoes(&held, "still held");
    drop(peers);
}

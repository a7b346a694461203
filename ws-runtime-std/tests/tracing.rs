//! What the server logs through `tracing` (cargo feature `tracing`): a small subscriber collects
//! every event with the fields of the span it belongs to, and each test looks for the events of
//! its own connections, told apart by their peer address (the tests of this file share the
//! process-wide subscriber and run in parallel).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{WAIT, raw_client};
use trace_collector::collector;
use tracing::Level;
use ws_runtime_std::{Decision, Server};

#[path = "../../ws-adapter/tests/support/trace_collector.rs"]
mod trace_collector;

#[test]
fn a_protocol_error_is_logged_with_its_close_code_in_the_connections_span() {
    let collector = collector();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(
            |_request| Decision::accept(),
            |ws, _request| while ws.recv().is_some() {},
        )
        .unwrap();
    let (mut tcp, _connection) = raw_client(server.local_addr(), None, None);
    let peer = tcp.local_addr().unwrap();
    // RFC 6455 §5.1: a server fails a connection whose client sends an unmasked frame (1002).
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    // The server's Close, then its FIN; closing our side lets the server finish.
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).unwrap();
    assert_eq!(&rest[..4], &[0x88, 0x17, 0x03, 0xea], "a Close with 1002");
    drop(tcp);

    let event = collector.wait_for("protocol error", |event| {
        event.of_peer(peer) && event.message().starts_with("protocol error")
    });
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("code"), Some("1002"));
    assert_eq!(event.field("reason"), Some("unmasked client frame"));
    assert_eq!(event.span_name(), Some("ws_conn"));
    assert_eq!(event.span_field("role"), Some("server"));
    assert!(event.span_field("id").is_some());

    // The same connection's opening was logged in the same span (same id).
    let opened = collector.wait_for("connection open", |e| {
        e.of_peer(peer) && e.message() == "connection open"
    });
    assert_eq!(opened.level, Level::DEBUG);
    assert_eq!(opened.span_field("id"), event.span_field("id"));
}

#[test]
fn a_refused_upgrade_is_logged_with_its_status() {
    let collector = collector();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(|_request| Decision::reject(403), |_ws, _request| {})
        .unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let peer = tcp.local_addr().unwrap();
    tcp.write_all(
        b"GET /chat?token=secret HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 403"));

    let event = collector.wait_for("refused upgrade", |event| {
        event.of_peer(peer) && event.message() == "upgrade refused"
    });
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("status"), Some("403"));
    // The path, never the query, which may carry credentials.
    assert_eq!(event.field("path"), Some("/chat"));
    assert!(!format!("{event:?}").contains("secret"));
    assert_eq!(event.span_field("role"), Some("server"));
}

#[test]
fn an_invalid_upgrade_request_is_logged_with_the_status_it_was_answered() {
    let collector = collector();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .serve(|_request| Decision::accept(), |_ws, _request| {})
        .unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let peer = tcp.local_addr().unwrap();
    // No Sec-WebSocket-Key (RFC 6455 §4.1): 400.
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 400"));

    let event = collector.wait_for("invalid upgrade", |event| {
        event.of_peer(peer) && event.message() == "invalid upgrade request"
    });
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("status"), Some("400"));
}

#[test]
fn reaching_the_connection_limit_is_a_warning_and_each_refusal_names_its_peer() {
    let collector = collector();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .max_connections(1)
        .serve(
            |_request| Decision::accept(),
            |ws, _request| while ws.recv().is_some() {},
        )
        .unwrap();
    let (_held, _connection) = raw_client(server.local_addr(), None, None);
    let mut refused = TcpStream::connect(server.local_addr()).unwrap();
    refused.set_read_timeout(Some(WAIT)).unwrap();
    let peer = refused.local_addr().unwrap();
    let mut response = Vec::new();
    refused.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 503"));

    let reached = collector.wait_for("limit reached", |event| {
        event.message().starts_with("connection limit reached") && event.field("max") == Some("1")
    });
    assert_eq!(reached.level, Level::WARN);
    let refusal = collector.wait_for("refusal", |event| {
        event.field("peer") == Some(peer.to_string().as_str())
    });
    assert_eq!(refusal.level, Level::DEBUG);
}

#[test]
fn a_close_timeout_is_logged_from_the_close_outcome() {
    let collector = collector();
    let config = ws_runtime_std::Config::default().with_close_timeout(Duration::from_millis(200));
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .config(config)
        .serve(
            |_request| Decision::accept(),
            |ws, _request| {
                ws.close(ws_runtime_std::CloseCode::NORMAL, "bye").unwrap();
                while ws.recv().is_some() {}
            },
        )
        .unwrap();
    // A peer that never answers the server's Close, nor closes its end.
    let (tcp, _connection) = raw_client(server.local_addr(), None, None);
    let peer = tcp.local_addr().unwrap();

    let event = collector.wait_for("close timeout", |event| {
        event.of_peer(peer) && event.message().starts_with("close timeout")
    });
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("initiator"), Some("local"));
    assert_eq!(event.field("sent"), Some("1000"));
    drop(tcp);
}

//! What a server logs through `tracing` (cargo feature `tracing`, on by default), on both
//! runtimes: the adapters' events in the connection's span (its peer address, its id), and
//! this crate's own (why a request was refused, a panicking callback with the connection's
//! `api_id`). A small subscriber collects every event with the fields of its span; each test
//! looks for the events of its own connections, told apart by their peer address, since the
//! tests of this file share the process-wide subscriber and run in parallel.

#![cfg(all(feature = "tracing", any(feature = "std", feature = "smol")))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Once;

use support::*;
use trace_collector::collector;
use tracing::Level;
use ws_api::*;

#[path = "../../ws-adapter/tests/support/trace_collector.rs"]
mod trace_collector;

on_both_runtimes!(
    a_protocol_error_is_logged_in_the_connections_span_with_both_ids,
    an_origin_refusal_is_logged_with_its_status_and_its_reason,
    a_panicking_callback_is_an_error_in_the_connections_span,
);

/// A web server on `runtime` with one WebSocket server, made by `options`, for `handler`.
fn serve(
    runtime: Runtime,
    handler: impl WebSocketServerHandler,
    options: ServerOptions,
) -> (WebServer, WebSocketServer) {
    let web = local_web_server(runtime);
    let server = WebSocketServer::new(handler, options.web_server(&web)).unwrap();
    (web, server)
}

/// Sends an upgrade request (with `extra` header lines) and reads the response head.
fn upgrade(addr: SocketAddr, extra: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (tcp, String::from_utf8(head).unwrap())
}

/// The id of the connection a [`TestServer`] logged as open.
fn opened_id(log: &Log) -> String {
    let lines = log.wait_prefix("conn ");
    let open = lines.iter().find(|l| l.contains(" open ")).unwrap();
    open.split(' ').nth(1).unwrap().to_owned()
}

fn a_protocol_error_is_logged_in_the_connections_span_with_both_ids(runtime: Runtime) {
    let collector = collector();
    let log = Log::new();
    let (web, _server) = serve(runtime, TestServer::new(&log), ServerOptions::new());
    let (mut tcp, head) = upgrade(web.local_addr(), "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let peer = tcp.local_addr().unwrap();
    let api_id = opened_id(&log);
    // RFC 6455 §5.1: a server fails a connection whose client sends an unmasked frame (1002).
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).unwrap();
    drop(tcp);

    let error = collector.wait_for("protocol error", |e| {
        e.of_peer(peer) && e.message().starts_with("protocol error")
    });
    assert_eq!(error.level, Level::INFO);
    assert_eq!(error.field("code"), Some("1002"));
    assert_eq!(error.span_field("role"), Some("server"));
    // ws-api's own event in the same span carries the id the application sees: both ids.
    let attached = collector.wait_for("handler attached", |e| {
        e.of_peer(peer) && e.message() == "handler attached"
    });
    assert_eq!(attached.field("api_id"), Some(api_id.as_str()));
    assert_eq!(attached.span_field("id"), error.span_field("id"));
}

fn an_origin_refusal_is_logged_with_its_status_and_its_reason(runtime: Runtime) {
    let collector = collector();
    let log = Log::new();
    let options = ServerOptions::new().allow_origin("https://good.example");
    let (web, _server) = serve(runtime, TestServer::new(&log), options);
    let (tcp, head) = upgrade(web.local_addr(), "Origin: https://evil.example\r\n");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let peer = tcp.local_addr().unwrap();

    let refused = collector.wait_for("refused upgrade", |e| {
        e.of_peer(peer) && e.message() == "upgrade refused"
    });
    assert_eq!(refused.level, Level::INFO);
    assert_eq!(refused.field("status"), Some("403"));
    let why = collector.wait_for("origin refusal", |e| {
        e.of_peer(peer) && e.message().starts_with("origin not allowed")
    });
    assert_eq!(why.level, Level::DEBUG);
    assert_eq!(why.field("origin"), Some("https://evil.example"));
    let asked = log.lines().iter().any(|l| l.starts_with("connection "));
    assert!(!asked, "on_connection never ran");
}

/// A server whose connections panic in `on_message`.
struct Panicking;

struct PanicOnMessage;

impl ConnectionHandler for PanicOnMessage {
    fn on_message(&self, conn: &WebSocketConnection, _: MessageEvent) {
        panic!("intentional panic in connection {}", conn.id());
    }
}

impl WebSocketServerHandler for Panicking {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(PanicOnMessage))
    }
}

fn a_panicking_callback_is_an_error_in_the_connections_span(runtime: Runtime) {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let intentional = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.starts_with("intentional panic"));
            if !intentional {
                default(info);
            }
        }));
    });
    let collector = collector();
    let (web, _server) = serve(runtime, Panicking, ServerOptions::new());
    let (mut tcp, head) = upgrade(web.local_addr(), "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let peer = tcp.local_addr().unwrap();
    // A masked text frame "hi" (mask 1, 2, 3, 4).
    tcp.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
        .unwrap();

    let panicked = collector.wait_for("panicking callback", |e| {
        e.of_peer(peer) && e.message().starts_with("callback panicked")
    });
    assert_eq!(panicked.level, Level::ERROR);
    assert_eq!(panicked.field("callback"), Some("on_message"));
    let api_id = panicked.field("api_id").expect("the connection's id");
    assert_eq!(
        panicked.field("panic"),
        Some(format!("intentional panic in connection {api_id}").as_str())
    );
}

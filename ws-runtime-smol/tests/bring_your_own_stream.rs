//! Bring your own stream: the servers of the `tokio_echo` and `hyper_upgrade` examples, run on
//! a tokio runtime of their own on 127.0.0.1, serve a `ws-runtime-smol` client. The first hands
//! tokio's `TcpStream` (through tokio-util's compat layer) to `ws_runtime_smol::accept`; the
//! second lets hyper answer the upgrade and runs the WebSocket on hyper's `Upgraded` with
//! `WebSocket::from_stream`. Every test has a timeout so none can hang.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/hyper_upgrade.rs"]
mod hyper_upgrade;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use common::run;
use ws_proto::CloseInitiator;
use ws_runtime_smol::{ClientBuilder, CloseCode, Config, ConnectionState, Event, WebSocket};

const LIMIT: Duration = Duration::from_secs(30);

/// A close timeout longer than any test: a close that only ends through the timeout (say, a
/// FIN that never comes through the compat layer) fails the test instead of passing slowly.
fn patient() -> Config {
    Config::default().with_close_timeout(Duration::from_secs(120))
}

/// A server future running on a current-thread tokio runtime on a thread of its own, with no
/// smol executor involved; dropping it stops the runtime (and with it every connection task).
struct TokioServer {
    addr: SocketAddr,
    stop: async_channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl TokioServer {
    fn start<F, Fut>(serve: F) -> TokioServer
    where
        F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("local address");
        listener.set_nonblocking(true).expect("non-blocking");
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                futures_lite::future::or(serve(listener), async move {
                    // Only ever closed, never sent on.
                    let _ = stopped.recv().await;
                })
                .await;
            });
        });
        TokioServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TokioServer {
    fn drop(&mut self) {
        self.stop.close();
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            if !std::thread::panicking() {
                joined.expect("server thread panicked");
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> WebSocket {
    let (ws, response) = ClientBuilder::new(&format!("ws://{addr}/echo"))
        .expect("url")
        .config(patient())
        .connect()
        .await
        .expect("connect");
    assert_eq!(response.status, 101);
    ws
}

/// Text, binary (small, empty and 1 MiB, so the compat layer sees partial reads and writes),
/// a burst of pipelined messages, then a closing handshake started by the client that must end
/// cleanly: the server's Close echoed and its FIN received through the adapted stream.
async fn echo_and_close(addr: SocketAddr) {
    let ws = connect(addr).await;

    ws.send_text("hello").await.expect("send text");
    assert_eq!(ws.recv().await, Some(Event::Text("hello".into())));
    ws.send_text("héllo wörld ✓").await.expect("send text");
    assert_eq!(ws.recv().await, Some(Event::Text("héllo wörld ✓".into())));
    ws.send_binary(&[0, 1, 2, 255]).await.expect("send binary");
    assert_eq!(
        ws.recv().await,
        Some(Event::Binary(vec![0u8, 1, 2, 255].into()))
    );
    ws.send_binary(&[]).await.expect("send empty binary");
    assert_eq!(
        ws.recv().await,
        Some(Event::Binary(Vec::<u8>::new().into()))
    );
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    ws.send_binary(&big).await.expect("send 1 MiB");
    match ws.recv().await {
        Some(Event::Binary(data)) => assert!(data == big, "the 1 MiB echo differs"),
        other => panic!("expected the 1 MiB echo, got {other:?}"),
    }
    for i in 0..50 {
        ws.send_text(&format!("m{i}")).await.expect("send");
    }
    for i in 0..50 {
        assert_eq!(ws.recv().await, Some(Event::Text(format!("m{i}").into())));
    }

    ws.close(CloseCode::NORMAL, "done").await.expect("close");
    // The echo of every message came back above, so the next event is the end.
    let outcome = match ws.recv().await {
        Some(Event::Closed(outcome)) => outcome,
        other => panic!("expected Closed, got {other:?}"),
    };
    assert_eq!(outcome.initiator, CloseInitiator::Local);
    assert_eq!(outcome.code(), CloseCode::NORMAL);
    assert!(outcome.clean, "unclean close: {outcome:?}");
    assert!(outcome.error.is_none(), "{outcome:?}");
    assert_eq!(ws.recv().await, None);
    assert_eq!(ws.state(), ConnectionState::Closed);
}

/// Writes `request` on a plain TCP connection and reads the whole answer, which must end with
/// the server closing the connection.
fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    tcp.write_all(request.as_bytes()).expect("write request");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).expect("the answer, then EOF");
    String::from_utf8(answer).expect("a UTF-8 answer")
}

#[test]
fn tokio_tcp_stream_through_compat_echoes_and_closes_cleanly() {
    let server = TokioServer::start(|listener| tokio_echo::serve(listener, patient()));
    run(LIMIT, echo_and_close(server.addr));
    // Two clients at once, each on its own task and driver on the server's one thread.
    run(LIMIT, async {
        futures_lite::future::zip(echo_and_close(server.addr), echo_and_close(server.addr)).await
    });
}

#[test]
fn tokio_tcp_stream_refusal_is_written_and_the_stream_closed() {
    let server = TokioServer::start(|listener| tokio_echo::serve(listener, patient()));
    // `accept` answers a request that is not an upgrade with the core's 426, then closes the
    // compat stream: the client reads the answer to its end.
    let answer = raw_exchange(server.addr, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 426 "),
        "unexpected answer: {answer:?}"
    );
    assert!(
        answer.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{answer:?}"
    );
}

#[test]
fn hyper_upgraded_connection_echoes_and_closes_cleanly() {
    let server = TokioServer::start(|listener| hyper_upgrade::serve(listener, patient()));
    run(LIMIT, echo_and_close(server.addr));
    run(LIMIT, async {
        futures_lite::future::zip(echo_and_close(server.addr), echo_and_close(server.addr)).await
    });
}

#[test]
fn hyper_serves_the_page_and_refuses_bad_upgrades_with_the_core_answers() {
    let server = TokioServer::start(|listener| hyper_upgrade::serve(listener, patient()));

    let page = raw_exchange(
        server.addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page:?}");
    assert!(page.ends_with(hyper_upgrade::PAGE), "{page:?}");

    // Version 8 is refused with 426 and the version this server speaks (RFC 6455 §4.4).
    let old = raw_exchange(
        server.addr,
        "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(old.starts_with("HTTP/1.1 426 "), "{old:?}");
    assert!(
        old.to_ascii_lowercase()
            .contains("\r\nsec-websocket-version: 13\r\n"),
        "{old:?}"
    );

    // A key that is not base64 of 16 bytes: 400.
    let bad_key = raw_exchange(
        server.addr,
        "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(bad_key.starts_with("HTTP/1.1 400 "), "{bad_key:?}");

    // Not GET: 405 with `Allow: GET`.
    let post = raw_exchange(
        server.addr,
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405 "), "{post:?}");
    assert!(
        post.to_ascii_lowercase().contains("\r\nallow: get\r\n"),
        "{post:?}"
    );
}

// Included once per runtime by ../both_runtimes.rs, with `RUNTIME` defined.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use ws_api::*;

fn web() -> WebServer {
    WebServer::start(WebServerOptions::new().addr("127.0.0.1:0").unwrap().runtime(RUNTIME)).unwrap()
}

fn server_on(web: &WebServer, handler: TestServer, options: ServerOptions) -> WebSocketServer {
    WebSocketServer::new(handler, options.web_server(web)).unwrap()
}

fn echo_server(log: &Arc<Log>) -> (WebServer, WebSocketServer) {
    let web = web();
    let server = server_on(&web, TestServer::new(log), ServerOptions::new());
    (web, server)
}

fn client(url: &str, handler: Recorder) -> WebSocket {
    let ws = WebSocket::with_runtime(url, handler, RUNTIME).unwrap();
    assert!(ws.wait_open(WAIT));
    ws
}

#[test]
fn client_status_transitions_and_callback_order() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, _server) = echo_server(&slog);
    let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&clog), RUNTIME).unwrap();
    assert!(matches!(ws.status(), Status::Connecting | Status::Connected));
    assert!(ws.wait_open(WAIT));
    assert_eq!(ws.status(), Status::Connected);
    assert_eq!(ws.status().as_str(), "Connected");
    ws.send("hello").unwrap();
    clog.wait_line("message text:hello");
    ws.terminate().unwrap();
    assert!(matches!(ws.status(), Status::Closing | Status::Closed));
    assert!(ws.wait_closed(WAIT));
    assert_eq!(ws.status(), Status::Closed);
    assert_eq!(
        clog.lines(),
        ["open Connected", "message text:hello", "terminate 1000  Closed"],
        "on_open once, then messages, then on_terminate once"
    );
    assert!(matches!(ws.send("late"), Err(Error::Closed)));
    assert_eq!(ws.url(), web.ws_url("/"));
    assert_eq!(ws.data_type(), DataType::Text);
    assert!(ws.handler_as::<Recorder>().is_some());
}

#[test]
fn ids_are_unique_and_increasing() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, server) = echo_server(&slog);
    let a = client(&web.ws_url("/"), Recorder::new(&clog));
    let b = client(&web.ws_url("/"), Recorder::new(&clog));
    assert!(b.id() > a.id());
    slog.wait_for("two opens", |l| with_prefix(l, "conn ").iter().filter(|x| x.contains(" open ")).count() == 2);
    let ids: Vec<u64> = server.connections().iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "connections are listed oldest first");
}

#[test]
fn connections_are_added_on_open_and_removed_on_terminate() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, server) = echo_server(&slog);
    let ws = client(&web.ws_url("/"), Recorder::new(&clog));
    let lines = slog.wait_prefix("conn ");
    assert!(lines.iter().any(|l| l.ends_with("open Connected listed=true")), "{lines:?}");
    assert_eq!(server.connections().len(), 1);
    let conn = server.connections()[0].clone();
    assert_eq!(conn.status(), Status::Connected);
    assert!(conn.wss().path().is_none());
    ws.terminate_with(4000, "bye").unwrap();
    let lines = slog.wait_for("terminate", |l| l.iter().any(|x| x.contains(" terminate ")));
    let line = lines.iter().find(|x| x.contains(" terminate ")).unwrap();
    assert!(line.ends_with("terminate 4000 Closed listed=false"), "{line}");
    assert_eq!(conn.status(), Status::Closed);
    assert!(server.connections().is_empty());
}

#[test]
fn data_type_text_keeps_binary_as_blob() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, _server) = echo_server(&slog);
    let ws = client(&web.ws_url("/"), Recorder::new(&clog));
    ws.send("t").unwrap();
    ws.send(vec![b'b']).unwrap();
    ws.send(serde_json::json!({"k": [1, 2]})).unwrap();
    ws.send_object(&vec!["x"]).unwrap();
    let lines = clog.wait_for("4 messages", |l| with_prefix(l, "message").len() == 4);
    assert_eq!(
        with_prefix(&lines, "message"),
        ["message text:t", "message blob:b", "message text:{\"k\":[1,2]}", "message text:[\"x\"]"]
    );
    let server_side = with_prefix(&slog.lines(), "conn ");
    assert!(server_side.iter().any(|l| l.ends_with("message blob:b")), "{server_side:?}");
}

#[test]
fn data_type_blob_and_object() {
    let (slog, clog) = (Log::new(), Log::new());
    let web = web();
    let _server = server_on(&web, TestServer::new(&slog), ServerOptions::new().data_type(DataType::Object));
    let mut handler = Recorder::new(&clog);
    handler.data_type = DataType::Blob;
    let ws = client(&web.ws_url("/"), handler);
    assert_eq!(ws.data_type(), DataType::Blob);
    ws.send("{\"a\":1}").unwrap();
    clog.wait_line("message blob:{\"a\":1}");
    slog.wait_for("object", |l| l.iter().any(|x| x.ends_with("message object:{\"a\":1}")));
}

#[test]
fn invalid_json_for_object_is_an_error_then_a_1007_close() {
    let (slog, clog) = (Log::new(), Log::new());
    let web = web();
    let _server = server_on(&web, TestServer::new(&slog), ServerOptions::new().data_type(DataType::Object));
    let ws = client(&web.ws_url("/"), Recorder::new(&clog));
    ws.send("not json").unwrap();
    // Races with the server's 1007 Close: if it still goes out, it must not be delivered.
    let _ = ws.send("{\"after\":true}");
    let lines = slog.wait_for("server terminate", |l| l.iter().any(|x| x.contains(" terminate ")));
    let conn: Vec<_> = with_prefix(&lines, "conn ");
    assert!(conn[1].ends_with("error 1007"), "{conn:?}");
    assert!(conn[2].contains("terminate 1007"), "{conn:?}");
    assert_eq!(conn.len(), 3, "nothing delivered after on_error: {conn:?}");
    let lines = clog.wait_prefix("terminate");
    assert!(lines.iter().any(|l| l.starts_with("terminate 1007 message is not JSON")), "{lines:?}");
}

#[test]
fn terminate_code_validation() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, server) = echo_server(&slog);
    let ws = client(&web.ws_url("/"), Recorder::new(&clog));
    for bad in [0u16, 999, 1001, 1002, 1005, 1006, 2999, 5000] {
        assert!(matches!(ws.terminate_with(bad, "x"), Err(Error::InvalidCloseCode(c)) if c == bad));
    }
    assert!(matches!(ws.terminate_with(3000, &"r".repeat(124)), Err(Error::ReasonTooLong)));
    slog.wait_prefix("conn ");
    let conn = server.connections()[0].clone();
    assert!(matches!(conn.terminate_with(2000, ""), Err(Error::InvalidCloseCode(2000))));
    assert_eq!(ws.status(), Status::Connected, "an invalid terminate sends nothing");
    assert_eq!(conn.status(), Status::Connected);
    conn.terminate_with(4999, "server says bye").unwrap();
    clog.wait_line("terminate 4999 server says bye Closed");
}

#[test]
fn headers_cookies_and_request_fields_reach_on_connection() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, _server) = echo_server(&slog);
    let mut handler = Recorder::new(&clog);
    handler.headers = vec![
        ("X-Token".into(), "one".into()),
        ("X-Token".into(), "two".into()),
        ("Cookie".into(), "yummy_cookie=choco; tasty_cookie=strawberry".into()),
    ];
    let _ws = client(&web.ws_url("/room?room=blue%20one&x=1"), handler);
    let lines = slog.wait_prefix("connection");
    assert_eq!(
        lines.iter().find(|l| l.starts_with("connection")).unwrap(),
        "connection url=/room?room=blue%20one&x=1 path=/room room=Some(\"blue one\") remote=127.0.0.1 \
         token=[\"one\", \"two\"] cookie=Some(\"yummy_cookie=choco; tasty_cookie=strawberry\")"
    );
}

#[test]
fn path_routing_and_plain_http_answers() {
    let (alog, blog, clog) = (Log::new(), Log::new(), Log::new());
    let dir = std::env::temp_dir().join(format!("ws-api-static-{}-{:?}", std::process::id(), RUNTIME));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>static</h1>").unwrap();
    let web = WebServer::start(
        WebServerOptions::new()
            .addr("127.0.0.1:0")
            .unwrap()
            .runtime(RUNTIME)
            .static_dir(&dir)
            .http_handler(|r: &RequestInfo| {
                (r.path == "/page").then(|| Response::new(200).with_body("a page"))
            }),
    )
    .unwrap();
    let mut upper = TestServer::new(&blog);
    upper.behaviour = Behaviour::Uppercase;
    let a = server_on(&web, TestServer::new(&alog), ServerOptions::new().path("/a"));
    let b = server_on(&web, upper, ServerOptions::new().path("/b"));
    assert_eq!((a.path(), b.path()), (Some("/a"), Some("/b")));

    let ws = client(&web.ws_url("/b"), Recorder::new(&clog));
    ws.send("route").unwrap();
    clog.wait_line("message text:ROUTE");
    assert!(alog.lines().iter().all(|l| !l.starts_with("connection")));

    let addr = web.local_addr();
    let get = |path: &str| http(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(get("/page").starts_with("HTTP/1.1 200"), "{}", get("/page"));
    assert!(get("/page").ends_with("a page"));
    assert!(get("/").ends_with("<h1>static</h1>"));
    assert!(get("/nothing-here").starts_with("HTTP/1.1 404"));
    let plain_to_ws = get("/a");
    assert!(plain_to_ws.starts_with("HTTP/1.1 426"), "{plain_to_ws}");
    assert!(plain_to_ws.to_ascii_lowercase().contains("upgrade: websocket"));
    let upgrade_elsewhere = http(
        addr,
        "GET /c HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert!(upgrade_elsewhere.starts_with("HTTP/1.1 404"), "{upgrade_elsewhere}");
    let post = http(addr, "POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");

    // A server with no path takes every other upgrade.
    let (dlog, clog2) = (Log::new(), Log::new());
    let _d = server_on(&web, TestServer::new(&dlog), ServerOptions::new());
    let _ws = client(&web.ws_url("/anything"), Recorder::new(&clog2));
    dlog.wait_prefix("connection url=/anything");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refusals_answer_403_or_the_chosen_status_before_any_upgrade() {
    for (refuse, status) in [(403u16, "403"), (401, "401")] {
        let (slog, clog) = (Log::new(), Log::new());
        let web = web();
        let mut handler = TestServer::new(&slog);
        handler.refuse = Some(refuse);
        let server = server_on(&web, handler, ServerOptions::new());
        let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&clog), RUNTIME).unwrap();
        assert!(ws.wait_closed(WAIT));
        let lines = clog.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("error 4 ws-http") && lines[0].contains(status), "{lines:?}");
        assert_eq!(lines[1], "terminate 1006  Closed");
        assert!(server.connections().is_empty());
    }
}

#[test]
fn connect_failures_reach_the_handler_without_on_open() {
    let clog = Log::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ws = WebSocket::with_runtime(&format!("ws://127.0.0.1:{port}/"), Recorder::new(&clog), RUNTIME)
        .unwrap();
    assert!(ws.wait_closed(WAIT));
    let lines = clog.lines();
    assert!(lines[0].starts_with("error 2 ws-net"), "{lines:?}");
    // The message says where the connect went, like Node's ws and Python's websockets.
    assert!(lines[0].contains(&format!("TCP connect to 127.0.0.1:{port} failed: ")), "{lines:?}");
    assert_eq!(lines[1], "terminate 1006  Closed");
    assert!(matches!(ws.send("x"), Err(Error::Closed)));

    let dns = Log::new();
    let ws = WebSocket::with_runtime("ws://no-such-host.invalid/", Recorder::new(&dns), RUNTIME).unwrap();
    assert!(ws.wait_closed(WAIT));
    assert!(dns.lines()[0].starts_with("error 1 ws-net"), "{:?}", dns.lines());

    assert!(matches!(WebSocket::with_runtime("http://x/", Recorder::new(&dns), RUNTIME), Err(Error::InvalidUrl(_))));
}

#[test]
fn a_vanished_peer_is_an_abnormal_1006() {
    let slog = Log::new();
    let (web, _server) = echo_server(&slog);
    let mut tcp = std::net::TcpStream::connect(web.local_addr()).unwrap();
    use std::io::Write;
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    slog.wait_for("open", |l| l.iter().any(|x| x.contains(" open ")));
    drop(tcp);
    let lines = slog.wait_for("terminate", |l| l.iter().any(|x| x.contains(" terminate ")));
    assert!(lines.iter().any(|l| l.contains("terminate 1006 Closed")), "{lines:?}");
}

#[test]
fn a_protocol_error_is_on_error_then_on_terminate() {
    let slog = Log::new();
    let (web, _server) = echo_server(&slog);
    let mut tcp = std::net::TcpStream::connect(web.local_addr()).unwrap();
    use std::io::Write;
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    // An unmasked frame from a client: 1002.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    let lines = slog.wait_for("terminate", |l| l.iter().any(|x| x.contains(" terminate ")));
    let conn = with_prefix(&lines, "conn ");
    assert!(conn[1].ends_with("error 1002"), "{conn:?}");
    assert!(conn[2].contains(" terminate "), "{conn:?}");
}

#[test]
fn server_terminate_graceful_closes_every_peer_with_1001() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, server) = echo_server(&slog);
    let a = client(&web.ws_url("/"), Recorder::new(&clog));
    let b = client(&web.ws_url("/"), Recorder::new(&clog));
    slog.wait_for("2 opens", |l| l.iter().filter(|x| x.contains(" open ")).count() == 2);
    server.terminate(None);
    assert!(server.terminated());
    assert!(server.wait_terminated(WAIT));
    assert!(a.wait_closed(WAIT) && b.wait_closed(WAIT));
    let clines = clog.lines();
    assert_eq!(with_prefix(&clines, "terminate 1001").len(), 2, "{clines:?}");
    let lines = slog.lines();
    assert_eq!(lines.last().unwrap(), "server terminate connections=0", "{lines:?}");
    assert_eq!(with_prefix(&lines, "conn ").iter().filter(|l| l.contains(" terminate ")).count(), 2);
    // No new connections after terminate.
    let late = Log::new();
    let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&late), RUNTIME).unwrap();
    assert!(ws.wait_closed(WAIT));
    assert!(late.lines()[0].starts_with("error"), "{:?}", late.lines());
}

#[test]
fn server_terminate_zero_destroys_sockets_without_close_frames() {
    let (slog, clog) = (Log::new(), Log::new());
    let (web, server) = echo_server(&slog);
    let ws = client(&web.ws_url("/"), Recorder::new(&clog));
    slog.wait_for("open", |l| l.iter().any(|x| x.contains(" open ")));
    server.terminate(Some(Duration::ZERO));
    assert!(server.wait_terminated(WAIT));
    assert!(ws.wait_closed(WAIT));
    let lines = clog.lines();
    assert_eq!(lines.last().unwrap(), "terminate 1006  Closed", "no Close frame reached the client: {lines:?}");
}

#[test]
fn server_terminate_with_timeout_forces_silent_peers_closed() {
    let slog = Log::new();
    let (web, server) = echo_server(&slog);
    // A raw client that completes the handshake and then never answers anything.
    let mut tcp = std::net::TcpStream::connect(web.local_addr()).unwrap();
    use std::io::Write;
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    slog.wait_for("open", |l| l.iter().any(|x| x.contains(" open ")));
    let start = std::time::Instant::now();
    server.terminate(Some(Duration::from_millis(300)));
    assert!(server.wait_terminated(WAIT));
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "forced before the 5 s close timeout: {elapsed:?}");
    drop(tcp);
}

#[test]
fn callbacks_may_send_to_any_connection_and_broadcast() {
    let web = web();
    let server = WebSocketServer::new(Broadcaster, ServerOptions::new().web_server(&web)).unwrap();
    let logs: Vec<Arc<Log>> = (0..5).map(|_| Log::new()).collect();
    let clients: Vec<WebSocket> = logs.iter().map(|l| client(&web.ws_url("/"), Recorder::new(l))).collect();
    let deadline = std::time::Instant::now() + WAIT;
    while server.connections().len() < 5 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    clients[0].send("hi all").unwrap();
    for (i, l) in logs.iter().enumerate() {
        if i > 0 {
            l.wait_line("message text:hi all");
        }
    }
    assert!(!logs[0].lines().iter().any(|l| l == "message text:hi all"), "the sender is skipped");
}

#[test]
fn a_prepared_message_goes_to_the_connections_chosen() {
    let (slog, room_a, room_b) = (Log::new(), Log::new(), Log::new());
    let web = web();
    let mut quiet = TestServer::new(&slog);
    quiet.behaviour = Behaviour::Silent;
    let server = server_on(&web, quiet, ServerOptions::new());
    let _a1 = client(&web.ws_url("/?room=a"), Recorder::new(&room_a));
    let _a2 = client(&web.ws_url("/?room=a"), Recorder::new(&room_a));
    let b = client(&web.ws_url("/?room=b"), Recorder::new(&room_b));
    slog.wait_for("3 opens", |l| l.iter().filter(|x| x.contains(" open ")).count() == 3);
    let connections = server.connections();
    let in_room = |room: &str| -> Vec<WebSocketConnection> {
        connections.iter().filter(|c| c.request().query_value("room") == Some(room)).cloned().collect()
    };

    // Encoded once, sent to room a only; a blob and an object (as JSON text) too.
    let big = "x".repeat(64 << 10);
    let messages = [Data::from(big.as_str()), Data::from(vec![1u8, 2, 3]), Data::from(serde_json::json!({"k": 1}))];
    for data in messages {
        let message = data.prepare();
        for conn in in_room("a") {
            conn.send_prepared(&message).unwrap();
        }
    }
    let expected = [
        format!("message text:{big}"),
        "message blob:\u{1}\u{2}\u{3}".to_owned(),
        "message text:{\"k\":1}".to_owned(),
    ];
    room_a.wait_for("3 messages on each of 2 clients", |l| with_prefix(l, "message").len() == 6);
    for line in &expected {
        assert_eq!(room_a.lines().iter().filter(|l| *l == line).count(), 2, "{line:.80}");
    }
    // Room b got none of them: the first message it receives is one sent after them.
    for conn in in_room("b") {
        conn.send("only for b").unwrap();
    }
    room_b.wait_line("message text:only for b");
    assert_eq!(with_prefix(&room_b.lines(), "message"), ["message text:only for b"]);

    // A closed connection refuses it like any send.
    b.terminate().unwrap();
    assert!(b.wait_closed(WAIT));
    slog.wait_for("b's terminate", |l| l.iter().any(|x| x.contains(" terminate ")));
    let gone = connections.iter().find(|c| c.request().query_value("room") == Some("b")).unwrap();
    assert!(matches!(gone.send_prepared(&Data::from("late").prepare()), Err(Error::Closed)));
}

/// Broadcasts every message to every other connection from inside `on_message`.
struct Broadcaster;

impl WebSocketServerHandler for Broadcaster {
    fn on_connection(&self, _: &WebSocketServer, _: &ConnectionEvent) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(BroadcastConn))
    }
}

struct BroadcastConn;

impl ConnectionHandler for BroadcastConn {
    fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
        // Sending to every connection, this one's peers included, from inside a callback.
        for other in conn.wss().connections() {
            if other.id() != conn.id() {
                other.send(event.data.clone()).unwrap();
            }
        }
    }
}

#[test]
fn a_thousand_connections_receive_a_broadcast_sent_from_a_callback() {
    const N: usize = 1000;
    let web = web();
    let server = WebSocketServer::new(Broadcaster, ServerOptions::new().web_server(&web)).unwrap();
    // Raw async clients keep the client side light: one thread for all of them.
    let url = web.ws_url("/");
    let received = smol::block_on(async {
        let mut sockets = Vec::with_capacity(N);
        for _ in 0..N {
            let (ws, _) = ws_runtime_smol::connect(&url).await.unwrap();
            sockets.push(ws);
        }
        let deadline = std::time::Instant::now() + WAIT;
        while server.connections().len() < N {
            assert!(std::time::Instant::now() < deadline, "{} connected", server.connections().len());
            async_io::Timer::after(Duration::from_millis(10)).await;
        }
        sockets[0].send_text("to everyone").await.unwrap();
        let mut received = 0;
        for ws in &sockets[1..] {
            let got = futures_lite::future::or(
                async { ws.recv().await },
                async {
                    async_io::Timer::after(WAIT).await;
                    None
                },
            )
            .await;
            if matches!(got, Some(ws_proto::Event::Text(t)) if t == "to everyone") {
                received += 1;
            }
        }
        received
    });
    assert_eq!(received, N - 1);
    server.terminate(Some(Duration::ZERO));
    assert!(server.wait_terminated(WAIT));
}

#[test]
fn wss_through_a_tls_web_server() {
    let (server_tls, client_tls) = self_signed_tls();

    let (slog, clog) = (Log::new(), Log::new());
    let web = WebServer::start(
        WebServerOptions::new()
            .addr("127.0.0.1:0")
            .unwrap()
            .runtime(RUNTIME)
            .tls(Arc::new(server_tls)),
    )
    .unwrap();
    let _server = server_on(&web, TestServer::new(&slog), ServerOptions::new().path("/secure"));
    assert!(web.ws_url("/secure").starts_with("wss://"));
    let url = format!("wss://localhost:{}/secure", web.local_addr().port());
    let options = ClientOptions::new().runtime(RUNTIME).tls(Arc::new(client_tls));
    let ws = WebSocket::with_options(&url, Recorder::new(&clog), options).unwrap();
    assert!(ws.wait_open(WAIT));
    ws.send("over tls").unwrap();
    clog.wait_line("message text:over tls");
    ws.terminate().unwrap();
    assert!(ws.wait_closed(WAIT));
    assert_eq!(clog.lines().last().unwrap(), "terminate 1000  Closed");
}

/// Sends a raw upgrade request with `origin` (if any) and returns the status line.
fn raw_upgrade_status(web: &WebServer, path: &str, origin: Option<&str>) -> String {
    use std::io::{Read, Write};
    let addr = web.local_addr();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    tcp.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && tcp.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).trim_end().to_owned()
}

#[test]
fn origin_rules_refuse_other_sites_with_403_before_on_connection() {
    let log = Log::new();
    let web = web();
    let addr = web.local_addr();
    let _same = server_on(
        &web,
        TestServer::new(&log),
        ServerOptions::new().path("/same").allow_same_origin(),
    );
    let _listed = server_on(
        &web,
        TestServer::new(&log),
        ServerOptions::new().path("/listed").allow_origin("https://app.example"),
    );
    let _open = server_on(&web, TestServer::new(&log), ServerOptions::new().path("/open"));
    let refused = [
        ("/same", Some("http://evil.example".to_owned())),
        ("/same", Some(format!("http://{}:{}", addr.ip(), addr.port() + 1))),
        ("/same", Some("null".to_owned())),
        ("/listed", Some("https://evil.example".to_owned())),
        ("/listed", Some("http://app.example".to_owned())),
    ];
    for (path, origin) in &refused {
        let status = raw_upgrade_status(&web, path, origin.as_deref());
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{path} {origin:?}");
    }
    // Nothing refused reached the application (the servers' own start is all it saw).
    assert!(
        !log.lines().iter().any(|line| line.starts_with("connection")),
        "{:?}",
        log.lines()
    );
    let accepted = [
        ("/same", Some(format!("http://{addr}"))),
        ("/same", None),
        ("/listed", Some("https://app.example".to_owned())),
        ("/listed", Some("HTTPS://APP.EXAMPLE:443".to_owned())),
        ("/open", Some("http://evil.example".to_owned())),
    ];
    for (path, origin) in &accepted {
        let status = raw_upgrade_status(&web, path, origin.as_deref());
        assert_eq!(status, "HTTP/1.1 101 Switching Protocols", "{path} {origin:?}");
    }
}

#[test]
fn a_callback_that_blocks_stalls_neither_other_connections_nor_its_own_io() {
    struct Blocking;
    impl WebSocketServerHandler for Blocking {
        fn on_connection(
            &self,
            _: &WebSocketServer,
            _: &ConnectionEvent,
        ) -> Option<Box<dyn ConnectionHandler>> {
            Some(Box::new(BlockingEcho))
        }
    }
    struct BlockingEcho;
    impl ConnectionHandler for BlockingEcho {
        fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
            if matches!(&event.data, Data::Text(text) if text == "block") {
                // 4D code blocks freely: a slow query, a file, a lock.
                std::thread::sleep(Duration::from_secs(3));
            }
            let _ = conn.send(event.data);
        }
    }
    let web = web();
    let _server = WebSocketServer::new(Blocking, ServerOptions::new().web_server(&web)).unwrap();
    let (blocked_log, other_log) = (Log::new(), Log::new());
    let blocked = client(&web.ws_url("/"), Recorder::new(&blocked_log));
    let other = client(&web.ws_url("/"), Recorder::new(&other_log));
    blocked.send("block").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = std::time::Instant::now();
    for i in 0..5 {
        other.send(format!("ping {i}")).unwrap();
        other_log.wait_line(&format!("message text:ping {i}"));
    }
    let elapsed = start.elapsed();
    eprintln!("{RUNTIME:?}: 5 echoes on another connection in {elapsed:?} while a callback blocks");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    // The blocked connection still gets its answer once the callback returns.
    blocked_log.wait_line("message text:block");
}

#[test]
fn a_panicking_http_handler_costs_its_request_a_500_and_nothing_else() {
    use std::io::{Read, Write};
    let web = WebServer::start(
        WebServerOptions::new()
            .addr("127.0.0.1:0")
            .unwrap()
            .runtime(RUNTIME)
            .http_handler(|request: &RequestInfo| {
                assert!(request.path != "/boom", "the handler fails on /boom");
                Some(Response::new(200).with_body("fine\n"))
            }),
    )
    .unwrap();
    let get = |path: &str| {
        let mut tcp = std::net::TcpStream::connect(web.local_addr()).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        write!(tcp, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_owned()
    };
    assert_eq!(get("/boom"), "HTTP/1.1 500 Internal Server Error");
    assert_eq!(get("/ok"), "HTTP/1.1 200 OK");
    assert_eq!(get("/boom"), "HTTP/1.1 500 Internal Server Error");
    assert_eq!(get("/ok"), "HTTP/1.1 200 OK");
}

#[test]
fn an_on_connection_that_blocks_does_not_stall_other_connections() {
    struct SlowDoor;
    impl WebSocketServerHandler for SlowDoor {
        fn on_connection(
            &self,
            _: &WebSocketServer,
            _: &ConnectionEvent,
        ) -> Option<Box<dyn ConnectionHandler>> {
            // An authorisation check against a slow database.
            std::thread::sleep(Duration::from_secs(3));
            Some(Box::new(Echo))
        }
    }
    struct Echo;
    impl ConnectionHandler for Echo {
        fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
            let _ = conn.send(event.data);
        }
    }
    let log = Log::new();
    let web = web();
    let _slow = WebSocketServer::new(SlowDoor, ServerOptions::new().path("/slow").web_server(&web))
        .unwrap();
    let _echo = server_on(&web, TestServer::new(&log), ServerOptions::new().path("/echo"));
    let slow_log = Log::new();
    let _slow_client =
        WebSocket::with_runtime(&web.ws_url("/slow"), Recorder::new(&slow_log), RUNTIME).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = std::time::Instant::now();
    let other_log = Log::new();
    let other = client(&web.ws_url("/echo"), Recorder::new(&other_log));
    other.send("hello").unwrap();
    other_log.wait_line("message text:hello");
    let elapsed = start.elapsed();
    eprintln!("{RUNTIME:?}: another connection opened and echoed in {elapsed:?} while on_connection blocks");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    slow_log.wait_prefix("open");
}

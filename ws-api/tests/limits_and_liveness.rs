//! ws-api's connection limit and default keepalive, with real sockets on loopback: a web server
//! over its limit answers 503 before any `on_connection`, and a peer that completes the
//! handshake and then stays silent is closed by keepalive, on either side. Every scenario
//! touching a runtime is a `fn(Runtime)` run once per runtime by `on_both_runtimes!`, as
//! `std_runtime::<name>` and `smol_runtime::<name>`.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::*;
use ws_api::*;
use ws_proto::SeededKeySource;
use ws_proto::handshake::{Accept, ClientHandshake, ClientRequest, ServerHandshake, WsUrl};

on_both_runtimes!(
    a_client_that_never_answers_pings_is_closed_by_the_server,
    a_server_that_never_answers_pings_is_closed_by_the_client,
    a_web_server_over_its_connection_limit_answers_503_before_on_connection,
);

fn web(runtime: Runtime, options: WebServerOptions) -> WebServer {
    WebServer::start(options.addr("127.0.0.1:0").unwrap().runtime(runtime)).unwrap()
}

/// A raw client that completes the opening handshake with the server at `addr`, then never reads,
/// writes or answers anything while the returned socket lives.
fn silent_client(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let url = WsUrl::parse(&format!("ws://{addr}/")).unwrap();
    let now = Instant::now();
    let mut handshake = ClientHandshake::new(
        ClientRequest::new(url),
        Config::default(),
        Box::new(SeededKeySource::new(3)),
        now,
    )
    .unwrap();
    tcp.write_all(handshake.output()).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed during the handshake");
        if handshake.receive(now, &buf[..n]).unwrap().is_some() {
            return tcp;
        }
    }
}

/// A raw server for one connection: completes the opening handshake, then never reads, writes
/// or answers anything until `release` is dropped or sent on.
fn silent_server() -> (SocketAddr, std::sync::mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let now = Instant::now();
        let mut handshake = ServerHandshake::new(&Config::default(), now);
        let mut buf = [0u8; 1024];
        loop {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed during the handshake");
            if handshake.receive(now, &buf[..n]).unwrap().is_some() {
                break;
            }
        }
        let connection = handshake.accept(now, &Accept::new()).unwrap();
        tcp.write_all(connection.output()).unwrap();
        let _ = released.recv_timeout(WAIT);
        drop(tcp);
    });
    (addr, release)
}

/// Short keepalive timings, so a silent peer is noticed within a second or so: a Ping after
/// 300 ms of silence, failure 300 ms later, and a short wait for the closing handshake the
/// peer will not answer.
fn quick_config() -> Config {
    default_config().with_close_timeout(Duration::from_millis(300))
}

/// Options only, before any runtime is involved: one test for both.
#[test]
fn ws_api_options_turn_keepalive_on_by_default_at_20_s_and_20_s() {
    let twenty = Duration::from_secs(20);
    for config in [
        ServerOptions::new().config,
        ServerOptions::default().config,
        ClientOptions::new().config,
        ClientOptions::default().config,
        default_config(),
    ] {
        assert_eq!(config.ping_interval, Some(twenty));
        assert_eq!(config.pong_timeout, twenty);
    }
    assert_eq!(
        (DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT),
        (twenty, twenty)
    );
    // The rest of the limits are the core's defaults, and the core itself keeps keepalive off.
    assert_eq!(
        default_config().with_ping_interval(None),
        Config::default().with_pong_timeout(twenty)
    );
    assert_eq!(Config::default().ping_interval, None);
    // Configurable and disableable.
    let options = ServerOptions::new()
        .ping_interval(None)
        .pong_timeout(Duration::from_secs(5));
    assert_eq!(options.config.ping_interval, None);
    assert_eq!(options.config.pong_timeout, Duration::from_secs(5));
    let options = ClientOptions::new().ping_interval(Some(Duration::from_secs(1)));
    assert_eq!(options.config.ping_interval, Some(Duration::from_secs(1)));
    assert_eq!(
        WebServerOptions::new().max_connections,
        DEFAULT_MAX_CONNECTIONS
    );
}

fn a_client_that_never_answers_pings_is_closed_by_the_server(runtime: Runtime) {
    let slog = Log::new();
    let web = web(runtime, WebServerOptions::new());
    let _server = WebSocketServer::new(
        TestServer::new(&slog),
        ServerOptions::new()
            .web_server(&web)
            .config(quick_config())
            .ping_interval(Some(Duration::from_millis(300)))
            .pong_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let start = Instant::now();
    let _peer = silent_client(web.local_addr());
    let lines = slog.wait_for("the silent client's end", |l| {
        l.iter().any(|x| x.contains(" terminate "))
    });
    let took = start.elapsed();
    eprintln!("{runtime:?}: the silent client was closed by the server after {took:?}");
    let conn = with_prefix(&lines, "conn ");
    assert!(conn[0].contains(" open Connected"), "{conn:?}");
    assert!(
        conn[1].ends_with(" error 1011"),
        "keepalive failure reported: {conn:?}"
    );
    assert!(conn[2].contains(" terminate "), "{conn:?}");
    assert!(
        took >= Duration::from_millis(550),
        "closed after {took:?}, before the interval and the timeout had passed"
    );
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
}

fn a_server_that_never_answers_pings_is_closed_by_the_client(runtime: Runtime) {
    let clog = Log::new();
    let (addr, _release) = silent_server();
    let start = Instant::now();
    let ws = WebSocket::with_options(
        &format!("ws://{addr}/"),
        Recorder::new(&clog),
        ClientOptions::new()
            .runtime(runtime)
            .config(quick_config())
            .ping_interval(Some(Duration::from_millis(300)))
            .pong_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    assert!(
        ws.wait_closed(WAIT),
        "the silent server was never given up on"
    );
    let took = start.elapsed();
    eprintln!("{runtime:?}: the silent server was given up on by the client after {took:?}");
    let lines = clog.lines();
    assert_eq!(lines[0], "open Connected");
    assert!(lines[1].starts_with("error 1011 ws-proto"), "{lines:?}");
    assert!(lines[2].starts_with("terminate "), "{lines:?}");
    assert!(took >= Duration::from_millis(550), "closed after {took:?}");
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
}

/// Opens a client on `url` and waits for the outcome: `Ok` once open, `Err` with its log when
/// it ended without opening.
fn try_client(runtime: Runtime, url: &str) -> Result<WebSocket, Vec<String>> {
    let log = Log::new();
    let ws = WebSocket::with_runtime(url, Recorder::new(&log), runtime).unwrap();
    if ws.wait_open(WAIT) {
        Ok(ws)
    } else {
        assert!(ws.wait_closed(WAIT));
        Err(log.lines())
    }
}

fn assert_refused_with_503(outcome: Result<WebSocket, Vec<String>>) {
    match outcome {
        Ok(_) => panic!("a connection over the limit was upgraded"),
        Err(lines) => {
            assert!(
                lines[0].starts_with("error 4 ws-http") && lines[0].contains("503"),
                "{lines:?}"
            );
            assert_eq!(lines[1], "terminate 1006  Closed");
        }
    }
}

fn a_web_server_over_its_connection_limit_answers_503_before_on_connection(runtime: Runtime) {
    let slog = Log::new();
    let web = web(runtime, WebServerOptions::new().max_connections(2));
    let server = WebSocketServer::new(
        TestServer::new(&slog),
        ServerOptions::new().web_server(&web),
    )
    .unwrap();
    let url = web.ws_url("/");
    let clog = Log::new();
    let first = WebSocket::with_runtime(&url, Recorder::new(&clog), runtime).unwrap();
    assert!(first.wait_open(WAIT));
    let second = try_client(runtime, &url).expect("second");

    assert_refused_with_503(try_client(runtime, &url));
    // A plain request over the limit is read and answered the same way.
    let reply = http(web.local_addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    eprintln!(
        "{runtime:?}: a plain request over the limit got {:?}",
        reply.lines().next().unwrap_or_default()
    );
    assert!(reply.starts_with("HTTP/1.1 503 "), "{reply}");
    assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
    let connections = |lines: &[String]| with_prefix(lines, "connection ").len();
    assert_eq!(
        connections(&slog.lines()),
        2,
        "on_connection ran for a refused request"
    );
    assert_eq!(server.connections().len(), 2);

    // Closing one frees its place, once the server side has finished.
    first.terminate().unwrap();
    assert!(first.wait_closed(WAIT));
    let freeing = Instant::now();
    let deadline = freeing + Duration::from_secs(5);
    let mut refused_meanwhile = 0;
    let third = loop {
        match try_client(runtime, &url) {
            Ok(ws) => break ws,
            Err(lines) if Instant::now() < deadline && lines[0].contains("503") => {
                refused_meanwhile += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(lines) => panic!("the closed connection's place was not freed: {lines:?}"),
        }
    };
    eprintln!(
        "{runtime:?}: the closed connection's place was taken {:?} after its close, \
         {refused_meanwhile} attempt(s) refused meanwhile",
        freeing.elapsed()
    );
    assert_eq!(third.status(), Status::Connected);
    assert_eq!(second.status(), Status::Connected);
    assert_refused_with_503(try_client(runtime, &url));
}

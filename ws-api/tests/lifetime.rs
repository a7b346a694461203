//! What dropping a handle does: the last handle the program owns ends what it names (a client
//! closes with 1001, a WebSocket server terminates, a web server stops listening), the handles
//! lent to callbacks keep nothing running, and callbacks still come. Every scenario is a
//! `fn(Runtime)` run once per runtime by `on_both_runtimes!`. Nothing is timed: each test waits
//! for what it expects, by polling when there is nothing to wait on, within a generous bound.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use ws_api::*;

on_both_runtimes!(
    a_dropped_client_closes_with_1001_and_still_gets_on_terminate,
    a_client_dropped_while_connecting_closes_once_open,
    a_dropped_server_closes_its_connections_and_its_web_server_stops,
    a_dropped_websocket_server_frees_its_path_and_leaves_its_web_server_listening,
    handlers_that_keep_their_lent_handles_keep_nothing_running,
);

/// Waits until a connect to `addr` is refused: the listener closes on its own thread or task
/// once the last handle is gone, so this polls.
fn wait_refused(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match TcpStream::connect_timeout(&addr, WAIT) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            other => assert!(
                Instant::now() < deadline,
                "{addr} still takes connections: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn is_terminate(line: &str) -> bool {
    line.contains(" terminate ")
}

fn a_dropped_client_closes_with_1001_and_still_gets_on_terminate(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let web = local_web_server(runtime);
    let server = WebSocketServer::new(
        TestServer::new(&slog),
        ServerOptions::new().web_server(&web),
    )
    .unwrap();
    let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&clog), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    slog.wait_for("the connection's on_open", |l| {
        l.iter().any(|x| x.contains(" open "))
    });

    // A clone owns the connection too: it stays open while one is held.
    let clone = ws.clone();
    drop(ws);
    clone.send("still open").unwrap();
    clog.wait_line("message text:still open");

    drop(clone);
    let lines = slog.wait_for("the server's on_terminate", |l| {
        l.iter().any(|x| is_terminate(x))
    });
    let line = lines.iter().find(|x| is_terminate(x)).unwrap();
    assert!(
        line.ends_with(" terminate 1001 Closed listed=false"),
        "{line}"
    );
    assert!(server.connections().is_empty());
    // The client's handler still hears the end: the server answered the 1001.
    let lines = clog.wait_prefix("terminate");
    assert_eq!(lines.last().unwrap(), "terminate 1001  Closed", "{lines:?}");
}

/// Accepts once the test opens the door, so a client is surely still connecting until then.
struct Door {
    log: Arc<Log>,
    open: Arc<Log>,
}

impl WebSocketServerHandler for Door {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        self.log.push("knock");
        self.open.wait_line("open");
        Some(Box::new(TestConnection {
            log: Arc::clone(&self.log),
            behaviour: Behaviour::Echo,
        }))
    }
}

fn a_client_dropped_while_connecting_closes_once_open(runtime: Runtime) {
    let (slog, clog, door) = (Log::new(), Log::new(), Log::new());
    let web = local_web_server(runtime);
    let _server = WebSocketServer::new(
        Door {
            log: Arc::clone(&slog),
            open: Arc::clone(&door),
        },
        ServerOptions::new().web_server(&web),
    )
    .unwrap();
    let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&clog), runtime).unwrap();
    slog.wait_line("knock");
    assert_eq!(ws.status(), Status::Connecting);
    drop(ws);
    door.push("open");

    // The connection opens, and is closed with 1001 at once; both sides hear it end.
    let lines = slog.wait_for("the server's on_terminate", |l| {
        l.iter().any(|x| is_terminate(x))
    });
    let line = lines.iter().find(|x| is_terminate(x)).unwrap();
    assert!(line.contains(" terminate 1001 "), "{lines:?}");
    let lines = clog.wait_prefix("terminate");
    assert!(
        lines[0].starts_with("open "),
        "on_open still came first: {lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "terminate 1001  Closed", "{lines:?}");
}

fn a_dropped_server_closes_its_connections_and_its_web_server_stops(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    // The web server's own handle is dropped at once: the WebSocket server keeps it listening.
    let server = WebSocketServer::new(
        TestServer::new(&slog),
        ServerOptions::new().web_server(&local_web_server(runtime)),
    )
    .unwrap();
    let addr = server.web_server().local_addr();
    let url = server.web_server().ws_url("/");
    let ws = WebSocket::with_runtime(&url, Recorder::new(&clog), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    ws.send("hello").unwrap();
    clog.wait_line("message text:hello");

    // A handle the program owns, dropped: terminated like terminate(None).
    drop(server);
    assert!(ws.wait_closed(WAIT));
    assert_eq!(
        clog.lines().last().unwrap(),
        "terminate 1001 server terminated Closed"
    );
    slog.wait_line("server terminate connections=0");
    // And nothing holds the web server any more.
    wait_refused(addr);
}

fn a_dropped_websocket_server_frees_its_path_and_leaves_its_web_server_listening(runtime: Runtime) {
    let (first_log, second_log, clog) = (Log::new(), Log::new(), Log::new());
    let web = local_web_server(runtime);
    let on_chat = |log: &Arc<Log>| {
        WebSocketServer::new(
            TestServer::new(log),
            ServerOptions::new().path("/chat").web_server(&web),
        )
    };
    drop(on_chat(&first_log).unwrap());
    first_log.wait_line("server terminate connections=0");

    // The path is free, and the web server, still held, still listens.
    let second = on_chat(&second_log).unwrap();
    let ws = WebSocket::with_runtime(&web.ws_url("/chat"), Recorder::new(&clog), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    second_log.wait_prefix("connection url=/chat");

    // With neither handle left, it stops.
    let addr = web.local_addr();
    drop((second, web));
    assert!(ws.wait_closed(WAIT));
    wait_refused(addr);
}

/// A server handler that keeps every handle it is lent: its server's, and its connections'.
struct Hoarder {
    log: Arc<Log>,
    kept: Arc<Mutex<Vec<WebSocketServer>>>,
}

impl WebSocketServerHandler for Hoarder {
    fn on_connection(
        &self,
        server: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        self.kept.lock().unwrap().push(server.clone());
        Some(Box::new(HoardingConnection {
            log: Arc::clone(&self.log),
            kept: Arc::clone(&self.kept),
        }))
    }

    fn on_open(&self, server: &WebSocketServer, _: ServerEvent) {
        self.kept.lock().unwrap().push(server.clone());
    }

    fn on_terminate(&self, _: &WebSocketServer, _: ServerEvent) {
        self.log.push("server terminate");
    }
}

struct HoardingConnection {
    log: Arc<Log>,
    kept: Arc<Mutex<Vec<WebSocketServer>>>,
}

impl ConnectionHandler for HoardingConnection {
    fn on_message(&self, conn: &WebSocketConnection, _: MessageEvent) {
        self.kept.lock().unwrap().push(conn.wss().clone());
        self.log.push("message");
    }
}

/// A client handler that keeps the handle it is lent.
struct KeepsItself {
    log: Arc<Log>,
    itself: Mutex<Option<WebSocket>>,
}

impl WebSocketHandler for KeepsItself {
    fn on_message(&self, _: &WebSocket, _: MessageEvent) {}

    fn on_open(&self, ws: &WebSocket, _: OpenEvent) {
        *self.itself.lock().unwrap() = Some(ws.clone());
        self.log.push("open");
    }

    fn on_terminate(&self, _: &WebSocket, event: TerminateEvent) {
        self.log.push(format!("terminate {}", event.code));
    }
}

fn handlers_that_keep_their_lent_handles_keep_nothing_running(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let server = WebSocketServer::new(
        Hoarder {
            log: Arc::clone(&slog),
            kept: Arc::default(),
        },
        ServerOptions::new().web_server(&local_web_server(runtime)),
    )
    .unwrap();
    let addr = server.web_server().local_addr();
    let handler = KeepsItself {
        log: Arc::clone(&clog),
        itself: Mutex::new(None),
    };
    let ws = WebSocket::with_runtime(&server.web_server().ws_url("/"), handler, runtime).unwrap();
    clog.wait_line("open");
    ws.send("keep this").unwrap();
    slog.wait_line("message");

    // The client's handler keeps its own handle: dropping the program's still closes it.
    drop(ws);
    clog.wait_line("terminate 1001");

    // The server's handlers keep theirs: dropping the program's still terminates it.
    drop(server);
    slog.wait_line("server terminate");
    wait_refused(addr);
}

/// `WebSocketServer::listen` starts a web server of its own, on the default runtime: it stops
/// with the server.
#[test]
fn a_dropped_listening_server_stops_listening() {
    let log = Log::new();
    let server =
        WebSocketServer::listen("127.0.0.1:0", TestServer::new(&log), ServerOptions::new())
            .unwrap();
    let addr = server.web_server().local_addr();
    drop(server);
    log.wait_line("server terminate connections=0");
    wait_refused(addr);
}

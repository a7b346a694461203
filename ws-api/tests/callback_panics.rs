//! Callbacks that panic, with real sockets on loopback: every panic is caught, reported to
//! `on_error` (a panic in `on_error` or `on_terminate` to stderr), and ends at most the
//! connection whose callback panicked (closed with 1011); the server, its other connections,
//! its `on_terminate` and `wait_terminated` carry on, and the process is not aborted. Every
//! scenario is a `fn(Runtime)` run once per runtime by `on_both_runtimes!`, as
//! `std_runtime::<name>` and `smol_runtime::<name>`.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::{Arc, Once};

use support::*;
use ws_api::*;

on_both_runtimes!(
    a_panic_in_on_open_ends_only_its_connection,
    a_panic_in_on_message_ends_only_its_connection,
    a_panic_in_on_error_ends_only_its_connection,
    panics_in_on_message_and_then_on_error_end_only_their_connection,
    panics_in_on_message_and_then_on_terminate_do_not_abort_the_process,
    a_panic_in_on_terminate_leaves_the_server_bookkeeping_intact,
    a_panic_in_on_connection_refuses_that_request_with_500,
    panics_in_on_connection_and_the_servers_on_error_refuse_that_request,
    a_panic_in_the_servers_on_open_is_reported_and_the_server_starts,
    a_panic_in_the_servers_on_terminate_still_completes_wait_terminated,
    a_panic_in_a_client_on_open_closes_it_with_1011,
    a_panic_in_a_client_on_message_closes_it_with_1011,
    a_panic_in_a_client_on_error_still_terminates_it,
    a_panic_in_a_client_on_terminate_still_completes_wait_closed,
);

const PANIC_MESSAGE: &str = "intentional panic";

/// Keeps the intentional panics out of the test output; any other panic is printed as usual.
fn quiet_intentional_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let intentional = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.starts_with(PANIC_MESSAGE));
            if !intentional {
                default(info);
            }
        }));
    });
}

/// Panics if `callback` is one of `panics`.
fn maybe_panic(panics: &[&'static str], callback: &str) {
    if panics.contains(&callback) {
        panic!("{PANIC_MESSAGE} in {callback}");
    }
}

/// A server connection that echoes, logs every callback, and panics in those named.
struct Conn {
    log: Arc<Log>,
    panics: Vec<&'static str>,
}

impl ConnectionHandler for Conn {
    fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
        self.log.push(format!(
            "conn {} message {}",
            conn.id(),
            describe(&event.data)
        ));
        maybe_panic(&self.panics, "on_message");
        let _ = conn.send(event.data);
    }

    fn on_open(&self, conn: &WebSocketConnection, _: OpenEvent) {
        self.log.push(format!("conn {} open", conn.id()));
        maybe_panic(&self.panics, "on_open");
    }

    fn on_error(&self, conn: &WebSocketConnection, event: ErrorEvent) {
        let e = &event.errors[0];
        self.log.push(format!(
            "conn {} error {} {} {}",
            conn.id(),
            e.code,
            e.component,
            e.message
        ));
        maybe_panic(&self.panics, "on_error");
    }

    fn on_terminate(&self, conn: &WebSocketConnection, event: TerminateEvent) {
        self.log
            .push(format!("conn {} terminate {}", conn.id(), event.code));
        maybe_panic(&self.panics, "on_terminate");
    }
}

/// A server that logs every callback and panics in those named. Requests to `/panic` get a
/// connection handler that panics in the connection callbacks named; others one that does not.
struct Server {
    log: Arc<Log>,
    panics: Vec<&'static str>,
}

impl WebSocketServerHandler for Server {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        let path = event.request.path.clone();
        self.log.push(format!("server connection {path}"));
        let panicky = path == "/panic";
        if panicky {
            maybe_panic(&self.panics, "on_connection");
        }
        Some(Box::new(Conn {
            log: Arc::clone(&self.log),
            panics: if panicky {
                self.panics.clone()
            } else {
                Vec::new()
            },
        }))
    }

    fn on_open(&self, _: &WebSocketServer, _: ServerEvent) {
        self.log.push("server open");
        maybe_panic(&self.panics, "server on_open");
    }

    fn on_terminate(&self, _: &WebSocketServer, _: ServerEvent) {
        self.log.push("server terminate");
        maybe_panic(&self.panics, "server on_terminate");
    }

    fn on_error(&self, _: &WebSocketServer, event: ErrorEvent) {
        let e = &event.errors[0];
        self.log.push(format!(
            "server error {} {} {}",
            e.code, e.component, e.message
        ));
        maybe_panic(&self.panics, "server on_error");
    }
}

struct Setup {
    runtime: Runtime,
    web: WebServer,
    server: WebSocketServer,
    slog: Arc<Log>,
}

/// A JSON (`object`) echo server, panicking in `panics`, on a web server of its own.
fn setup(runtime: Runtime, panics: &[&'static str]) -> Setup {
    setup_on(WebServerOptions::new().runtime(runtime), panics)
}

fn setup_on(options: WebServerOptions, panics: &[&'static str]) -> Setup {
    quiet_intentional_panics();
    let runtime = options.runtime;
    let web = WebServer::start(options.addr("127.0.0.1:0").unwrap()).unwrap();
    let slog = Log::new();
    let server = WebSocketServer::new(
        Server {
            log: Arc::clone(&slog),
            panics: panics.to_vec(),
        },
        ServerOptions::new()
            .web_server(&web)
            .data_type(DataType::Object),
    )
    .unwrap();
    Setup {
        runtime,
        web,
        server,
        slog,
    }
}

impl Setup {
    /// A client on `path`, waited for until open or ended.
    fn client(&self, path: &str) -> (WebSocket, Arc<Log>) {
        let log = Log::new();
        let ws = WebSocket::with_runtime(&self.web.ws_url(path), Recorder::new(&log), self.runtime)
            .unwrap();
        ws.wait_open(WAIT);
        (ws, log)
    }

    /// A connection on `/ok` still echoes.
    fn still_echoes(&self, ws: &WebSocket, log: &Log, n: u32) {
        ws.send(format!("{{\"n\":{n}}}")).unwrap();
        log.wait_line(&format!("message text:{{\"n\":{n}}}"));
    }

    /// The server's own line for the connection `id`, once it is there.
    fn conn_lines(&self, id: u64, until: &str) -> Vec<String> {
        let prefix = format!("conn {id} ");
        let lines = self.slog.wait_for(until, |l| {
            l.iter()
                .any(|x| x.starts_with(&prefix) && x.contains(until))
        });
        with_prefix(&lines, &prefix)
    }

    /// Terminates the server: `on_terminate` runs and `wait_terminated` completes, the healthy
    /// client is closed with 1001.
    fn terminates(&self, healthy: &[(&WebSocket, &Arc<Log>)]) {
        let start = std::time::Instant::now();
        self.server.terminate(None);
        assert!(
            self.server.wait_terminated(WAIT),
            "wait_terminated never completed; log: {:?}",
            self.slog.lines()
        );
        // Completed when the server's `on_terminate` ran, not at the end of the wait.
        assert!(
            start.elapsed() < WAIT / 2,
            "wait_terminated took {:?}",
            start.elapsed()
        );
        assert!(self.server.terminated());
        assert!(self.slog.lines().iter().any(|l| l == "server terminate"));
        for (ws, log) in healthy {
            assert!(ws.wait_closed(WAIT));
            log.wait_prefix("terminate 1001 ");
        }
    }
}

/// The server's connections, once the one that ended has left the list.
fn wait_connections(server: &WebSocketServer, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while server.connections().len() != n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} connections listed, expected {n}",
            server.connections().len()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The panicking connection: open, then a panic where named; the healthy one on `/ok` echoes
/// before and after, and the server terminates normally.
fn connection_callback_panics(
    runtime: Runtime,
    panics: &[&'static str],
    trigger: impl FnOnce(&WebSocket),
) -> (Vec<String>, Vec<String>) {
    let s = setup(runtime, panics);
    let (ok, ok_log) = s.client("/ok");
    s.still_echoes(&ok, &ok_log, 1);
    let (bad, bad_log) = s.client("/panic");
    trigger(&bad);
    assert!(
        bad.wait_closed(WAIT),
        "the panicking connection never ended"
    );
    let bad_id = s
        .server
        .connections()
        .iter()
        .map(|c| c.id())
        .chain(
            s.slog
                .lines()
                .iter()
                .filter_map(|l| l.strip_prefix("conn ")?.split(' ').next()?.parse().ok()),
        )
        .max()
        .unwrap();
    let server_side = s.conn_lines(bad_id, " terminate ");
    wait_connections(&s.server, 1);
    s.still_echoes(&ok, &ok_log, 2);
    s.terminates(&[(&ok, &ok_log)]);
    eprintln!(
        "{runtime:?}: {panics:?}: server side {server_side:?}; client side {:?}",
        bad_log.lines()
    );
    (server_side, bad_log.lines())
}

fn a_panic_in_on_open_ends_only_its_connection(runtime: Runtime) {
    let (server_side, client_side) = connection_callback_panics(runtime, &["on_open"], |_| {});
    assert!(server_side[0].ends_with(" open"), "{server_side:?}");
    assert!(
        server_side[1].contains(" error 1011 ws-api on_open panicked: intentional panic"),
        "{server_side:?}"
    );
    assert!(server_side[2].contains(" terminate "), "{server_side:?}");
    assert!(
        client_side.iter().any(|l| l.starts_with("terminate 1011 ")),
        "{client_side:?}"
    );
}

fn a_panic_in_on_message_ends_only_its_connection(runtime: Runtime) {
    let (server_side, client_side) = connection_callback_panics(runtime, &["on_message"], |bad| {
        bad.send("{\"boom\":1}").unwrap();
        // Races with the 1011 close: never delivered after the panic.
        let _ = bad.send("{\"after\":1}");
    });
    assert!(
        server_side[1].ends_with("message object:{\"boom\":1}"),
        "{server_side:?}"
    );
    assert!(
        server_side[2].contains(" error 1011 ws-api on_message panicked: intentional panic"),
        "{server_side:?}"
    );
    assert!(server_side[3].contains(" terminate "), "{server_side:?}");
    assert_eq!(server_side.len(), 4, "{server_side:?}");
    assert!(
        client_side.iter().any(|l| l.starts_with("terminate 1011 ")),
        "{client_side:?}"
    );
    assert!(
        !client_side.iter().any(|l| l.starts_with("message")),
        "nothing echoed: {client_side:?}"
    );
}

fn a_panic_in_on_error_ends_only_its_connection(runtime: Runtime) {
    let (server_side, client_side) = connection_callback_panics(runtime, &["on_error"], |bad| {
        bad.send("not json").unwrap();
    });
    assert!(
        server_side[1].contains(" error 1007 ws-api message is not JSON"),
        "{server_side:?}"
    );
    assert!(server_side[2].contains(" terminate "), "{server_side:?}");
    assert_eq!(server_side.len(), 3, "no second on_error: {server_side:?}");
    assert!(
        client_side
            .iter()
            .any(|l| l.starts_with("terminate 1011 ") || l.starts_with("terminate 1007 ")),
        "{client_side:?}"
    );
}

/// The server reported the `on_message` panic to `on_error`, then terminated, nothing more;
/// the client saw 1011.
fn assert_on_message_panic_closed_with_1011(server_side: &[String], client_side: &[String]) {
    assert!(
        server_side[2].contains(" error 1011 ws-api on_message panicked"),
        "{server_side:?}"
    );
    assert!(server_side[3].contains(" terminate "), "{server_side:?}");
    assert_eq!(server_side.len(), 4, "{server_side:?}");
    assert!(
        client_side.iter().any(|l| l.starts_with("terminate 1011 ")),
        "{client_side:?}"
    );
}

fn panics_in_on_message_and_then_on_error_end_only_their_connection(runtime: Runtime) {
    let (server_side, client_side) =
        connection_callback_panics(runtime, &["on_message", "on_error"], |bad| {
            bad.send("{\"boom\":1}").unwrap();
        });
    assert_on_message_panic_closed_with_1011(&server_side, &client_side);
}

/// The case that used to abort: the panic in `on_message` unwound through the dispatcher, whose
/// `Drop` called `on_terminate` during the unwinding, and its panic aborted the process.
fn panics_in_on_message_and_then_on_terminate_do_not_abort_the_process(runtime: Runtime) {
    let (server_side, client_side) =
        connection_callback_panics(runtime, &["on_message", "on_terminate"], |bad| {
            bad.send("{\"boom\":1}").unwrap();
        });
    assert_on_message_panic_closed_with_1011(&server_side, &client_side);
}

fn a_panic_in_on_terminate_leaves_the_server_bookkeeping_intact(runtime: Runtime) {
    let (server_side, client_side) =
        connection_callback_panics(runtime, &["on_terminate"], |bad| {
            bad.terminate_with(4000, "bye").unwrap();
        });
    assert!(
        server_side[1].ends_with(" terminate 4000"),
        "{server_side:?}"
    );
    assert_eq!(server_side.len(), 2, "{server_side:?}");
    assert!(
        client_side.iter().any(|l| l.starts_with("terminate 4000 ")),
        "{client_side:?}"
    );
}

/// A panic in `on_terminate` when the server terminates: its `on_terminate` still follows.
#[test]
fn on_terminate_panicking_during_server_terminate_still_completes_it() {
    for runtime in runtimes() {
        let s = setup(runtime, &["on_terminate"]);
        let (ok, ok_log) = s.client("/ok");
        let (bad, bad_log) = s.client("/panic");
        s.still_echoes(&ok, &ok_log, 1);
        s.still_echoes(&bad, &bad_log, 1);
        wait_connections(&s.server, 2);
        s.terminates(&[(&ok, &ok_log), (&bad, &bad_log)]);
        assert!(s.server.connections().is_empty());
    }
}

/// On smol with the callbacks on the executor itself rather than on the callback pool.
#[cfg(feature = "smol")]
#[test]
fn smol_inline_callbacks_catch_panics_too() {
    let options = || {
        WebServerOptions::new()
            .runtime(Runtime::Smol)
            .inline_callbacks(true)
    };
    let s = setup_on(options(), &["on_message", "on_terminate"]);
    let (ok, ok_log) = s.client("/ok");
    let (bad, bad_log) = s.client("/panic");
    bad.send("{\"boom\":1}").unwrap();
    assert!(bad.wait_closed(WAIT));
    bad_log.wait_prefix("terminate 1011 ");
    wait_connections(&s.server, 1);
    s.still_echoes(&ok, &ok_log, 1);
    s.terminates(&[(&ok, &ok_log)]);

    let s = setup_on(options(), &["on_connection", "server on_error"]);
    let (ok, ok_log) = s.client("/ok");
    refused_with_500(&s);
    s.still_echoes(&ok, &ok_log, 1);
    s.terminates(&[(&ok, &ok_log)]);
}

fn runtimes() -> Vec<Runtime> {
    let mut runtimes = Vec::new();
    if cfg!(feature = "std") {
        runtimes.push(Runtime::Std);
    }
    if cfg!(feature = "smol") {
        runtimes.push(Runtime::Smol);
    }
    runtimes
}

/// The `/panic` request is refused with 500; returns the refused client's log.
fn refused_with_500(s: &Setup) -> Vec<String> {
    let (bad, bad_log) = s.client("/panic");
    assert!(bad.wait_closed(WAIT));
    let lines = bad_log.lines();
    assert!(
        lines[0].starts_with("error 4 ws-http") && lines[0].contains("500"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "terminate 1006  Closed", "{lines:?}");
    lines
}

fn a_panic_in_on_connection_refuses_that_request_with_500(runtime: Runtime) {
    let s = setup(runtime, &["on_connection"]);
    let (ok, ok_log) = s.client("/ok");
    refused_with_500(&s);
    s.slog.wait_for("the server's on_error", |l| {
        l.iter()
            .any(|x| x.starts_with("server error 1011 ws-api on_connection panicked: intentional"))
    });
    s.still_echoes(&ok, &ok_log, 1);
    // The server still accepts new connections.
    let (again, again_log) = s.client("/ok");
    s.still_echoes(&again, &again_log, 2);
    assert_eq!(s.server.connections().len(), 2);
    s.terminates(&[(&ok, &ok_log), (&again, &again_log)]);
}

fn panics_in_on_connection_and_the_servers_on_error_refuse_that_request(runtime: Runtime) {
    let s = setup(runtime, &["on_connection", "server on_error"]);
    let (ok, ok_log) = s.client("/ok");
    refused_with_500(&s);
    refused_with_500(&s);
    let errors = with_prefix(&s.slog.lines(), "server error ");
    assert_eq!(errors.len(), 2, "{errors:?}");
    s.still_echoes(&ok, &ok_log, 1);
    s.terminates(&[(&ok, &ok_log)]);
}

fn a_panic_in_the_servers_on_open_is_reported_and_the_server_starts(runtime: Runtime) {
    let s = setup(runtime, &["server on_open"]);
    let lines = s.slog.lines();
    assert_eq!(lines[0], "server open");
    assert!(
        lines[1].starts_with("server error 1011 ws-api on_open panicked: intentional"),
        "{lines:?}"
    );
    let (ok, ok_log) = s.client("/ok");
    s.still_echoes(&ok, &ok_log, 1);
    s.terminates(&[(&ok, &ok_log)]);

    // With `on_error` panicking too, `new` still returns a working server.
    let s = setup(runtime, &["server on_open", "server on_error"]);
    let (ok, ok_log) = s.client("/ok");
    s.still_echoes(&ok, &ok_log, 2);
    s.terminates(&[(&ok, &ok_log)]);
}

fn a_panic_in_the_servers_on_terminate_still_completes_wait_terminated(runtime: Runtime) {
    let s = setup(runtime, &["server on_terminate"]);
    let (ok, ok_log) = s.client("/ok");
    s.still_echoes(&ok, &ok_log, 1);
    s.terminates(&[(&ok, &ok_log)]);
    // The web server goes on: a new WebSocket server on it works.
    let slog = Log::new();
    let _next = WebSocketServer::new(
        TestServer::new(&slog),
        ServerOptions::new().web_server(&s.web),
    )
    .unwrap();
    let clog = Log::new();
    let ws = WebSocket::with_runtime(&s.web.ws_url("/"), Recorder::new(&clog), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    ws.send("still here").unwrap();
    clog.wait_line("message text:still here");
}

/// A client handler that logs every callback and panics in those named.
struct Client {
    log: Arc<Log>,
    panics: Vec<&'static str>,
}

impl WebSocketHandler for Client {
    fn on_message(&self, _: &WebSocket, event: MessageEvent) {
        self.log.push(format!("message {}", describe(&event.data)));
        maybe_panic(&self.panics, "on_message");
    }

    fn on_open(&self, _: &WebSocket, _: OpenEvent) {
        self.log.push("open");
        maybe_panic(&self.panics, "on_open");
    }

    fn on_error(&self, _: &WebSocket, event: ErrorEvent) {
        let e = &event.errors[0];
        self.log
            .push(format!("error {} {} {}", e.code, e.component, e.message));
        maybe_panic(&self.panics, "on_error");
    }

    fn on_terminate(&self, _: &WebSocket, event: TerminateEvent) {
        self.log
            .push(format!("terminate {} {}", event.code, event.reason));
        maybe_panic(&self.panics, "on_terminate");
    }
}

/// A panicking client next to a healthy one on the same (healthy) server; returns the
/// panicking client's log and the server's lines for it.
fn client_callback_panics(
    runtime: Runtime,
    panics: &[&'static str],
    url: Option<&str>,
    trigger: impl FnOnce(&WebSocket),
) -> Vec<String> {
    let s = setup(runtime, &[]);
    let (ok, ok_log) = s.client("/ok");
    let log = Log::new();
    let handler = Client {
        log: Arc::clone(&log),
        panics: panics.to_vec(),
    };
    let url = url.map_or_else(|| s.web.ws_url("/ok"), str::to_owned);
    let bad = WebSocket::with_runtime(&url, handler, runtime).unwrap();
    bad.wait_open(WAIT);
    trigger(&bad);
    assert!(
        bad.wait_closed(WAIT),
        "wait_closed never completed; log: {:?}",
        log.lines()
    );
    assert_eq!(bad.status(), Status::Closed);
    s.still_echoes(&ok, &ok_log, 1);
    wait_connections(&s.server, 1);
    s.terminates(&[(&ok, &ok_log)]);
    let lines = log.lines();
    eprintln!("{runtime:?}: client {panics:?}: {lines:?}");
    lines
}

fn a_panic_in_a_client_on_open_closes_it_with_1011(runtime: Runtime) {
    let lines = client_callback_panics(runtime, &["on_open"], None, |_| {});
    assert_eq!(lines[0], "open");
    assert!(
        lines[1].starts_with("error 1011 ws-api on_open panicked: intentional"),
        "{lines:?}"
    );
    assert!(lines[2].starts_with("terminate "), "{lines:?}");
    assert_eq!(lines.len(), 3, "{lines:?}");
}

fn a_panic_in_a_client_on_message_closes_it_with_1011(runtime: Runtime) {
    let lines = client_callback_panics(runtime, &["on_message"], None, |ws| {
        ws.send("{\"echo\":1}").unwrap();
    });
    assert_eq!(lines[1], "message text:{\"echo\":1}");
    assert!(
        lines[2].starts_with("error 1011 ws-api on_message panicked: intentional"),
        "{lines:?}"
    );
    assert!(lines[3].starts_with("terminate "), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
}

fn a_panic_in_a_client_on_error_still_terminates_it(runtime: Runtime) {
    // Nothing listens on this port once the listener is dropped: the connect fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let lines = client_callback_panics(runtime, &["on_error"], Some(&url), |_| {});
    assert!(lines[0].starts_with("error 2 ws-net"), "{lines:?}");
    assert_eq!(lines[1], "terminate 1006 ", "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
}

fn a_panic_in_a_client_on_terminate_still_completes_wait_closed(runtime: Runtime) {
    let lines = client_callback_panics(runtime, &["on_terminate"], None, |ws| {
        ws.terminate_with(4001, "done").unwrap();
    });
    // The close code the server echoed (it gave no reason).
    assert_eq!(lines, ["open", "terminate 4001 "]);
}

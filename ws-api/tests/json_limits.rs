//! The bounds on JSON messages of `object` connections ([`JsonLimits`]), with real sockets on
//! loopback: a message over the size limit, nested too deep, or whose value would take too much
//! memory is never delivered: `on_error` gets it and the connection closes with 1009 (size,
//! memory) or 1007 (depth). Every scenario is a `fn(Runtime)` run once per runtime by
//! `on_both_runtimes!`, as `std_runtime::<name>` and `smol_runtime::<name>`.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::Arc;

use support::*;
use ws_api::*;

on_both_runtimes!(
    a_json_message_over_max_size_is_on_error_then_a_1009_close,
    a_binary_json_message_over_max_size_is_refused_the_same_way,
    a_json_message_nested_too_deep_is_on_error_then_a_1007_close,
    a_json_value_over_max_memory_is_on_error_then_a_1009_close,
    an_object_client_bounds_what_the_server_sends,
);

/// A server connection that logs compactly (messages may be megabytes) and never answers.
struct Quiet {
    log: Arc<Log>,
}

impl ConnectionHandler for Quiet {
    fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
        let kind = match &event.data {
            Data::Object(serde_json::Value::Array(items)) => format!("array of {}", items.len()),
            Data::Object(_) => "object".to_owned(),
            other => describe(other),
        };
        self.log.push(format!("conn {} message {kind}", conn.id()));
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
    }

    fn on_terminate(&self, conn: &WebSocketConnection, event: TerminateEvent) {
        self.log
            .push(format!("conn {} terminate {}", conn.id(), event.code));
    }
}

struct QuietServer {
    log: Arc<Log>,
}

impl WebSocketServerHandler for QuietServer {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(Quiet {
            log: Arc::clone(&self.log),
        }))
    }
}

/// An `object` server with `limits` on its own web server.
fn object_server(runtime: Runtime, log: &Arc<Log>, limits: JsonLimits) -> WebSocketServer {
    let web = local_web_server(runtime);
    WebSocketServer::new(
        QuietServer {
            log: Arc::clone(log),
        },
        ServerOptions::new()
            .web_server(&web)
            .data_type(DataType::Object)
            .json_limits(limits),
    )
    .unwrap()
}

fn client(runtime: Runtime, server: &WebSocketServer, log: &Arc<Log>) -> WebSocket {
    let ws = WebSocket::with_runtime(
        &server.web_server().ws_url("/"),
        Recorder::new(log),
        runtime,
    )
    .unwrap();
    assert!(ws.wait_open(WAIT));
    ws
}

/// `[0,0,…,0]` of exactly `size` bytes (a space pads an even size), and its element count.
fn zeros(size: usize) -> (String, usize) {
    assert!(size >= 4);
    let elements = (size - 2).div_ceil(2);
    let mut json = String::with_capacity(size);
    json.push('[');
    if size.is_multiple_of(2) {
        json.push(' ');
    }
    json.push_str(&"0,".repeat(elements - 1));
    json.push_str("0]");
    assert_eq!(json.len(), size);
    (json, elements)
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// The server-side lines, after waiting for the server's `on_terminate` of the connection.
fn server_side_until_terminate(slog: &Log) -> Vec<String> {
    let lines = slog.wait_for("the server's on_terminate", |l| {
        l.iter().any(|x| x.contains(" terminate "))
    });
    with_prefix(&lines, "conn ")
}

fn a_json_message_over_max_size_is_on_error_then_a_1009_close(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let server = object_server(runtime, &slog, JsonLimits::default());
    let max = JsonLimits::DEFAULT_MAX_SIZE;
    assert_eq!(max, 1 << 20);
    let ws = client(runtime, &server, &clog);
    // Exactly the limit is delivered.
    let (json, elements) = zeros(max);
    ws.send(json).unwrap();
    slog.wait_prefix("conn ");
    ws.send(zeros(max + 1).0).unwrap();
    let conn = server_side_until_terminate(&slog);
    eprintln!("{runtime:?}: server side: {conn:?}");
    assert_eq!(conn.len(), 3, "{conn:?}");
    assert!(
        conn[0].ends_with(&format!("message array of {elements}")),
        "{conn:?}"
    );
    assert!(conn[1].contains(" error 1009 "), "{conn:?}");
    assert!(conn[1].contains("too big"), "{conn:?}");
    assert!(conn[2].contains(" terminate "), "{conn:?}");
    let lines = clog.wait_prefix("terminate");
    assert!(
        lines.iter().any(|l| l.starts_with("terminate 1009 ")),
        "the client saw: {lines:?}"
    );
    assert!(ws.wait_closed(WAIT));
}

fn a_binary_json_message_over_max_size_is_refused_the_same_way(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let limits = JsonLimits::new().max_size(1000);
    let server = object_server(runtime, &slog, limits);
    let ws = client(runtime, &server, &clog);
    let (json, elements) = zeros(1000);
    ws.send(json.into_bytes()).unwrap();
    slog.wait_prefix("conn ");
    ws.send(zeros(1001).0.into_bytes()).unwrap();
    let conn = server_side_until_terminate(&slog);
    eprintln!("{runtime:?}: server side: {conn:?}");
    assert!(
        conn[0].ends_with(&format!("message array of {elements}")),
        "{conn:?}"
    );
    assert!(conn[1].contains(" error 1009 "), "{conn:?}");
    assert!(
        conn[1].contains("1000 bytes"),
        "the limit is named: {conn:?}"
    );
    assert_eq!(conn.len(), 3, "{conn:?}");
    clog.wait_for("the client's 1009", |l| {
        l.iter().any(|x| x.starts_with("terminate 1009 "))
    });
}

fn a_json_message_nested_too_deep_is_on_error_then_a_1007_close(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let server = object_server(runtime, &slog, JsonLimits::default());
    assert_eq!(JsonLimits::DEFAULT_MAX_DEPTH, 64);
    let ws = client(runtime, &server, &clog);
    ws.send(nested(64)).unwrap();
    slog.wait_prefix("conn ");
    ws.send(nested(65)).unwrap();
    // Races with the server's 1007 Close: if it still goes out, it must not be delivered.
    let _ = ws.send(nested(1));
    let conn = server_side_until_terminate(&slog);
    eprintln!("{runtime:?}: server side: {conn:?}");
    assert!(conn[0].ends_with("message array of 1"), "{conn:?}");
    assert!(
        conn[1].contains(" error 1007 ws-api ") && conn[1].contains("deeper than 64"),
        "{conn:?}"
    );
    assert!(conn[2].contains(" terminate "), "{conn:?}");
    assert_eq!(conn.len(), 3, "nothing delivered after on_error: {conn:?}");
    let lines = clog.wait_prefix("terminate");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("terminate 1007 JSON nested too deep")),
        "{lines:?}"
    );
}

fn a_json_value_over_max_memory_is_on_error_then_a_1009_close(runtime: Runtime) {
    let (slog, clog) = (Log::new(), Log::new());
    let server = object_server(runtime, &slog, JsonLimits::default());
    let ws = client(runtime, &server, &clog);
    // 1 MiB of one-entry objects: each costs a B-tree node, ~90 bytes of value per byte.
    let mut json = String::from("[");
    while json.len() + 8 < JsonLimits::DEFAULT_MAX_SIZE {
        json.push_str("{\"a\":0},");
    }
    json.push_str("{}]");
    ws.send(json).unwrap();
    let conn = server_side_until_terminate(&slog);
    eprintln!("{runtime:?}: server side: {conn:?}");
    assert!(
        conn[0].contains(" error 1009 ws-api ") && conn[0].contains("memory"),
        "{conn:?}"
    );
    assert!(conn[1].contains(" terminate "), "{conn:?}");
    assert_eq!(conn.len(), 2, "{conn:?}");
    let lines = clog.wait_prefix("terminate");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("terminate 1009 JSON value too big")),
        "{lines:?}"
    );
}

/// Sends a 3-deep document as soon as the connection opens.
struct SendsDeep;

impl ConnectionHandler for SendsDeep {
    fn on_message(&self, _: &WebSocketConnection, _: MessageEvent) {}

    fn on_open(&self, conn: &WebSocketConnection, _: OpenEvent) {
        conn.send("[[1]]").unwrap();
        conn.send("[[[1]]]").unwrap();
    }
}

struct SendsDeepServer;

impl WebSocketServerHandler for SendsDeepServer {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(SendsDeep))
    }
}

fn an_object_client_bounds_what_the_server_sends(runtime: Runtime) {
    let web = local_web_server(runtime);
    let _server =
        WebSocketServer::new(SendsDeepServer, ServerOptions::new().web_server(&web)).unwrap();
    let clog = Log::new();
    let mut handler = Recorder::new(&clog);
    handler.data_type = DataType::Object;
    let options = ClientOptions::new()
        .runtime(runtime)
        .json_limits(JsonLimits::new().max_depth(2));
    assert_eq!(options.json_limits.max_depth, 2);
    assert_eq!(
        options.json_limits.max_size,
        JsonLimits::DEFAULT_MAX_SIZE,
        "the other limits keep their defaults"
    );
    let ws = WebSocket::with_options(&web.ws_url("/"), handler, options).unwrap();
    assert!(ws.wait_closed(WAIT));
    let lines = clog.lines();
    assert_eq!(lines[0], "open Connected");
    assert_eq!(lines[1], "message object:[[1]]");
    assert!(
        lines[2].starts_with("error 1007 ws-api") && lines[2].contains("deeper than 2"),
        "{lines:?}"
    );
    assert!(lines[3].starts_with("terminate "), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
}

/// Options only: the documented defaults, on both options types.
#[test]
fn json_limits_default_to_1_mib_depth_64_and_32_mib() {
    let defaults = JsonLimits::default();
    assert_eq!(
        (defaults.max_size, defaults.max_depth, defaults.max_memory),
        (1 << 20, 64, 32 << 20)
    );
    assert_eq!(JsonLimits::new(), defaults);
    assert_eq!(ServerOptions::new().json_limits, defaults);
    assert_eq!(ClientOptions::new().json_limits, defaults);
    let set = JsonLimits::new().max_size(10).max_depth(2).max_memory(1000);
    assert_eq!((set.max_size, set.max_depth, set.max_memory), (10, 2, 1000));
    assert_eq!(ServerOptions::new().json_limits(set).json_limits, set);
}

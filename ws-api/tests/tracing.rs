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

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock};
use std::time::Instant;

use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_core::span::Current;
use ws_api::*;

on_both_runtimes!(
    a_protocol_error_is_logged_in_the_connections_span_with_both_ids,
    an_origin_refusal_is_logged_with_its_status_and_its_reason,
    a_panicking_callback_is_an_error_in_the_connections_span,
);

/// An event as the subscriber saw it, with the fields of the span it belongs to (its explicit
/// parent, or the span entered on the emitting thread).
#[derive(Clone, Debug)]
struct Logged {
    level: Level,
    fields: HashMap<String, String>,
    span: Option<HashMap<String, String>>,
}

impl Logged {
    fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn span_field(&self, name: &str) -> Option<&str> {
        self.span.as_ref()?.get(name).map(String::as_str)
    }

    fn of_peer(&self, peer: SocketAddr) -> bool {
        self.span_field("peer") == Some(peer.to_string().as_str())
    }
}

/// Records strings as they are, everything else as `Debug` formats it.
struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A span's metadata (for [`Subscriber::current_span`]) and fields.
type SpanData = (&'static Metadata<'static>, HashMap<String, String>);

#[derive(Default)]
struct Collector {
    next_span: AtomicU64,
    spans: Mutex<HashMap<u64, SpanData>>,
    events: Mutex<Vec<Logged>>,
    logged: Condvar,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next_span.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = HashMap::new();
        attributes.record(&mut Fields(&mut fields));
        let metadata = attributes.metadata();
        self.spans.lock().unwrap().insert(id, (metadata, fields));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let parent = if event.is_contextual() {
            ENTERED.with(|entered| entered.borrow().last().copied())
        } else {
            event.parent().map(Id::into_u64)
        };
        let span = parent.and_then(|id| {
            let spans = self.spans.lock().unwrap();
            spans.get(&id).map(|(_, fields)| fields.clone())
        });
        self.events.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            fields,
            span,
        });
        self.logged.notify_all();
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
    }

    /// What `Span::current()` returns: the innermost span entered on this thread.
    fn current_span(&self) -> Current {
        let entered = ENTERED.with(|entered| entered.borrow().last().copied());
        let spans = self.spans.lock().unwrap();
        match entered.and_then(|id| Some((id, spans.get(&id)?.0))) {
            Some((id, metadata)) => Current::new(Id::from_u64(id), metadata),
            None => Current::none(),
        }
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|&id| id == span.into_u64()) {
                entered.remove(at);
            }
        });
    }
}

impl Collector {
    /// Waits for an event that satisfies `pred`; panics after [`WAIT`].
    fn wait_for(&self, what: &str, pred: impl Fn(&Logged) -> bool) -> Logged {
        let deadline = Instant::now() + WAIT;
        let mut events = self.events.lock().unwrap();
        loop {
            if let Some(found) = events.iter().find(|event| pred(event)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} was logged; events: {events:#?}");
            events = self.logged.wait_timeout(events, left).unwrap().0;
        }
    }
}

/// The process-wide collector, installed on first use.
fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Arc<Collector>> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = Arc::new(Collector::default());
        tracing::subscriber::set_global_default(Arc::clone(&collector)).expect("one subscriber");
        collector
    })
}

/// A web server on `runtime` with one WebSocket server, made by `options`, for `handler`.
fn serve(
    runtime: Runtime,
    handler: impl WebSocketServerHandler,
    options: ServerOptions,
) -> (WebServer, WebSocketServer) {
    let web = WebServer::start(
        WebServerOptions::new()
            .runtime(runtime)
            .addr("127.0.0.1:0")
            .unwrap(),
    )
    .unwrap();
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

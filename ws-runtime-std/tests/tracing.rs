//! What the server logs through `tracing` (cargo feature `tracing`): a small subscriber collects
//! every event with the fields of the span it belongs to, and each test looks for the events of
//! its own connections, told apart by their peer address (the tests of this file share the
//! process-wide subscriber and run in parallel).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

use common::{WAIT, raw_client};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use ws_runtime_std::{Decision, Server};

/// An event as the subscriber saw it.
#[derive(Clone, Debug)]
struct Logged {
    level: Level,
    fields: HashMap<String, String>,
    /// The fields of the span the event belongs to (its explicit parent, or the span entered on
    /// the emitting thread), with the span's name.
    span: Option<SpanData>,
}

impl Logged {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn span_field(&self, name: &str) -> Option<&str> {
        let (_, fields) = self.span.as_ref()?;
        fields.get(name).map(String::as_str)
    }
}

/// Records every field as text: strings as they are, everything else as `Debug` formats it
/// (which for a `display` value is its `Display` form).
struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A span's name and fields.
type SpanData = (String, HashMap<String, String>);

/// A subscriber that keeps every span's fields and every event, and wakes waiters on each event.
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
        let name = attributes.metadata().name().to_owned();
        self.spans.lock().unwrap().insert(id, (name, fields));
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
        let span = parent.and_then(|id| self.spans.lock().unwrap().get(&id).cloned());
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

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|&id| id == span.into_u64()) {
                entered.remove(at);
            }
        });
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

/// Whether `event` belongs to the connection whose peer is `peer`.
fn of_peer(event: &Logged, peer: SocketAddr) -> bool {
    event.span_field("peer") == Some(peer.to_string().as_str())
}

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
        of_peer(event, peer) && event.message().starts_with("protocol error")
    });
    assert_eq!(event.level, Level::INFO);
    assert_eq!(event.field("code"), Some("1002"));
    assert_eq!(event.field("reason"), Some("unmasked client frame"));
    let (name, _) = event.span.as_ref().unwrap();
    assert_eq!(name, "ws_conn");
    assert_eq!(event.span_field("role"), Some("server"));
    assert!(event.span_field("id").is_some());

    // The same connection's opening was logged in the same span (same id).
    let opened = collector.wait_for("connection open", |e| {
        of_peer(e, peer) && e.message() == "connection open"
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
        of_peer(event, peer) && event.message() == "upgrade refused"
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
        of_peer(event, peer) && event.message() == "invalid upgrade request"
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

//! A `tracing` subscriber for tests of what the adapters (`ws_adapter::trace`) and `ws-api` log:
//! it keeps every span's name and fields and every event with the span it belongs to, and lets
//! a test wait for the event it expects. Installed once per test process; tests that share it
//! tell their events apart by their connection's peer address.
//!
//! Included by path (`#[path = ...] mod trace_collector;`) from the test files that need it, in
//! this crate's dependents: one copy of the subscriber for every crate's logging tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_core::span::Current;

/// The longest [`Collector::wait_for`] waits for an event before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// An event as the subscriber saw it.
#[derive(Clone, Debug)]
pub(crate) struct Logged {
    pub(crate) level: Level,
    pub(crate) fields: HashMap<String, String>,
    /// The name and fields of the span the event belongs to: its explicit parent, or the span
    /// entered on the emitting thread.
    pub(crate) span: Option<(String, HashMap<String, String>)>,
}

impl Logged {
    pub(crate) fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }

    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub(crate) fn span_name(&self) -> Option<&str> {
        self.span.as_ref().map(|(name, _)| name.as_str())
    }

    pub(crate) fn span_field(&self, name: &str) -> Option<&str> {
        let (_, fields) = self.span.as_ref()?;
        fields.get(name).map(String::as_str)
    }

    /// Whether the event belongs to the connection whose peer is `peer`.
    pub(crate) fn of_peer(&self, peer: SocketAddr) -> bool {
        self.span_field("peer") == Some(peer.to_string().as_str())
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

/// A span's metadata (its name, and what [`Subscriber::current_span`] returns) and fields.
type SpanData = (&'static Metadata<'static>, HashMap<String, String>);

/// A subscriber that keeps every span's fields and every event, and wakes waiters on each event.
#[derive(Default)]
pub(crate) struct Collector {
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
            let (metadata, fields) = spans.get(&id)?;
            Some((metadata.name().to_owned(), fields.clone()))
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
    pub(crate) fn wait_for(&self, what: &str, pred: impl Fn(&Logged) -> bool) -> Logged {
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
pub(crate) fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<Arc<Collector>> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = Arc::new(Collector::default());
        tracing::subscriber::set_global_default(Arc::clone(&collector)).expect("one subscriber");
        collector
    })
}

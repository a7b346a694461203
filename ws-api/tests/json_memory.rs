//! What one maximal-size JSON message costs an `object` server, measured: a counting global
//! allocator gives the peak of live heap while the message is received and parsed (client and
//! server are in this process, so the client's copy of the message is included), and
//! `/proc/self/statm` the growth of resident memory. Measurements run one at a time (a lock), so
//! the figures are not mixed; each scenario prints its figures.
//!
//! Compared: `[0,0,…]` and an array of one-entry objects, each exactly
//! [`JsonLimits::DEFAULT_MAX_SIZE`] (1 MiB), under the default limits and with the memory
//! bound lifted (how `object` messages were parsed before it existed).

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use ws_api::*;

/// Counts live heap bytes and their peak, for the whole process.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const MIB: f64 = (1 << 20) as f64;

/// Resident memory, from `/proc/self/statm` (0 where there is none).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

on_both_runtimes!(a_maximal_json_message_costs_a_bounded_amount_of_memory);

/// Logs what arrived, without keeping or printing it.
struct Sink {
    log: Arc<Log>,
}

impl ConnectionHandler for Sink {
    fn on_message(&self, _: &WebSocketConnection, event: MessageEvent) {
        let n = match &event.data {
            Data::Object(serde_json::Value::Array(items)) => items.len(),
            _ => 0,
        };
        self.log.push(format!("message {n}"));
    }

    fn on_error(&self, _: &WebSocketConnection, event: ErrorEvent) {
        self.log.push(format!("error {}", event.errors[0].code));
    }
}

struct SinkServer {
    log: Arc<Log>,
}

impl WebSocketServerHandler for SinkServer {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(Sink {
            log: Arc::clone(&self.log),
        }))
    }
}

/// An array of `item`s filling exactly `size` bytes (padded with spaces).
fn filled(item: &str, size: usize) -> String {
    let mut json = String::with_capacity(size);
    json.push('[');
    json.push_str(item);
    while json.len() + item.len() + 2 <= size {
        json.push(',');
        json.push_str(item);
    }
    while json.len() + 1 < size {
        json.push(' ');
    }
    json.push(']');
    assert_eq!(json.len(), size);
    json
}

struct Measured {
    outcome: String,
    peak_heap: usize,
    rss_growth: isize,
}

/// Sends `json` to an `object` server with `limits` and measures the peak heap growth and the
/// resident memory growth until the server has delivered or refused it.
fn measure(runtime: Runtime, limits: JsonLimits, json: String) -> Measured {
    let log = Log::new();
    let web = local_web_server(runtime);
    let server = WebSocketServer::new(
        SinkServer {
            log: Arc::clone(&log),
        },
        ServerOptions::new()
            .web_server(&web)
            .data_type(DataType::Object)
            .json_limits(limits),
    )
    .unwrap();
    let clog = Log::new();
    let ws = WebSocket::with_runtime(&web.ws_url("/"), Recorder::new(&clog), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    // Let the connection settle before the baseline.
    std::thread::sleep(Duration::from_millis(100));
    let (rss_before, live_before) = (rss(), LIVE.load(Ordering::SeqCst));
    PEAK.store(live_before, Ordering::SeqCst);
    ws.send(json).unwrap();
    let lines = log.wait_for("the message or its refusal", |l| !l.is_empty());
    let peak_heap = PEAK.load(Ordering::SeqCst).saturating_sub(live_before);
    let rss_growth = rss() as isize - rss_before as isize;
    let _ = ws.terminate();
    server.terminate(None);
    assert!(server.wait_terminated(WAIT));
    web.stop();
    Measured {
        outcome: lines[0].clone(),
        peak_heap,
        rss_growth,
    }
}

fn a_maximal_json_message_costs_a_bounded_amount_of_memory(runtime: Runtime) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let max = JsonLimits::DEFAULT_MAX_SIZE;
    let budget = JsonLimits::DEFAULT_MAX_MEMORY;
    let zeros = filled("0", max);
    let tiny_objects = filled("{\"a\":0}", max);
    let unbounded_memory = JsonLimits::new().max_memory(usize::MAX);
    let report = |what: &str, limits: JsonLimits, json: &String| {
        let m = measure(runtime, limits, json.clone());
        eprintln!(
            "{runtime:?}: {what}, {:.2} MiB of JSON: {}; peak heap growth {:.1} MiB \
             ({:.1}x the message), RSS growth {:.1} MiB",
            json.len() as f64 / MIB,
            m.outcome,
            m.peak_heap as f64 / MIB,
            m.peak_heap as f64 / json.len() as f64,
            m.rss_growth as f64 / MIB,
        );
        m
    };

    let numbers = report(
        "[0,0,…] under the default limits",
        JsonLimits::default(),
        &zeros,
    );
    let objects = report(
        "[{\"a\":0},…] under the default limits",
        JsonLimits::default(),
        &tiny_objects,
    );
    let objects_before = report(
        "[{\"a\":0},…] without the memory bound",
        unbounded_memory,
        &tiny_objects,
    );

    let elements = zeros.matches('0').count();
    assert_eq!(numbers.outcome, format!("message {elements}"));
    assert_eq!(objects.outcome, "error 1009", "refused at the memory bound");
    assert!(
        objects_before.outcome.starts_with("message "),
        "{}",
        objects_before.outcome
    );
    // Bounded: the value's budget, plus the message in the client's and the server's buffers
    // and the allocator slack of the counting (block overheads are not counted here).
    let bound = budget + 6 * max;
    for m in [&numbers, &objects] {
        assert!(
            m.peak_heap <= bound,
            "peak heap growth {:.1} MiB is over {:.1} MiB",
            m.peak_heap as f64 / MIB,
            bound as f64 / MIB
        );
    }
    assert!(
        objects_before.peak_heap > 2 * objects.peak_heap,
        "without the memory bound the same message costs much more ({:.1} MiB vs {:.1} MiB)",
        objects_before.peak_heap as f64 / MIB,
        objects.peak_heap as f64 / MIB
    );
}

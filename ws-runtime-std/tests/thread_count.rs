//! Threads after many connections, over TCP on 127.0.0.1: a server connection costs the one
//! thread running its handler, a client connection none, and when they close every one of
//! those threads is gone. Counted through /proc/self/task.
//!
//! Its own test binary (so its own process): any other test's threads would blur the count.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;
use ws_runtime_std::{CloseCode, Event, Server, WebSocket, connect, live_connections};

const CONNECTIONS: usize = 1000;
const BATCH: usize = 100;
/// Threads allowed beyond one per open server connection: none are expected; this leaves room
/// for a handler thread that is still on its way out.
const SLACK: usize = 2;

/// Raises the soft descriptor limit towards what holding every connection open needs (two
/// descriptors each, both ends being in this process); returns how many connections can be
/// held open at once.
fn connections_that_fit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let wanted = (2 * CONNECTIONS + 256) as libc::rlim_t;
    if limit.rlim_cur < wanted {
        limit.rlim_cur = wanted.min(limit.rlim_max);
        // SAFETY: setrlimit reads the struct it is given.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
    let fit = (limit.rlim_cur as usize).saturating_sub(256) / 2;
    fit.clamp(BATCH, CONNECTIONS)
}

/// Waits until the thread count has not changed for 200 ms (bounded) and returns it.
fn settled_thread_count() -> usize {
    let mut last = thread_count();
    let mut since = Instant::now();
    let deadline = Instant::now() + WAIT;
    loop {
        thread::sleep(Duration::from_millis(10));
        let now = thread_count();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_millis(200) {
            return now;
        }
        assert!(Instant::now() < deadline, "the thread count never settled");
    }
}

fn echoes(ws: &WebSocket, text: &str) {
    ws.send_text(text).expect("send");
    assert_eq!(next(ws), Event::Text(text.into()));
}

/// Closes every connection, waiting for each to end cleanly.
fn close_all(open: &mut Vec<WebSocket>) {
    for ws in open.iter() {
        ws.close(CloseCode::NORMAL, "").expect("close");
    }
    for ws in open.drain(..) {
        assert!(closed(&ws).clean);
    }
}

#[test]
fn threads_return_to_baseline_after_1000_connections_open_and_close() {
    let hold = connections_that_fit();
    let server = echo_server(Server::bind("127.0.0.1:0").expect("bind"));
    let url = format!("ws://{}/", server.local_addr());

    // Warm up: the reactor and the accept loop run, one connection came and went.
    let (warm, _) = connect(&url).expect("connect");
    echoes(&warm, "warm");
    warm.close(CloseCode::NORMAL, "").expect("close");
    assert!(closed(&warm).clean);
    drop(warm);
    assert!(wait_until(WAIT, || live_connections() == 0).is_some());
    let baseline = settled_thread_count();
    eprintln!("baseline: {baseline} threads (holding up to {hold} connections open at once)");

    let mut open = Vec::new();
    let mut peak = 0;
    for batch in 0..CONNECTIONS / BATCH {
        if open.len() + BATCH > hold {
            close_all(&mut open);
        }
        for i in 0..BATCH {
            let (ws, _) = connect(&url).expect("connect");
            echoes(&ws, &format!("{batch}/{i}"));
            open.push(ws);
        }
        let threads = thread_count();
        peak = peak.max(threads);
        eprintln!(
            "{} client connections open: {threads} threads (baseline + {})",
            open.len(),
            threads.saturating_sub(baseline)
        );
        assert!(
            threads <= baseline + open.len() + SLACK,
            "{threads} threads with {} connections open and a baseline of {baseline}: \
             connections cost more than their server handler's thread",
            open.len()
        );
    }

    close_all(&mut open);
    let start = Instant::now();
    let back = wait_until(WAIT, || {
        thread_count() <= baseline && live_connections() == 0
    });
    let threads = thread_count();
    eprintln!(
        "all {CONNECTIONS} connections closed: {threads} threads (peak {peak}), {} connections \
         open, after {:?}",
        live_connections(),
        start.elapsed()
    );
    assert!(
        back.is_some(),
        "{threads} threads and {} open connections {WAIT:?} after closing everything \
         (baseline {baseline} threads)",
        live_connections()
    );
    // Nothing exits behind our back afterwards either.
    assert_eq!(settled_thread_count(), baseline);
}

//! Memory after a large message, over TCP on 127.0.0.1: a connection that received, or sent,
//! one 15 MiB message and then went idle must not keep 15 MiB. Each test checks both what the
//! connection reports (`Sender::buffer_capacity`) and the process's resident memory, since a
//! buffer can outlive what a capacity figure counts.
//!
//! The peers are raw sockets that encode and decode frames by hand, so the only WebSocket
//! buffers in the process are the server's.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use ws_runtime_std::{Config, Decision, Event, Sender, Server, ServerHandle};

const MESSAGE: usize = 15 << 20;
const CONNECTIONS: usize = 8;
/// What an idle connection may report: the core releases spare capacity above 64 KiB in its
/// receive and control buffers and its whole output buffer once written; 3 × 64 KiB bounds it.
const IDLE_BOUND: usize = 3 * (64 << 10);
/// Growth of resident memory allowed for the idle connections once the allocator returned its
/// free memory: a quarter of one 15 MiB buffer per connection, so a single buffer kept by each
/// connection (120 MiB in all) fails it by far, while thread stacks, the per-thread read buffer
/// and allocator bookkeeping (a few MiB) stay well below it.
const RSS_BOUND: usize = CONNECTIONS * MESSAGE / 4;

/// Makes resident memory track what is in use rather than what the allocator keeps: glibc gives
/// each handler thread its own arena and, once a 15 MiB block was freed, raises its mmap and
/// trim thresholds so later large blocks come from (and stay in) those arenas, up to ~30 MiB
/// each with nothing in use, which `malloc_trim` does not return either. A fixed mmap threshold
/// turns that adjustment off: every block above 128 KiB is mapped on its own and unmapped when
/// freed. Process-wide; called before any large allocation.
fn allocator_returns_large_blocks() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt has no preconditions; M_MMAP_THRESHOLD takes a size in bytes.
    unsafe {
        assert_eq!(
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10),
            1,
            "mallopt"
        );
    }
}

/// Resident memory after the allocator returned what it keeps free.
fn rss_in_use() -> usize {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
    rss_bytes()
}

/// A server whose handler reports each connection's sender and every binary message's length
/// to the test, and sends a message of `send` bytes first if asked.
fn reporting_server(send: Option<usize>) -> (ServerHandle, mpsc::Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    // The raw client reads the frames as sent: uncompressed.
    let server = Server::bind("127.0.0.1:0")
        .expect("bind")
        .config(Config::default().with_compression(None))
        .serve(
            |_request| Decision::accept(),
            move |ws, _request| {
                let tx = tx.lock().expect("channel").clone();
                let _ = tx.send(Report::Opened(ws.sender()));
                if let Some(len) = send {
                    let message = vec![0x5au8; len];
                    ws.send_binary(&message).expect("send");
                }
                while let Some(event) = ws.recv() {
                    if let Event::Binary(data) = event {
                        // The message is dropped here, before the test looks at memory.
                        let _ = tx.send(Report::Received(data.len()));
                    }
                }
                drop(ws);
                let _ = tx.send(Report::Ended);
            },
        )
        .expect("serve");
    (server, rx)
}

enum Report {
    Opened(Sender),
    Received(usize),
    Ended,
}

fn opened(reports: &mpsc::Receiver<Report>) -> Sender {
    match reports.recv_timeout(WAIT).expect("a connection") {
        Report::Opened(sender) => sender,
        _ => panic!("expected a new connection"),
    }
}

/// A masked binary frame of `len` bytes with an all-zero mask key (legal, and the payload is
/// then sent as is).
fn binary_frame(len: usize, byte: u8) -> Vec<u8> {
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(len as u64).to_be_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.resize(frame.len() + len, byte);
    frame
}

/// Reads one unmasked binary frame of exactly `len` bytes from `tcp`, discarding the payload.
fn discard_binary_frame(tcp: &mut TcpStream, len: usize) {
    let mut head = [0u8; 10];
    tcp.read_exact(&mut head).expect("frame header");
    assert_eq!(head[0], 0x82, "a final binary frame");
    assert_eq!(head[1], 127, "an unmasked frame with a 64-bit length");
    assert_eq!(
        u64::from_be_bytes(head[2..].try_into().expect("8 bytes")),
        len as u64
    );
    let mut buf = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let n = tcp.read(&mut buf[..left.min(64 << 10)]).expect("payload");
        assert!(n > 0, "EOF in the payload");
        left -= n;
    }
}

/// Closes the connections and waits (bounded) until every handler has ended, so the next test
/// measures from a process that holds none of them.
fn close_all(open: Vec<(TcpStream, Sender)>, reports: &mpsc::Receiver<Report>) {
    let count = open.len();
    drop(open);
    for _ in 0..count {
        loop {
            match reports.recv_timeout(WAIT).expect("a handler did not end") {
                Report::Ended => break,
                _ => continue,
            }
        }
    }
}

/// Checks what the idle connections report and what the process holds.
fn assert_idle(senders: &[Sender], rss_before: usize, what: &str) {
    // Idle for a moment (the reactor's read sweeps come and go), then look.
    thread::sleep(Duration::from_millis(300));
    let capacities: Vec<usize> = senders.iter().map(Sender::buffer_capacity).collect();
    let rss_after = rss_bytes();
    let rss_idle = rss_in_use();
    let growth = rss_idle.saturating_sub(rss_before);
    eprintln!(
        "{CONNECTIONS} connections idle after {what} a {MESSAGE}-byte message: buffer capacity \
         {capacities:?} B; process RSS {} KiB before, {} KiB after, {} KiB once the allocator \
         returned its free memory (growth {} KiB, bound {} KiB)",
        rss_before >> 10,
        rss_after >> 10,
        rss_idle >> 10,
        growth >> 10,
        RSS_BOUND >> 10,
    );
    for (i, &capacity) in capacities.iter().enumerate() {
        assert!(
            capacity <= IDLE_BOUND,
            "connection {i} reports {capacity} bytes of buffers, idle after {what} a \
             {MESSAGE}-byte message (bound {IDLE_BOUND})"
        );
    }
    assert!(
        growth < RSS_BOUND,
        "resident memory grew by {growth} bytes for {CONNECTIONS} connections idle after {what} \
         a {MESSAGE}-byte message each"
    );
}

#[test]
fn an_idle_connection_does_not_keep_the_memory_of_a_15_mib_message_it_received() {
    let _serial = serial();
    allocator_returns_large_blocks();
    no_open_connections();
    let (server, reports) = reporting_server(None);
    let addr = server.local_addr();
    let rss_before = rss_in_use();
    let mut open = Vec::new();
    for i in 0..CONNECTIONS {
        let (mut tcp, _connection) = raw_client(addr, None, None);
        let sender = opened(&reports);
        let frame = binary_frame(MESSAGE, i as u8);
        tcp.write_all(&frame).expect("write");
        drop(frame);
        match reports.recv_timeout(WAIT).expect("the message") {
            Report::Received(len) => assert_eq!(len, MESSAGE),
            _ => panic!("expected the message"),
        }
        open.push((tcp, sender));
    }
    let senders: Vec<Sender> = open.iter().map(|(_, s)| s.clone()).collect();
    assert_idle(&senders, rss_before, "receiving");
    drop(senders);
    close_all(open, &reports);
}

/// The core's output queue keeps the allocation of a large frame after the socket took all of
/// it: its spare-capacity check runs on a buffer advanced to its end, which reports almost no
/// capacity while still holding the whole allocation (and `buffer_capacity` reports 0).
#[test]
fn an_idle_connection_does_not_keep_the_memory_of_a_15_mib_message_it_sent() {
    let _serial = serial();
    allocator_returns_large_blocks();
    no_open_connections();
    let (server, reports) = reporting_server(Some(MESSAGE));
    let addr = server.local_addr();
    let rss_before = rss_in_use();
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        let (mut tcp, _connection) = raw_client(addr, None, None);
        let sender = opened(&reports);
        discard_binary_frame(&mut tcp, MESSAGE);
        open.push((tcp, sender));
    }
    let senders: Vec<Sender> = open.iter().map(|(_, s)| s.clone()).collect();
    assert_idle(&senders, rss_before, "sending");
    drop(senders);
    close_all(open, &reports);
}

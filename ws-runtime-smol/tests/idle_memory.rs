//! Memory after a large message on the smol adapter, over TCP on 127.0.0.1: a connection that
//! received, or sent, one 15 MiB message and then went idle must not keep 15 MiB. Each test
//! checks both what the connection reports (`Sender::buffer_capacity`) and the process's
//! resident memory, since a buffer can outlive what a capacity figure counts.
//!
//! The peers are raw blocking sockets that encode and decode frames by hand, so the only
//! WebSocket buffers in the process are the server's.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use common::*;
use ws_runtime_smol::{Decision, Event, Sender, Server, ServerHandle};

/// The longest any single wait of a test may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
const MESSAGE: usize = 15 << 20;
const CONNECTIONS: usize = 8;
/// What an idle connection may report: the core releases spare capacity above 64 KiB in its
/// receive and control buffers and its whole output buffer once written; 3 × 64 KiB bounds it.
const IDLE_BOUND: usize = 3 * (64 << 10);
/// Growth of resident memory allowed for the idle connections once the allocator returned its
/// free memory: a quarter of one 15 MiB buffer per connection, so a single buffer kept by each
/// connection (120 MiB in all) fails it by far, while the executor's and reactor's threads, the
/// per-thread read buffer and allocator bookkeeping (a few MiB) stay well below it.
const RSS_BOUND: usize = CONNECTIONS * MESSAGE / 4;

/// Serialises the tests of this file: each measures the whole process's resident memory.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes resident memory track what is in use rather than what the allocator keeps: glibc gives
/// threads their own arenas and, once a 15 MiB block was freed, raises its mmap and trim
/// thresholds so later large blocks come from (and stay in) those arenas. A fixed mmap
/// threshold turns that adjustment off: every block above 128 KiB is mapped on its own and
/// unmapped when freed. Process-wide; called before any large allocation.
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

/// Resident memory of this process in bytes (/proc/self/statm).
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("resident field")
        .parse()
        .expect("a number");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * usize::try_from(page).unwrap_or(4096)
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
    let server = run(WAIT, Server::bind("127.0.0.1:0"))
        .expect("bind")
        .serve(
            |_request| Decision::accept(),
            move |ws, _request| {
                let tx = tx.lock().expect("channel").clone();
                async move {
                    let _ = tx.send(Report::Opened(ws.sender()));
                    if let Some(len) = send {
                        let message = vec![0x5au8; len];
                        ws.send_binary(&message).await.expect("send");
                    }
                    while let Some(event) = ws.recv().await {
                        if let Event::Binary(data) = event {
                            // The message is dropped here, before the test looks at memory.
                            let _ = tx.send(Report::Received(data.len()));
                        }
                    }
                    drop(ws);
                    let _ = tx.send(Report::Ended);
                }
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

/// A raw client: connects to `addr` and completes the opening handshake, reading the response
/// head byte by byte so that whatever the server sends right after the 101 (the 15 MiB frame)
/// stays in the socket for the test to read.
fn upgraded_client(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    tcp.set_write_timeout(Some(WAIT)).expect("timeout");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("the response head");
        head.push(byte[0]);
        assert!(head.len() < 4096, "response head too long");
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "the accept key of the sample nonce: {head}"
    );
    tcp
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
    // Idle for a moment (the drivers finish their last writes and reads), then look.
    thread::sleep(Duration::from_millis(300));
    let capacities: Vec<usize> = senders.iter().map(Sender::buffer_capacity).collect();
    let rss_after = rss_bytes();
    let rss_idle = rss_in_use();
    let growth = rss_idle.saturating_sub(rss_before);
    eprintln!(
        "smol: {CONNECTIONS} connections idle after {what} a {MESSAGE}-byte message: buffer \
         capacity {capacities:?} B; process RSS {} KiB before, {} KiB after, {} KiB once the \
         allocator returned its free memory (growth {} KiB, bound {} KiB)",
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
fn an_idle_smol_connection_does_not_keep_the_memory_of_a_15_mib_message_it_received() {
    let _serial = serial();
    allocator_returns_large_blocks();
    let (server, reports) = reporting_server(None);
    let addr = server.local_addr();
    let rss_before = rss_in_use();
    let mut open = Vec::new();
    for i in 0..CONNECTIONS {
        let mut tcp = upgraded_client(addr);
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

#[test]
fn an_idle_smol_connection_does_not_keep_the_memory_of_a_15_mib_message_it_sent() {
    let _serial = serial();
    allocator_returns_large_blocks();
    let (server, reports) = reporting_server(Some(MESSAGE));
    let addr = server.local_addr();
    let rss_before = rss_in_use();
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut tcp = upgraded_client(addr);
        let sender = opened(&reports);
        discard_binary_frame(&mut tcp, MESSAGE);
        open.push((tcp, sender));
    }
    let senders: Vec<Sender> = open.iter().map(|(_, s)| s.clone()).collect();
    assert_idle(&senders, rss_before, "sending");
    drop(senders);
    close_all(open, &reports);
}

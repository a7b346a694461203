//! Peers that do not keep up, over TCP on 127.0.0.1 against the blocking server: a peer that
//! completes the handshake and then never reads (so the server's writes are really blocked),
//! and a peer that floods an application that never receives. The timers (close timeout,
//! keepalive) and `abort` must end such connections on time whatever the application's threads
//! are doing, and reading must stop near the read-ahead. Every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socket2::SockRef;
use ws_proto::ProtocolError;
use ws_runtime_std::{
    CloseCode, Config, Event, RecvTimeout, TrySendError, WebSocket, live_connections,
};

/// Kernel buffer size asked for on both ends (Linux doubles it for bookkeeping).
const KERNEL: usize = 64 << 10;
/// The server's output queue: what it holds beyond the kernel buffers once the peer stops.
const OUTPUT: usize = 2 << 20;

/// A server-side WebSocket whose raw client peer completed the handshake and then reads
/// nothing, with the server's socket blocked on writes: it queued several MiB, the kernel
/// buffers are full and the output queue stays full. Returns the connection, when the test got
/// it (just after the handshake), the peer's socket (kept open, never read) and how many bytes
/// the server queued.
fn blocked_by_a_peer_that_never_reads(config: Config) -> (WebSocket, Instant, TcpStream, usize) {
    no_open_connections();
    let (server, handed) = handing_server(small_buffer_listener(KERNEL), config);
    let addr = server.local_addr();
    let (peer, _connection) = raw_client(addr, Some(KERNEL), None);
    let ws = handed.recv_timeout(WAIT).expect("a connection");
    let opened = Instant::now();
    // No more connections to accept; the open one carries on without any thread.
    server.stop();
    assert_eq!(live_connections(), 1);

    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0usize;
    let deadline = Instant::now() + WAIT;
    loop {
        match ws.try_send_binary(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(TrySendError::Full) => {
                // Full now; still full a while later means the socket takes nothing more.
                thread::sleep(Duration::from_millis(300));
                match ws.try_send_binary(&chunk) {
                    Ok(()) => sent += chunk.len(),
                    Err(TrySendError::Full) => break,
                    Err(e) => panic!("send failed: {e}"),
                }
            }
            Err(e) => panic!("send failed: {e}"),
        }
        assert!(Instant::now() < deadline, "the socket never filled");
        assert!(
            sent < 256 << 20,
            "the socket never filled after {sent} bytes"
        );
    }
    assert!(
        sent >= OUTPUT,
        "only {sent} bytes queued before the output queue stayed full"
    );
    eprintln!("queued {sent} bytes for a peer that never reads before the socket blocked");
    (ws, opened, peer, sent)
}

/// Small output and kernel buffers so the socket fills fast; a close timeout no test waits for
/// unless it sets its own.
fn blocking_config() -> Config {
    // Flow control is counted in wire bytes: compression would shrink the repeated bytes
    // these tests send a thousandfold.
    Config::default()
        .with_compression(None)
        .with_max_output_buffer(OUTPUT)
        .with_close_timeout(Duration::from_secs(120))
}

/// Waits (bounded) until every connection of this process is closed; returns how long it took.
fn connections_closed(limit: Duration) -> Duration {
    wait_until(limit, || live_connections() == 0).unwrap_or_else(|| {
        panic!(
            "{} connections still open after {limit:?}",
            live_connections()
        )
    })
}

#[test]
fn close_ends_within_the_close_timeout_when_the_peer_never_reads() {
    let _serial = serial();
    let config = blocking_config().with_close_timeout(Duration::from_secs(1));
    let (ws, _opened, _peer, _sent) = blocked_by_a_peer_that_never_reads(config);
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "bye").expect("close");
    // This thread waits in recv, reading a socket on which nothing will ever arrive: the
    // reactor's close timer must end it.
    let outcome = closed(&ws);
    let took = start.elapsed();
    eprintln!("close with a 1 s close timeout: Closed after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed after {took:?}, before the close timeout: the peer answered nothing"
    );
    assert!(
        took < Duration::from_millis(2500),
        "closed only after {took:?} with a close timeout of 1 s"
    );
    assert!(!outcome.clean);
    assert_eq!(
        outcome.received,
        ws_proto::PeerClose::NotReceived,
        "the peer sent no Close"
    );
    assert_eq!(ws.recv_timeout(WAIT), Ok(None));
    let released = connections_closed(Duration::from_millis(500));
    eprintln!("live_connections back to 0 {released:?} after Closed");
}

#[test]
fn abort_wakes_a_blocked_recv_at_once_and_releases_the_socket() {
    let _serial = serial();
    let (ws, _opened, mut peer, sent) = blocked_by_a_peer_that_never_reads(blocking_config());
    let (sender, receiver) = ws.split();
    let reader = thread::spawn(move || {
        let outcome = loop {
            match receiver.recv_timeout(WAIT) {
                Ok(Some(Event::Closed(outcome))) => break outcome,
                Ok(Some(_)) => {}
                Ok(None) => panic!("no Closed event"),
                Err(RecvTimeout) => panic!("recv still blocked after {WAIT:?}"),
            }
        };
        (outcome, Instant::now())
    });
    // Let the reader block in its read of the silent socket.
    thread::sleep(Duration::from_millis(300));
    assert!(
        !reader.is_finished(),
        "recv returned with nothing to return"
    );
    let start = Instant::now();
    sender.abort();
    let (outcome, returned) = reader.join().expect("reader");
    let took = returned.saturating_duration_since(start);
    eprintln!("abort: the thread blocked in recv returned Closed after {took:?}");
    assert!(
        took < Duration::from_millis(500),
        "abort took {took:?} to wake the thread in recv"
    );
    assert_eq!(outcome.code(), CloseCode::ABNORMAL);
    assert!(!outcome.clean);
    drop(sender);
    let released = connections_closed(Duration::from_millis(500));
    eprintln!("live_connections back to 0 {released:?} after Closed");

    // The peer reads what its own receive buffer holds, then the end of the connection: a
    // reset (or at least an EOF), not more data, since what the server still had queued is
    // gone with the socket.
    peer.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 64 << 10];
    let mut read = 0usize;
    let end = loop {
        match peer.read(&mut buf) {
            Ok(0) => break "EOF",
            Ok(n) => read += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break "reset",
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("the peer saw no end of the connection after {read} bytes: {e}"),
        }
        assert!(read <= sent, "the peer read more than was sent");
    };
    eprintln!("the peer read {read} of {sent} bytes, then saw {end}");
    assert!(
        read < sent,
        "the peer received everything: the queued output was not dropped"
    );
}

#[test]
fn keepalive_ends_a_connection_whose_peer_never_reads() {
    let _serial = serial();
    // A Ping after 1 s of silence, failure 1 s later, then a short close timeout for the Close
    // frame the peer will never read: about 2.25 s from the handshake.
    let config = blocking_config()
        .with_ping_interval(Some(Duration::from_secs(1)))
        .with_pong_timeout(Duration::from_secs(1))
        .with_close_timeout(Duration::from_millis(250));
    let (ws, opened, _peer, _sent) = blocked_by_a_peer_that_never_reads(config);
    let outcome = closed(&ws);
    let took = opened.elapsed();
    eprintln!(
        "keepalive (ping 1 s, pong timeout 1 s, close timeout 250 ms): ended {took:?} after the handshake"
    );
    assert!(
        took >= Duration::from_millis(1900),
        "ended after {took:?}, before ping interval and pong timeout had passed"
    );
    assert!(
        took < Duration::from_millis(2900),
        "ended only after {took:?}; expected about 2.25 s"
    );
    assert_eq!(outcome.error, Some(ProtocolError::KeepaliveTimeout));
    assert_eq!(
        outcome.sent.map(|frame| frame.code),
        Some(CloseCode::INTERNAL_ERROR)
    );
    connections_closed(Duration::from_millis(500));
}

#[test]
fn dropping_every_handle_ends_the_connection_within_the_close_timeout() {
    let _serial = serial();
    let config = blocking_config().with_close_timeout(Duration::from_secs(1));
    let (ws, _opened, _peer, _sent) = blocked_by_a_peer_that_never_reads(config);
    // No handle and no thread is left: only the reactor can finish the connection, whose
    // Close (1001) sits behind output the peer never reads.
    drop(ws);
    assert_eq!(live_connections(), 1, "the close cannot have completed");
    let took = connections_closed(Duration::from_secs(5));
    eprintln!("all handles dropped (close timeout 1 s): socket closed after {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "closed after {took:?}: the close handshake was not given its timeout"
    );
    assert!(
        took < Duration::from_millis(2000),
        "closed only after {took:?} with a close timeout of 1 s"
    );
}

#[test]
fn a_flooding_peer_stalls_near_read_ahead_while_the_application_does_not_receive() {
    let _serial = serial();
    no_open_connections();
    const MESSAGE: usize = 16 << 10;
    const MESSAGES: usize = 1024; // 16 MiB in all.
    let read_ahead = 256 << 10;
    let listener = small_buffer_listener(KERNEL);
    // Accepted sockets inherit the listener's receive buffer.
    let rcvbuf = SockRef::from(&listener).recv_buffer_size().expect("rcvbuf");
    let (server, handed) = handing_server(
        listener,
        Config::default()
            .with_read_ahead(read_ahead)
            .with_compression(None),
    );
    let addr = server.local_addr();

    let written = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&written);
    let (sndbuf_tx, sndbuf_rx) = std::sync::mpsc::channel();
    let peer = thread::spawn(move || {
        let (mut tcp, mut connection) = raw_client(addr, None, Some(KERNEL));
        let _ = sndbuf_tx.send(SockRef::from(&tcp).send_buffer_size().expect("sndbuf"));
        for i in 0..MESSAGES {
            let mut message = vec![(i % 251) as u8; MESSAGE];
            message[..8].copy_from_slice(&(i as u64).to_be_bytes());
            connection.send_binary(&message).expect("queue");
            let frame = connection.output().to_vec();
            connection.consume_output(frame.len());
            // Bounded by the write timeout the handshake helper set.
            tcp.write_all(&frame).expect("write");
            counter.fetch_add(frame.len(), Ordering::SeqCst);
        }
        tcp
    });
    let ws = handed.recv_timeout(WAIT).expect("a connection");
    let sndbuf = sndbuf_rx.recv_timeout(WAIT).expect("peer buffers");

    // The application receives nothing: the peer's writes must stall. Settled = no progress
    // for 500 ms.
    let mut last = written.load(Ordering::SeqCst);
    let mut since = Instant::now();
    let deadline = Instant::now() + WAIT;
    let stalled = loop {
        thread::sleep(Duration::from_millis(20));
        let now = written.load(Ordering::SeqCst);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_millis(500) {
            break now;
        }
        assert!(Instant::now() < deadline, "the peer never settled");
    };
    let total = MESSAGES * (MESSAGE + 4 + 4);
    // What the connection may hold (read-ahead, the 64 KiB read that crossed it, one message),
    // plus the kernel buffers on both ends and some slack for their accounting.
    let bound = read_ahead + (64 << 10) + MESSAGE + sndbuf + rcvbuf + (256 << 10);
    eprintln!(
        "flood: the peer wrote {stalled} of {total} bytes before stalling \
         (read_ahead {read_ahead}, sndbuf {sndbuf}, rcvbuf {rcvbuf}, bound {bound})"
    );
    assert!(
        stalled < total,
        "the peer wrote all {total} bytes to an application that received nothing"
    );
    assert!(
        stalled <= bound,
        "the peer wrote {stalled} bytes before stalling; expected at most {bound}"
    );

    // Receiving resumes the reads: everything arrives, in order and intact.
    for i in 0..MESSAGES {
        match next(&ws) {
            Event::Binary(data) => {
                assert_eq!(data.len(), MESSAGE);
                assert_eq!(
                    data[..8],
                    (i as u64).to_be_bytes(),
                    "message {i} out of order"
                );
                assert!(data[8..].iter().all(|&b| b == (i % 251) as u8));
            }
            other => panic!("expected message {i}, got {other:?}"),
        }
    }
    let tcp = peer.join().expect("peer");
    assert_eq!(written.load(Ordering::SeqCst), total);
    ws.abort();
    drop(tcp);
    drop(server);
    connections_closed(Duration::from_secs(1));
}

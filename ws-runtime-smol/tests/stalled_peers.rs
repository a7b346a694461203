//! Peers that do not keep up, over TCP on 127.0.0.1 against the smol server: a peer that floods
//! an application that never receives, and a peer that completes the handshake and then never
//! reads. Every test has a timeout so none can hang.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_io::Async;
use common::*;
use socket2::{Domain, SockRef, Socket, Type};
use ws_proto::ProtocolError;
use ws_runtime_smol::{CloseCode, Config, Decision, Event, Server, ServerHandle, WebSocket};

const LIMIT: Duration = Duration::from_secs(30);

/// A listener on 127.0.0.1 whose accepted sockets inherit small, fixed kernel buffers (no
/// autotuning), so what the kernel can hold is known.
fn small_buffer_listener(size: usize) -> TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(size).expect("rcvbuf");
    socket.set_send_buffer_size(size).expect("sndbuf");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(16).expect("listen");
    socket.into()
}

/// A server that hands every accepted WebSocket to the test, which decides what to do with it.
async fn handing_server(listener: TcpListener, config: Config) -> (ServerHandle, Handed) {
    let (tx, rx) = async_channel::unbounded();
    let server = Server::from_listener(Async::new(listener).expect("async"))
        .config(config)
        .serve(
            |_request| Decision::accept(),
            move |ws, _request| {
                let tx = tx.clone();
                async move {
                    // The test owns the handles from here on.
                    let _ = tx.send(ws).await;
                }
            },
        )
        .expect("serve");
    (server, rx)
}

type Handed = async_channel::Receiver<WebSocket>;

/// Waits until `counter` has not moved for `quiet`, and returns its value.
async fn settled(counter: &AtomicUsize, quiet: Duration) -> usize {
    let mut last = counter.load(Ordering::SeqCst);
    let mut since = Instant::now();
    loop {
        sleep(Duration::from_millis(20)).await;
        let now = counter.load(Ordering::SeqCst);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return now;
        }
    }
}

#[test]
fn a_flooding_peer_stalls_near_read_ahead_while_the_application_does_not_receive() {
    run(LIMIT, async {
        const MESSAGE: usize = 16 << 10;
        const MESSAGES: usize = 1024; // 16 MiB in all.
        const KERNEL: usize = 64 << 10;
        let read_ahead = 256 << 10;
        let listener = small_buffer_listener(KERNEL);
        // Accepted sockets inherit the listener's receive buffer.
        let rcvbuf = SockRef::from(&listener).recv_buffer_size().expect("rcvbuf");
        let (server, handed) = handing_server(
            listener,
            Config::default()
                .with_read_ahead(read_ahead)
                .with_compression(None),
        )
        .await;
        let addr = server.local_addr();

        let written = Arc::new(AtomicUsize::new(0));
        let (buffers_tx, buffers_rx) = async_channel::bounded(1);
        let counter = Arc::clone(&written);
        let peer = std::thread::spawn(move || {
            let (mut tcp, mut connection) = raw_client(addr);
            SockRef::from(&tcp)
                .set_send_buffer_size(KERNEL)
                .expect("sndbuf");
            let sndbuf = SockRef::from(&tcp).send_buffer_size().expect("sndbuf");
            let _ = buffers_tx.send_blocking(sndbuf);
            for i in 0..MESSAGES {
                let mut message = vec![(i % 251) as u8; MESSAGE];
                message[..8].copy_from_slice(&(i as u64).to_be_bytes());
                connection.send_binary(&message).expect("queue");
                let frame = connection.output().to_vec();
                connection.consume_output(frame.len());
                std::io::Write::write_all(&mut tcp, &frame).expect("write");
                counter.fetch_add(frame.len(), Ordering::SeqCst);
            }
            tcp
        });
        let ws = handed.recv().await.expect("a connection");
        let sndbuf = buffers_rx.recv().await.expect("peer buffers");
        // The application receives nothing: the peer's writes must stall.
        let stalled = settled(&written, Duration::from_millis(500)).await;
        let total = MESSAGES * (MESSAGE + 4 + 4);
        // What the connection may hold (read-ahead, the read that crossed it, one message),
        // plus the kernel buffers on both ends and some slack for their accounting.
        let bound = read_ahead + (64 << 10) + MESSAGE + sndbuf + rcvbuf + (256 << 10);
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
            match ws.recv().await {
                Some(Event::Binary(data)) => {
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
    });
}

/// A server-side WebSocket whose client peer completed the handshake and then reads nothing,
/// with the socket full: the server sent until a send waited. Dropping the returned sender lets
/// the peer go.
async fn blocked_by_a_peer_that_never_reads(
    config: Config,
) -> (WebSocket, Instant, std::sync::mpsc::Sender<()>) {
    const KERNEL: usize = 64 << 10;
    let (server, handed) = handing_server(small_buffer_listener(KERNEL), config).await;
    let addr = server.local_addr();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (tcp, _connection) = raw_client(addr);
        SockRef::from(&tcp)
            .set_recv_buffer_size(KERNEL)
            .expect("rcvbuf");
        // Read nothing, answer nothing, until the test is over.
        let _ = release_rx.recv_timeout(LIMIT);
        drop(tcp);
    });
    let ws = handed.recv().await.expect("a connection");
    let opened = Instant::now();
    // No more connections to accept; the open one carries on.
    drop(server);
    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0usize;
    loop {
        let send = futures_lite::future::or(async { Some(ws.send_binary(&chunk).await) }, async {
            sleep(Duration::from_millis(300)).await;
            None
        });
        match send.await {
            Some(Ok(())) => sent += chunk.len(),
            Some(Err(e)) => panic!("send failed: {e}"),
            // A send waited: our output queue is full and the socket takes nothing.
            None => break,
        }
        assert!(sent < 256 << 20, "the socket never filled");
    }
    (ws, opened, release_tx)
}

async fn closed(ws: &WebSocket) -> ws_runtime_smol::CloseOutcome {
    loop {
        match ws.recv().await {
            Some(Event::Closed(outcome)) => return outcome,
            Some(_) => {}
            None => panic!("no Closed event"),
        }
    }
}

/// Small output and kernel buffers so the socket fills fast; a close timeout no test waits for
/// unless it sets its own.
fn blocking_config() -> Config {
    // Flow control is counted in wire bytes: compression would shrink the repeated bytes
    // these tests send a thousandfold.
    Config::default()
        .with_compression(None)
        .with_max_output_buffer(256 << 10)
        .with_close_timeout(Duration::from_secs(120))
}

#[test]
fn close_ends_within_the_close_timeout_when_the_peer_never_reads() {
    run(LIMIT, async {
        let config = blocking_config().with_close_timeout(Duration::from_secs(1));
        let (ws, _opened, _release) = blocked_by_a_peer_that_never_reads(config).await;
        let start = Instant::now();
        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        let outcome = closed(&ws).await;
        let took = start.elapsed();
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
        assert_eq!(ws.recv().await, None);
    });
}

#[test]
fn abort_ends_a_connection_whose_peer_never_reads_at_once() {
    run(LIMIT, async {
        let (ws, _opened, _release) = blocked_by_a_peer_that_never_reads(blocking_config()).await;
        let start = Instant::now();
        ws.abort();
        let outcome = closed(&ws).await;
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "abort took {took:?} to end the connection"
        );
        assert_eq!(outcome.code(), CloseCode::ABNORMAL);
        assert!(!outcome.clean);
    });
}

#[test]
fn keepalive_ends_a_connection_whose_peer_never_reads() {
    run(LIMIT, async {
        // A Ping after 1 s of silence, failure 1 s later, then a short close timeout for the
        // Close frame the peer will never read: about 2.25 s from the handshake.
        let config = blocking_config()
            .with_ping_interval(Some(Duration::from_secs(1)))
            .with_pong_timeout(Duration::from_secs(1))
            .with_close_timeout(Duration::from_millis(250));
        let (ws, opened, _release) = blocked_by_a_peer_that_never_reads(config).await;
        let outcome = closed(&ws).await;
        let took = opened.elapsed();
        assert!(
            took >= Duration::from_millis(1900),
            "ended after {took:?}, before ping interval and pong timeout had passed"
        );
        assert!(
            took < Duration::from_millis(3500),
            "ended only after {took:?}; expected about 2.25 s"
        );
        assert_eq!(outcome.error, Some(ProtocolError::KeepaliveTimeout));
        assert_eq!(
            outcome.sent.map(|frame| frame.code),
            Some(CloseCode::INTERNAL_ERROR)
        );
    });
}

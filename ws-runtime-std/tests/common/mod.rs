//! Helpers shared by the integration tests: raw peers driven by the sans-IO core, listeners with
//! small kernel buffers, a server that hands its connections to the test, and bounded waits on
//! process-wide counters.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use ws_proto::handshake::{ClientHandshake, ClientOutcome, ClientRequest, WsUrl};
use ws_proto::{Connection, SeededKeySource};
use ws_runtime_std::{Config, Decision, Event, RecvTimeout, Server, ServerHandle, WebSocket};

/// The longest any single wait of a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Serialises the tests of one file that look at process-wide figures (open connections,
/// threads, CPU time), so a neighbour's connections do not blur them.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A listener on 127.0.0.1 whose accepted sockets inherit small, fixed kernel buffers (setting
/// them turns autotuning off), so what the kernel can hold is known.
pub fn small_buffer_listener(size: usize) -> TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(size).expect("rcvbuf");
    socket.set_send_buffer_size(size).expect("sndbuf");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(128).expect("listen");
    socket.into()
}

/// A TCP socket to `addr` with the given kernel buffer sizes set before connecting (so the
/// receive window is small from the first segment).
pub fn small_buffer_stream(
    addr: SocketAddr,
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).expect("rcvbuf");
    }
    if let Some(size) = sndbuf {
        socket.set_send_buffer_size(size).expect("sndbuf");
    }
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .expect("connect");
    socket.into()
}

/// Runs the client side of the opening handshake on `tcp` with the sans-IO machine and returns
/// the established connection (which already holds whatever followed the 101). Panics on any
/// failure, a refusal included.
pub fn raw_handshake(tcp: &mut TcpStream, addr: SocketAddr) -> Connection {
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    tcp.set_write_timeout(Some(WAIT)).expect("timeout");
    let url = WsUrl::parse(&format!("ws://{addr}/")).expect("url");
    let now = Instant::now();
    let mut handshake = ClientHandshake::new(
        ClientRequest::new(url),
        Config::default(),
        Box::new(SeededKeySource::new(7)),
        now,
    )
    .expect("request");
    tcp.write_all(handshake.output()).expect("write request");
    let written = handshake.output().len();
    handshake.consume_output(written);
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).expect("read response");
        assert!(n > 0, "server closed during the handshake");
        match handshake.receive(now, &buf[..n]).expect("a valid response") {
            Some(ClientOutcome::Upgraded(established)) => return established.connection,
            Some(ClientOutcome::Rejected(response)) => panic!("rejected: {response:?}"),
            None => {}
        }
    }
}

/// A raw client: connects to `addr` (with optional kernel buffer sizes) and completes the
/// opening handshake.
pub fn raw_client(
    addr: SocketAddr,
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
) -> (TcpStream, Connection) {
    let mut tcp = small_buffer_stream(addr, rcvbuf, sndbuf);
    let connection = raw_handshake(&mut tcp, addr);
    (tcp, connection)
}

/// A server that hands every accepted WebSocket to the test: its handler thread ends at once,
/// so the connection runs with no thread of its own until the test uses it.
pub fn handing_server(listener: TcpListener, config: Config) -> (ServerHandle, Handed) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Server::from_listener(listener)
        .config(config)
        .serve(
            |_request| Decision::accept(),
            move |ws, _request| {
                let _ = tx.lock().expect("channel").send(ws);
            },
        )
        .expect("serve");
    (server, rx)
}

/// Where a [`handing_server`] delivers its connections.
pub type Handed = mpsc::Receiver<WebSocket>;

/// An echo server on 127.0.0.1 that sends every text and binary message back.
pub fn echo_server(server: Server) -> ServerHandle {
    server
        .serve(|_request| Decision::accept(), echo)
        .expect("serve")
}

/// The echo handler.
pub fn echo(ws: WebSocket, _request: ws_runtime_std::Request) {
    while let Some(event) = ws.recv() {
        let sent = match event {
            Event::Text(text) => ws.send_text(&text),
            Event::Binary(data) => ws.send_binary(&data),
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// The next event within [`WAIT`].
pub fn next(ws: &WebSocket) -> Event {
    ws.recv_timeout(WAIT)
        .expect("timed out waiting for an event")
        .expect("an event")
}

/// Receives until `Closed` (within [`WAIT`] overall) and returns its outcome.
pub fn closed(ws: &WebSocket) -> ws_proto::CloseOutcome {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.recv_timeout(left) {
            Ok(Some(Event::Closed(outcome))) => return outcome,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the connection ended without a Closed event"),
            Err(RecvTimeout) => panic!("no Closed event within {WAIT:?}"),
        }
    }
}

/// Polls `condition` every 5 ms until it holds or `limit` passes; returns how long it took, or
/// `None` if it never held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits (bounded) until no connection of this process is open, so a test starts from a known
/// baseline; fails if connections of an earlier test never closed.
pub fn no_open_connections() {
    assert!(
        wait_until(WAIT, || ws_runtime_std::live_connections() == 0).is_some(),
        "{} connections still open from earlier tests",
        ws_runtime_std::live_connections()
    );
}

/// Threads of this process (entries of /proc/self/task).
#[cfg(target_os = "linux")]
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Resident memory of this process in bytes (/proc/self/statm).
#[cfg(target_os = "linux")]
pub fn rss_bytes() -> usize {
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

//! A failing `accept` must not spin the smol server's accept loop. With the process out of file
//! descriptors (RLIMIT_NOFILE lowered below the next free descriptor), every `accept` fails with
//! EMFILE and leaves the connection queued, and the listener stays readable, so a loop that
//! retried at once would burn a core; the server backs off instead, and serves the queued
//! connections once descriptors are available again.
//!
//! Its own test binary (so its own process): the lowered limit affects every thread.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use socket2::{Domain, Socket, Type};
use ws_proto::handshake::{ClientHandshake, ClientRequest, WsUrl};
use ws_proto::{Config, SeededKeySource};
use ws_runtime_smol::{Event, WebSocket, connect};

/// The longest any single wait of this test may take before it fails.
const WAIT: Duration = Duration::from_secs(20);
/// Clients that connect while descriptors are exhausted.
const CLIENTS: usize = 8;
/// How long the CPU time is measured.
const WINDOW: Duration = Duration::from_millis(1500);

/// The soft RLIMIT_NOFILE, restored when dropped (also on panic).
struct LoweredLimit {
    original: libc::rlimit,
}

impl LoweredLimit {
    /// Lowers the soft limit to the lowest free descriptor number, so no new descriptor can be
    /// made while those already open keep working.
    fn exhaust() -> LoweredLimit {
        let mut original = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut original) },
            0
        );
        // The lowest free descriptor number: F_DUPFD returns the lowest one from 0 up.
        // SAFETY: duplicating standard error and closing the duplicate touch nothing else.
        let lowest = unsafe { libc::fcntl(2, libc::F_DUPFD, 0) };
        assert!(lowest >= 0, "dup failed");
        // SAFETY: `lowest` is the descriptor just made.
        unsafe { libc::close(lowest) };
        let lowered = libc::rlimit {
            rlim_cur: lowest as libc::rlim_t,
            rlim_max: original.rlim_max,
        };
        // SAFETY: setrlimit reads the struct it is given.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        eprintln!(
            "RLIMIT_NOFILE lowered from {} to {lowest} (the lowest free descriptor)",
            original.rlim_cur
        );
        LoweredLimit { original }
    }
}

impl Drop for LoweredLimit {
    fn drop(&mut self) {
        // SAFETY: setrlimit reads the struct it is given.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.original) };
    }
}

/// User plus system CPU time of the whole process.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A client made before descriptors run out: its socket exists, it connects later.
struct Pending {
    socket: Socket,
    handshake: ClientHandshake,
}

impl Pending {
    fn new(addr: SocketAddr, seed: u64) -> Pending {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        socket.set_write_timeout(Some(WAIT)).expect("timeout");
        let url = WsUrl::parse(&ws_url(addr)).expect("url");
        let handshake = ClientHandshake::new(
            ClientRequest::new(url),
            Config::default(),
            Box::new(SeededKeySource::new(seed)),
            Instant::now(),
        )
        .expect("request");
        Pending { socket, handshake }
    }

    /// Connects and sends the upgrade request (needs no new descriptor).
    fn connect(&mut self, addr: SocketAddr) {
        self.socket.connect(&addr.into()).expect("connect");
        let request = self.handshake.output().to_vec();
        (&self.socket).write_all(&request).expect("request");
        self.handshake.consume_output(request.len());
    }

    /// Whether any answer has arrived (without waiting).
    fn answered(&self) -> bool {
        self.socket.set_nonblocking(true).expect("nonblocking");
        let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        let answered = match self.socket.peek(&mut byte) {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("the pending client failed: {e}"),
        };
        self.socket.set_nonblocking(false).expect("blocking");
        answered
    }

    /// Reads the server's answer (bounded by the read timeout): must be a 101.
    fn upgraded(mut self) -> TcpStream {
        let mut buf = [0u8; 4096];
        loop {
            let n = (&self.socket).read(&mut buf).expect("the server's answer");
            assert!(n > 0, "the server closed instead of answering");
            if self
                .handshake
                .receive(Instant::now(), &buf[..n])
                .expect("a 101")
                .is_some()
            {
                return self.socket.into();
            }
        }
    }
}

/// Sends `text` on `ws` and expects it echoed back, within [`WAIT`].
fn echoes(ws: &WebSocket, text: &str) {
    run(WAIT, async {
        ws.send_text(text).await.expect("send");
        match ws.recv().await {
            Some(Event::Text(echoed)) => assert_eq!(echoed, text),
            other => panic!("expected the echo of {text:?}, got {other:?}"),
        }
    });
}

#[test]
fn a_smol_accept_loop_out_of_descriptors_backs_off_instead_of_spinning() {
    let server = run(WAIT, echo_server(Config::default()));
    let addr = server.local_addr();
    let url = ws_url(addr);
    // Warm up: executor and reactor threads started, one connection served.
    let (held, _) = run(WAIT, connect(&url)).expect("connect");
    echoes(&held, "warm");
    let mut clients: Vec<Pending> = (0..CLIENTS as u64).map(|i| Pending::new(addr, i)).collect();

    let (cpu, wall) = {
        let _limit = LoweredLimit::exhaust();
        let start = Instant::now();
        let cpu_start = cpu_time();
        // Clients keep connecting throughout the window; each makes the listener readable while
        // every `accept` fails.
        let pause = WINDOW / CLIENTS as u32;
        for client in &mut clients {
            client.connect(addr);
            thread::sleep(pause);
        }
        let (cpu, wall) = (cpu_time() - cpu_start, start.elapsed());
        // No accept succeeded: a connection it had taken would have been answered by now.
        for (i, client) in clients.iter().enumerate() {
            assert!(
                !client.answered(),
                "client {i} was answered although descriptors were exhausted"
            );
        }
        (cpu, wall)
        // The limit is restored here.
    };
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    eprintln!(
        "out of descriptors with {CLIENTS} clients queued: {cpu:?} of CPU time in {wall:?} \
         ({:.1} % of one core)",
        share * 100.0
    );
    // A loop retrying at once would use about a whole core; backing off uses next to nothing.
    assert!(
        share < 0.2,
        "the process used {cpu:?} of CPU in {wall:?} while accept failed: the accept loop spins"
    );

    // With descriptors back, the queued clients are served (after the current back-off, at
    // most 1 s) and so are new ones.
    let start = Instant::now();
    for client in clients {
        let _tcp = client.upgraded();
    }
    eprintln!(
        "descriptors restored: the {CLIENTS} queued clients upgraded within {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    let (fresh, _) = run(WAIT, connect(&url)).expect("a new connection after recovery");
    echoes(&fresh, "after");
    echoes(&held, "held");
}

//! The driver against a scripted in-memory stream: short writes, `Pending` on both sides, and
//! EOF in the middle of a frame. No sockets, so every interleaving is exact.

mod common;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::*;
use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, Connection, Event, Role, SeededKeySource};
use ws_runtime_smol::{Config, WebSocket};

const LIMIT: Duration = Duration::from_secs(20);

/// State the test keeps an eye on while the driver owns the stream.
type Watched<T> = Arc<Mutex<T>>;

/// One step of what a read returns.
enum Read {
    /// These bytes (all of them, in one read).
    Data(Vec<u8>),
    /// `Pending` once (with an immediate wake-up, as a spurious readiness would give).
    Pending,
    /// End of stream.
    Eof,
}

/// A stream whose reads follow a script and whose writes take at most `max_write` bytes and
/// return `Pending` every other call.
struct Scripted {
    reads: VecDeque<Read>,
    written: Watched<Vec<u8>>,
    max_write: usize,
    write_calls: usize,
    closed: Watched<bool>,
}

impl Scripted {
    fn new(reads: Vec<Read>, max_write: usize) -> (Self, Watched<Vec<u8>>, Watched<bool>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Mutex::new(false));
        let stream = Scripted {
            reads: reads.into(),
            written: Arc::clone(&written),
            max_write,
            write_calls: 0,
            closed: Arc::clone(&closed),
        };
        (stream, written, closed)
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.reads.pop_front() {
            Some(Read::Data(mut data)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                if n < data.len() {
                    self.reads.push_front(Read::Data(data.split_off(n)));
                }
                Poll::Ready(Ok(n))
            }
            Some(Read::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Read::Eof) => {
                self.reads.push_front(Read::Eof);
                Poll::Ready(Ok(0))
            }
            // The script is over: nothing more ever arrives (and nobody wakes the reader).
            None => Poll::Pending,
        }
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_calls += 1;
        if self.write_calls.is_multiple_of(2) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(self.max_write);
        self.written
            .lock()
            .expect("lock")
            .extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        *self.closed.lock().expect("lock") = true;
        Poll::Ready(Ok(()))
    }
}

/// Frames as a server sends them (unmasked).
fn server_frames(send: impl FnOnce(&mut Connection)) -> Vec<u8> {
    let mut server = Connection::new(Role::Server, Config::default(), Instant::now());
    send(&mut server);
    server.output().to_vec()
}

fn client(stream: Scripted) -> (WebSocket, ws_runtime_smol::Driver) {
    let connection = Connection::with_key_source(
        Role::Client,
        Config::default(),
        Box::new(SeededKeySource::new(7)),
        Instant::now(),
    );
    WebSocket::from_stream(stream, connection)
}

#[test]
fn short_and_pending_writes_lose_no_byte() {
    run(LIMIT, async {
        let (stream, written, _) = Scripted::new(vec![], 7);
        let (ws, driver) = client(stream);
        smol::spawn(driver).detach();
        let text: String = (0..1000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        ws.send_text(&text).await.expect("send");
        ws.send_binary(&[9; 300]).await.expect("send");
        // 1000 bytes: 4 header + 4 mask; 300 bytes: 4 header + 4 mask.
        let expected = 1008 + 308;
        while written.lock().expect("lock").len() < expected {
            sleep(Duration::from_millis(2)).await;
        }
        let bytes = written.lock().expect("lock").clone();
        assert_eq!(bytes.len(), expected);
        let now = Instant::now();
        let mut server = Connection::new(Role::Server, Config::default(), now);
        server.receive(now, &bytes);
        assert_eq!(server.poll_event(), Some(Event::Text(text.into())));
        assert_eq!(
            server.poll_event(),
            Some(Event::Binary(vec![9u8; 300].into()))
        );
        assert_eq!(server.poll_event(), None);
    });
}

#[test]
fn pending_reads_and_frames_split_across_reads() {
    run(LIMIT, async {
        let frames = server_frames(|s| {
            s.send_text("split across reads").expect("text");
            s.send_binary(&[1, 2, 3, 4]).expect("binary");
        });
        let mut script = Vec::new();
        // One byte at a time, with Pending between some of them.
        for (i, byte) in frames.iter().enumerate() {
            if i.is_multiple_of(3) {
                script.push(Read::Pending);
            }
            script.push(Read::Data(vec![*byte]));
        }
        let (stream, _, _) = Scripted::new(script, 1 << 20);
        let (ws, driver) = client(stream);
        smol::spawn(driver).detach();
        assert_eq!(
            ws.recv().await,
            Some(Event::Text("split across reads".into()))
        );
        assert_eq!(
            ws.recv().await,
            Some(Event::Binary(vec![1u8, 2, 3, 4].into()))
        );
    });
}

#[test]
fn eof_in_the_middle_of_a_frame_is_abnormal() {
    run(LIMIT, async {
        let frames = server_frames(|s| {
            s.send_text("whole").expect("text");
            s.send_text("cut short").expect("text");
        });
        let cut = frames.len() - 4;
        let script = vec![Read::Data(frames[..cut].to_vec()), Read::Pending, Read::Eof];
        let (stream, _, _) = Scripted::new(script, 1 << 20);
        let (ws, driver) = client(stream);
        let driver = smol::spawn(driver);
        assert_eq!(ws.recv().await, Some(Event::Text("whole".into())));
        match ws.recv().await {
            Some(Event::Closed(outcome)) => {
                assert_eq!(outcome.code(), CloseCode::ABNORMAL);
                assert!(!outcome.clean);
            }
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(ws.recv().await, None);
        // The driver is done once the stream is closed.
        driver.await;
    });
}

#[test]
fn server_close_handshake_shuts_the_write_side_then_waits_for_eof() {
    run(LIMIT, async {
        // The client's Close (masked), then EOF once the server has shut down its write side.
        let now = Instant::now();
        let mut peer = Connection::with_key_source(
            Role::Client,
            Config::default(),
            Box::new(SeededKeySource::new(1)),
            now,
        );
        peer.close(now, CloseCode::NORMAL, "bye").expect("close");
        let close = peer.output().to_vec();
        let script = vec![Read::Data(close), Read::Pending, Read::Pending, Read::Eof];
        let (stream, written, shut) = Scripted::new(script, 3);
        let connection = Connection::new(Role::Server, Config::default(), now);
        let (ws, driver) = WebSocket::from_stream(stream, connection);
        let driver = smol::spawn(driver);
        match ws.recv().await {
            Some(Event::Closed(outcome)) => {
                assert!(outcome.clean);
                assert_eq!(outcome.reason(), "bye");
            }
            other => panic!("expected Closed, got {other:?}"),
        }
        driver.await;
        assert!(
            *shut.lock().expect("lock"),
            "the write side was never shut down"
        );
        // The echoed Close went out whole before the shutdown: 2 header bytes + code 1000.
        assert_eq!(
            &written.lock().expect("lock")[..],
            &[0x88, 0x02, 0x03, 0xe8]
        );
    });
}

#[test]
fn dropping_the_driver_ends_the_connection() {
    run(LIMIT, async {
        let (stream, _, _) = Scripted::new(vec![], 1 << 20);
        let (ws, driver) = client(stream);
        drop(driver);
        match ws.recv().await {
            Some(Event::Closed(outcome)) => assert_eq!(outcome.code(), CloseCode::ABNORMAL),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(ws.recv().await, None);
        assert!(ws.try_send_text("x").is_err());
    });
}

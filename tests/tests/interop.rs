//! Interop with independent implementations, both directions, both runtimes: Python
//! `websockets` and Node.js `ws`, installed by `scripts/setup-interop.sh` (which
//! `scripts/test.sh` runs).
//!
//! Both peers negotiate permessage-deflate with our defaults, so every test also checks that
//! compression was agreed and that large, repetitive messages crossed the wire compressed: the
//! peer clients check it themselves and report it; against the peer servers, our client checks
//! the 101's `Sec-WebSocket-Extensions`, counts the bytes on the wire through a relay, and asks
//! the server how many messages it received compressed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ws_proto::handshake::Response;
use ws_proto::{CloseCode, Event, PERMESSAGE_DEFLATE};

const WAIT: Duration = Duration::from_secs(30);

fn python() -> Command {
    let python = std::env::var("WS_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!("WS_INTEROP_PYTHON is not set: run the tests with scripts/test.sh, which installs Python websockets")
    });
    Command::new(python)
}

/// `node`, with the `ws` that `scripts/setup-interop.sh` installs on its module path.
fn node() -> Command {
    let modules = std::env::var_os("WS_INTEROP_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Where scripts/setup-interop.sh installs it, whatever the cargo target directory.
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/interop/node/node_modules")
        });
    assert!(
        modules.join("ws").join("package.json").is_file(),
        "Node.js `ws` is not in {}: run the tests with scripts/test.sh, or run scripts/setup-interop.sh first",
        modules.display()
    );
    let mut node = Command::new("node");
    node.env("NODE_PATH", modules);
    node
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// About 4 KiB of JSON-like text that repeats: deflate shrinks it to a small fraction, and it
/// is far above the 128-byte threshold from which we compress.
fn compressible_text() -> String {
    let rows: Vec<String> = (0..80)
        .map(|i| format!(r#"{{"id":{i},"user":"alice","text":"hello, hello, hello"}}"#))
        .collect();
    format!("[{}]", rows.join(","))
}

/// Asserts the server's 101 accepted permessage-deflate.
fn assert_deflate_accepted(response: &Response) {
    let agreed = response.headers.get("sec-websocket-extensions");
    assert!(
        agreed.is_some_and(|value| value.split(',').any(|ext| ext
            .split(';')
            .next()
            .map(str::trim)
            == Some(PERMESSAGE_DEFLATE))),
        "the server did not accept permessage-deflate: Sec-WebSocket-Extensions {agreed:?}"
    );
}

/// Checks an echo server's answer to "extensions?" ("compressed=N extensions=LIST"): it
/// negotiated permessage-deflate and received exactly `expected` messages compressed.
fn assert_server_report(report: &str, expected: usize) {
    let (count, extensions) = report
        .strip_prefix("compressed=")
        .and_then(|rest| rest.split_once(" extensions="))
        .unwrap_or_else(|| panic!("unexpected report from the server: {report:?}"));
    assert!(
        extensions.contains(PERMESSAGE_DEFLATE),
        "the server did not negotiate permessage-deflate: {report:?}"
    );
    assert_eq!(
        count.parse::<usize>().unwrap(),
        expected,
        "messages the server received compressed: {report:?}"
    );
}

/// An echo server of another implementation, started as a child process that prints its port
/// (see the scripts in tests/interop); killed on drop.
struct PeerServer {
    child: Child,
    port: u16,
}

impl PeerServer {
    fn python() -> PeerServer {
        PeerServer::start(python().arg(script("py_echo_server.py")))
    }

    fn node() -> PeerServer {
        PeerServer::start(node().arg(script("node_echo_server.js")))
    }

    fn start(command: &mut Command) -> PeerServer {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the echo server");
        let stdout = child.stdout.take().expect("stdout");
        // Read the port on a thread, so a server that never prints one fails the test instead
        // of hanging it.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // Owned before anything can fail, so the child is killed then too.
        let mut server = PeerServer { child, port: 0 };
        let line = rx
            .recv_timeout(WAIT)
            .expect("the echo server did not print its port in time");
        server.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the echo server printed {line:?}, not a port"));
        server
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP relay in front of a server for one connection, counting the bytes that cross
/// it each way: how a test sees, whatever the peer says, that a message went over compressed.
struct Relay {
    port: u16,
    to_server: Arc<AtomicUsize>,
    to_client: Arc<AtomicUsize>,
}

impl Relay {
    fn start(server_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let to_server = Arc::new(AtomicUsize::new(0));
        let to_client = Arc::new(AtomicUsize::new(0));
        let counts = (Arc::clone(&to_server), Arc::clone(&to_client));
        thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let server = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
            let upstream = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let up = thread::spawn(move || pipe(upstream.0, upstream.1, &counts.0));
            pipe(server, client, &counts.1);
            let _ = up.join();
        });
        Relay {
            port,
            to_server,
            to_client,
        }
    }

    /// Bytes relayed so far: (to the server, to the client).
    fn counts(&self) -> (usize, usize) {
        (
            self.to_server.load(Ordering::SeqCst),
            self.to_client.load(Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to` until either ends, counting the bytes before forwarding them, so that
/// once a reply is received its bytes are already counted.
fn pipe(mut from: TcpStream, mut to: TcpStream, count: &AtomicUsize) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        count.fetch_add(n, Ordering::SeqCst);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Asserts that both a message of `size` bytes and its echo crossed the relay compressed:
/// `before` and `after` are the relay's counts around the exchange.
fn assert_crossed_compressed(before: (usize, usize), after: (usize, usize), size: usize) {
    let (sent, received) = (after.0 - before.0, after.1 - before.1);
    assert!(
        sent < size / 2,
        "our client sent {sent} bytes for a {size}-byte message: not compressed"
    );
    assert!(
        received < size / 2,
        "the server sent {received} bytes for the {size}-byte echo: not compressed"
    );
}

/// What an interop client printed, checked: it negotiated permessage-deflate, received both
/// large messages' echoes compressed, and ends with "ok CODE", which is returned.
fn run_client(command: &mut Command) -> String {
    let output = command.output().expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} line from the client: {stdout}"))
            .trim()
            .to_owned()
    };
    assert!(
        line("extensions:").contains(PERMESSAGE_DEFLATE),
        "the client did not negotiate permessage-deflate: {stdout}"
    );
    assert_eq!(line("compressed:"), "2", "{stdout}");
    stdout.lines().last().unwrap_or_default().to_owned()
}

fn run_python_client(url: &str) -> String {
    run_client(python().arg(script("py_client.py")).arg(url))
}

fn run_node_client(url: &str) -> String {
    run_client(node().arg(script("node_client.js")).arg(url))
}

/// The four peer tests of a runtime module: our client against each peer's server, and each
/// peer's client against our `echo_server()`.
macro_rules! peer_tests {
    () => {
        #[test]
        fn our_client_against_python_server() {
            our_client_against(&PeerServer::python());
        }

        #[test]
        fn our_client_against_node_server() {
            our_client_against(&PeerServer::node());
        }

        #[test]
        fn python_client_against_our_server() {
            let server = echo_server();
            let out = run_python_client(&format!("ws://{}/", server.local_addr()));
            assert_eq!(out, "ok 4001");
        }

        #[test]
        fn node_client_against_our_server() {
            let server = echo_server();
            let out = run_node_client(&format!("ws://{}/", server.local_addr()));
            assert_eq!(out, "ok 4001");
        }
    };
}

mod std_runtime {
    use super::*;
    use ws_runtime_std::{Decision, Server, ServerHandle, connect};

    fn next(ws: &ws_runtime_std::WebSocket) -> Event {
        ws.recv_timeout(WAIT).expect("timed out").expect("an event")
    }

    /// Our client against a peer's echo server, through a counting relay.
    fn our_client_against(server: &PeerServer) {
        let relay = Relay::start(server.port);
        let (ws, response) = connect(&format!("ws://127.0.0.1:{}/", relay.port)).unwrap();
        assert_deflate_accepted(&response);
        ws.send_text("κόσμε").unwrap();
        assert_eq!(next(&ws), Event::Text("κόσμε".into()));
        let big: Vec<u8> = (0..(4 << 20)).map(|i| (i % 251) as u8).collect();
        ws.send_binary(&big).unwrap();
        assert_eq!(next(&ws), Event::Binary(big.into()));
        ws.send_ping(b"rust").unwrap();
        assert_eq!(next(&ws), Event::Pong("rust".into()));
        let text = compressible_text();
        let before = relay.counts();
        ws.send_text(&text).unwrap();
        assert_eq!(next(&ws), Event::Text(text.as_str().into()));
        assert_crossed_compressed(before, relay.counts(), text.len());
        ws.send_text("extensions?").unwrap();
        let Event::Text(report) = next(&ws) else {
            panic!("expected the server's report")
        };
        // The 4 MiB binary and the 4 KiB text; the short messages go uncompressed.
        assert_server_report(&report, 2);
        ws.send_text("close:4002:from peer").unwrap();
        let Event::Closed(outcome) = next(&ws) else {
            panic!("expected the close")
        };
        assert_eq!(
            (outcome.code(), outcome.reason()),
            (CloseCode(4002), "from peer")
        );
        assert!(outcome.clean);
    }

    fn echo_server() -> ServerHandle {
        Server::bind("127.0.0.1:0")
            .unwrap()
            .serve(
                |_| Decision::accept(),
                |ws, _| {
                    while let Some(event) = ws.recv() {
                        let _ = match event {
                            Event::Text(t) => ws.send_text(&t),
                            Event::Binary(b) => ws.send_binary(&b),
                            _ => Ok(()),
                        };
                    }
                },
            )
            .unwrap()
    }

    peer_tests!();
}

mod smol_runtime {
    use super::*;
    use ws_runtime_smol::{Decision, Server, ServerHandle, connect};

    async fn next(ws: &ws_runtime_smol::WebSocket) -> Event {
        futures_lite_or(ws.recv(), WAIT)
            .await
            .expect("timed out")
            .expect("an event")
    }

    /// `fut`, or `None` after `timeout`.
    async fn futures_lite_or<T>(
        fut: impl std::future::Future<Output = T>,
        timeout: Duration,
    ) -> Option<T> {
        let timer = async {
            async_io::Timer::after(timeout).await;
            None
        };
        futures_lite::future::or(async { Some(fut.await) }, timer).await
    }

    /// Our client against a peer's echo server, through a counting relay.
    fn our_client_against(server: &PeerServer) {
        let relay = Relay::start(server.port);
        smol::block_on(async {
            let (ws, response) = connect(&format!("ws://127.0.0.1:{}/", relay.port))
                .await
                .unwrap();
            assert_deflate_accepted(&response);
            ws.send_text("κόσμε").await.unwrap();
            assert_eq!(next(&ws).await, Event::Text("κόσμε".into()));
            let big: Vec<u8> = (0..(4 << 20)).map(|i| (i % 251) as u8).collect();
            ws.send_binary(&big).await.unwrap();
            assert_eq!(next(&ws).await, Event::Binary(big.into()));
            ws.send_ping(b"rust").await.unwrap();
            assert_eq!(next(&ws).await, Event::Pong("rust".into()));
            let text = compressible_text();
            let before = relay.counts();
            ws.send_text(&text).await.unwrap();
            assert_eq!(next(&ws).await, Event::Text(text.as_str().into()));
            assert_crossed_compressed(before, relay.counts(), text.len());
            ws.send_text("extensions?").await.unwrap();
            let Event::Text(report) = next(&ws).await else {
                panic!("expected the server's report")
            };
            // The 4 MiB binary and the 4 KiB text; the short messages go uncompressed.
            assert_server_report(&report, 2);
            ws.send_text("close:4002:from peer").await.unwrap();
            let Event::Closed(outcome) = next(&ws).await else {
                panic!("expected the close")
            };
            assert_eq!(
                (outcome.code(), outcome.reason()),
                (CloseCode(4002), "from peer")
            );
            assert!(outcome.clean);
        });
    }

    fn echo_server() -> ServerHandle {
        smol::block_on(async {
            Server::bind("127.0.0.1:0")
                .await
                .unwrap()
                .serve(
                    |_| Decision::accept(),
                    |ws, _| async move {
                        while let Some(event) = ws.recv().await {
                            let _ = match event {
                                Event::Text(t) => ws.send_text(&t).await,
                                Event::Binary(b) => ws.send_binary(&b).await,
                                _ => Ok(()),
                            };
                        }
                    },
                )
                .unwrap()
        })
    }

    peer_tests!();
}

//! Interop with an independent implementation: Python `websockets`, installed by
//! `scripts/setup-interop.sh` (which `scripts/test.sh` runs). Both directions, both runtimes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ws_proto::{CloseCode, Event};

const WAIT: Duration = Duration::from_secs(30);

fn python() -> String {
    std::env::var("WS_INTEROP_PYTHON").unwrap_or_else(|_| {
        panic!("WS_INTEROP_PYTHON is not set: run the tests with scripts/test.sh, which installs Python websockets")
    })
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// A Python echo server; killed on drop.
struct PyServer {
    child: Child,
    port: u16,
}

impl PyServer {
    fn start() -> PyServer {
        let mut child = Command::new(python())
            .arg(script("py_echo_server.py"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python echo server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("a port number");
        PyServer { child, port }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_py_client(url: &str) -> String {
    let output = Command::new(python())
        .arg(script("py_client.py"))
        .arg(url)
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

mod std_runtime {
    use super::*;
    use ws_runtime_std::{Decision, Server, connect};

    fn next(ws: &ws_runtime_std::WebSocket) -> Event {
        ws.recv_timeout(WAIT).expect("timed out").expect("an event")
    }

    #[test]
    fn our_client_against_python_server() {
        let server = PyServer::start();
        let (ws, _) = connect(&format!("ws://127.0.0.1:{}/", server.port)).unwrap();
        ws.send_text("κόσμε").unwrap();
        assert_eq!(next(&ws), Event::Text("κόσμε".into()));
        let big: Vec<u8> = (0..(4 << 20)).map(|i| (i % 251) as u8).collect();
        ws.send_binary(&big).unwrap();
        assert_eq!(next(&ws), Event::Binary(big.into()));
        ws.send_ping(b"rust").unwrap();
        assert_eq!(next(&ws), Event::Pong("rust".into()));
        ws.send_text("close:4002:from python").unwrap();
        let Event::Closed(outcome) = next(&ws) else {
            panic!("expected the close")
        };
        assert_eq!(
            (outcome.code(), outcome.reason()),
            (CloseCode(4002), "from python")
        );
        assert!(outcome.clean);
    }

    #[test]
    fn python_client_against_our_server() {
        let server = Server::bind("127.0.0.1:0")
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
            .unwrap();
        let out = run_py_client(&format!("ws://{}/", server.local_addr()));
        assert_eq!(out, "ok 4001");
    }
}

mod smol_runtime {
    use super::*;
    use ws_runtime_smol::{Decision, Server, connect};

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

    #[test]
    fn our_client_against_python_server() {
        let server = PyServer::start();
        smol::block_on(async {
            let (ws, _) = connect(&format!("ws://127.0.0.1:{}/", server.port))
                .await
                .unwrap();
            ws.send_text("κόσμε").await.unwrap();
            assert_eq!(next(&ws).await, Event::Text("κόσμε".into()));
            let big: Vec<u8> = (0..(4 << 20)).map(|i| (i % 251) as u8).collect();
            ws.send_binary(&big).await.unwrap();
            assert_eq!(next(&ws).await, Event::Binary(big.into()));
            ws.send_ping(b"rust").await.unwrap();
            assert_eq!(next(&ws).await, Event::Pong("rust".into()));
            ws.send_text("close:4002:from python").await.unwrap();
            let Event::Closed(outcome) = next(&ws).await else {
                panic!("expected the close")
            };
            assert_eq!(
                (outcome.code(), outcome.reason()),
                (CloseCode(4002), "from python")
            );
            assert!(outcome.clean);
        });
    }

    #[test]
    fn python_client_against_our_server() {
        let server = smol::block_on(async {
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
        });
        let out = run_py_client(&format!("ws://{}/", server.local_addr()));
        assert_eq!(out, "ok 4001");
    }
}

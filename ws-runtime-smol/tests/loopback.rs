//! End-to-end tests over TCP on 127.0.0.1: echo, TLS, connect errors, closing, aborting,
//! backpressure and large concurrent messages. Every test has a timeout so none can hang.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpListener;
use std::time::Duration;

use common::*;
use futures_lite::StreamExt;
use ws_proto::CloseInitiator;
use ws_runtime_smol::{
    ClientBuilder, CloseCode, Config, ConnectError, ConnectionState, Decision, Event, Response,
    SendError, Server, TrySendError, WebSocket,
};

const LIMIT: Duration = Duration::from_secs(30);

/// A config whose close timeout is longer than any test: a close that only ends through the
/// timeout (say, a missing FIN) fails the test instead of passing slowly.
fn patient() -> Config {
    // Flow control is counted in wire bytes: compression would shrink the repeated bytes
    // these tests send a thousandfold.
    Config::default()
        .with_close_timeout(Duration::from_secs(120))
        .with_compression(None)
}

async fn connect_patient(url: &str) -> (WebSocket, Response) {
    ClientBuilder::new(url)
        .expect("url")
        .config(patient())
        .connect()
        .await
        .expect("connect")
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

#[test]
fn echo_round_trip_text_binary_and_one_mebibyte() {
    run(LIMIT, async {
        let server = echo_server(patient()).await;
        let (ws, response) = connect_patient(&ws_url(server.local_addr())).await;
        assert_eq!(response.status, 101);
        assert!(ws.peer_addr().is_some());

        ws.send_text("hello").await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Text("hello".into())));
        ws.send_binary(&[1, 2, 3]).await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Binary(vec![1u8, 2, 3].into())));
        let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        ws.send_binary(&big).await.expect("send");
        match ws.recv().await {
            Some(Event::Binary(data)) => assert!(data == big, "1 MiB echo differs"),
            other => panic!("expected the 1 MiB echo, got {other:?}"),
        }

        // Pipelined sends come back in order.
        for i in 0..100 {
            ws.try_send_text(&format!("m{i}"))
                .expect("room for small messages");
        }
        for i in 0..100 {
            assert_eq!(ws.recv().await, Some(Event::Text(format!("m{i}").into())));
        }

        ws.close(CloseCode::NORMAL, "done").await.expect("close");
        let outcome = closed(&ws).await;
        assert_eq!(outcome.code(), CloseCode::NORMAL);
        assert!(outcome.clean);
        assert_eq!(ws.recv().await, None);
        assert_eq!(ws.state(), ConnectionState::Closed);
        assert_eq!(ws.try_send_text("late"), Err(TrySendError::Closed));
        assert_eq!(ws.send_text("late").await, Err(SendError::Closed));
    });
}

#[test]
fn websocket_is_a_stream_and_splits() {
    run(LIMIT, async {
        let server = echo_server(patient()).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        let (sender, mut receiver) = ws.split();
        let other = sender.clone();
        std::thread::spawn(move || smol::block_on(other.send_text("from a thread")))
            .join()
            .expect("thread")
            .expect("send");
        assert_eq!(
            receiver.next().await,
            Some(Event::Text("from a thread".into()))
        );
        sender.close(CloseCode::NORMAL, "").await.expect("close");
        let rest: Vec<Event> = receiver.collect().await;
        assert!(matches!(rest.as_slice(), [Event::Closed(o)] if o.clean));
    });
}

#[test]
fn tls_round_trip_with_generated_certificates() {
    run(LIMIT, async {
        let (server_tls, client_tls) = tls_pair();
        let (done_tx, done_rx) = async_channel::bounded(1);
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .tls(server_tls)
            .config(patient())
            .serve(
                |_request| Decision::accept(),
                move |ws, request| {
                    let done = done_tx.clone();
                    async move {
                        assert_eq!(request.path(), "/secure");
                        assert!(ws.peer_addr().is_some());
                        while let Some(event) = ws.recv().await {
                            match event {
                                Event::Text(text) => ws.send_text(&text).await.expect("echo"),
                                Event::Binary(data) => ws.send_binary(&data).await.expect("echo"),
                                Event::Closed(outcome) => done.send(outcome).await.expect("report"),
                                _ => {}
                            }
                        }
                    }
                },
            )
            .expect("serve");
        let url = format!("wss://127.0.0.1:{}/secure", server.local_addr().port());
        let (ws, _) = ClientBuilder::new(&url)
            .expect("url")
            .tls_config(client_tls)
            .config(patient())
            .connect()
            .await
            .expect("connect over TLS");
        ws.send_text("secret").await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Text("secret".into())));
        let big = vec![7u8; 300_000];
        ws.send_binary(&big).await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Binary(big.into())));
        // The server's FIN comes after its close_notify: the client still sees a clean close.
        ws.close(CloseCode::NORMAL, "tls bye").await.expect("close");
        let outcome = closed(&ws).await;
        assert!(outcome.clean, "{outcome:?}");
        assert_eq!(outcome.code(), CloseCode::NORMAL);
        let server_outcome = done_rx.recv().await.expect("server outcome");
        assert!(server_outcome.clean);
        assert_eq!(server_outcome.reason(), "tls bye");
    });
}

#[test]
fn tls_with_an_untrusted_certificate_fails_at_the_tls_step() {
    run(LIMIT, async {
        let (server_tls, _) = tls_pair();
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .tls(server_tls)
            .serve(|_| Decision::accept(), echo)
            .expect("serve");
        let url = format!("wss://127.0.0.1:{}/", server.local_addr().port());
        // The default roots (webpki-roots) do not include the test certificate.
        let result = ws_runtime_smol::connect(&url).await;
        assert!(matches!(result, Err(ConnectError::Tls(_))), "{result:?}");
    });
}

#[test]
fn connect_errors_name_the_failed_step() {
    run(LIMIT, async {
        assert!(matches!(
            ws_runtime_smol::connect("http://example.com/").await,
            Err(ConnectError::Url(_))
        ));
        // Invalid input fails before anything is sent (port 1 would refuse the connection).
        let result = ClientBuilder::new("ws://127.0.0.1:1/")
            .expect("url")
            .header("Bad Name", "x")
            .connect()
            .await;
        assert!(
            matches!(result, Err(ConnectError::Request(_))),
            "{result:?}"
        );
        let result = ClientBuilder::new("ws://127.0.0.1:1/")
            .expect("url")
            .subprotocol("not a token")
            .connect()
            .await;
        assert!(
            matches!(result, Err(ConnectError::Request(_))),
            "{result:?}"
        );

        // A port nothing listens on: connection refused.
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let result = ws_runtime_smol::connect(&format!("ws://127.0.0.1:{port}/")).await;
        match result {
            Err(ConnectError::Tcp(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
            other => panic!("expected a TCP error, got {other:?}"),
        }

        // A name that cannot resolve: a label over 63 bytes fails in the local resolver, so no
        // query leaves the machine.
        let host = format!("{}.invalid", "a".repeat(64));
        let result = ClientBuilder::new(&format!("ws://{host}/"))
            .expect("url")
            .config(Config::default().with_handshake_timeout(Duration::from_secs(5)))
            .connect()
            .await;
        assert!(matches!(result, Err(ConnectError::Dns(_))), "{result:?}");

        // The hook refuses with 403 and a body: the client gets the whole response.
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .serve(
                |request| {
                    if request.path() == "/allowed" {
                        Decision::accept()
                    } else {
                        Decision::Reject(Response::new(403).with_body("not for you"))
                    }
                },
                echo,
            )
            .expect("serve");
        let url = format!("ws://{}/secret", server.local_addr());
        match ws_runtime_smol::connect(&url).await {
            Err(ConnectError::Rejected(response)) => {
                assert_eq!(response.status, 403);
                assert_eq!(&response.body[..], b"not for you");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        let url = format!("ws://{}/allowed", server.local_addr());
        assert!(ws_runtime_smol::connect(&url).await.is_ok());
    });
}

#[test]
fn handshake_timeout_when_the_server_never_answers() {
    run(LIMIT, async {
        // A listener that accepts (in the kernel backlog) but never answers.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("ws://{}/", listener.local_addr().expect("addr"));
        let result = ClientBuilder::new(&url)
            .expect("url")
            .config(Config::default().with_handshake_timeout(Duration::from_millis(300)))
            .connect()
            .await;
        assert!(
            matches!(
                result,
                Err(ConnectError::Handshake(ws_proto::HandshakeError::Timeout))
            ),
            "{result:?}"
        );
    });
}

/// A server whose handler reports its connection's outcome, and optionally closes first.
async fn reporting_server(
    close_first: Option<(CloseCode, &'static str)>,
) -> (
    ws_runtime_smol::ServerHandle,
    async_channel::Receiver<ws_runtime_smol::CloseOutcome>,
) {
    let (tx, rx) = async_channel::bounded(1);
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .config(patient())
        .serve(
            |_| Decision::accept(),
            move |ws, _| {
                let tx = tx.clone();
                async move {
                    if let Some((code, reason)) = close_first {
                        ws.close(code, reason).await.expect("close");
                    }
                    let outcome = closed(&ws).await;
                    tx.send(outcome).await.expect("report");
                }
            },
        )
        .expect("serve");
    (server, rx)
}

#[test]
fn graceful_close_started_by_the_client() {
    run(LIMIT, async {
        let (server, outcomes) = reporting_server(None).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        ws.close(CloseCode(4001), "client done")
            .await
            .expect("close");
        assert_eq!(
            ws.close(CloseCode::NORMAL, "again").await,
            Err(SendError::Closed)
        );
        let outcome = closed(&ws).await;
        assert_eq!(outcome.initiator, CloseInitiator::Local);
        assert_eq!(outcome.code(), CloseCode(4001));
        assert!(outcome.clean);
        let server_side = outcomes.recv().await.expect("server outcome");
        assert_eq!(server_side.initiator, CloseInitiator::Remote);
        assert_eq!(server_side.code(), CloseCode(4001));
        assert_eq!(server_side.reason(), "client done");
        assert!(server_side.clean);
    });
}

#[test]
fn graceful_close_started_by_the_server() {
    run(LIMIT, async {
        let (server, outcomes) = reporting_server(Some((CloseCode(4002), "server done"))).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        let outcome = closed(&ws).await;
        assert_eq!(outcome.initiator, CloseInitiator::Remote);
        assert_eq!(outcome.code(), CloseCode(4002));
        assert_eq!(outcome.reason(), "server done");
        assert!(outcome.clean);
        let server_side = outcomes.recv().await.expect("server outcome");
        assert_eq!(server_side.initiator, CloseInitiator::Local);
        assert_eq!(server_side.code(), CloseCode(4002));
        assert!(server_side.clean);
    });
}

#[test]
fn invalid_sends_are_refused_without_closing() {
    run(LIMIT, async {
        let server = echo_server(patient()).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        assert!(matches!(
            ws.close(CloseCode(1006), "").await,
            Err(SendError::Invalid(_))
        ));
        assert!(matches!(
            ws.try_send_ping(&[0; 126]),
            Err(TrySendError::Invalid(_))
        ));
        ws.send_text_fragment("hel", false).await.expect("fragment");
        assert!(matches!(
            ws.send_text("x").await,
            Err(SendError::Invalid(_))
        ));
        ws.send_text_fragment("lo", true).await.expect("fragment");
        assert_eq!(ws.recv().await, Some(Event::Text("hello".into())));
        ws.send_ping(b"p").await.expect("ping");
        assert_eq!(ws.recv().await, Some(Event::Pong(b"p".to_vec().into())));
    });
}

#[test]
fn dropping_every_handle_closes_with_going_away() {
    run(LIMIT, async {
        let (server, outcomes) = reporting_server(None).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        let sender = ws.sender();
        drop(ws);
        sender
            .send_text("still open")
            .await
            .expect("a sender keeps it open");
        drop(sender);
        let server_side = outcomes.recv().await.expect("server outcome");
        assert_eq!(server_side.code(), CloseCode::GOING_AWAY);
        assert!(server_side.clean);
    });
}

#[test]
fn abort_resets_and_the_peer_sees_1006() {
    run(LIMIT, async {
        // Against our own server: the server side ends with 1006.
        let (server, outcomes) = reporting_server(None).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        ws.abort();
        let outcome = closed(&ws).await;
        assert_eq!(outcome.code(), CloseCode::ABNORMAL);
        assert!(!outcome.clean);
        let server_side = outcomes.recv().await.expect("server outcome");
        assert_eq!(server_side.code(), CloseCode::ABNORMAL);
        assert!(!server_side.clean);

        // Against a raw socket: no Close frame and no FIN, but a reset.
        let (seen_tx, seen_rx) = async_channel::bounded(1);
        let (addr, peer) = raw_server(move |mut tcp, mut connection| {
            flush_raw(&mut tcp, &mut connection);
            let mut buf = [0u8; 64];
            let result = tcp.read(&mut buf);
            let _ = seen_tx.send_blocking(result.map_err(|e| e.kind()));
        });
        let (ws, _) = ws_runtime_smol::connect(&ws_url(addr))
            .await
            .expect("connect");
        ws.abort();
        assert_eq!(
            seen_rx.recv().await.expect("peer result"),
            Err(ErrorKind::ConnectionReset)
        );
        peer.join().expect("peer");
    });
}

#[test]
fn first_frame_in_the_same_segment_as_the_101() {
    run(LIMIT, async {
        let (addr, peer) = raw_server(|mut tcp, mut connection| {
            connection.send_text("early bird").expect("queue");
            // One write: the 101 and the frame leave together.
            flush_raw(&mut tcp, &mut connection);
            // Keep the socket open until the client is done.
            let mut buf = [0u8; 256];
            while matches!(tcp.read(&mut buf), Ok(n) if n > 0) {}
        });
        let (ws, _) = ws_runtime_smol::connect(&ws_url(addr))
            .await
            .expect("connect");
        assert_eq!(ws.recv().await, Some(Event::Text("early bird".into())));
        ws.abort();
        peer.join().expect("peer");
    });
}

#[test]
fn sixteen_mebibyte_messages_both_ways_at_once() {
    run(Duration::from_secs(120), async {
        const SIZE: usize = 16 << 20;
        let (tx, rx) = async_channel::bounded(1);
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .config(patient())
            .serve(
                |_| Decision::accept(),
                move |ws, _| {
                    let tx = tx.clone();
                    async move {
                        let big = vec![b's'; SIZE];
                        ws.send_binary(&big).await.expect("server send");
                        let got = ws.recv().await;
                        let ok = matches!(&got, Some(Event::Binary(d)) if d.len() == SIZE && d.iter().all(|&b| b == b'c'));
                        tx.send(ok).await.expect("report");
                        let _ = closed(&ws).await;
                    }
                },
            )
            .expect("serve");
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        let big = vec![b'c'; SIZE];
        ws.send_binary(&big).await.expect("client send");
        match ws.recv().await {
            Some(Event::Binary(data)) => {
                assert_eq!(data.len(), SIZE);
                assert!(data.iter().all(|&b| b == b's'));
            }
            other => panic!("expected 16 MiB, got {other:?}"),
        }
        assert!(
            rx.recv().await.expect("server report"),
            "server got a wrong message"
        );
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert!(closed(&ws).await.clean);
    });
}

#[test]
fn many_messages_both_ways_with_a_small_output_bound() {
    run(Duration::from_secs(120), async {
        const COUNT: usize = 32;
        const SIZE: usize = 1 << 20;
        // Each side's output holds at most 256 KiB, so sends really wait for the other side
        // to read while it is itself sending.
        let config = patient().with_max_output_buffer(256 << 10);
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .config(config.clone())
            .serve(
                |_| Decision::accept(),
                |ws, _| async move {
                    let sender = ws.sender();
                    let sending = smol::spawn(async move {
                        for i in 0..COUNT {
                            sender.send_binary(&vec![i as u8; SIZE]).await.expect("send");
                        }
                    });
                    for i in 0..COUNT {
                        let got = ws.recv().await;
                        assert!(matches!(&got, Some(Event::Binary(d)) if d.len() == SIZE && d[0] == i as u8));
                    }
                    sending.await;
                    let _ = closed(&ws).await;
                },
            )
            .expect("serve");
        let (ws, _) = ClientBuilder::new(&ws_url(server.local_addr()))
            .expect("url")
            .config(config)
            .connect()
            .await
            .expect("connect");
        let sender = ws.sender();
        let sending = smol::spawn(async move {
            for i in 0..COUNT {
                sender
                    .send_binary(&vec![i as u8; SIZE])
                    .await
                    .expect("send");
            }
        });
        for i in 0..COUNT {
            match ws.recv().await {
                Some(Event::Binary(d)) => assert!(d.len() == SIZE && d[0] == i as u8),
                other => panic!("expected message {i}, got {other:?}"),
            }
        }
        sending.await;
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert!(closed(&ws).await.clean);
    });
}

#[test]
fn a_peer_that_stops_reading_makes_sends_wait() {
    run(LIMIT, async {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (addr, peer) = raw_server(move |mut tcp, mut connection| {
            flush_raw(&mut tcp, &mut connection);
            // Read nothing until the test is done.
            let _ = release_rx.recv();
            drop(tcp);
        });
        let bound = 256 << 10;
        let (ws, _) = ClientBuilder::new(&ws_url(addr))
            .expect("url")
            .config(Config::default().with_max_output_buffer(bound))
            .connect()
            .await
            .expect("connect");
        let chunk = vec![0u8; 64 << 10];
        let mut accepted = 0usize;
        loop {
            match ws.try_send_binary(&chunk) {
                Ok(()) => accepted += chunk.len(),
                Err(TrySendError::Full) => {
                    // Give the driver a moment: kernel buffers may still take some.
                    sleep(Duration::from_millis(50)).await;
                    if ws.try_send_binary(&chunk) == Err(TrySendError::Full) {
                        break;
                    }
                    accepted += chunk.len();
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
            assert!(accepted < 256 << 20, "sends never met backpressure");
        }
        // What was accepted is the output bound plus what the kernel buffers took.
        assert!(accepted >= bound);
        let waiting =
            futures_lite::future::or(async { Some(ws.send_binary(&chunk).await) }, async {
                sleep(Duration::from_millis(300)).await;
                None
            })
            .await;
        assert_eq!(
            waiting, None,
            "the send should wait while the peer reads nothing"
        );
        ws.abort();
        let _ = release_tx.send(());
        peer.join().expect("peer");
    });
}

#[test]
fn an_application_that_stops_receiving_stops_the_reads() {
    run(LIMIT, async {
        let (written_tx, written_rx) = async_channel::bounded(1);
        let (addr, peer) = raw_server(move |mut tcp, mut connection| {
            flush_raw(&mut tcp, &mut connection);
            tcp.set_write_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
            let chunk = vec![1u8; 64 << 10];
            let mut sent = 0usize;
            // Write frames until the socket stays full: the client stopped reading.
            loop {
                connection.send_binary(&chunk).expect("queue");
                let frame = connection.output().to_vec();
                connection.consume_output(frame.len());
                if std::io::Write::write_all(&mut tcp, &frame).is_err() || sent > 512 << 20 {
                    break;
                }
                sent += 1;
            }
            let _ = written_tx.send_blocking(sent);
            // Stay open until the client goes away.
            let mut buf = [0u8; 256];
            tcp.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            while matches!(tcp.read(&mut buf), Ok(n) if n > 0) {}
        });
        let (ws, _) = ws_runtime_smol::connect(&ws_url(addr))
            .await
            .expect("connect");
        // Receive nothing until the peer can write no more.
        let frames = written_rx.recv().await.expect("peer report");
        assert!(
            frames < 1024,
            "the client read {frames} frames of 64 KiB without being asked for any"
        );
        // Everything that was written is still delivered, in order and intact.
        for _ in 0..frames {
            match ws.recv().await {
                Some(Event::Binary(d)) => assert!(d.len() == 64 << 10 && d.iter().all(|&b| b == 1)),
                other => panic!("expected a frame, got {other:?}"),
            }
        }
        ws.abort();
        peer.join().expect("peer");
    });
}

#[test]
fn accept_and_connect_with_driver_on_any_executor() {
    // No smol spawning: both drivers and both ends run inside one future.
    run(LIMIT, async {
        let listener = async_io::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
        let addr = listener.get_ref().local_addr().expect("addr");
        let server = async {
            let (tcp, _) = listener.accept().await.expect("accept");
            let (ws, request, driver) = ws_runtime_smol::accept(tcp, &patient(), |r| {
                assert_eq!(r.query_value("x"), Some("1"));
                Decision::accept()
            })
            .await
            .expect("handshake");
            assert_eq!(request.path(), "/any");
            let serve = async move {
                echo(ws, request).await;
            };
            futures_lite::future::zip(driver, serve).await;
        };
        let client = async {
            let (ws, _, driver) = ClientBuilder::new(&format!("ws://{addr}/any?x=1"))
                .expect("url")
                .config(patient())
                .connect_with_driver()
                .await
                .expect("connect");
            let talk = async move {
                ws.send_text("anywhere").await.expect("send");
                assert_eq!(ws.recv().await, Some(Event::Text("anywhere".into())));
                ws.close(CloseCode::NORMAL, "").await.expect("close");
                assert!(closed(&ws).await.clean);
            };
            futures_lite::future::zip(driver, talk).await;
        };
        futures_lite::future::zip(server, client).await;
    });
}

#[test]
fn futures_and_handles_are_send() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<ws_runtime_smol::Sender>();
    is_send_sync::<ws_runtime_smol::WebSocket>();
    fn is_send_type<T: Send>() {}
    is_send_type::<ws_runtime_smol::Driver>();
    let builder = ClientBuilder::new("ws://127.0.0.1:1/").expect("url");
    is_send(&builder.connect_with_driver());
    let tcp = async_io::Async::<std::net::TcpStream>::connect(([127, 0, 0, 1], 1));
    is_send(&tcp);
    fn sender_futures(sender: &ws_runtime_smol::Sender, ws: &WebSocket) {
        is_send(&sender.send_text("x"));
        is_send(&sender.send_binary_fragment(b"x", true));
        is_send(&sender.close(CloseCode::NORMAL, ""));
        is_send(&ws.recv());
    }
    let _ = sender_futures;
}

/// Sends one plain HTTP GET on a blocking socket and reads the reply to EOF.
async fn plain_get(addr: std::net::SocketAddr) -> String {
    smol::unblock(move || {
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        std::io::Write::write_all(&mut tcp, b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut reply = Vec::new();
        // Ends only at EOF: the server shuts its write side down after the response.
        tcp.read_to_end(&mut reply).expect("read to EOF");
        String::from_utf8_lossy(&reply).into_owned()
    })
    .await
}

#[test]
fn plain_http_requests_get_a_page_or_426() {
    run(LIMIT, async {
        // A hook that accepts everything: the core answers a plain GET with 426.
        let server = echo_server(patient()).await;
        let reply = plain_get(server.local_addr()).await;
        assert!(reply.starts_with("HTTP/1.1 426 "), "{reply}");

        // A hook that serves a page to plain HTTP and WebSockets to upgrades.
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .serve(
                |request| {
                    if request.is_upgrade() {
                        Decision::accept()
                    } else {
                        Decision::Reject(Response::new(200).with_body("a page"))
                    }
                },
                echo,
            )
            .expect("serve");
        let reply = plain_get(server.local_addr()).await;
        assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
        assert!(reply.ends_with("\r\n\r\na page"), "{reply}");
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        ws.send_text("and a socket").await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Text("and a socket".into())));
    });
}

#[test]
fn keepalive_pings_keep_a_responsive_peer_and_fail_a_silent_one() {
    run(LIMIT, async {
        // The pong timeout leaves room for a busy test machine; the interval is short so the
        // responsive peer answers many pings.
        let config = patient()
            .with_ping_interval(Some(Duration::from_millis(50)))
            .with_pong_timeout(Duration::from_secs(2));

        // The echo server answers Pings (the core does, automatically): the connection lives.
        let server = echo_server(patient()).await;
        let (ws, _) = ClientBuilder::new(&ws_url(server.local_addr()))
            .expect("url")
            .config(config.clone())
            .connect()
            .await
            .expect("connect");
        let mut pongs = 0;
        let watch = async {
            while let Some(event) = ws.recv().await {
                assert!(matches!(event, Event::Pong(_)), "{event:?}");
                pongs += 1;
            }
        };
        futures_lite::future::or(watch, sleep(Duration::from_millis(600))).await;
        assert!(pongs >= 3, "only {pongs} keepalive pongs");
        assert_eq!(ws.state(), ConnectionState::Open);

        // A peer that never answers: the pong timeout fails the connection (1011 sent).
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (addr, peer) = raw_server(move |mut tcp, mut connection| {
            flush_raw(&mut tcp, &mut connection);
            let _ = release_rx.recv();
        });
        let (ws, _) = ClientBuilder::new(&ws_url(addr))
            .expect("url")
            .config(config.with_close_timeout(Duration::from_millis(200)))
            .connect()
            .await
            .expect("connect");
        let outcome = closed(&ws).await;
        assert_eq!(
            outcome.error,
            Some(ws_proto::ProtocolError::KeepaliveTimeout)
        );
        assert_eq!(
            outcome.sent.map(|frame| frame.code),
            Some(CloseCode::INTERNAL_ERROR)
        );
        let _ = release_tx.send(());
        peer.join().expect("peer");
    });
}

/// A hook that decides after the handshake timeout (its wait is not bound by it) still gets its
/// refusal written whole, even one too large for the socket to take at once: the answer has a
/// timeout of its own.
#[test]
fn a_refusal_decided_after_the_handshake_timeout_is_still_written() {
    const BODY: usize = 16 << 20;
    smol::block_on(async {
        let listener = async_io::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let config = Config::default().with_handshake_timeout(Duration::from_millis(300));
        let server = smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let hook = |_: &ws_runtime_smol::Request| async {
                async_io::Timer::after(Duration::from_millis(600)).await;
                ws_runtime_smol::Reply::Decision(Decision::Reject(
                    Response::new(403).with_body(vec![b'x'; BODY]),
                ))
            };
            ws_runtime_smol::accept_tcp_with(tcp, None, &config, hook)
                .await
                .err()
        });
        let received = smol::unblock(move || {
            use std::io::Write;
            let mut tcp = std::net::TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(LIMIT)).unwrap();
            tcp.write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
            let mut out = Vec::new();
            let _ = tcp.read_to_end(&mut out);
            out
        })
        .await;
        assert!(received.starts_with(b"HTTP/1.1 403"));
        let head = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(received.len() - head, BODY, "the refusal was cut short");
        assert!(server.await.is_some());
    });
}

#[test]
fn a_cork_holds_sends_back_until_it_is_dropped() {
    run(LIMIT, async {
        let server = echo_server(patient()).await;
        let (ws, _) = connect_patient(&ws_url(server.local_addr())).await;
        // One round trip first, so the driver has nothing left to do and waits on the socket.
        ws.send_text("warm").await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Text("warm".into())));
        let cork = ws.cork();
        for i in 0..3 {
            ws.send_text(&format!("corked {i}")).await.expect("send");
        }
        // Nothing else wakes this quiet connection's driver: nothing is written, so nothing
        // comes back.
        let early = futures_lite::future::or(async { Some(ws.recv().await) }, async {
            sleep(Duration::from_millis(300)).await;
            None
        })
        .await;
        assert_eq!(early, None, "a corked send was written");
        drop(cork);
        for i in 0..3 {
            assert_eq!(
                ws.recv().await,
                Some(Event::Text(format!("corked {i}").into()))
            );
        }
        // Uncorked, a send is written at once again.
        ws.send_text("free").await.expect("send");
        assert_eq!(ws.recv().await, Some(Event::Text("free".into())));
    });
}

#[test]
fn a_full_output_queue_drains_under_a_cork() {
    run(LIMIT, async {
        let server = echo_server(patient()).await;
        let (ws, _) = ClientBuilder::new(&ws_url(server.local_addr()))
            .expect("url")
            .config(patient().with_max_output_buffer(4 << 10))
            .connect()
            .await
            .expect("connect");
        let (sender, receiver) = ws.split();
        let reader = smol::spawn(async move {
            let mut count = 0;
            while count < 100 {
                match receiver.recv().await {
                    Some(Event::Binary(data)) => {
                        assert_eq!(data.len(), 1024);
                        count += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            count
        });
        {
            // 100 KiB through a 4 KiB queue: the sends wait for room, which only a driver woken
            // despite the cork makes.
            let _cork = sender.cork();
            for _ in 0..100 {
                sender.send_binary(&[7u8; 1024]).await.expect("send");
            }
        }
        assert_eq!(reader.await, 100);
    });
}

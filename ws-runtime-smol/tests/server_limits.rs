//! The server's limit at the door, over TCP on 127.0.0.1: connections over `max_connections`
//! are answered with 503 before any upgrade, and a place frees when a connection ends.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_runtime_smol::{
    CloseCode, ConnectError, Decision, Event, Response, Server, WebSocket, connect,
};

const LIMIT: Duration = Duration::from_secs(30);

async fn echoes(ws: &WebSocket, text: &str) {
    ws.send_text(text).await.expect("send");
    assert_eq!(ws.recv().await, Some(Event::Text(text.into())));
}

/// Connects expecting a refusal; returns the server's response.
async fn refused(url: &str) -> Response {
    match connect(url).await {
        Err(ConnectError::Rejected(response)) => response,
        Ok(_) => panic!("a connection over the limit was upgraded"),
        Err(e) => panic!("expected a refusal, got {e}"),
    }
}

#[test]
fn a_connection_over_the_limit_gets_503_and_a_closed_one_frees_its_place() {
    run(LIMIT, async {
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .max_connections(2)
            .serve(|_request| Decision::accept(), echo)
            .expect("serve");
        let url = ws_url(server.local_addr());
        let (first, _) = connect(&url).await.expect("first");
        let (second, _) = connect(&url).await.expect("second");
        echoes(&first, "one").await;
        echoes(&second, "two").await;

        let response = refused(&url).await;
        assert_eq!(response.status, 503);
        assert_eq!(response.headers.get("retry-after"), Some("1"));
        // The refusal did not disturb the open connections.
        echoes(&first, "still one").await;

        // Close one; its place frees once the server side has finished (handler and driver),
        // which may trail the client's `Closed` by a moment.
        first.close(CloseCode::NORMAL, "").await.expect("close");
        while !matches!(first.recv().await, Some(Event::Closed(_)) | None) {}
        let deadline = Instant::now() + Duration::from_secs(5);
        let third = loop {
            match connect(&url).await {
                Ok((ws, _)) => break ws,
                Err(ConnectError::Rejected(r)) if r.status == 503 && Instant::now() < deadline => {
                    sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("the closed connection's place was not freed: {e}"),
            }
        };
        echoes(&third, "three").await;
        echoes(&second, "still two").await;

        // Two are open again: the limit still holds.
        assert_eq!(refused(&url).await.status, 503);
    });
}

#[test]
fn a_plain_request_over_the_limit_is_read_and_answered_503() {
    run(LIMIT, async {
        let server = Server::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .max_connections(1)
            .serve(|_request| Decision::accept(), echo)
            .expect("serve");
        let addr = server.local_addr();
        let (held, _) = connect(&ws_url(addr)).await.expect("first");
        let reply = smol::unblock(move || {
            use std::io::{Read, Write};
            let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
            tcp.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            tcp.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("write");
            let mut out = String::new();
            let _ = tcp.read_to_string(&mut out);
            out
        })
        .await;
        assert!(reply.starts_with("HTTP/1.1 503 "), "{reply}");
        assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
        echoes(&held, "held").await;
    });
}

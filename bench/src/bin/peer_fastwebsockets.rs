//! Reference echo server on fastwebsockets over hyper 1: every text and binary message is sent
//! back unchanged. Fragmented messages are reassembled by `FragmentCollector`; pings and closes
//! are answered by the library (`auto_pong`, `auto_close`).
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml --bin peer-fastwebsockets -- --addr 127.0.0.1:9004
//! ```
//!
//! The runtime has two worker threads, like the two cores of the machine the benchmark was
//! written for.

use std::io::ErrorKind;

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = ws_bench::parse_addr("127.0.0.1:9004")?;
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "fastwebsockets echo server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(upgrade_request))
                .with_upgrades();
            if let Err(e) = conn.await {
                eprintln!("http connection error: {e}");
            }
        });
    }
}

async fn upgrade_request(
    mut request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        if let Err(e) = echo(upgraded).await {
            // A peer that hangs up mid-stream is not worth a line.
            match &e {
                WebSocketError::ConnectionClosed | WebSocketError::UnexpectedEOF => {}
                WebSocketError::IoError(io)
                    if matches!(
                        io.kind(),
                        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                    ) => {}
                _ => eprintln!("websocket error: {e}"),
            }
        }
    });
    Ok(response)
}

async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgraded.await?;
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

//! Reference echo server on tokio-tungstenite: every text and binary message is sent back
//! unchanged (the library answers pings and closes by itself).
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml --bin peer-tungstenite -- --addr 127.0.0.1:9003
//! ```
//!
//! The runtime has two worker threads, like the two cores of the machine the benchmark was
//! written for.

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = ws_bench::parse_addr("127.0.0.1:9003")?;
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "tokio-tungstenite echo server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(echo(stream));
    }
}

async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let ws = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("handshake failed: {e}");
            return;
        }
    };
    // The library's own echo example: `forward` queues each message and flushes whenever the
    // reader has nothing more ready, so pipelined messages are written in batches.
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await;
}

//! The ceiling: a plain TCP echo server that answers the opening handshake and then sends every
//! byte back unchanged, without looking at frames.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml --bin peer-tcp -- --addr 127.0.0.1:9005
//! ```
//!
//! After the 101 the client's masked frames come back as they are, which the load generator
//! accepts with `--masked-echo`. No WebSocket server can do less work per message than this, so
//! every other server's throughput is also given as a ratio to it. It runs on tokio with two
//! worker threads and a 64 KiB buffer per connection, like the reference servers.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Read buffer per connection.
const BUFFER: usize = 64 * 1024;
/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = ws_bench::parse_addr("127.0.0.1:9005")?;
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "raw TCP echo server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(stream).await {
                eprintln!("connection failed: {e}");
            }
        });
    }
}

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER];
    let mut head = Vec::new();
    // The request head, then a 101 (RFC 6455 §4.2.2) so a WebSocket client proceeds.
    let end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
    };
    let text = String::from_utf8_lossy(&head[..end]);
    let key = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim().to_owned())
        .ok_or_else(|| std::io::Error::other("no Sec-WebSocket-Key"))?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws_proto::handshake::accept_key(&key)
    );
    stream.write_all(response.as_bytes()).await?;
    stream.write_all(&head[end..]).await?;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

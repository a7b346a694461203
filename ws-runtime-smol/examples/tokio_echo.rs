//! An echo server on tokio: every text and binary message is sent back unchanged.
//!
//! It shows that `ws-runtime-smol` needs neither smol's executor nor its sockets: it runs on
//! any `futures-io` stream, driven by any executor. Each `tokio::net::TcpStream` accepted from
//! a tokio `TcpListener` is adapted to `futures-io` with tokio-util's compat layer and handed to
//! [`ws_runtime_smol::accept`]; the connection's `Driver` and the echo loop are both spawned
//! with `tokio::spawn` on a tokio runtime. No smol executor runs in this process.
//!
//! ```text
//! cargo run --release -p ws-runtime-smol --example tokio_echo -- --addr 127.0.0.1:9003
//! ```
//!
//! The test `ws-runtime-smol/tests/bring_your_own_stream.rs` runs [`serve`] on a loopback port
//! and checks the echoes and the closing handshake with a client.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;
use ws_runtime_smol::{Config, Decision, Event, WebSocket};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9003");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                return Err(format!("unknown argument {other:?} (usage: --addr HOST:PORT)").into());
            }
        }
    }
    // A multi-threaded runtime works the same way; one thread is plenty for an echo server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("echo server listening on ws://{}", listener.local_addr()?);
        serve(listener, Config::default()).await;
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}

/// Accepts WebSocket connections on `listener` until the future is dropped, each in a task of
/// its own: the handshake, then the echo loop, with the connection's driver in another task.
/// Must run inside a tokio runtime.
pub async fn serve(listener: TcpListener, config: Config) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _peer)) => tcp,
            // Out of descriptors or similar: pause rather than spin on the error.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The driver writes frames whole; don't let Nagle hold back the last segment.
        let _ = tcp.set_nodelay(true);
        let config = config.clone();
        tokio::spawn(async move {
            // tokio's AsyncRead/AsyncWrite -> futures-io's, which is all `accept` asks for.
            let stream = tcp.compat();
            // A request that is not a valid upgrade has already been answered (400, 426, ...)
            // and the stream closed by `accept`: nothing left to do for it.
            if let Ok((ws, _request, driver)) =
                ws_runtime_smol::accept(stream, &config, |_request| Decision::accept()).await
            {
                tokio::spawn(driver);
                echo(ws).await;
            }
        });
    }
}

/// Sends every text and binary message back until the connection closes.
async fn echo(ws: WebSocket) {
    while let Some(event) = ws.recv().await {
        let sent = match event {
            Event::Text(text) => ws.send_text_shared(&text).await,
            Event::Binary(data) => ws.send_binary_shared(&data).await,
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

//! An echo server on smol: every text and binary message is sent back unchanged.
//!
//! ```text
//! cargo run --release -p ws-runtime-smol --example echo_server -- --addr 127.0.0.1:9002
//! ```

use ws_runtime_smol::{Decision, Event, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9002");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                return Err(format!("unknown argument {other:?} (usage: --addr HOST:PORT)").into());
            }
        }
    }
    smol::block_on(async {
        let server = Server::bind(addr.as_str()).await?;
        println!("echo server listening on ws://{}", server.local_addr()?);
        let _handle = server.serve(
            |_request| Decision::accept(),
            |ws, _request| async move {
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
            },
        )?;
        // Serve until the process is killed; the handle keeps the accept loop running.
        std::future::pending::<()>().await;
        Ok(())
    })
}

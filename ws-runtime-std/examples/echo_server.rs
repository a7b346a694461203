//! An echo server on blocking threads: every text and binary message is sent back unchanged.
//!
//! ```text
//! cargo run --release -p ws-runtime-std --example echo_server -- --addr 127.0.0.1:9001
//! ```

use ws_runtime_std::{Decision, Event, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9001");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                return Err(format!("unknown argument {other:?} (usage: --addr HOST:PORT)").into());
            }
        }
    }
    let server = Server::bind(&addr)?;
    println!("echo server listening on ws://{}", server.local_addr()?);
    let handle = server.serve(
        |_request| Decision::accept(),
        |ws, _request| {
            while let Some(event) = ws.recv() {
                let sent = match event {
                    Event::Text(text) => ws.send_text_shared(&text),
                    Event::Binary(data) => ws.send_binary_shared(&data),
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break;
                }
            }
        },
    )?;
    // Serve until the process is killed.
    loop {
        std::thread::park();
        let _ = &handle;
    }
}

//! A self-contained demo on localhost: an echo server and a client talking to it.
//!
//! ```text
//! cargo run --release -p ws-runtime-std --example demo
//! ```

use std::time::Instant;

use ws_runtime_std::{CloseCode, Decision, Event, Server, connect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::bind("127.0.0.1:0")?.serve(
        |request| {
            println!("server: upgrade request for {}", request.target());
            Decision::accept()
        },
        |ws, _request| {
            while let Some(event) = ws.recv() {
                match event {
                    Event::Text(text) => {
                        let _ = ws.send_text(&text.to_uppercase());
                    }
                    Event::Binary(data) => {
                        let _ = ws.send_binary(&data);
                    }
                    Event::Closed(outcome) => {
                        println!("server: connection closed with {}", outcome.code())
                    }
                    _ => {}
                }
            }
        },
    )?;
    let url = format!("ws://{}/demo", server.local_addr());
    println!("client: connecting to {url}");
    let (ws, response) = connect(&url)?;
    println!(
        "client: connected ({} {})",
        response.status, response.reason
    );

    for line in ["hello", "sans-IO core", "thin adapters"] {
        ws.send_text(line)?;
        if let Some(Event::Text(reply)) = ws.recv() {
            println!("client: sent {line:?}, got back {:?}", reply.as_str());
        }
    }
    let big = vec![7u8; 8 << 20];
    let start = Instant::now();
    ws.send_binary(&big)?;
    if let Some(Event::Binary(echo)) = ws.recv() {
        println!(
            "client: 8 MiB binary echoed intact: {} in {:?}",
            echo == big,
            start.elapsed()
        );
    }
    ws.close(CloseCode::NORMAL, "done")?;
    while let Some(event) = ws.recv() {
        if let Event::Closed(outcome) = event {
            println!(
                "client: closed cleanly: {} (code {})",
                outcome.clean,
                outcome.code()
            );
        }
    }
    server.stop();
    Ok(())
}

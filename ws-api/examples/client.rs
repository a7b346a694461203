//! The basic client of 4D's `WebSocket` documentation: prints every message, sends each line
//! of standard input, and closes cleanly at the end of input.
//!
//! ```text
//! cargo run --release -p ws-api --example client -- ws://127.0.0.1:8080/chat [--runtime std|smol]
//! ```

mod common;

use std::io::BufRead;
use std::time::Duration;

use ws_api::*;

/// 4D: `WSConnectionHandler`.
struct Printer;

impl WebSocketHandler for Printer {
    fn on_message(&self, _ws: &WebSocket, event: MessageEvent) {
        match event.data {
            Data::Text(text) => println!("{text}"),
            other => println!("{other:?}"),
        }
    }

    fn on_error(&self, _ws: &WebSocket, event: ErrorEvent) {
        for error in event.errors {
            eprintln!("error {}: {}", error.code, error.message);
        }
    }

    fn on_terminate(&self, _ws: &WebSocket, event: TerminateEvent) {
        eprintln!("Connection closed ({})", event.code);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::parse("", "client URL [--runtime std|smol]");
    let url = args
        .positional
        .first()
        .ok_or("usage: client URL [--runtime std|smol]")?;
    let ws = WebSocket::with_runtime(url, Printer, args.runtime)?;
    if !ws.wait_open(Duration::from_secs(10)) || ws.status() != Status::Connected {
        ws.wait_closed(Duration::from_secs(1));
        return Err("could not connect".into());
    }
    for line in std::io::stdin().lock().lines() {
        ws.send(line?)?;
    }
    ws.terminate()?;
    ws.wait_closed(Duration::from_secs(10));
    Ok(())
}

//! Autobahn testee: an echo server. Runs until killed.
//!
//! ```text
//! autobahn-server --runtime std|smol [--layer adapter|api] --addr HOST:PORT
//! ```

use ws_tests::{Layer, Options, Runtime, UsageError};

const USAGE: &str =
    "usage: autobahn-server --runtime std|smol [--layer adapter|api] --addr HOST:PORT";

fn main() {
    if let Err(e) = run() {
        eprintln!("autobahn-server: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse(std::env::args().skip(1), &["addr"])?;
    let addr = options
        .get("addr")
        .ok_or_else(|| UsageError("--addr is required".into()))?;
    match (options.runtime, options.layer) {
        (Runtime::Std, Layer::Adapter) => std_adapter(addr),
        (runtime, layer) => {
            Err(UsageError(format!("{runtime:?} with layer {layer:?} is not built yet")).into())
        }
    }
}

fn std_adapter(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    use ws_runtime_std::{Decision, Event, Server};
    let _server = Server::bind(addr)?.serve(
        |_request| Decision::accept(),
        |ws, _request| {
            while let Some(event) = ws.recv() {
                let _ = match event {
                    Event::Text(text) => ws.send_text(&text),
                    Event::Binary(data) => ws.send_binary(&data),
                    _ => Ok(()),
                };
            }
        },
    )?;
    loop {
        std::thread::park();
    }
}

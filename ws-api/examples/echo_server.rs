//! An echo server on the 4D-style API: every text and binary message comes back unchanged.
//! The benchmark (`scripts/bench.sh`) measures it on both runtimes beside the adapters' own
//! echo servers.
//!
//! ```text
//! cargo run --release -p ws-api --example echo_server -- --addr 127.0.0.1:9004 \
//!     [--runtime std|smol] [--inline-callbacks]
//! ```
//!
//! `--inline-callbacks` runs the callbacks on smol's executor instead of the callback pool
//! (see `WebServerOptions::inline_callbacks`): faster, but only for callbacks that never block.

mod common;

use ws_api::*;

struct EchoServer;

impl WebSocketServerHandler for EchoServer {
    fn on_connection(
        &self,
        _server: &WebSocketServer,
        _event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        Some(Box::new(Echo))
    }
}

struct Echo;

impl ConnectionHandler for Echo {
    fn on_message(&self, ws: &WebSocketConnection, event: MessageEvent) {
        // With the default data type, text arrives as `Data::Text` and binary as `Data::Blob`,
        // and each goes back as the same kind of frame.
        let _ = ws.send(event.data);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::parse(
        "127.0.0.1:9004",
        "echo_server [--addr HOST:PORT] [--runtime std|smol] [--inline-callbacks]",
    );
    let web = WebServer::start(
        WebServerOptions::new()
            .addr(args.addr.as_str())?
            .runtime(args.runtime)
            .inline_callbacks(args.inline_callbacks),
    )?;
    let _server = WebSocketServer::new(EchoServer, ServerOptions::new().web_server(&web))?;
    println!(
        "echo server ({:?}) listening on {}",
        args.runtime,
        web.ws_url("/")
    );
    loop {
        std::thread::park();
    }
}

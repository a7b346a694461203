//! The server of 4D's `WebSocketServer` documentation: every message comes back in uppercase.
//!
//! ```text
//! cargo run --release -p ws-api --example uppercase_server -- --addr 127.0.0.1:8081 [--runtime std|smol]
//! ```

mod common;

use ws_api::*;

struct UppercaseServer;

impl WebSocketServerHandler for UppercaseServer {
    fn on_connection(
        &self,
        _server: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        // What a client such as `headers_client` sent (4D: `$event.request.headers`).
        let request = &event.request;
        println!(
            "connection from {} to {}: x-authorization={:?} cookie={:?}",
            request.remote_address,
            request.url,
            request.header("x-authorization"),
            request.header("cookie")
        );
        Some(Box::new(Uppercase))
    }
}

struct Uppercase;

impl ConnectionHandler for Uppercase {
    fn on_message(&self, ws: &WebSocketConnection, event: MessageEvent) {
        // Resends the message in uppercase.
        if let Data::Text(text) = event.data {
            let _ = ws.send(text.to_uppercase());
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::parse(
        "127.0.0.1:8081",
        "uppercase_server [--addr HOST:PORT] [--runtime std|smol]",
    );
    let web = WebServer::start(
        WebServerOptions::new()
            .addr(args.addr.as_str())?
            .runtime(args.runtime),
    )?;
    let _server = WebSocketServer::new(UppercaseServer, ServerOptions::new().web_server(&web))?;
    println!("uppercase server on {}", web.ws_url("/"));
    loop {
        std::thread::park();
    }
}

//! The chat of 4D's `WebSocketServer` documentation, with its web page, on one port.
//!
//! ```text
//! cargo run --release -p ws-api --example chat -- [--addr 127.0.0.1:8080] [--runtime std|smol]
//! ```
//!
//! Open the printed URL in two browser tabs and chat: a newcomer is welcomed, the others hear
//! "New client connected" and "Client disconnected", and every message goes to everyone else.

mod common;

use ws_api::*;

const PAGE: &str = include_str!("chat/index.html");

/// The server handler (4D: `myWSServerHandler`).
struct ChatServer;

impl WebSocketServerHandler for ChatServer {
    fn on_connection(
        &self,
        _server: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        println!("connection from {}", event.request.remote_address);
        Some(Box::new(ChatConnection))
    }

    fn on_open(&self, _server: &WebSocketServer, _event: ServerEvent) {
        println!("*** Server started");
    }

    fn on_terminate(&self, _server: &WebSocketServer, _event: ServerEvent) {
        println!("*** Server closed");
    }

    fn on_error(&self, _server: &WebSocketServer, event: ErrorEvent) {
        if let Some(error) = event.errors.first() {
            println!("!!! Server error: {}", error.message);
        }
    }
}

/// One chat participant (4D: `myConnectionHandler`).
struct ChatConnection;

impl ChatConnection {
    /// Sends `message` to every other client, encoding it once.
    fn broadcast(&self, ws: &WebSocketConnection, message: impl Into<Data>) {
        ws.wss().broadcast(message, Some(ws.id()));
    }
}

impl ConnectionHandler for ChatConnection {
    fn on_message(&self, ws: &WebSocketConnection, event: MessageEvent) {
        // Resend the message to all chat clients.
        self.broadcast(ws, event.data);
    }

    fn on_open(&self, ws: &WebSocketConnection, _event: OpenEvent) {
        let _ = ws.send("Welcome on the chat!");
        self.broadcast(ws, "New client connected");
    }

    fn on_terminate(&self, ws: &WebSocketConnection, _event: TerminateEvent) {
        self.broadcast(ws, "Client disconnected");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::parse(
        "127.0.0.1:8080",
        "chat [--addr HOST:PORT] [--runtime std|smol]",
    );
    let web = WebServer::start(
        WebServerOptions::new()
            .addr(args.addr.as_str())?
            .runtime(args.runtime)
            .http_handler(|request: &RequestInfo| {
                (request.path == "/").then(|| {
                    Response::new(200)
                        .with_header("Content-Type", "text/html; charset=utf-8")
                        .with_body(PAGE)
                })
            }),
    )?;
    let _chat = WebSocketServer::new(
        ChatServer,
        // Only the page this server serves may open the chat: a page of another site cannot
        // use a visitor's browser to join it (cross-site WebSocket hijacking).
        ServerOptions::new()
            .path("/chat")
            .web_server(&web)
            .allow_same_origin(),
    )?;
    println!(
        "chat running on {:?}: open {} in two browser tabs",
        args.runtime,
        web.http_url("/")
    );
    loop {
        std::thread::park();
    }
}

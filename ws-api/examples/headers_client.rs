//! The headers example of 4D's `WebSocket` documentation: a token in `x-authorization` and two
//! cookies. Run it against `chat` (which prints nothing special) or, to see the headers arrive,
//! with `--serve`, which starts a server that prints what `on_connection` receives.
//!
//! ```text
//! cargo run --release -p ws-api --example headers_client -- --serve [--runtime std|smol]
//! cargo run --release -p ws-api --example headers_client -- ws://127.0.0.1:8080/chat
//! ```

mod common;

use std::time::Duration;

use ws_api::*;

/// 4D: `WSConnectionHandler` with `This.headers`.
struct WithHeaders {
    token: String,
}

impl WebSocketHandler for WithHeaders {
    fn on_message(&self, ws: &WebSocket, event: MessageEvent) {
        println!("client got: {:?}", event.data);
        let _ = ws.terminate();
    }

    fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("x-authorization".into(), self.token.clone()),
            // We define two cookies.
            (
                "Cookie".into(),
                "yummy_cookie=choco; tasty_cookie=strawberry".into(),
            ),
        ]
    }
}

struct ShowHeaders;

impl WebSocketServerHandler for ShowHeaders {
    fn on_connection(
        &self,
        _server: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        let request = &event.request;
        println!(
            "server: x-authorization = {:?}",
            request.header("x-authorization")
        );
        println!("server: cookie = {:?}", request.header("cookie"));
        Some(Box::new(Greeter))
    }
}

struct Greeter;

impl ConnectionHandler for Greeter {
    fn on_message(&self, _conn: &WebSocketConnection, _event: MessageEvent) {}

    fn on_open(&self, conn: &WebSocketConnection, _event: OpenEvent) {
        let _ = conn.send("headers received");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "headers_client (URL | --serve) [--runtime std|smol]";
    let args = common::parse("127.0.0.1:0", usage);
    let mut _server = None;
    let url = match args.positional.first() {
        Some(url) if url != "--serve" => url.clone(),
        _ => {
            let web = WebServer::start(
                WebServerOptions::new()
                    .addr(args.addr.as_str())?
                    .runtime(args.runtime),
            )?;
            let url = web.ws_url("/");
            _server = Some(WebSocketServer::new(
                ShowHeaders,
                ServerOptions::new().web_server(&web),
            )?);
            url
        }
    };
    let ws = WebSocket::with_runtime(
        &url,
        WithHeaders {
            token: "my-secret-token".into(),
        },
        args.runtime,
    )?;
    ws.wait_closed(Duration::from_secs(10));
    Ok(())
}

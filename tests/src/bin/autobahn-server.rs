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
        (Runtime::Smol, Layer::Adapter) => smol::block_on(smol_adapter(addr)),
        (Runtime::Std, Layer::Api) => api(addr, ws_api::Runtime::Std),
        (Runtime::Smol, Layer::Api) => api(addr, ws_api::Runtime::Smol),
    }
}

fn std_adapter(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    use ws_runtime_std::{Decision, Event, Server};
    let _server = Server::bind(addr)?.serve(
        |_request| Decision::accept(),
        |ws, _request| {
            while let Some(event) = ws.recv() {
                let _ = match event {
                    Event::Text(text) => ws.send_text_shared(&text),
                    Event::Binary(data) => ws.send_binary_shared(&data),
                    _ => Ok(()),
                };
            }
        },
    )?;
    loop {
        std::thread::park();
    }
}

async fn smol_adapter(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    use ws_runtime_smol::{Decision, Event, Server};
    let _server = Server::bind(addr).await?.serve(
        |_request| Decision::accept(),
        |ws, _request| async move {
            while let Some(event) = ws.recv().await {
                let _ = match event {
                    Event::Text(text) => ws.send_text_shared(&text).await,
                    Event::Binary(data) => ws.send_binary_shared(&data).await,
                    _ => Ok(()),
                };
            }
        },
    )?;
    // Runs until the process is killed.
    std::future::pending::<()>().await;
    Ok(())
}

/// The echo server written against ws-api's 4D-style handlers.
fn api(addr: &str, runtime: ws_api::Runtime) -> Result<(), Box<dyn std::error::Error>> {
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
        fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
            // `text` delivers text as text and binary as blob: echoed unchanged.
            let _ = conn.send(event.data);
        }
    }

    let web = WebServer::start(WebServerOptions::new().addr(addr)?.runtime(runtime))?;
    let _server = WebSocketServer::new(EchoServer, ServerOptions::new().web_server(&web))?;
    loop {
        std::thread::park();
    }
}

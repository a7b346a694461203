//! A hyper 1.x HTTP server that upgrades WebSocket requests and echoes every text and binary
//! message back; any other request gets a short plain-text page.
//!
//! It shows that `ws-runtime-smol` can take over a connection that another HTTP stack has
//! already parsed and answered, the way axum and other hyper-based frameworks upgrade: hyper
//! reads the request, the upgrade is checked with `ws-proto`'s own validation, hyper writes the
//! 101 (with `Sec-WebSocket-Accept` from [`ws_proto::handshake::accept_key`]), and
//! `hyper::upgrade::on` hands over the raw connection (`Upgraded`). That is adapted to
//! `futures-io` (hyper-util's `TokioIo`, then tokio-util's compat layer) and run by
//! [`ws_runtime_smol::WebSocket::from_stream`] with a fresh server-side
//! [`ws_proto::Connection`]; its `Driver` and the echo loop are spawned with `tokio::spawn`.
//! No smol executor runs in this process.
//!
//! ```text
//! cargo run --release -p ws-runtime-smol --example hyper_upgrade -- --addr 127.0.0.1:9004
//! curl http://127.0.0.1:9004/          # the plain-text page
//! ```
//!
//! The test `ws-runtime-smol/tests/bring_your_own_stream.rs` runs [`serve`] on a loopback port
//! and checks the echoes, the closing handshake, the page and a refused upgrade.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue, SEC_WEBSOCKET_ACCEPT, UPGRADE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;
use ws_proto::handshake::{self, HandshakeError, RequestError, ServerHandshake};
use ws_proto::{Connection, Role};
use ws_runtime_smol::{Config, Event, WebSocket};

/// The body of the answer to a request that is not a WebSocket upgrade.
pub const PAGE: &str = "A WebSocket echo server: connect with a WebSocket client.\n";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9004");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                return Err(format!("unknown argument {other:?} (usage: --addr HOST:PORT)").into());
            }
        }
    }
    // A multi-threaded runtime works the same way; one thread is plenty for an echo server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("HTTP server listening on http://{}", listener.local_addr()?);
        serve(listener, Config::default()).await;
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until the future is dropped, each connection in a task of its
/// own; upgraded connections get the limits and timeouts of `config`. Must run inside a tokio
/// runtime.
pub async fn serve(listener: TcpListener, config: Config) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _peer)) => tcp,
            // Out of descriptors or similar: pause rather than spin on the error.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The driver writes frames whole; don't let Nagle hold back the last segment.
        let _ = tcp.set_nodelay(true);
        let config = config.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| respond(request, config.clone()));
            // `with_upgrades` lets `hyper::upgrade::on` take the connection after the 101. A
            // connection that fails (a malformed request, a peer gone) is simply dropped.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Answers one request: the page, a refusal of an invalid upgrade, or a 101 that hands the
/// connection to a WebSocket once hyper has written it.
async fn respond(
    mut request: Request<Incoming>,
    config: Config,
) -> Result<Response<String>, Infallible> {
    let head = match core_request(&request, &config) {
        Ok(head) => head,
        Err(error) => return Ok(from_core(&error.to_response())),
    };
    if !head.is_upgrade() {
        let mut page = Response::new(PAGE.to_owned());
        page.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(page);
    }
    // Everything RFC 6455 §4.2.1 asks of the request: GET, HTTP/1.1, Host, `Upgrade:
    // websocket`, `Connection: upgrade`, version 13, a well-formed key, no body. A failure maps
    // to the answer the core gives on its own listener (400, 405, 426 with
    // `Sec-WebSocket-Version: 13`, ...).
    if let Err(error) = head.validate_upgrade() {
        return Ok(from_core(&error.to_response()));
    }
    let accept = match head.key().map(handshake::accept_key) {
        Some(accept) => accept,
        None => {
            return Ok(from_core(&RequestError::MissingKey.to_response()));
        }
    };
    let Ok(accept) = HeaderValue::try_from(accept) else {
        return Ok(from_core(&RequestError::InvalidKey.to_response()));
    };

    // Resolves once hyper has written the 101 below and given up the connection.
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        // An error here means the client went away before the switch: nothing to run.
        let Ok(upgraded) = upgrade.await else { return };
        // hyper's IO traits -> tokio's -> futures-io's. Bytes the client sent right after its
        // request (frames pipelined behind the head) are kept inside `Upgraded`.
        let stream = TokioIo::new(upgraded).compat();
        let connection = Connection::new(Role::Server, config, Instant::now());
        let (ws, driver) = WebSocket::from_stream(stream, connection);
        tokio::spawn(driver);
        echo(ws).await;
    });

    let mut switching = Response::new(String::new());
    *switching.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = switching.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    Ok(switching)
}

/// The request head as `ws-proto` sees it, so the core's own checks apply to it. hyper has
/// already parsed the request; its head is written back out as HTTP/1.x and parsed by a
/// [`ServerHandshake`], the same parser (and limits: `config.max_headers`,
/// `config.max_handshake_size`) as on the core's own listeners.
fn core_request(
    request: &Request<Incoming>,
    config: &Config,
) -> Result<handshake::Request, HandshakeError> {
    let version = match request.version() {
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        _ => {
            return Err(RequestError::UnsupportedHttpVersion.into());
        }
    };
    let mut head =
        format!("{} {} HTTP/{version}\r\n", request.method(), request.uri()).into_bytes();
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let now = Instant::now();
    let mut parser = ServerHandshake::new(config, now);
    match parser.receive(now, &head)? {
        Some(parsed) => Ok(parsed.clone()),
        None => Err(RequestError::Malformed("incomplete request head").into()),
    }
}

/// A `ws-proto` response (status, headers, body) as a hyper one.
fn from_core(response: &handshake::Response) -> Response<String> {
    let mut out = Response::new(String::from_utf8_lossy(&response.body).into_owned());
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers.iter() {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.headers_mut().append(name, value);
        }
    }
    out
}

/// Sends every text and binary message back until the connection closes.
async fn echo(ws: WebSocket) {
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
}

//! Plumbing for `ws-runtime-std`: a thread per connection driving the dispatcher.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use ws_proto::{CloseCode, Config};
use ws_runtime_std::{ClientBuilder, ConnectError, Decision, Sender};

use super::{ClientSpec, ListenerHandle, Route, Router, accept_error, connect_error, is_cookie};
use crate::Error;
use crate::dispatch::Session;
use crate::link::{Frame, Link, close_error, send_error};

impl Link for Sender {
    fn send(&self, frame: Frame<'_>) -> Result<(), Error> {
        let sent = match frame {
            Frame::Text(text) => self.try_send_text(text),
            Frame::Binary(bytes) => self.try_send_binary(bytes),
            Frame::Prepared(message) => self.try_send_prepared(message),
        };
        sent.map_err(send_error)
    }

    fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        Sender::close(self, code, reason).map_err(|e| close_error(e, code))
    }

    fn abort(&self) {
        Sender::abort(self);
    }

    fn is_closing(&self) -> bool {
        Sender::state(self) != ws_proto::ConnectionState::Open
    }
}

fn drive(ws: ws_runtime_std::WebSocket, mut session: Box<dyn Session>) {
    let (sender, receiver) = ws.split();
    session.opened(Arc::new(sender));
    for event in receiver {
        session.event(event);
    }
}

pub(super) fn connect(spec: ClientSpec, mut session: Box<dyn Session>) -> Result<(), Error> {
    let mut builder = ClientBuilder::new(&spec.url).map_err(|e| match e {
        ConnectError::Url(e) => Error::InvalidUrl(e),
        other => Error::Io(std::io::Error::other(other.to_string())),
    })?;
    for (name, value) in &spec.headers {
        builder = if is_cookie(name) {
            builder.cookie(value)
        } else {
            builder.header(name, value)
        };
    }
    builder = builder.config(spec.config);
    if let Some(tls) = spec.tls {
        builder = builder.tls_config(tls);
    }
    thread::Builder::new()
        .name("ws-api-client".into())
        .spawn(move || match builder.connect() {
            Ok((ws, _response)) => drive(ws, session),
            Err(e) => session.failed(connect_error(&e)),
        })?;
    Ok(())
}

pub(super) fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    router: Arc<dyn Router>,
) -> Result<ListenerHandle, Error> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let config = Arc::new(config);
    thread::Builder::new()
        .name("ws-api-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let tcp = match stream {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        router.listener_error(&e);
                        // Out of descriptors or similar: pause rather than spin on the error.
                        thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                let (tls, config, router) = (tls.clone(), Arc::clone(&config), Arc::clone(&router));
                let _ = thread::Builder::new()
                    .name("ws-api-conn".into())
                    .spawn(move || serve_one(tcp, tls, &config, &*router));
            }
        })?;
    Ok(ListenerHandle::new(move || {
        stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; it sees the flag and ends.
        let _ = TcpStream::connect(wake_addr(addr));
    }))
}

fn serve_one(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: &Config,
    router: &dyn Router,
) {
    let remote = tcp.peer_addr().ok();
    let Ok(transport) = ws_runtime_std::server_transport(tcp, tls) else {
        return;
    };
    let mut session = None;
    let accepted = ws_runtime_std::accept(transport, config, |request| {
        match router.route(request, remote) {
            Route::Upgrade { accept, session: s } => {
                session = Some(s);
                Decision::Accept(accept)
            }
            Route::Respond(response) => Decision::Reject(response),
        }
    });
    match (accepted, session) {
        (Ok((ws, _request)), Some(session)) => drive(ws, session),
        (Err(e), Some(mut session)) => session.failed(accept_error(&e)),
        _ => {}
    }
}

/// The address to connect to in order to wake an accept loop bound to `addr` (an unspecified
/// address is reached through loopback).
pub(super) fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let mut wake = addr;
    if wake.ip().is_unspecified() {
        wake.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    wake
}

pub(super) fn after(delay: Duration, f: impl FnOnce() + Send + 'static) {
    let _ = thread::Builder::new()
        .name("ws-api-timer".into())
        .spawn(move || {
            thread::sleep(delay);
            f();
        });
}

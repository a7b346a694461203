//! Plumbing for `ws-runtime-std`: one thread per connection, which runs the dispatcher and
//! reads the socket while it waits for the next event (the adapter's shared reactor does the
//! rest: timers, writes the socket could not take at once, refusals over the limit).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use ws_adapter::AcceptBackoff;
use ws_proto::Config;
use ws_runtime_std::{ClientBuilder, Decision, Reply, Sender, StreamedResponse};

use super::{
    Admission, ClientSpec, ListenerHandle, Route, Router, accept_error, admit, client_options,
    connect_error,
};
use crate::Error;
use crate::dispatch::Session;

crate::link::impl_link!(Sender, close);

/// Stack of the accept loop: only this crate's code runs there.
const ACCEPT_STACK: usize = 128 << 10;
/// Stack of a connection's thread, which runs the application's callbacks: as large as the
/// adapter's default for handler threads. Only touched pages cost memory.
const CONNECTION_STACK: usize = ws_runtime_std::DEFAULT_THREAD_STACK;

fn drive(ws: ws_runtime_std::WebSocket, mut session: Box<dyn Session>) {
    // The callbacks run in the connection's span: what they log carries the connection.
    let span = ws.span().clone();
    let _entered = span.enter();
    let (sender, receiver) = ws.split();
    session.opened(Arc::new(sender));
    for event in receiver {
        session.event(event);
    }
}

pub(super) fn connect(spec: ClientSpec, mut session: Box<dyn Session>) -> Result<(), Error> {
    let builder = ClientBuilder::from(client_options(spec)?);
    thread::Builder::new()
        .name("ws-api-client".into())
        .stack_size(CONNECTION_STACK)
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
        .stack_size(ACCEPT_STACK)
        .spawn(move || {
            let mut backoff = AcceptBackoff::default();
            loop {
                let accepted = listener.accept();
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let tcp = match accepted {
                    Ok((tcp, _)) => {
                        backoff.succeeded();
                        tcp
                    }
                    Err(e) => {
                        router.listener_error(&e);
                        // Out of descriptors or similar: pause rather than spin on the error.
                        let pause = backoff.failed(&e);
                        thread::sleep(pause);
                        continue;
                    }
                };
                // Counted from accept. Over the limit the 503 goes out without a thread: the
                // adapter's reactor answers and drains the connection.
                let admission = admit(&*router);
                if matches!(admission, Admission::Overloaded) {
                    let _ = ws_runtime_std::refuse(tcp, &ws_adapter::overloaded());
                    continue;
                }
                let (tls, config, router) = (tls.clone(), Arc::clone(&config), Arc::clone(&router));
                let slot = Arc::new(Mutex::new(Some(tcp)));
                let taken = Arc::clone(&slot);
                let spawned = thread::Builder::new()
                    .name("ws-api-conn".into())
                    .stack_size(CONNECTION_STACK)
                    .spawn(move || {
                        let tcp = taken.lock().ok().and_then(|mut tcp| tcp.take());
                        if let Some(tcp) = tcp {
                            serve_one(tcp, tls, &config, &*router, &admission);
                        }
                    });
                if spawned.is_err() {
                    // Out of threads or memory: this one connection is refused, the server
                    // goes on.
                    if let Some(tcp) = slot.lock().ok().and_then(|mut tcp| tcp.take()) {
                        let _ = ws_runtime_std::refuse(tcp, &ws_adapter::overloaded());
                    }
                }
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
    admission: &Admission,
) {
    let remote = tcp.peer_addr().ok();
    let Ok(transport) = ws_runtime_std::server_transport(tcp, tls) else {
        return;
    };
    let mut session = None;
    let accepted = ws_runtime_std::accept_streaming(transport, config, |request| {
        match admission.route(router, request, remote) {
            Route::Upgrade { accept, session: s } => {
                session = Some(s);
                Decision::Accept(accept).into()
            }
            Route::Respond(response) => Decision::Reject(response).into(),
            // Read on this connection's own thread, a chunk at a time as the client takes it.
            Route::Stream(streamed) => Reply::Stream(match streamed.body {
                Some((file, len)) => {
                    StreamedResponse::new(streamed.status, streamed.head, file, len)
                }
                None => StreamedResponse::new(streamed.status, streamed.head, std::io::empty(), 0),
            }),
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

//! Plumbing for `ws-runtime-smol`: a task per connection on smol's global executor driving the
//! dispatcher.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use async_io::Async;
use ws_adapter::AcceptBackoff;
use ws_proto::Config;
use ws_runtime_smol::{ClientBuilder, Decision, Sender};

use super::{
    Admission, ClientSpec, ListenerHandle, Route, Router, accept_error, admit, client_options,
    connect_error,
};
use crate::Error;
use crate::dispatch::Session;

crate::link::impl_link!(Sender, try_close);

async fn drive(ws: ws_runtime_smol::WebSocket, mut session: Box<dyn Session>) {
    let (sender, receiver) = ws.split();
    session.opened(Arc::new(sender));
    while let Some(event) = receiver.recv().await {
        session.event(event);
    }
}

pub(super) fn connect(spec: ClientSpec, mut session: Box<dyn Session>) -> Result<(), Error> {
    let builder = ClientBuilder::from(client_options(spec)?);
    smol::spawn(async move {
        match builder.connect().await {
            Ok((ws, _response)) => drive(ws, session).await,
            Err(e) => session.failed(connect_error(&e)),
        }
    })
    .detach();
    Ok(())
}

pub(super) fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Config,
    router: Arc<dyn Router>,
) -> Result<ListenerHandle, Error> {
    let listener = Async::new(listener)?;
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let config = Arc::new(config);
    smol::spawn(async move {
        let mut backoff = AcceptBackoff::default();
        loop {
            let next = futures_lite::future::or(
                async {
                    // Only ever closed, never sent on: the handle stopped the server.
                    let _ = stopped.recv().await;
                    None
                },
                async { Some(listener.accept().await) },
            );
            let tcp = match next.await {
                None => break,
                Some(Ok((tcp, _))) => {
                    backoff.succeeded();
                    tcp
                }
                // Out of descriptors or similar: pause rather than spin on the error.
                Some(Err(e)) => {
                    router.listener_error(&e);
                    async_io::Timer::after(backoff.failed()).await;
                    continue;
                }
            };
            // Counted from accept, so connections still in their handshake count too.
            let admission = admit(&*router);
            let (tls, config, router) = (tls.clone(), Arc::clone(&config), Arc::clone(&router));
            smol::spawn(serve_one(tcp, tls, config, router, admission)).detach();
        }
    })
    .detach();
    Ok(ListenerHandle::new(move || {
        stop.close();
    }))
}

/// One connection: its request routed (503 when over the limit), then the session. The
/// admission is held until both the session and the driver are done.
async fn serve_one(
    tcp: Async<std::net::TcpStream>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Arc<Config>,
    router: Arc<dyn Router>,
    admission: Admission,
) {
    let remote = tcp.get_ref().peer_addr().ok();
    let admission = Arc::new(admission);
    let mut session = None;
    let accepted = ws_runtime_smol::accept_tcp(tcp, tls, &config, |request| {
        match admission.route(&*router, request, remote) {
            Route::Upgrade { accept, session: s } => {
                session = Some(s);
                Decision::Accept(accept)
            }
            Route::Respond(response) => Decision::Reject(response),
        }
    })
    .await;
    match (accepted, session) {
        (Ok((ws, _request, driver)), Some(session)) => {
            let held = Arc::clone(&admission);
            smol::spawn(async move {
                driver.await;
                drop(held);
            })
            .detach();
            drive(ws, session).await;
        }
        (Err(e), Some(mut session)) => session.failed(accept_error(&e)),
        _ => {}
    }
}

pub(super) fn after(delay: Duration, f: impl FnOnce() + Send + 'static) {
    smol::spawn(async move {
        async_io::Timer::after(delay).await;
        f();
    })
    .detach();
}

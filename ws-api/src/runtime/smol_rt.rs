//! Plumbing for `ws-runtime-smol`: a task per connection on smol's global executor driving the
//! dispatcher.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use async_io::Async;
use ws_adapter::AcceptBackoff;
use ws_adapter::trace::ConnSpan;
use ws_proto::Config;
use ws_runtime_smol::{ClientBuilder, Decision, Reply, Sender, StreamedResponse};

use super::callback_pool;
use super::{
    Admission, ClientSpec, ListenerHandle, Route, Router, accept_error, admit, client_options,
    connect_error,
};
use crate::Error;
use crate::dispatch::Session;

crate::link::impl_link!(Sender, try_close);

/// Runs a connection's callbacks: on the executor when `inline`, else on the callback pool,
/// where a callback that blocks stalls neither IO nor other connections. Either way they are
/// one task that takes the connection's events one at a time: each event is taken from the core
/// only after the callback for the one before it ran (the core's drive contract: a peer's Close
/// waits behind the messages before it, so the answers to them go out first). On the pool, the
/// connection's driver wakes that task straight onto the pool's queue, so a message costs no
/// hop through the executor. The callbacks for all the events ready at once run under one
/// cork, so what they send leaves in one write, not in one per message.
///
/// The callbacks run in the connection's span: what they log carries the connection.
async fn drive(ws: ws_runtime_smol::WebSocket, mut session: Box<dyn Session>, inline: bool) {
    let span = ws.span().clone();
    let corks = ws.sender();
    let (sender, receiver) = ws.split();
    let callbacks = span.instrument(async move {
        session.opened(Arc::new(sender));
        while let Some(first) = receiver.recv().await {
            let _cork = corks.cork();
            session.event(first);
            while let Some(Some(event)) = futures_lite::future::poll_once(receiver.recv()).await {
                session.event(event);
            }
        }
    });
    if inline {
        callbacks.await;
    } else {
        callback_pool::spawn(callbacks).await;
    }
}

/// Runs a callback that reports a failed connection where `drive` would run the others.
async fn fail(mut session: Box<dyn Session>, error: crate::ErrorInfo, inline: bool) {
    if inline {
        session.failed(error);
    } else {
        callback_pool::unblock(move || session.failed(error)).await;
    }
}

pub(super) fn connect(spec: ClientSpec, session: Box<dyn Session>) -> Result<(), Error> {
    let inline = spec.inline_callbacks;
    let builder = ClientBuilder::from(client_options(spec)?);
    smol::spawn(async move {
        // Boxed for the same reason as the server's handshake.
        match Box::pin(builder.connect()).await {
            Ok((ws, _response)) => drive(ws, session, inline).await,
            Err(e) => fail(session, connect_error(&e), inline).await,
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
                    let pause = backoff.failed(&e);
                    async_io::Timer::after(pause).await;
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
/// What the adapter does with a routed request; an upgrade's session is kept in `session`.
fn reply(route: Route, session: &mut Option<Box<dyn Session>>) -> Reply {
    match route {
        Route::Upgrade { accept, session: s } => {
            *session = Some(s);
            Decision::Accept(accept).into()
        }
        Route::Respond(response) => Decision::Reject(response).into(),
        // The file is read on smol's blocking pool, never on the executor, through a pipe of
        // one chunk: memory stays bounded whatever the file's size.
        Route::Stream(streamed) => Reply::Stream(match streamed.body {
            Some((file, len)) => StreamedResponse::new(
                streamed.status,
                streamed.head,
                // Read ahead in the chunks the adapter writes.
                smol::Unblock::with_capacity(ws_adapter::READ_CHUNK, file),
                len,
            ),
            None => {
                StreamedResponse::new(streamed.status, streamed.head, futures_lite::io::empty(), 0)
            }
        }),
    }
}

async fn serve_one(
    tcp: Async<std::net::TcpStream>,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: Arc<Config>,
    router: Arc<dyn Router>,
    admission: Admission,
) {
    let remote = tcp.get_ref().peer_addr().ok();
    let admission = Arc::new(admission);
    let inline = router.inline_callbacks();
    let mut session = None;
    let slot = &mut session;
    // Boxed: the handshake's state is freed once it is done, instead of sizing this task,
    // which lives as long as the connection, for it.
    let accepted = Box::pin(ws_runtime_smol::accept_tcp_with(
        tcp,
        tls,
        &config,
        |request| {
            let (admission, router) = (Arc::clone(&admission), Arc::clone(&router));
            let request = request.clone();
            // The handshake's span, carried to the callback pool.
            let span = ConnSpan::current();
            async move {
                // `on_connection` and the HTTP handler are application code too: unless callbacks
                // run inline, they decide on the callback pool, not on the executor.
                let route = if inline {
                    admission.route(&*router, &request, remote)
                } else {
                    callback_pool::unblock(move || {
                        let _entered = span.enter();
                        admission.route(&*router, &request, remote)
                    })
                    .await
                };
                reply(route, slot)
            }
        },
    ))
    .await;
    match (accepted, session) {
        (Ok((ws, _request, driver)), Some(session)) => {
            let held = Arc::clone(&admission);
            smol::spawn(async move {
                driver.await;
                drop(held);
            })
            .detach();
            drive(ws, session, router.inline_callbacks()).await;
        }
        (Err(e), Some(session)) => fail(session, accept_error(&e), router.inline_callbacks()).await,
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

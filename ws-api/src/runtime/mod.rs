//! The runtimes, and the little each must supply: connecting a client, serving a listener,
//! a sending [`Link`](crate::link::Link), and a delayed call. Everything else is shared.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use ws_proto::Config;
use ws_proto::handshake::{Accept, Request, Response};

use ws_adapter::ClientOptions as AdapterClientOptions;
use ws_adapter::{AcceptError, ConnectError, ConnectionLimit, Permit};

use crate::dispatch::Session;
use crate::{Error, ErrorInfo};

#[cfg(feature = "smol")]
mod callback_pool;
#[cfg(feature = "smol")]
mod smol_rt;
#[cfg(feature = "std")]
mod std_rt;

/// Which runtime drives connections: chosen in one place per listener or client
/// ([`WebServerOptions::runtime`], whose WebSocket servers all share it, and
/// [`WebSocket::with_runtime`] or [`ClientOptions::runtime`]); the same handlers run on either.
///
/// [`WebServerOptions::runtime`]: crate::WebServerOptions::runtime
/// [`WebSocket::with_runtime`]: crate::WebSocket::with_runtime
/// [`ClientOptions::runtime`]: crate::ClientOptions::runtime
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `ws-runtime-std`: blocking sockets; one thread per connection runs its callbacks and
    /// reads its socket, one shared thread does timers and deferred writes (cargo feature `std`).
    /// Callbacks may block freely: they stall only their own connection.
    Std,
    /// `ws-runtime-smol`: async tasks on smol's global executor (cargo feature `smol`).
    Smol,
}

impl Default for Runtime {
    /// `Std` when compiled in, else `Smol`.
    ///
    /// Why `Std`: 4D-style handlers block freely (a callback may wait on a database, a file, a
    /// lock), and on `Std` a blocking callback stalls only its own connection, while on `Smol`
    /// callbacks run on the executor's threads. Both runtimes hold 10,000 idle connections on a
    /// 2-core machine and end every connection on time (close timeout, Pong timeout, abort);
    /// `Std` pays for its thread per connection in memory, about 30 KiB per idle connection
    /// against about 4 KiB on `Smol` (`ws-api`'s uppercase server, 10,000 connections), so a
    /// server that holds very many mostly idle connections and never blocks in a callback is
    /// better off on `Smol`.
    fn default() -> Self {
        if cfg!(feature = "std") {
            Runtime::Std
        } else {
            Runtime::Smol
        }
    }
}

/// A client connection to open.
pub(crate) struct ClientSpec {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) config: Config,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    /// Run the callbacks on the executor (smol) rather than on the callback pool.
    #[cfg_attr(not(feature = "smol"), allow(dead_code))]
    pub(crate) inline_callbacks: bool,
}

/// What a listener does with a request.
pub(crate) enum Route {
    /// Complete the upgrade and drive `session`.
    Upgrade {
        accept: Accept,
        session: Box<dyn Session>,
    },
    /// Answer and close.
    Respond(Response),
    /// Answer with a head encoded by the caller and a body streamed from a file, and close.
    Stream(Streamed),
}

/// A response whose body, if any, is streamed from a file in chunks instead of held in memory
/// (the runtime writes it as the client reads: `ws_runtime_std::StreamedResponse`,
/// `ws_runtime_smol::StreamedResponse`).
pub(crate) struct Streamed {
    pub(crate) status: u16,
    /// Status line and header fields, ending with the empty line; its `Content-Length` frames
    /// the body (or, for `HEAD`, the body the same `GET` would get).
    pub(crate) head: Vec<u8>,
    /// The file and how many of its bytes to send; `None` for no body.
    pub(crate) body: Option<(std::fs::File, u64)>,
}

impl Route {
    /// The answer to a `HEAD` request: the same head, no body (RFC 9110 §9.3.2).
    fn without_body(self) -> Route {
        match self {
            Route::Respond(response) => {
                let mut head = response.encode();
                // The encoder ends the head with the first empty line (no header value holds
                // a CR or LF), and writes the body after it.
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    head.truncate(end + 4);
                }
                Route::Stream(Streamed {
                    status: response.status,
                    head,
                    body: None,
                })
            }
            Route::Stream(streamed) => Route::Stream(Streamed {
                body: None,
                ..streamed
            }),
            upgrade @ Route::Upgrade { .. } => upgrade,
        }
    }
}

/// Decides what each request on a listener gets.
///
/// Every runtime's accept loop does the same with each accepted connection: [`admit`] it
/// before reading anything (the listener's connection limit), route its request with
/// [`Admission::route`] (a connection over the limit is answered 503 through the ordinary
/// [`Route::Respond`] path, after its request was read), and keep the [`Admission`] until the
/// connection has ended (handshake, session and driver all done). A failing `accept` is
/// reported with [`listener_error`](Self::listener_error) and retried after
/// [`ws_adapter::AcceptBackoff`]'s pause.
pub(crate) trait Router: Send + Sync + 'static {
    fn route(&self, request: &Request, remote: Option<SocketAddr>) -> Route;
    /// Accepting a connection failed (out of descriptors, ...): reported, then retried.
    fn listener_error(&self, error: &std::io::Error);
    /// The listener's cap on open connections
    /// ([`WebServerOptions::max_connections`](crate::WebServerOptions::max_connections)).
    fn connection_limit(&self) -> &ConnectionLimit;
    /// Whether callbacks run on the executor (smol) rather than on the callback pool
    /// ([`WebServerOptions::inline_callbacks`](crate::WebServerOptions::inline_callbacks)).
    #[cfg_attr(not(feature = "smol"), allow(dead_code))]
    fn inline_callbacks(&self) -> bool;
}

/// An accepted connection's standing under its listener's connection limit: the one check at
/// the door, shared by every runtime. Hold it as long as the connection lives.
pub(crate) enum Admission {
    /// Under the limit: the permit keeps the connection's place until dropped (held, never
    /// read).
    Admitted(#[allow(dead_code)] Permit),
    /// Over the limit: the request is answered with [`ws_adapter::overloaded`] (503).
    Overloaded,
}

/// The hook each runtime's accept loop calls once per accepted connection, before reading
/// anything from it: takes a place under the router's connection limit, if one is free.
pub(crate) fn admit(router: &dyn Router) -> Admission {
    match router.connection_limit().try_acquire() {
        Some(permit) => Admission::Admitted(permit),
        None => Admission::Overloaded,
    }
}

impl Admission {
    /// What the connection's request gets: 503 when over the limit, else the router's answer;
    /// to `HEAD`, without its body.
    pub(crate) fn route(
        &self,
        router: &dyn Router,
        request: &Request,
        remote: Option<SocketAddr>,
    ) -> Route {
        let route = match self {
            Admission::Admitted(_) => router.route(request, remote),
            Admission::Overloaded => Route::Respond(ws_adapter::overloaded()),
        };
        if request.method() == "HEAD" {
            route.without_body()
        } else {
            route
        }
    }
}

/// A running accept loop; stopping it leaves open connections alone.
pub(crate) struct ListenerHandle {
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl ListenerHandle {
    pub(crate) fn new(stop: impl FnOnce() + Send + 'static) -> Self {
        ListenerHandle {
            stop: Some(Box::new(stop)),
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Runtime {
    fn unavailable(self) -> Error {
        Error::RuntimeUnavailable(match self {
            Runtime::Std => "std",
            Runtime::Smol => "smol",
        })
    }

    /// Opens a client connection in the background, driving `session`.
    pub(crate) fn connect(self, spec: ClientSpec, session: Box<dyn Session>) -> Result<(), Error> {
        match self {
            #[cfg(feature = "std")]
            Runtime::Std => std_rt::connect(spec, session),
            #[cfg(feature = "smol")]
            Runtime::Smol => smol_rt::connect(spec, session),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (spec, session);
                Err(self.unavailable())
            }
        }
    }

    /// Serves `listener`: every request goes through `router`.
    pub(crate) fn serve(
        self,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        config: Config,
        router: Arc<dyn Router>,
    ) -> Result<ListenerHandle, Error> {
        match self {
            #[cfg(feature = "std")]
            Runtime::Std => std_rt::serve(listener, tls, config, router),
            #[cfg(feature = "smol")]
            Runtime::Smol => smol_rt::serve(listener, tls, config, router),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (listener, tls, config, router);
                Err(self.unavailable())
            }
        }
    }

    /// Calls `f` after `delay`, without blocking the caller.
    pub(crate) fn after(self, delay: Duration, f: impl FnOnce() + Send + 'static) {
        match self {
            #[cfg(feature = "std")]
            Runtime::Std => std_rt::after(delay, f),
            #[cfg(feature = "smol")]
            Runtime::Smol => smol_rt::after(delay, f),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (delay, f);
            }
        }
    }
}

/// 4D's error entry for a failed connect, naming the step.
pub(crate) fn connect_error(e: &ConnectError) -> ErrorInfo {
    let (code, component) = match e {
        ConnectError::Dns(_) => (ErrorInfo::DNS, "ws-net"),
        ConnectError::Tcp(_) => (ErrorInfo::TCP, "ws-net"),
        ConnectError::Tls(_) => (ErrorInfo::TLS, "ws-net"),
        ConnectError::Rejected(_) => (ErrorInfo::HANDSHAKE_REFUSED, "ws-http"),
        ConnectError::Handshake(_) | ConnectError::Request(_) | ConnectError::Url(_) => {
            (ErrorInfo::HANDSHAKE, "ws-http")
        }
        _ => (ErrorInfo::IO, "ws-net"),
    };
    ErrorInfo::new(code, component, e.to_string())
}

/// 4D's error entry for an accepted connection whose handshake then failed.
pub(crate) fn accept_error(e: &AcceptError) -> ErrorInfo {
    match e {
        AcceptError::Io(_) => ErrorInfo::new(ErrorInfo::IO, "ws-net", e.to_string()),
        _ => ErrorInfo::new(ErrorInfo::HANDSHAKE, "ws-http", e.to_string()),
    }
}

/// The adapters' client options for `spec`: the same for every runtime. The handler's headers
/// become builder calls: one `Cookie` string, the rest as they are.
pub(crate) fn client_options(spec: ClientSpec) -> Result<AdapterClientOptions, Error> {
    let mut options = AdapterClientOptions::new(&spec.url)?;
    for (name, value) in &spec.headers {
        options.request = if name.eq_ignore_ascii_case("cookie") {
            options.request.with_cookie(value)
        } else {
            options.request.with_header(name, value)
        };
    }
    options.config = spec.config;
    options.tls = spec.tls;
    Ok(options)
}

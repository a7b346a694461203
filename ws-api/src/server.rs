//! 4D's `WebSocketServer` and `WebSocketConnection` classes.

use std::any::Any;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use ws_proto::handshake::Accept;
use ws_proto::{CloseCode, Config};

use crate::dispatch::{Dispatcher, Endpoint, Panicked, Session, guard, log_panic};
use crate::hold::Hold;
use crate::ids::next_id;
use crate::link::{Channel, Link};
use crate::origin::OriginPolicy;
use crate::status::wait_until;
use crate::trace;
use crate::web_server::{WebServer, WebServerOptions};
use crate::{
    ConnectionEvent, Data, DataType, Error, ErrorEvent, ErrorInfo, JsonLimits, MessageEvent,
    OpenEvent, RequestInfo, ServerEvent, Status, TerminateEvent,
};

/// The callbacks of a WebSocket server (4D: the `WSSHandler` object passed to
/// `4D.WebSocketServer.new()`). Only [`on_connection`](Self::on_connection) is required.
///
/// A callback that panics is caught and reported to [`on_error`](Self::on_error)
/// ([`ErrorInfo::CALLBACK_PANICKED`]; a panic in `on_error` or `on_terminate` goes to stderr);
/// the server goes on, and a request whose `on_connection` panicked is refused with 500.
pub trait WebSocketServerHandler: Any + Send + Sync {
    /// 4D: `onConnection`. A client asks to connect; `event.request` holds its request. Return
    /// a handler to accept (a [`WebSocketConnection`] is created, joins
    /// [`WebSocketServer::connections`] and gets `on_open`), or `None` to refuse: the client
    /// gets HTTP 403 before any upgrade, or the status set with
    /// [`ConnectionEvent::refuse_with`].
    fn on_connection(
        &self,
        server: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>>;

    /// 4D: `onOpen`. The server started.
    fn on_open(&self, server: &WebSocketServer, event: ServerEvent) {
        let _ = (server, event);
    }

    /// 4D: `onTerminate`. The server stopped: called after every connection's `on_terminate`.
    fn on_terminate(&self, server: &WebSocketServer, event: ServerEvent) {
        let _ = (server, event);
    }

    /// 4D: `onError`. A server-level error (the listener failed).
    fn on_error(&self, server: &WebSocketServer, event: ErrorEvent) {
        let _ = (server, event);
    }
}

/// The callbacks of one server-side connection (4D: the `connectionHandler` returned by
/// `onConnection`). Only [`on_message`](Self::on_message) is required; the order guarantee is
/// the client's (see [`WebSocketHandler`](crate::WebSocketHandler)). A callback that panics
/// is caught: the panic is reported to [`on_error`](Self::on_error)
/// ([`ErrorInfo::CALLBACK_PANICKED`]) and the connection closed with 1011; the server and its
/// other connections go on.
pub trait ConnectionHandler: Any + Send + Sync {
    /// 4D: `onMessage`.
    fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent);

    /// 4D: `onOpen`. Called after `on_connection` accepted and the handshake completed.
    fn on_open(&self, conn: &WebSocketConnection, event: OpenEvent) {
        let _ = (conn, event);
    }

    /// 4D: `onError`.
    fn on_error(&self, conn: &WebSocketConnection, event: ErrorEvent) {
        let _ = (conn, event);
    }

    /// 4D: `onTerminate`. `event.code` is 1005 if the client sent no code, 1006 on an abnormal
    /// end. The connection is already gone from [`WebSocketServer::connections`].
    fn on_terminate(&self, conn: &WebSocketConnection, event: TerminateEvent) {
        let _ = (conn, event);
    }
}

/// Options of a WebSocket server (4D: the `options` object, plus Rust-side settings).
///
/// Keepalive is on by default: a connection that receives nothing for 20 s sends a Ping, and
/// fails with 1011 if the client then sends nothing back within 20 s
/// ([`ping_interval`](Self::ping_interval), [`pong_timeout`](Self::pong_timeout)).
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// 4D: `path`. The exact request path this server answers; `None` answers every path not
    /// claimed by another server. A web server runs one WebSocket server per path (and one
    /// without a path): [`WebSocketServer::new`] refuses a second with [`Error::PathInUse`].
    pub path: Option<String>,
    /// 4D: `dataType`.
    pub data_type: DataType,
    /// The web server to live on (4D: the WebSocket server shares the web server's host and
    /// port). Required by [`WebSocketServer::new`]; [`WebSocketServer::listen`] starts one.
    pub web_server: Option<WebServer>,
    /// Limits, timeouts and keepalive of each connection. Default [`default_config`]:
    /// [`Config::default`] with a keepalive Ping after 20 s of silence and a 20 s pong timeout
    /// ([`DEFAULT_PING_INTERVAL`], [`DEFAULT_PONG_TIMEOUT`]). A config set here replaces it
    /// whole: start from [`default_config`] to keep keepalive on.
    ///
    /// [`default_config`]: crate::default_config
    /// [`DEFAULT_PING_INTERVAL`]: crate::DEFAULT_PING_INTERVAL
    /// [`DEFAULT_PONG_TIMEOUT`]: crate::DEFAULT_PONG_TIMEOUT
    pub config: Config,
    /// Subprotocols this server speaks, most preferred first; the first one the client offers
    /// is confirmed.
    pub subprotocols: Vec<String>,
    /// Which web pages may open WebSockets to this server (the `Origin` check against
    /// cross-site WebSocket hijacking). Default: no rule, every origin accepted, as in 4D.
    /// A server reached by browsers whose users sign in should set it with
    /// [`allow_same_origin`](Self::allow_same_origin) and/or
    /// [`allow_origin`](Self::allow_origin); a refused request gets 403 before the upgrade and
    /// never reaches `on_connection`.
    pub origins: OriginPolicy,
    /// Bounds on received JSON messages when [`data_type`](Self::data_type) is
    /// [`DataType::Object`]: 1 MiB, depth 64, 32 MiB of parsed value by default (see
    /// [`JsonLimits`]).
    pub json_limits: JsonLimits,
}

impl Default for ServerOptions {
    /// Every path, text, no web server yet, [`default_config`](crate::default_config) (keepalive
    /// on: 20 s / 20 s), no subprotocol.
    fn default() -> Self {
        ServerOptions {
            path: None,
            data_type: DataType::default(),
            web_server: None,
            config: crate::default_config(),
            subprotocols: Vec::new(),
            origins: OriginPolicy::default(),
            json_limits: JsonLimits::default(),
        }
    }
}

impl ServerOptions {
    /// Default options: every path, text, default limits, keepalive on (20 s / 20 s).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends a keepalive Ping after this long without receiving anything (default 20 s);
    /// `None` turns keepalive off. Sets [`Config::ping_interval`] in [`config`](Self::config).
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// permessage-deflate (RFC 7692): on by default (browsers, Python `websockets` and Node
    /// `ws` all offer it), with [`DeflateConfig::default`](crate::DeflateConfig::default);
    /// `None` turns it off. Sets [`Config::compression`] in [`config`](Self::config).
    ///
    /// ```
    /// # use ws_api::*;
    /// let options = ServerOptions::new().compression(None);
    /// ```
    #[must_use]
    pub fn compression(mut self, compression: Option<crate::DeflateConfig>) -> Self {
        self.config.compression = compression;
        self
    }

    /// How long the client has to answer a keepalive Ping before the connection fails with
    /// 1011 (default 20 s). Sets [`Config::pong_timeout`] in [`config`](Self::config).
    #[must_use]
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.config.pong_timeout = timeout;
        self
    }

    /// Sets [`path`](Self::path).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets [`data_type`](Self::data_type).
    #[must_use]
    pub fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }

    /// Sets [`web_server`](Self::web_server).
    #[must_use]
    pub fn web_server(mut self, web_server: &WebServer) -> Self {
        self.web_server = Some(web_server.clone());
        self
    }

    /// Sets [`config`](Self::config).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Adds a supported subprotocol.
    #[must_use]
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Accepts WebSockets opened by pages of `origin` (`scheme://host[:port]`, e.g.
    /// `https://example.com`); repeat for several. Once any origin rule is set, a browser
    /// request from any other origin is refused with 403 before the upgrade. Requests without
    /// an `Origin` header (clients that are not browsers) are accepted.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.exact.push(origin.into());
        self
    }

    /// Accepts WebSockets opened by the pages this server's own host serves: an `Origin` whose
    /// host and port are the request's `Host`. The usual setting for a web server that serves
    /// both its page and its WebSocket, like the chat example.
    #[must_use]
    pub fn allow_same_origin(mut self) -> Self {
        self.origins.same_as_host = true;
        self
    }

    /// Sets [`json_limits`](Self::json_limits).
    #[must_use]
    pub fn json_limits(mut self, limits: JsonLimits) -> Self {
        self.json_limits = limits;
        self
    }
}

/// A WebSocket server (4D: `4D.WebSocketServer`): handles the upgrade requests for its `path`
/// on a [`WebServer`]. Cheap to clone; every clone is the same server.
///
/// # Lifetime
///
/// The server runs as long as the program holds it, as a 4D server runs as long as the worker
/// that keeps it in a variable: when the last handle returned by [`new`](Self::new) or
/// [`listen`](Self::listen), or a clone of one, is dropped, the server is terminated as by
/// [`terminate(None)`](Self::terminate): it stops taking connections, closes each with 1001,
/// and its callbacks still come (every connection's `on_terminate`, then its own).
///
/// The handles lent to callbacks (`on_connection`'s `server`, [`WebSocketConnection::wss`],
/// ...) and their clones do not keep it running: a handler may keep one without keeping its
/// own server alive. While it runs, the server keeps its [`WebServer`] listening, so the
/// handle [`WebServer::start`] returned need not be kept too.
#[derive(Clone)]
#[must_use = "dropping the last handle to a WebSocketServer terminates it"]
pub struct WebSocketServer {
    inner: Arc<ServerInner>,
    /// Present in the handles the program owns, absent in the ones lent to callbacks and kept
    /// by the crate (see [`crate::hold`]); held for its drop, never read.
    #[allow(dead_code)]
    hold: Option<Arc<Hold>>,
}

struct ServerInner {
    handler: Box<dyn WebSocketServerHandler>,
    path: Option<String>,
    data_type: DataType,
    config: Config,
    subprotocols: Vec<String>,
    origins: OriginPolicy,
    json_limits: JsonLimits,
    /// Lent: keeps no hold on the web server.
    web_server: WebServer,
    /// Keeps the web server listening while this server runs; released by `terminate`.
    web_hold: Mutex<Option<Arc<Hold>>>,
    /// A web server started by [`WebSocketServer::listen`] stops with this server.
    owns_web_server: bool,
    state: Mutex<ServerState>,
    changed: Condvar,
    terminated: AtomicBool,
}

struct ServerState {
    /// Open connections in id order.
    connections: Vec<WebSocketConnection>,
    /// Connections accepted by `on_connection` whose `on_terminate` has not run yet.
    unfinished: usize,
    /// The server's own `on_terminate` ran.
    finished: bool,
}

impl WebSocketServer {
    /// 4D: `4D.WebSocketServer.new(handler; options)`. Creates the server on
    /// `options.web_server` and starts it: `on_open` is called before this returns.
    ///
    /// A web server holds one WebSocket server per path: when a running one already has
    /// `options.path` (or, without a path, when one without a path runs), this fails with
    /// [`Error::PathInUse`] and `on_open` is not called.
    pub fn new(
        handler: impl WebSocketServerHandler,
        options: ServerOptions,
    ) -> Result<Self, Error> {
        let web_server = options.web_server.clone().ok_or(Error::NoWebServer)?;
        Self::start(Box::new(handler), options, web_server, false)
    }

    /// Starts a [`WebServer`] of its own on `addr` (default runtime, plain `ws://`) and the
    /// WebSocket server on it. The web server stops with [`terminate`](Self::terminate), or
    /// when the last handle to this server is dropped.
    pub fn listen(
        addr: impl ToSocketAddrs,
        handler: impl WebSocketServerHandler,
        options: ServerOptions,
    ) -> Result<Self, Error> {
        let web_server = WebServer::start(WebServerOptions::new().addr(addr)?)?;
        Self::start(Box::new(handler), options, web_server, true)
    }

    fn start(
        handler: Box<dyn WebSocketServerHandler>,
        options: ServerOptions,
        web_server: WebServer,
        owns_web_server: bool,
    ) -> Result<Self, Error> {
        let server = WebSocketServer {
            hold: None,
            inner: Arc::new(ServerInner {
                handler,
                path: options.path,
                data_type: options.data_type,
                config: options
                    .json_limits
                    .connection_config(options.data_type, options.config),
                subprotocols: options.subprotocols,
                origins: options.origins,
                json_limits: options.json_limits,
                web_server: web_server.lent(),
                web_hold: Mutex::new(web_server.keep_running()),
                owns_web_server,
                state: Mutex::new(ServerState {
                    connections: Vec::new(),
                    unfinished: 0,
                    finished: false,
                }),
                changed: Condvar::new(),
                terminated: AtomicBool::new(false),
            }),
        };
        web_server.add(server.clone())?;
        if let Err(panic) = guard(|| server.inner.handler.on_open(&server, ServerEvent::open())) {
            trace::callback_panicked("on_open", None, &panic);
            server.report_error(ErrorEvent::one(ErrorInfo::panicked("on_open", &panic)));
        }
        let release = server.clone();
        Ok(WebSocketServer {
            inner: server.inner,
            hold: Some(Hold::new(move || release.terminate(None))),
        })
    }

    /// A handle to lend (to callbacks, to connections, to the web server's routes): it does
    /// not keep the server running.
    fn lent(&self) -> WebSocketServer {
        WebSocketServer {
            inner: Arc::clone(&self.inner),
            hold: None,
        }
    }

    /// 4D: `.connections`. The open connections, oldest first. A closed connection has status
    /// `Closed` and is no longer listed.
    pub fn connections(&self) -> Vec<WebSocketConnection> {
        self.state().connections.clone()
    }

    /// 4D: `.dataType`.
    pub fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    /// 4D: `.handler`.
    pub fn handler(&self) -> &dyn WebSocketServerHandler {
        &*self.inner.handler
    }

    /// The handler as its own type, if it is a `T`.
    pub fn handler_as<T: WebSocketServerHandler>(&self) -> Option<&T> {
        let handler: &dyn Any = &*self.inner.handler;
        handler.downcast_ref::<T>()
    }

    /// 4D: `.path`. `None` when the server answers every path.
    pub fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }

    /// 4D: `.terminated`.
    pub fn terminated(&self) -> bool {
        self.inner.terminated.load(Ordering::SeqCst)
    }

    /// The web server this server lives on. The handle is lent: it does not keep the web
    /// server listening (this server does, while it runs).
    pub fn web_server(&self) -> &WebServer {
        &self.inner.web_server
    }

    /// Sends `data` to every open connection, encoding the frame once; `except` skips one
    /// connection (typically the sender). Returns how many connections it was queued on
    /// (connections whose output queue is full are skipped). To choose the connections
    /// yourself, [`Data::prepare`] the message and
    /// [`send_prepared`](WebSocketConnection::send_prepared) it to each.
    pub fn broadcast(&self, data: impl Into<Data>, except: Option<u64>) -> usize {
        let prepared = data.into().prepare();
        self.connections()
            .iter()
            .filter(|c| Some(c.id()) != except)
            .filter(|c| c.inner.channel.send_prepared(&prepared).is_ok())
            .count()
    }

    /// 4D: `.terminate({timeout})`. Stops accepting connections, then:
    ///
    /// * `None`: a close handshake (1001) with every peer, waiting for each to end. A peer that
    ///   never answers is disconnected after the close timeout, [`Config::close_timeout`] of
    ///   [`ServerOptions::config`] (5 s by default), and its `on_terminate` sees 1006: so
    ///   `None` ends within about that long, however the peers behave;
    /// * `Some(t)`: the same, but sockets still open after `t` are destroyed (the close
    ///   timeout still ends a silent peer first when it is shorter than `t`);
    /// * `Some(Duration::ZERO)`: every socket is destroyed at once, with no Close frame and
    ///   no FIN.
    ///
    /// Returns at once. The connections' `on_terminate` follow, then the server's
    /// ([`wait_terminated`](Self::wait_terminated) blocks until then).
    pub fn terminate(&self, timeout: Option<Duration>) {
        if self.inner.terminated.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.web_server.remove(self);
        if self.inner.owns_web_server {
            self.inner.web_server.stop();
        }
        // The web server stops too if nothing else holds it.
        let web_hold = self
            .inner
            .web_hold
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(web_hold);
        let connections = self.connections();
        for conn in &connections {
            if timeout == Some(Duration::ZERO) {
                conn.abort();
            } else {
                let _ = conn
                    .inner
                    .channel
                    .close(CloseCode::GOING_AWAY, "server terminated");
            }
        }
        if let Some(timeout) = timeout.filter(|t| !t.is_zero()) {
            self.inner.web_server.runtime().after(timeout, move || {
                for conn in connections {
                    conn.abort();
                }
            });
        }
        self.finish_if_done();
    }

    /// Blocks until the server's `on_terminate` has run, or `timeout` passed; returns whether it
    /// ran.
    pub fn wait_terminated(&self, timeout: Duration) -> bool {
        wait_until(&self.inner.state, &self.inner.changed, timeout, |s| {
            s.finished
        })
    }

    fn state(&self) -> MutexGuard<'_, ServerState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls the server's `on_terminate` once it is terminated and every accepted connection
    /// has had its own.
    fn finish_if_done(&self) {
        let fire = {
            let mut state = self.state();
            let fire = self.terminated() && state.unfinished == 0 && !state.finished;
            state.finished |= fire;
            fire
        };
        if fire {
            let (handler, lent) = (&self.inner.handler, self.lent());
            if let Err(panic) = guard(|| handler.on_terminate(&lent, ServerEvent::terminate())) {
                trace::callback_panicked("on_terminate", None, &panic);
                log_panic("on_terminate", &self.label(), &panic);
            }
            self.inner.changed.notify_all();
        }
    }

    /// Asks the handler about a request and, if it accepts, prepares the connection (called by
    /// the web server's router, on the request's thread or task).
    pub(crate) fn connect(
        &self,
        request: RequestInfo,
    ) -> Result<(Accept, Box<dyn Session>), ws_proto::handshake::Response> {
        // RFC 6455 §10.2: the server decides from `Origin` which pages may connect; a page of
        // another site is refused before the application sees the request.
        if !self
            .inner
            .origins
            .allows(request.header("origin"), request.header("host"))
        {
            trace::origin_refused(request.header("origin"));
            return Err(ws_proto::handshake::Response::new(403)
                .with_header("Content-Type", "text/plain; charset=utf-8")
                .with_body("origin not allowed\n"));
        }
        let event = ConnectionEvent::new(request);
        let handler = match guard(|| self.inner.handler.on_connection(self, &event)) {
            Ok(Some(handler)) => handler,
            Ok(None) => {
                let refusal = event.take_refusal();
                trace::refused_by_handler(refusal.status);
                return Err(refusal);
            }
            Err(panic) => {
                trace::callback_panicked("on_connection", None, &panic);
                self.report_error(ErrorEvent::one(ErrorInfo::panicked(
                    "on_connection",
                    &panic,
                )));
                return Err(ws_proto::handshake::Response::new(500)
                    .with_header("Content-Type", "text/plain; charset=utf-8")
                    .with_body("the server failed to handle the connection\n"));
            }
        };
        let mut accept = Accept::new().with_config(self.inner.config.clone());
        let offered = &event.request.subprotocols;
        if let Some(chosen) = self.inner.subprotocols.iter().find(|p| offered.contains(p)) {
            accept = accept.with_subprotocol(chosen.clone());
        }
        let conn = WebSocketConnection {
            inner: Arc::new(ConnInner {
                id: next_id(),
                handler,
                server: self.lent(),
                data_type: self.inner.data_type,
                channel: Channel::new(),
                request: event.request,
            }),
        };
        self.state().unfinished += 1;
        Ok((accept, Box::new(Dispatcher::new(Arc::new(conn)))))
    }

    pub(crate) fn same(&self, other: &WebSocketServer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Calls the server's `on_error`; a panic there goes to stderr.
    pub(crate) fn report_error(&self, event: ErrorEvent) {
        let lent = self.lent();
        if let Err(panic) = guard(|| self.inner.handler.on_error(&lent, event)) {
            trace::callback_panicked("on_error", None, &panic);
            log_panic("on_error", &self.label(), &panic);
        }
    }

    /// Names the server in messages written to stderr.
    fn label(&self) -> String {
        match self.path() {
            Some(path) => format!("the WebSocket server at {path}"),
            None => "the WebSocket server".to_owned(),
        }
    }
}

impl std::fmt::Debug for WebSocketServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketServer")
            .field("path", &self.path())
            .field("data_type", &self.data_type())
            .field("terminated", &self.terminated())
            .finish_non_exhaustive()
    }
}

/// One server-side connection (4D: `4D.WebSocketConnection`). Cheap to clone.
#[derive(Clone)]
pub struct WebSocketConnection {
    inner: Arc<ConnInner>,
}

struct ConnInner {
    id: u64,
    handler: Box<dyn ConnectionHandler>,
    server: WebSocketServer,
    data_type: DataType,
    channel: Channel,
    request: RequestInfo,
}

impl WebSocketConnection {
    /// 4D: `.id`. Unique in the process, increasing, never reused.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// 4D: `.status`: `Connected`, `Closing` or `Closed`.
    pub fn status(&self) -> Status {
        self.inner.channel.status()
    }

    /// 4D: `.handler`.
    pub fn handler(&self) -> &dyn ConnectionHandler {
        &*self.inner.handler
    }

    /// The handler as its own type, if it is a `T`.
    pub fn handler_as<T: ConnectionHandler>(&self) -> Option<&T> {
        let handler: &dyn Any = &*self.inner.handler;
        handler.downcast_ref::<T>()
    }

    /// 4D: `.wss`. The server this connection belongs to, lent: the handle (and its clones)
    /// does not keep the server running.
    pub fn wss(&self) -> &WebSocketServer {
        &self.inner.server
    }

    /// The upgrade request that opened this connection.
    pub fn request(&self) -> &RequestInfo {
        &self.inner.request
    }

    /// 4D: `.send(message)`: text as a text frame, blob as binary, object as JSON text. Never
    /// blocks: fails with [`Error::OutputFull`] when the client is not reading.
    pub fn send(&self, data: impl Into<Data>) -> Result<(), Error> {
        self.inner.channel.send(&data.into())
    }

    /// Sends any serializable value as JSON text.
    pub fn send_object<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        self.send(Data::object(value)?)
    }

    /// Sends a message encoded once by [`Data::prepare`]: the same message to many
    /// connections costs one encoding (and one compression) instead of one each, and large
    /// payloads are queued without copying. Fails like [`send`](Self::send).
    ///
    /// ```
    /// use ws_api::*;
    ///
    /// /// Sends the same score to the given players.
    /// fn send_score(players: &[WebSocketConnection], score: serde_json::Value) {
    ///     let message = Data::from(score).prepare();
    ///     for player in players {
    ///         let _ = player.send_prepared(&message);
    ///     }
    /// }
    /// ```
    pub fn send_prepared(&self, message: &crate::PreparedMessage) -> Result<(), Error> {
        self.inner.channel.send_prepared(message)
    }

    /// 4D: `.terminate()`. Closes with 1000; see [`terminate_with`](Self::terminate_with).
    pub fn terminate(&self) -> Result<(), Error> {
        self.terminate_with(1000, "")
    }

    /// 4D: `.terminate(code; message)`. The code must be 1000 or 3000–4999 (ARCHITECTURE.md
    /// settles 4D's "> 3000" wording like the client's rule); otherwise an error and nothing is
    /// sent.
    ///
    /// Starts the close handshake and returns at once. `on_terminate` follows when the client
    /// answers, or, if it never does, after the close timeout ([`Config::close_timeout`] of
    /// [`ServerOptions::config`], 5 s by default) with 1006.
    pub fn terminate_with(&self, code: u16, reason: &str) -> Result<(), Error> {
        self.inner.channel.terminate(code, reason)
    }

    /// Destroys the socket: no Close frame, no FIN (server `terminate` with a timeout).
    fn abort(&self) {
        if let Some(link) = self.inner.channel.link() {
            link.abort();
        }
    }
}

impl std::fmt::Debug for WebSocketConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketConnection")
            .field("id", &self.id())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Endpoint for WebSocketConnection {
    fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    fn json_limits(&self) -> JsonLimits {
        self.inner.server.inner.json_limits
    }

    fn channel(&self) -> &Channel {
        &self.inner.channel
    }

    fn id(&self) -> u64 {
        self.inner.id
    }

    fn label(&self) -> String {
        format!("connection {}", self.inner.id)
    }

    fn attach(&self, link: Arc<dyn Link>) {
        let server = &self.inner.server;
        self.inner.channel.attach(link);
        let mut state = server.state();
        let at = state.connections.partition_point(|c| c.id() < self.id());
        state.connections.insert(at, self.clone());
        drop(state);
        // The server was terminated while this handshake was under way.
        if server.terminated() {
            let _ = self
                .inner
                .channel
                .close(CloseCode::GOING_AWAY, "server terminated");
        }
    }

    fn on_open(&self) -> Result<(), Panicked> {
        guard(|| self.inner.handler.on_open(self, OpenEvent::default()))
    }

    fn on_message(&self, event: MessageEvent) -> Result<(), Panicked> {
        guard(|| self.inner.handler.on_message(self, event))
    }

    fn on_error(&self, event: ErrorEvent) -> Result<(), Panicked> {
        guard(|| self.inner.handler.on_error(self, event))
    }

    fn on_terminate(&self, event: TerminateEvent) -> Result<(), Panicked> {
        let server = &self.inner.server;
        server.state().connections.retain(|c| c.id() != self.id());
        // The server's bookkeeping goes on whether the callback returned or panicked.
        let called = guard(|| self.inner.handler.on_terminate(self, event));
        server.state().unfinished -= 1;
        server.finish_if_done();
        called
    }
}

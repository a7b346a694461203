//! The web server WebSocket servers live on: one HTTP/1.1 listener (plain or TLS) that routes
//! upgrade requests to the [`WebSocketServer`] of their path and answers plain requests with a
//! page or a clear status.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use ws_adapter::{BindError, ConnectionLimit, DEFAULT_MAX_CONNECTIONS};
use ws_proto::Config;
use ws_proto::handshake::{Request, Response};

use crate::hold::Hold;
use crate::runtime::{ListenerHandle, Route, Router, Runtime};
use crate::static_files::{self, NOSNIFF, StaticError};
use crate::{Error, ErrorEvent, ErrorInfo, RequestInfo, WebSocketServer};

/// Answers plain HTTP requests (not upgrades) on a [`WebServer`]: return a response, or `None`
/// to fall through to the static directory and then to 404.
pub trait HttpHandler: Send + Sync + 'static {
    /// Called for every plain GET or HEAD request. To `HEAD`, the response goes out without its
    /// body (its `Content-Length` still counts it).
    fn on_request(&self, request: &RequestInfo) -> Option<Response>;
}

impl<F> HttpHandler for F
where
    F: Fn(&RequestInfo) -> Option<Response> + Send + Sync + 'static,
{
    fn on_request(&self, request: &RequestInfo) -> Option<Response> {
        self(request)
    }
}

/// Options of a [`WebServer`].
#[derive(Clone)]
#[non_exhaustive]
pub struct WebServerOptions {
    /// Where to listen. Default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// The runtime that drives every connection of this server.
    pub runtime: Runtime,
    /// Serve `https://` and `wss://` with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Limits of the HTTP request head (size, header count, handshake timeout).
    pub config: Config,
    /// Plain HTTP requests are first offered to this handler.
    pub http_handler: Option<Arc<dyn HttpHandler>>,
    /// Then files are served from this directory (`index.html` for a directory), to `GET`
    /// and `HEAD` (the same head, no body).
    ///
    /// The request path is percent-decoded (`/a%20b.txt` is `a b.txt`) and must stay inside
    /// the directory: a `.` or `..` segment however encoded, an empty segment (`//etc`), a
    /// backslash, a dotfile or dot directory (`.git`, `.env`), or a symlink leading outside the
    /// directory get 404 like a missing file; an encoded `/`, `\` or NUL, a bad escape or a
    /// path that is not UTF-8 get 400. Only regular files are served.
    ///
    /// Files are streamed, never read whole: memory per response is about 64 KiB whatever the
    /// file's size, so there is no size cap. `Content-Length` is the file's size; every
    /// response carries `X-Content-Type-Options: nosniff` and a content type from the
    /// extension. The handshake timeout of [`config`](Self::config) bounds reading the request;
    /// sending the file is bound by progress only: it fails when no byte could be written for
    /// that long, so a slow but steady client gets the whole file.
    pub static_dir: Option<PathBuf>,
    /// Most connections the listener holds at once, WebSocket and plain HTTP alike, each
    /// counted from accept until it has ended. One over the limit has its request read and
    /// answered with `503 Service Unavailable` and `Retry-After: 1`, before any upgrade and
    /// without reaching a WebSocket server's `on_connection`. Default
    /// [`DEFAULT_MAX_CONNECTIONS`] (10,000).
    pub max_connections: usize,
    /// On [`Runtime::Smol`], where callbacks run: `false` (the default) runs each connection's
    /// callbacks (`on_connection`, `on_open`, `on_message`, `on_error`, `on_terminate`, and
    /// the HTTP handler) on a pool of threads of their own: one per core, and one more
    /// whenever a ready callback has waited 10 ms for a thread (up to 500), so a callback that
    /// blocks, as 4D code freely does, stalls neither the connections' IO (Pings are still
    /// answered, timeouts still fire) nor the other connections' callbacks for longer than
    /// that. `true` runs them on the executor itself: faster, for handlers that never block.
    /// No effect on [`Runtime::Std`], where each connection's callbacks run on its own thread.
    pub inline_callbacks: bool,
}

impl Default for WebServerOptions {
    fn default() -> Self {
        WebServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            runtime: Runtime::default(),
            tls: None,
            config: Config::default(),
            http_handler: None,
            static_dir: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            inline_callbacks: false,
        }
    }
}

impl WebServerOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the listening address (the first one `addr` resolves to).
    pub fn addr(mut self, addr: impl ToSocketAddrs) -> Result<Self, Error> {
        self.addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no address",
            ))
        })?;
        Ok(self)
    }

    /// Sets the runtime.
    #[must_use]
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Serves TLS.
    #[must_use]
    pub fn tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the request limits.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the plain HTTP handler.
    #[must_use]
    pub fn http_handler(mut self, handler: impl HttpHandler) -> Self {
        self.http_handler = Some(Arc::new(handler));
        self
    }

    /// Sets the static directory.
    #[must_use]
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }

    /// Sets [`inline_callbacks`](Self::inline_callbacks).
    #[must_use]
    pub fn inline_callbacks(mut self, inline: bool) -> Self {
        self.inline_callbacks = inline;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }
}

/// An HTTP/1.1 listener hosting WebSocket servers (4D: the web server a `WebSocketServer`
/// shares its host and port with). Cheap to clone.
///
/// # Lifetime
///
/// It listens as long as the program holds it or a [`WebSocketServer`] runs on it: when the
/// last handle returned by [`start`](Self::start) (or a clone of one) is dropped and no
/// WebSocket server on it is running any more, it stops as by [`stop`](Self::stop). The handle
/// [`WebSocketServer::web_server`] lends does not keep it listening.
#[derive(Clone)]
#[must_use = "dropping the last handle to a WebServer stops it, unless a WebSocketServer runs on it"]
pub struct WebServer {
    inner: Arc<WebInner>,
    /// Present in the handles the program owns, absent in the ones the crate lends or keeps
    /// (see [`crate::hold`]); held for its drop, never read.
    #[allow(dead_code)]
    hold: Option<Arc<Hold>>,
}

struct WebInner {
    addr: SocketAddr,
    secure: bool,
    runtime: Runtime,
    servers: RwLock<Vec<WebSocketServer>>,
    http_handler: Option<Arc<dyn HttpHandler>>,
    static_dir: Option<PathBuf>,
    listener: Mutex<Option<ListenerHandle>>,
    /// The owning handles' hold, for a WebSocket server to take its own.
    hold: OnceLock<Weak<Hold>>,
}

impl WebServer {
    /// Binds and starts serving. An address that cannot be bound (in use, not permitted) is
    /// [`Error::Bind`], naming it.
    pub fn start(options: WebServerOptions) -> Result<WebServer, Error> {
        let listener = TcpListener::bind(options.addr)
            .map_err(|e| Error::Bind(BindError::new(options.addr, e)))?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(WebInner {
            addr,
            secure: options.tls.is_some(),
            runtime: options.runtime,
            servers: RwLock::new(Vec::new()),
            http_handler: options.http_handler,
            static_dir: options.static_dir,
            listener: Mutex::new(None),
            hold: OnceLock::new(),
        });
        let router = Arc::new(WebRouter {
            web: Arc::downgrade(&inner),
            limit: ConnectionLimit::new(options.max_connections),
            inline_callbacks: options.inline_callbacks,
        });
        let handle = options
            .runtime
            .serve(listener, options.tls, options.config, router)?;
        *inner.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        let lent = WebServer { inner, hold: None };
        let release = lent.clone();
        let hold = Hold::new(move || release.stop());
        let _ = lent.inner.hold.set(Arc::downgrade(&hold));
        Ok(WebServer {
            inner: lent.inner,
            hold: Some(hold),
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The `ws://` (or `wss://`) URL of `path` on this server.
    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.inner.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.inner.addr)
    }

    /// The `http://` (or `https://`) URL of `path` on this server.
    pub fn http_url(&self, path: &str) -> String {
        let scheme = if self.inner.secure { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.inner.addr)
    }

    /// The runtime driving this server's connections.
    pub fn runtime(&self) -> Runtime {
        self.inner.runtime
    }

    /// Stops accepting connections. Open connections carry on; terminate their WebSocket
    /// servers to close them.
    pub fn stop(&self) {
        let handle = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(handle);
    }

    /// Routes `server`'s path to it, unless a running server already has that path: the
    /// first would win every request and the second take over when it ends, unseen.
    /// A handle for the crate to keep: it does not keep the web server listening.
    pub(crate) fn lent(&self) -> WebServer {
        WebServer {
            inner: Arc::clone(&self.inner),
            hold: None,
        }
    }

    /// A share in keeping the web server listening (for a WebSocket server on it), while any
    /// owning handle still does; `None` once it was released.
    pub(crate) fn keep_running(&self) -> Option<Arc<Hold>> {
        self.inner.hold.get().and_then(Weak::upgrade)
    }

    pub(crate) fn add(&self, server: WebSocketServer) -> Result<(), Error> {
        let mut servers = self
            .inner
            .servers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if servers.iter().any(|s| s.path() == server.path()) {
            return Err(Error::PathInUse(server.path().map(str::to_owned)));
        }
        servers.push(server);
        Ok(())
    }

    pub(crate) fn remove(&self, server: &WebSocketServer) {
        let mut servers = self
            .inner
            .servers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        servers.retain(|s| !s.same(server));
    }
}

impl std::fmt::Debug for WebServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServer")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

struct WebRouter {
    web: Weak<WebInner>,
    limit: ConnectionLimit,
    inline_callbacks: bool,
}

impl Router for WebRouter {
    fn route(&self, request: &Request, remote: Option<SocketAddr>) -> Route {
        let Some(web) = self.web.upgrade() else {
            return Route::Respond(text(503, "server stopped\n"));
        };
        let path = request.path();
        let (exact, catch_all) = {
            let servers = web.servers.read().unwrap_or_else(|p| p.into_inner());
            let exact = servers.iter().find(|s| s.path() == Some(path)).cloned();
            let catch_all = servers.iter().find(|s| s.path().is_none()).cloned();
            (exact, catch_all)
        };
        if request.is_upgrade() {
            let Some(server) = exact.or(catch_all) else {
                return Route::Respond(text(404, "no WebSocket server at this path\n"));
            };
            if let Err(e) = request.validate_upgrade() {
                return Route::Respond(e.to_response());
            }
            return match server.connect(RequestInfo::new(request, remote)) {
                Ok((accept, session)) => Route::Upgrade { accept, session },
                Err(refusal) => Route::Respond(refusal),
            };
        }
        if !matches!(request.method(), "GET" | "HEAD") {
            return Route::Respond(
                text(405, "method not allowed\n").with_header("Allow", "GET, HEAD"),
            );
        }
        // A plain request to a WebSocket path: say what it takes (RFC 6455 §4.2.2, RFC 9110).
        if exact.is_some() {
            return Route::Respond(upgrade_required());
        }
        if let Some(handler) = &web.http_handler {
            // A panicking handler costs its one request a 500, never the server.
            match crate::dispatch::guard(|| handler.on_request(&RequestInfo::new(request, remote)))
            {
                Ok(Some(response)) => return Route::Respond(response),
                Ok(None) => {}
                Err(panic) => {
                    crate::trace::callback_panicked("on_request", None, &panic);
                    WebServer {
                        inner: web,
                        hold: None,
                    }
                    .report_error(&format!("the HTTP handler panicked: {panic}"));
                    return Route::Respond(text(500, "internal server error\n"));
                }
            }
        }
        if let Some(dir) = &web.static_dir {
            match static_files::resolve(dir, path) {
                Ok(file) => {
                    if let Some(response) = static_files::file_response(&file) {
                        return Route::Stream(response);
                    }
                }
                Err(StaticError::Malformed) => {
                    return Route::Respond(text(400, "malformed path\n"));
                }
                Err(StaticError::Refused | StaticError::NotFound) => {}
            }
        }
        if catch_all.is_some() {
            return Route::Respond(upgrade_required());
        }
        Route::Respond(text(404, "not found\n"))
    }

    fn listener_error(&self, error: &std::io::Error) {
        if let Some(web) = self.web.upgrade() {
            let web = WebServer {
                inner: web,
                hold: None,
            };
            web.report_error(&format!("accepting a connection failed: {error}"));
        }
    }

    fn inline_callbacks(&self) -> bool {
        self.inline_callbacks
    }

    fn connection_limit(&self) -> &ConnectionLimit {
        &self.limit
    }
}

impl WebServer {
    /// Reports a listener failure to every WebSocket server's `on_error`.
    pub(crate) fn report_error(&self, message: &str) {
        let servers = self
            .inner
            .servers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for server in servers {
            server.report_error(ErrorEvent::one(ErrorInfo::new(
                ErrorInfo::IO,
                "ws-net",
                message,
            )));
        }
    }
}

fn text(status: u16, body: &str) -> Response {
    Response::new(status)
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_header(NOSNIFF, "nosniff")
        .with_body(body.to_owned())
}

fn upgrade_required() -> Response {
    text(426, "this path only speaks WebSocket\n")
        .with_header("Upgrade", "websocket")
        .with_header("Sec-WebSocket-Version", "13")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_cannot_escape_the_directory() {
        let dir = std::env::temp_dir();
        for path in [
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "//etc/passwd",
            "/..\\x",
        ] {
            assert_eq!(static_files::resolve(&dir, path), Err(StaticError::Refused));
        }
        assert_eq!(
            static_files::resolve(&dir, "/definitely-not-a-file-here.txt"),
            Err(StaticError::NotFound)
        );
    }
}

//! 4D's `WebSocket` class: a client connection with handler callbacks.

use std::any::Any;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use ws_proto::handshake::WsUrl;
use ws_proto::{CloseCode, Config};

use crate::dispatch::{Dispatcher, Endpoint, Panicked, guard};
use crate::hold::Hold;
use crate::ids::next_id;
use crate::link::{Channel, Link};
use crate::runtime::{ClientSpec, Runtime};
use crate::status::wait_until;
use crate::{
    Data, DataType, Error, ErrorEvent, JsonLimits, MessageEvent, OpenEvent, Status, TerminateEvent,
};

/// The callbacks and options of a client connection (4D: the `connectionHandler` object passed
/// to `4D.WebSocket.new()`).
///
/// Only [`on_message`](Self::on_message) is required. For every connection: `on_open` once
/// (when the handshake succeeds), then messages, then at most one `on_error` (after which no
/// message is delivered), then `on_terminate` exactly once — also when the connection never
/// opened (DNS, TCP, TLS failure, refused handshake: `on_error` then `on_terminate` with 1006).
/// Callbacks of one connection never run concurrently; they may call any method of any
/// connection. A callback that panics is caught: the panic is reported to `on_error`
/// ([`ErrorInfo::CALLBACK_PANICKED`](crate::ErrorInfo::CALLBACK_PANICKED); a panic in
/// `on_error` or `on_terminate` goes to stderr) and the connection closed with 1011.
pub trait WebSocketHandler: Any + Send + Sync {
    /// 4D: `onMessage`. A message arrived; `event.data` follows [`data_type`](Self::data_type).
    fn on_message(&self, ws: &WebSocket, event: MessageEvent);

    /// 4D: `onOpen`. The connection is open.
    fn on_open(&self, ws: &WebSocket, event: OpenEvent) {
        let _ = (ws, event);
    }

    /// 4D: `onError`. Something failed; no message follows.
    fn on_error(&self, ws: &WebSocket, event: ErrorEvent) {
        let _ = (ws, event);
    }

    /// 4D: `onTerminate`. The connection is closed (`ws.status()` is `Closed`).
    fn on_terminate(&self, ws: &WebSocket, event: TerminateEvent) {
        let _ = (ws, event);
    }

    /// 4D: `dataType`. How messages are delivered. Default: text.
    fn data_type(&self) -> DataType {
        DataType::Text
    }

    /// 4D: `headers`. Extra request headers; repeat a name for repeated keys, and give `Cookie`
    /// as one `"name=value; name2=value2"` string.
    fn headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A client WebSocket (4D: `4D.WebSocket`). Cheap to clone; every clone is the same connection.
///
/// # Lifetime
///
/// The connection stays open as long as the program holds it: when the last handle returned
/// by [`new`](Self::new) (or [`with_runtime`](Self::with_runtime),
/// [`with_options`](Self::with_options)), or a clone of one, is dropped, the connection is
/// closed with 1001 "going away" (RFC 6455 §7.4.1: what a browser sends when it leaves a page;
/// [`terminate`](Self::terminate) sends 1000, "done"). The close handshake then runs in the
/// background, bounded by the close timeout, and the handler's callbacks still come: `on_open`
/// if the opening handshake was under way, then `on_terminate`, once.
///
/// The handle a callback receives, and its clones, do not keep the connection open: a handler
/// may keep it (to send later) without keeping its own connection alive.
///
/// ```no_run
/// use ws_api::{MessageEvent, WebSocket, WebSocketHandler};
///
/// struct Printer;
///
/// impl WebSocketHandler for Printer {
///     fn on_message(&self, _ws: &WebSocket, event: MessageEvent) {
///         println!("{:?}", event.data);
///     }
/// }
///
/// let ws = WebSocket::new("ws://127.0.0.1:8080/chat", Printer)?;
/// ws.wait_open(std::time::Duration::from_secs(5));
/// ws.send("hello")?;
/// ws.terminate()?;
/// # Ok::<(), ws_api::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "dropping the last handle to a WebSocket closes it"]
pub struct WebSocket {
    inner: Arc<ClientInner>,
    /// Present in the handles the program owns, absent in the ones lent to callbacks (see
    /// [`crate::hold`]); held for its drop, never read.
    #[allow(dead_code)]
    hold: Option<Arc<Hold>>,
}

struct ClientInner {
    id: u64,
    url: String,
    data_type: DataType,
    json_limits: JsonLimits,
    handler: Box<dyn WebSocketHandler>,
    channel: Channel,
    /// Set when `on_open` or `on_terminate` has run, for the `wait_*` helpers.
    progress: Mutex<Progress>,
    changed: Condvar,
}

#[derive(Default)]
struct Progress {
    opened: bool,
    terminated: bool,
    /// The program dropped its last handle: close as soon as the connection is open.
    abandoned: bool,
}

impl WebSocket {
    /// 4D: `4D.WebSocket.new(url; handler)`. Starts connecting to a `ws://` or `wss://` URL on
    /// the default [`Runtime`] and returns at once with status `Connecting`. An invalid URL is
    /// an immediate error (4D returns null); any later failure reaches the handler.
    pub fn new(url: &str, handler: impl WebSocketHandler) -> Result<WebSocket, Error> {
        Self::with_options(url, handler, ClientOptions::default())
    }

    /// Like [`new`](Self::new) on the chosen runtime.
    pub fn with_runtime(
        url: &str,
        handler: impl WebSocketHandler,
        runtime: Runtime,
    ) -> Result<WebSocket, Error> {
        Self::with_options(
            url,
            handler,
            ClientOptions {
                runtime,
                ..ClientOptions::default()
            },
        )
    }

    /// Like [`new`](Self::new) with Rust-side options: runtime, limits and timeouts, TLS.
    pub fn with_options(
        url: &str,
        handler: impl WebSocketHandler,
        options: ClientOptions,
    ) -> Result<WebSocket, Error> {
        let parsed = WsUrl::parse(url).map_err(Error::InvalidUrl)?;
        let headers = handler.headers();
        let data_type = handler.data_type();
        let inner = Arc::new(ClientInner {
            id: next_id(),
            // Credentials in the URL are sent (Basic authorization) but never shown: `.url`,
            // Debug and log lines carry the URL without them, as browsers do.
            url: parsed.to_string(),
            data_type,
            json_limits: options.json_limits,
            handler: Box::new(handler),
            channel: Channel::new(),
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
        });
        let lent = WebSocket { inner, hold: None };
        let release = lent.clone();
        let ws = WebSocket {
            inner: Arc::clone(&lent.inner),
            hold: Some(Hold::new(move || release.going_away())),
        };
        let spec = ClientSpec {
            url: url.to_owned(),
            headers,
            config: options
                .json_limits
                .connection_config(data_type, options.config),
            tls: options.tls,
            inline_callbacks: options.inline_callbacks,
        };
        options
            .runtime
            .connect(spec, Box::new(Dispatcher::new(Arc::new(lent))))?;
        Ok(ws)
    }

    /// 4D: `.id`. Unique in the process, increasing, never reused.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// 4D: `.url`: the URL given to [`new`](Self::new), normalized (lowercase scheme and host,
    /// default port and any `user:password@` left out).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// 4D: `.dataType`.
    pub fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    /// 4D: `.status`: `Connecting`, `Connected`, `Closing` or `Closed`.
    pub fn status(&self) -> Status {
        self.inner.channel.status()
    }

    /// 4D: `.handler`. The handler given to [`new`](Self::new).
    pub fn handler(&self) -> &dyn WebSocketHandler {
        &*self.inner.handler
    }

    /// The handler as its own type, if it is a `T`.
    pub fn handler_as<T: WebSocketHandler>(&self) -> Option<&T> {
        let handler: &dyn Any = &*self.inner.handler;
        handler.downcast_ref::<T>()
    }

    /// 4D: `.send(message)`. Text is sent as a text frame, a blob as a binary frame, an object
    /// as JSON text. Never blocks: fails with [`Error::OutputFull`] when the peer is not
    /// reading, [`Error::NotConnected`] before the connection opened, [`Error::Closed`] after.
    pub fn send(&self, data: impl Into<Data>) -> Result<(), Error> {
        self.inner.channel.send(&data.into())
    }

    /// Sends any serializable value as JSON text (an `object` message).
    pub fn send_object<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        self.send(Data::object(value)?)
    }

    /// 4D: `.terminate()`. Closes with 1000; see [`terminate_with`](Self::terminate_with).
    pub fn terminate(&self) -> Result<(), Error> {
        self.terminate_with(1000, "")
    }

    /// 4D: `.terminate(code; reason)`. The code must be 1000 or 3000–4999; otherwise an error
    /// and nothing is sent.
    ///
    /// Starts the close handshake and returns at once. `on_terminate` follows when the server
    /// answers, or, if it never does, after the close timeout ([`Config::close_timeout`] of
    /// [`ClientOptions::config`], 5 s by default) with 1006; [`wait_closed`](Self::wait_closed)
    /// waits for it.
    pub fn terminate_with(&self, code: u16, reason: &str) -> Result<(), Error> {
        self.inner.channel.terminate(code, reason)
    }

    /// Waits until the connection opened (`true`) or ended without opening, or `timeout`
    /// passed (`false`). For programs that want to block; callbacks need no waiting.
    pub fn wait_open(&self, timeout: Duration) -> bool {
        let inner = &self.inner;
        wait_until(&inner.progress, &inner.changed, timeout, |p| {
            p.opened || p.terminated
        });
        inner
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .opened
    }

    /// Waits until `on_terminate` has run, or `timeout` passed; returns whether it ran.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        wait_until(&self.inner.progress, &self.inner.changed, timeout, |p| {
            p.terminated
        })
    }

    /// The program dropped its last handle: closes with 1001 now if the connection is open,
    /// or as soon as it opens ([`Endpoint::attach`]).
    fn going_away(&self) {
        let mut progress = self
            .inner
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        progress.abandoned = true;
        // Under the lock `attach` takes after it set the link: one of the two sees the other.
        let _ = self.inner.channel.close(CloseCode::GOING_AWAY, "");
    }

    fn mark(&self, update: impl FnOnce(&mut Progress)) {
        update(
            &mut self
                .inner
                .progress
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        self.inner.changed.notify_all();
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("id", &self.id())
            .field("url", &self.url())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Endpoint for WebSocket {
    fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    fn json_limits(&self) -> JsonLimits {
        self.inner.json_limits
    }

    fn channel(&self) -> &Channel {
        &self.inner.channel
    }

    fn id(&self) -> u64 {
        self.inner.id
    }

    fn label(&self) -> String {
        format!("WebSocket {} to {}", self.inner.id, self.inner.url)
    }

    fn attach(&self, link: Arc<dyn Link>) {
        self.inner.channel.attach(link);
        let progress = self
            .inner
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Every handle was dropped while the opening handshake was under way.
        if progress.abandoned {
            let _ = self.inner.channel.close(CloseCode::GOING_AWAY, "");
        }
    }

    fn on_open(&self) -> Result<(), Panicked> {
        let called = guard(|| self.inner.handler.on_open(self, OpenEvent::default()));
        self.mark(|p| p.opened = true);
        called
    }

    fn on_message(&self, event: MessageEvent) -> Result<(), Panicked> {
        guard(|| self.inner.handler.on_message(self, event))
    }

    fn on_error(&self, event: ErrorEvent) -> Result<(), Panicked> {
        guard(|| self.inner.handler.on_error(self, event))
    }

    fn on_terminate(&self, event: TerminateEvent) -> Result<(), Panicked> {
        let called = guard(|| self.inner.handler.on_terminate(self, event));
        self.mark(|p| p.terminated = true);
        called
    }
}

/// Rust-side options of a client connection (nothing in 4D matches them).
///
/// Keepalive is on by default: the connection sends a Ping after 20 s without receiving
/// anything, and fails with 1011 if the server then sends nothing back within 20 s
/// ([`ping_interval`](Self::ping_interval), [`pong_timeout`](Self::pong_timeout)).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The runtime that drives the connection.
    pub runtime: Runtime,
    /// Limits and timeouts (handshake timeout, message size, keepalive, ...). Default
    /// [`default_config`]: [`Config::default`] with a keepalive Ping after 20 s of silence
    /// and a 20 s pong timeout ([`DEFAULT_PING_INTERVAL`], [`DEFAULT_PONG_TIMEOUT`]). A config
    /// set here replaces it whole: start from [`default_config`] to keep keepalive on.
    ///
    /// [`default_config`]: crate::default_config
    /// [`DEFAULT_PING_INTERVAL`]: crate::DEFAULT_PING_INTERVAL
    /// [`DEFAULT_PONG_TIMEOUT`]: crate::DEFAULT_PONG_TIMEOUT
    pub config: Config,
    /// TLS for `wss://` (default: the Mozilla root store).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// On [`Runtime::Smol`], where callbacks run: `false` (the default) runs each connection's
    /// callbacks (`on_open`, `on_message`, `on_error`, `on_terminate`) on a pool of threads of
    /// their own: one per core, and one more whenever a ready callback has waited 10 ms for a
    /// thread (up to 500), so a callback that blocks, as 4D code freely does, stalls neither
    /// the connections' IO (Pings are still answered, timeouts still fire) nor the other
    /// connections' callbacks for longer than that. `true` runs them on the executor itself:
    /// faster, for handlers that never block. No effect on [`Runtime::Std`], where each
    /// connection's callbacks run on its own thread.
    pub inline_callbacks: bool,
    /// Bounds on received JSON messages when the handler's [`data_type`] is
    /// [`DataType::Object`]: 1 MiB, depth 64, 32 MiB of parsed value by default (see
    /// [`JsonLimits`]).
    ///
    /// [`data_type`]: WebSocketHandler::data_type
    pub json_limits: JsonLimits,
}

impl Default for ClientOptions {
    /// The default runtime, [`default_config`](crate::default_config) (keepalive on:
    /// 20 s / 20 s), the default TLS configuration.
    fn default() -> Self {
        ClientOptions {
            runtime: Runtime::default(),
            config: crate::default_config(),
            tls: None,
            inline_callbacks: false,
            json_limits: JsonLimits::default(),
        }
    }
}

impl ClientOptions {
    /// Default options on the default runtime, keepalive on (20 s / 20 s).
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
    /// let options = ClientOptions::new().compression(None);
    /// ```
    #[must_use]
    pub fn compression(mut self, compression: Option<crate::DeflateConfig>) -> Self {
        self.config.compression = compression;
        self
    }

    /// How long the server has to answer a keepalive Ping before the connection fails with
    /// 1011 (default 20 s). Sets [`Config::pong_timeout`] in [`config`](Self::config).
    #[must_use]
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.config.pong_timeout = timeout;
        self
    }

    /// Sets the runtime.
    #[must_use]
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Sets the limits and timeouts.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the TLS configuration.
    #[must_use]
    pub fn tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets [`inline_callbacks`](Self::inline_callbacks).
    #[must_use]
    pub fn inline_callbacks(mut self, inline: bool) -> Self {
        self.inline_callbacks = inline;
        self
    }

    /// Sets [`json_limits`](Self::json_limits).
    #[must_use]
    pub fn json_limits(mut self, limits: JsonLimits) -> Self {
        self.json_limits = limits;
        self
    }
}

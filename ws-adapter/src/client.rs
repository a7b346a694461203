//! Client options, shared by every adapter's `ClientBuilder`: the URL, the request's headers
//! and subprotocols, limits, the connect timeout, TLS and the key source. The adapters differ
//! only in how they connect.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, ClientOutcome, ClientRequest, Established, WsUrl};
use ws_proto::{Config, KeySource};

use crate::ConnectError;

/// How long a TCP connect may take per address unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a client connection is opened with. Build it with the setters (each adapter's
/// `ClientBuilder` offers the same ones), then take it apart to connect.
#[non_exhaustive]
pub struct ClientOptions {
    /// Where to connect.
    pub url: WsUrl,
    /// The upgrade request: extra headers, cookies, subprotocols.
    pub request: ClientRequest,
    /// Limits and timeouts, the handshake timeout included.
    pub config: Config,
    /// How long the TCP connect may take, per address.
    pub connect_timeout: Duration,
    /// The TLS configuration for `wss://`; `None` uses [`tls::default_client_config`].
    ///
    /// [`tls::default_client_config`]: crate::tls::default_client_config
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Where mask keys and the handshake nonce come from; `None` uses the OS-seeded generator.
    pub keys: Option<Box<dyn KeySource>>,
}

impl ClientOptions {
    /// Starts from a `ws://` or `wss://` URL; an invalid URL fails here.
    pub fn new(url: &str) -> Result<Self, ConnectError> {
        let url = WsUrl::parse(url).map_err(ConnectError::Url)?;
        Ok(ClientOptions {
            request: ClientRequest::new(url.clone()),
            url,
            config: Config::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: None,
            keys: None,
        })
    }

    /// The TLS configuration to use for `wss://`: the one given, or the default.
    pub fn tls_or_default(&self) -> Arc<rustls::ClientConfig> {
        self.tls
            .clone()
            .unwrap_or_else(crate::tls::default_client_config)
    }
}

/// A connection attempt whose options were checked: what each adapter needs to connect.
#[non_exhaustive]
pub struct Connecting {
    /// Where to connect.
    pub url: WsUrl,
    /// The opening handshake, with its request ready to write.
    pub handshake: ClientHandshake,
    /// How long the TCP connect may take, per address.
    pub connect_timeout: Duration,
    /// When the whole attempt (DNS, TCP, TLS and the handshake) gives up.
    pub deadline: Instant,
    /// The TLS configuration, used for `wss://`.
    pub tls: Arc<rustls::ClientConfig>,
}

impl ClientOptions {
    /// Checks the options and starts the handshake machine at `now`: invalid builder input
    /// ([`ConnectError::Request`]) fails here, before any lookup or connection.
    pub fn start(self, now: Instant) -> Result<Connecting, ConnectError> {
        let tls = self.tls_or_default();
        let keys = self.keys.unwrap_or_else(ws_proto::default_key_source);
        let deadline = ws_proto::deadline(now, self.config.handshake_timeout);
        let handshake = ClientHandshake::new(self.request, self.config, keys, now)
            .map_err(ConnectError::Request)?;
        Ok(Connecting {
            url: self.url,
            handshake,
            connect_timeout: self.connect_timeout,
            deadline,
            tls,
        })
    }
}

/// Generates an adapter's `ClientBuilder`: a newtype over [`ClientOptions`] with the shared
/// setters, so both runtimes offer the same builder from one definition. The adapter adds its
/// own `connect`.
#[macro_export]
macro_rules! client_builder {
    ($(#[$doc:meta])* $vis:vis struct $name:ident;) => {
        $(#[$doc])*
        $vis struct $name($crate::ClientOptions);

        impl $name {
            /// Starts from a `ws://` or `wss://` URL; an invalid URL fails here.
            pub fn new(url: &str) -> Result<Self, $crate::ConnectError> {
                $crate::ClientOptions::new(url).map($name)
            }

            /// Adds a request header (repeat the call for repeated keys). An invalid name or
            /// value, or one of the headers the handshake itself sets, fails `connect` with
            /// [`ConnectError::Request`]($crate::ConnectError::Request).
            pub fn header(mut self, name: &str, value: &str) -> Self {
                self.0.request = self.0.request.with_header(name, value);
                self
            }

            /// Sets the `Cookie` header from one `a=1; b=2` string.
            pub fn cookie(mut self, cookies: &str) -> Self {
                self.0.request = self.0.request.with_cookie(cookies);
                self
            }

            /// Offers a subprotocol (repeat for several, most preferred first).
            pub fn subprotocol(mut self, protocol: &str) -> Self {
                self.0.request = self.0.request.with_subprotocol(protocol);
                self
            }

            /// Limits and timeouts (the handshake timeout included).
            pub fn config(mut self, config: ws_proto::Config) -> Self {
                self.0.config = config;
                self
            }

            /// How long the TCP connect may take, per address. Default 10 s.
            pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.0.connect_timeout = timeout;
                self
            }

            /// The TLS configuration for `wss://` (default: the Mozilla root store from
            /// `webpki-roots`, with the `ring` provider and ALPN `http/1.1`).
            pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
                self.0.tls = Some(config);
                self
            }

            /// Where mask keys and the handshake nonce come from (default: the OS-seeded
            /// generator).
            pub fn key_source(mut self, keys: Box<dyn ws_proto::KeySource>) -> Self {
                self.0.keys = Some(keys);
                self
            }

            /// The options gathered so far.
            pub fn options(&self) -> &$crate::ClientOptions {
                &self.0
            }
        }

        impl From<$crate::ClientOptions> for $name {
            /// A builder with these options (gathered, say, by a layer above the adapter).
            fn from(options: $crate::ClientOptions) -> Self {
                $name(options)
            }
        }
    };
}

/// Resolves the URL's host to socket addresses (blocking: the system resolver). Fails with
/// [`ConnectError::Dns`] when nothing is found.
pub fn resolve(url: &WsUrl) -> Result<Vec<SocketAddr>, ConnectError> {
    let addrs: Vec<SocketAddr> = (url.host(), url.port())
        .to_socket_addrs()
        .map_err(ConnectError::Dns)?
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::Dns(io::Error::new(
            io::ErrorKind::NotFound,
            "no address found",
        )));
    }
    Ok(addrs)
}

/// Feeds what one read returned to the client handshake (`read` empty means EOF): `Ok(Some)`
/// once the server's 101 is in and valid, `Ok(None)` while more is needed. A rejection (any
/// other status) is [`ConnectError::Rejected`], an invalid response
/// [`ConnectError::Handshake`], and an EOF before the end of the response [`ConnectError::Io`].
pub fn feed_response(
    handshake: &mut ClientHandshake,
    now: Instant,
    read: &[u8],
) -> Result<Option<Established>, ConnectError> {
    let step = if read.is_empty() {
        handshake.receive_eof(now)
    } else {
        handshake.receive(now, read)
    };
    match step {
        Ok(Some(ClientOutcome::Upgraded(established))) => Ok(Some(established)),
        Ok(Some(ClientOutcome::Rejected(response))) => Err(ConnectError::Rejected(response)),
        Ok(None) if read.is_empty() => Err(ConnectError::Io(io::ErrorKind::UnexpectedEof.into())),
        Ok(None) => Ok(None),
        Err(e) => Err(ConnectError::Handshake(e)),
    }
}

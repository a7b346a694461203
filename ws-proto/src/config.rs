//! Limits and timeouts for one connection, with defaults that pass the Autobahn suite.

use std::time::Duration;

use crate::DeflateConfig;

/// Which end of the connection this endpoint is.
///
/// The role decides the masking rules (RFC 6455 §5.1: a client masks every frame it sends and
/// a server never does) and who closes the TCP connection first (§7.1.1: the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake.
    Client,
    /// The endpoint that accepted the opening handshake.
    Server,
}

/// Limits and timeouts of one connection and its handshake.
///
/// Every field has a safe default ([`Config::default`]); exceeding a peer-facing limit closes the
/// connection with the documented close code (or answers the handshake with the documented HTTP
/// status), so memory stays bounded whatever the peer sends.
///
/// ```
/// use std::time::Duration;
/// use ws_proto::Config;
///
/// let config = Config::default()
///     .with_max_message_size(1 << 20)
///     .with_ping_interval(Some(Duration::from_secs(20)));
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of one received frame. A bigger frame closes with 1009 (RFC 6455 §7.4.1)
    /// as soon as its header arrives. Default 16 MiB.
    pub max_frame_size: usize,
    /// Largest received message, all fragments together. A bigger one closes with 1009 as soon
    /// as the header of the frame that would exceed it arrives. Default 64 MiB.
    pub max_message_size: usize,
    /// Most frames one received message may span. More closes with 1009. Default 131,072
    /// (Autobahn 9.3.1 sends 65,536 fragments).
    pub max_fragments: usize,
    /// Bound on bytes queued for the socket. Past it, caller sends fail with
    /// [`Error::OutputFull`](crate::Error::OutputFull) until the adapter drains the output, and
    /// automatic pongs wait instead of piling up. Default 16 MiB.
    pub max_output_buffer: usize,
    /// Most bytes of received events waiting for the application (as
    /// [`Connection::pending_event_bytes`](crate::Connection::pending_event_bytes) counts them)
    /// before [`Connection::wants_read`](crate::Connection::wants_read) turns false and the
    /// adapter stops reading the transport, so a peer that outpaces the application meets TCP
    /// backpressure instead of filling memory. One message may exceed it (a message is
    /// delivered whole), so a connection holds at most this plus one message plus
    /// [`max_output_buffer`](Self::max_output_buffer). Default 1 MiB.
    pub read_ahead: usize,
    /// When set, outgoing messages larger than this are split into frames of at most this many
    /// payload bytes (RFC 6455 §5.4). Default: no automatic fragmentation.
    pub send_fragment_size: Option<usize>,
    /// Largest opening handshake head (request line or status line plus headers), and the
    /// largest body of a rejected handshake a client reads. A bigger request is answered with
    /// 431. Default 16 KiB.
    pub max_handshake_size: usize,
    /// Most header lines in a handshake. More is answered with 431. Default 64.
    pub max_headers: usize,
    /// How long the opening handshake may take. Default 10 s.
    pub handshake_timeout: Duration,
    /// How long to wait for the close handshake and the TCP close that follows it before
    /// dropping the connection (RFC 6455 §7.1.1). Default 5 s.
    pub close_timeout: Duration,
    /// When set, a Ping is sent after this long without receiving anything. Default: off. The
    /// runtime adapters (`ws-runtime-std`, `ws-runtime-smol`) leave it off unless configured;
    /// `ws-api` turns it on for its connections (20 s, with a 20 s
    /// [`pong_timeout`](Self::pong_timeout)).
    pub ping_interval: Option<Duration>,
    /// After a keepalive Ping, how long the peer has to send anything back before the connection
    /// is failed with 1011. Default 20 s.
    pub pong_timeout: Duration,
    /// permessage-deflate (RFC 7692): offered by a client, accepted by a server, with these
    /// settings; `None` neither offers nor accepts it. Default: on, with
    /// [`DeflateConfig::default`], because browsers, Python `websockets` and Node `ws` clients
    /// all offer it, text compresses several times over, and with its defaults an idle
    /// connection holds no compressor (see [`DeflateConfig`] for what it costs).
    pub compression: Option<DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 17,
            max_output_buffer: 16 << 20,
            read_ahead: 1 << 20,
            send_fragment_size: None,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            ping_interval: None,
            pong_timeout: Duration::from_secs(20),
            compression: Some(DeflateConfig::default()),
        }
    }
}

/// Builder-style setters, `with_x(value)` for a field `x`, on the settings types.
macro_rules! with {
    ($target:ty { $($(#[$doc:meta])* $name:ident: $field:ident: $ty:ty;)* }) => {
        impl $target {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
pub(crate) use with;

with! {
    Config {
        /// Sets [`Config::max_frame_size`].
        with_max_frame_size: max_frame_size: usize;
        /// Sets [`Config::max_message_size`].
        with_max_message_size: max_message_size: usize;
        /// Sets [`Config::max_fragments`].
        with_max_fragments: max_fragments: usize;
        /// Sets [`Config::max_output_buffer`].
        with_max_output_buffer: max_output_buffer: usize;
        /// Sets [`Config::read_ahead`].
        with_read_ahead: read_ahead: usize;
        /// Sets [`Config::send_fragment_size`].
        with_send_fragment_size: send_fragment_size: Option<usize>;
        /// Sets [`Config::max_handshake_size`].
        with_max_handshake_size: max_handshake_size: usize;
        /// Sets [`Config::max_headers`].
        with_max_headers: max_headers: usize;
        /// Sets [`Config::handshake_timeout`].
        with_handshake_timeout: handshake_timeout: Duration;
        /// Sets [`Config::close_timeout`].
        with_close_timeout: close_timeout: Duration;
        /// Sets [`Config::ping_interval`].
        with_ping_interval: ping_interval: Option<Duration>;
        /// Sets [`Config::pong_timeout`].
        with_pong_timeout: pong_timeout: Duration;
        /// Sets [`Config::compression`]; `None` turns permessage-deflate off.
        with_compression: compression: Option<DeflateConfig>;
    }
}

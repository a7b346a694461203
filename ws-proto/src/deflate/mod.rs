//! permessage-deflate (RFC 7692): what to offer or accept, what was agreed, and the codec.
//!
//! The handshake machines negotiate it from [`Config::compression`](crate::Config::compression)
//! and hand the agreed [`DeflateParams`] to the [`Connection`](crate::Connection), which then
//! compresses outgoing messages of [`DeflateConfig::threshold`] bytes or more and inflates
//! incoming messages with RSV1 set. No adapter takes any part in it.
//!
//! Memory: see [`DeflateConfig`].

mod codec;
mod negotiate;

use crate::config::with;

pub(crate) use codec::{CompressorKind, Deflate, InflateError};
pub(crate) use negotiate::{ResponseFault, accept_offer, check_response, offer};

/// How this endpoint negotiates permessage-deflate (RFC 7692), in terms of *our* side and *the
/// peer's*, so one value serves a client and a server alike.
///
/// | field | a client puts it in its offer as | a server puts it in its 101 as |
/// |---|---|---|
/// | [`no_context_takeover`](Self::no_context_takeover) | `client_no_context_takeover` | `server_no_context_takeover` |
/// | [`request_no_context_takeover`](Self::request_no_context_takeover) | `server_no_context_takeover` | `client_no_context_takeover` |
/// | [`max_window_bits`](Self::max_window_bits) | `client_max_window_bits[=n]` | `server_max_window_bits=n` |
/// | [`peer_max_window_bits`](Self::peer_max_window_bits) | `server_max_window_bits=n` | `client_max_window_bits=n` (if offered) |
///
/// A client always offers `client_max_window_bits`, so a server may ask for a smaller window.
/// A server accepts the first offer it can and declines the others; an offer with an unknown,
/// repeated or invalid parameter is declined (RFC 7692 §5.1).
///
/// # Memory
///
/// A compressor of the `zlib-rs` backend holds about 320 KiB at 15 window bits and still about
/// 194 KiB at 9 (its hash table alone is 128 KiB, and flate2 does not expose zlib's memory
/// level, which would only shrink the 64 KiB of pending output); a decompressor about 42 KiB
/// whatever the window. So that an idle connection holds neither:
///
/// * a codec is allocated on the first message that needs it, never at the handshake;
/// * a direction without context takeover borrows its codec from a small process-wide pool for
///   the length of one message and gives it back reset, so idle connections hold nothing and a
///   busy thread reuses one codec instead of allocating per message. Ours is that direction by
///   default ([`no_context_takeover`](Self::no_context_takeover));
/// * with the peer's context takeover, what its next message may refer to (§7.2.1) is kept as
///   the bytes themselves, up to the window size, and handed to a pooled decompressor as its
///   dictionary ([`keep_decompressor`](Self::keep_decompressor) keeps the decompressor instead);
/// * only our compressor with context takeover (not the default) is kept between messages: it
///   cannot be rebuilt from a dictionary cheaply.
///
/// ```
/// use ws_proto::{Config, DeflateConfig};
///
/// // Compression is on by default; turning it off is one line:
/// let plain = Config::default().with_compression(None);
/// assert!(plain.compression.is_none());
///
/// // Better ratios on streams of small, similar messages, for about 320 KiB per connection:
/// let config = Config::default()
///     .with_compression(Some(DeflateConfig::default().with_no_context_takeover(false)));
/// assert_eq!(config.compression.map(|c| c.no_context_takeover), Some(false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Our compressor starts every message afresh (RFC 7692 §7.1.1). Each message then
    /// compresses a little less well, but the connection holds no compressor between messages
    /// (see [Memory](DeflateConfig#memory)) and a [`PreparedMessage`](crate::PreparedMessage) is
    /// compressed once for every connection. Default: `true`.
    pub no_context_takeover: bool,
    /// Ask the peer to compress every message afresh, so nothing of its messages is kept between
    /// them. Default: `false` (browsers and most peers compress better with their context, which
    /// costs us at most a window of bytes, see
    /// [`keep_decompressor`](Self::keep_decompressor)).
    pub request_no_context_takeover: bool,
    /// Most LZ77 window bits our compressor uses, 8 to 15 (RFC 7692 §7.1.2). The peer may ask
    /// for fewer. Default: 15.
    ///
    /// With 8 the compressor runs with a 9-bit window, as zlib does: deflate never reaches back
    /// further than the window size minus 262 bytes, so its output stays within 256 bytes.
    pub max_window_bits: u8,
    /// Most LZ77 window bits the peer may use, 8 to 15: asked for when below 15 (a client always
    /// can; a server only when the client offered `client_max_window_bits`). Default: 15.
    pub peer_max_window_bits: u8,
    /// zlib compression level, 0 (stored) to 9 (best). Default: 6.
    pub level: u8,
    /// Messages shorter than this many bytes are sent uncompressed: deflate's framing costs more
    /// than it saves on them. Default: 128.
    pub threshold: usize,
    /// When the peer keeps its context (the default), keep our decompressor between messages
    /// too: about 42 KiB per connection that has received a compressed message, whatever the
    /// window. By default only the bytes the next message may refer to are kept (at most the
    /// window, 32 KiB at 15 bits; as much as the peer has sent when it has sent less) and a
    /// pooled decompressor gets them as its dictionary for each message, which costs a copy of
    /// that window per message: about 1 µs once a 32 KiB window is full. Default: `false`.
    pub keep_decompressor: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            no_context_takeover: true,
            request_no_context_takeover: false,
            max_window_bits: 15,
            peer_max_window_bits: 15,
            level: 6,
            threshold: 128,
            keep_decompressor: false,
        }
    }
}

with! {
    DeflateConfig {
        /// Sets [`no_context_takeover`](Self::no_context_takeover).
        with_no_context_takeover: no_context_takeover: bool;
        /// Sets [`request_no_context_takeover`](Self::request_no_context_takeover).
        with_request_no_context_takeover: request_no_context_takeover: bool;
        /// Sets [`threshold`](Self::threshold).
        with_threshold: threshold: usize;
        /// Sets [`keep_decompressor`](Self::keep_decompressor).
        with_keep_decompressor: keep_decompressor: bool;
    }
}

impl DeflateConfig {
    /// Sets [`max_window_bits`](Self::max_window_bits), clamped to 8–15.
    #[must_use]
    pub fn with_max_window_bits(mut self, bits: u8) -> Self {
        self.max_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }

    /// Sets [`peer_max_window_bits`](Self::peer_max_window_bits), clamped to 8–15.
    #[must_use]
    pub fn with_peer_max_window_bits(mut self, bits: u8) -> Self {
        self.peer_max_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }

    /// Sets [`level`](Self::level), clamped to 0–9.
    #[must_use]
    pub fn with_level(mut self, level: u8) -> Self {
        self.level = level.min(9);
        self
    }

    /// The fields with out-of-range values brought into range.
    fn clamped(self) -> Self {
        self.with_max_window_bits(self.max_window_bits)
            .with_peer_max_window_bits(self.peer_max_window_bits)
            .with_level(self.level)
    }
}

/// The permessage-deflate parameters both ends agreed on (RFC 7692 §7.1), as the server's 101
/// states them. Absent window bits are 15.
///
/// [`Connection::compression`](crate::Connection::compression) tells whether a connection
/// negotiated compression, and with what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server compresses each message afresh.
    pub server_no_context_takeover: bool,
    /// The client compresses each message afresh.
    pub client_no_context_takeover: bool,
    /// The most window bits the server compresses with.
    pub server_max_window_bits: u8,
    /// The most window bits the client compresses with.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Context takeover both ways with 15-bit windows: a bare `permessage-deflate`.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// The extension token (RFC 7692 §7).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

const MIN_WINDOW_BITS: u8 = 8;
const MAX_WINDOW_BITS: u8 = 15;

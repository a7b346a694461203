//! The opening handshake (RFC 6455 §4): sans-IO machines for both ends.
//!
//! * A server feeds received bytes to a [`ServerHandshake`] until it yields the [`Request`],
//!   decides, and either [`accept`](ServerHandshake::accept)s it (getting a [`Connection`]
//!   whose output starts with the 101 response) or [`reject`](ServerHandshake::reject)s it
//!   with a [`Response`].
//! * A client builds a [`ClientRequest`] for a [`WsUrl`], starts a [`ClientHandshake`], writes
//!   its [`output`](ClientHandshake::output) and feeds the response back until it yields a
//!   [`ClientOutcome`]: an [`Established`] connection, or the server's refusal.
//!
//! Neither machine loses bytes that follow the HTTP head: a frame pipelined behind the request
//! or sent in the same segment as the 101 is handed to the new [`Connection`].
//!
//! [`Connection`]: crate::Connection

mod body;
mod client;
mod error;
mod headers;
mod request;
mod response;
mod server;
mod url;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

pub use client::{ClientHandshake, ClientOutcome, ClientRequest, Established};
pub use error::{HandshakeError, RequestError, ResponseError, UsageError};
pub use headers::{ExtensionOffer, Headers, InvalidExtensionList};
pub use request::Request;
pub use response::Response;
pub use server::{Accept, ServerHandshake};
pub use url::{UrlError, WsUrl};

/// The GUID RFC 6455 §1.3 appends to the client's key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 step 5.4): the
/// base64 of the SHA-1 of the key (as sent, base64 text) followed by [`WEBSOCKET_GUID`].
///
/// ```
/// use ws_proto::handshake::accept_key;
///
/// // The example of RFC 6455 §1.3.
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

// ----------------------------------------------------------------------------------- helpers

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_sample_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}

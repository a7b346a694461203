//! What a connection object needs from its runtime to send: the only runtime-specific piece of
//! a live connection. Sends never block, on either runtime, so a callback may send to any
//! connection (its own included) without deadlock.

use ws_proto::adapter::{SendError, TrySendError};
use ws_proto::{CloseCode, PreparedMessage};

use std::sync::Arc;

use crate::{Data, Error, Status};

/// One frame to send.
pub(crate) enum Frame<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Prepared(&'a PreparedMessage),
}

/// The sending side of a running connection.
pub(crate) trait Link: Send + Sync + 'static {
    /// Queues a frame, or fails at once (full output queue, closed connection).
    fn send(&self, frame: Frame<'_>) -> Result<(), Error>;
    /// Starts the closing handshake.
    fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error>;
    /// Drops the connection at once: no Close frame, no FIN.
    fn abort(&self);
    /// Whether the close handshake has begun, from either side.
    fn is_closing(&self) -> bool;
}

/// The status to report: `Connected` turns `Closing` as soon as either side started closing.
pub(crate) fn observed_status(stored: Status, link: Option<&Arc<dyn Link>>) -> Status {
    match (stored, link) {
        (Status::Connected, Some(link)) if link.is_closing() => Status::Closing,
        (status, _) => status,
    }
}

/// Sends `data` as 4D does: text as a text frame, a blob as a binary frame, an object as JSON
/// text.
pub(crate) fn send_data(link: &dyn Link, data: &Data) -> Result<(), Error> {
    match data {
        Data::Text(text) => link.send(Frame::Text(text)),
        Data::Blob(bytes) => link.send(Frame::Binary(bytes)),
        Data::Object(value) => link.send(Frame::Text(&value.to_string())),
    }
}

/// A refused non-blocking send, in this API's terms.
pub(crate) fn send_error(error: TrySendError) -> Error {
    match error {
        TrySendError::Full => Error::OutputFull,
        TrySendError::Closed | TrySendError::Invalid(_) => Error::Closed,
    }
}

/// A refused close, in this API's terms (the code was checked before, so `Invalid` means the
/// core refused `code`).
pub(crate) fn close_error(error: SendError, code: CloseCode) -> Error {
    match error {
        SendError::Closed => Error::Closed,
        SendError::Invalid(_) => Error::InvalidCloseCode(code.0),
    }
}

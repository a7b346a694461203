//! What a connection object needs from its runtime to send: the only runtime-specific piece of
//! a live connection. Sends never block, on either runtime, so a callback may send to any
//! connection (its own included) without deadlock.

use std::sync::{Arc, OnceLock};

use ws_adapter::{SendError, TrySendError};
use ws_proto::{Bytes, CloseCode, PreparedMessage};

use crate::error::check_close;
use crate::status::StatusCell;
use crate::{Data, Error, Status};

/// One frame to send.
pub(crate) enum Frame<'a> {
    Text(&'a str),
    /// Shared, so a server queues a large payload without copying it.
    Binary(&'a Bytes),
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

/// What a client `WebSocket` and a server `WebSocketConnection` share: the status, the link once
/// the connection opened, and the 4D `send` / `terminate` rules on top of them.
pub(crate) struct Channel {
    status: StatusCell,
    link: OnceLock<Arc<dyn Link>>,
}

impl Channel {
    pub(crate) fn new() -> Self {
        Channel {
            status: StatusCell::new(Status::Connecting),
            link: OnceLock::new(),
        }
    }

    /// The status to report: `Connected` turns `Closing` as soon as either side started
    /// closing.
    pub(crate) fn status(&self) -> Status {
        match (self.status.get(), self.link.get()) {
            (Status::Connected, Some(link)) if link.is_closing() => Status::Closing,
            (status, _) => status,
        }
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.status.set(status);
    }

    pub(crate) fn attach(&self, link: Arc<dyn Link>) {
        let _ = self.link.set(link);
    }

    /// The link, whatever the status (for aborting and closing on the API's own behalf).
    pub(crate) fn link(&self) -> Option<&Arc<dyn Link>> {
        self.link.get()
    }

    /// The link of an open connection.
    fn open_link(&self) -> Result<&Arc<dyn Link>, Error> {
        match (self.link.get(), self.status.get()) {
            (_, Status::Closed) => Err(Error::Closed),
            (Some(link), _) => Ok(link),
            (None, _) => Err(Error::NotConnected),
        }
    }

    /// 4D `.send()`: text as a text frame, a blob as a binary frame, an object as JSON text.
    pub(crate) fn send(&self, data: &Data) -> Result<(), Error> {
        let link = self.open_link()?;
        match data {
            Data::Text(text) => link.send(Frame::Text(text)),
            Data::Blob(bytes) => link.send(Frame::Binary(bytes)),
            Data::Object(value) => link.send(Frame::Text(&value.to_string())),
        }
    }

    /// Sends a message encoded once (a broadcast).
    pub(crate) fn send_prepared(&self, message: &PreparedMessage) -> Result<(), Error> {
        self.open_link()?.send(Frame::Prepared(message))
    }

    /// 4D `.terminate(code; reason)`: the code must be 1000 or 3000–4999.
    pub(crate) fn terminate(&self, code: u16, reason: &str) -> Result<(), Error> {
        let code = check_close(code, reason)?;
        self.close(code, reason)
    }

    /// Starts the closing handshake with any code that may be sent (the API's own closes:
    /// 1001 on server terminate, 1007 for invalid JSON).
    pub(crate) fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let link = self.open_link()?;
        self.status.closing();
        link.close(code, reason)
    }
}

/// A refused non-blocking send, in this API's terms. `Invalid` is the core refusing the call
/// itself (not the connection's state): it keeps the core's reason.
pub(crate) fn send_error(error: TrySendError) -> Error {
    match error {
        TrySendError::Full => Error::OutputFull,
        TrySendError::Closed => Error::Closed,
        TrySendError::Invalid(e) => Error::Invalid(e),
    }
}

/// A refused close, in this API's terms: the core's refusals of a code or a reason are the
/// errors `terminate` gives for them itself.
pub(crate) fn close_error(error: SendError) -> Error {
    match error {
        SendError::Closed => Error::Closed,
        SendError::Invalid(ws_proto::Error::InvalidCloseCode(code)) => {
            Error::InvalidCloseCode(code)
        }
        SendError::Invalid(ws_proto::Error::ControlPayloadTooLong) => Error::ReasonTooLong,
        SendError::Invalid(e) => Error::Invalid(e),
    }
}

/// Implements [`Link`] for an adapter's `Sender`: the adapters share one vocabulary of sends, so
/// only the name of the non-waiting close differs.
macro_rules! impl_link {
    ($sender:ty, $close:ident) => {
        impl $crate::link::Link for $sender {
            fn send(&self, frame: $crate::link::Frame<'_>) -> Result<(), $crate::Error> {
                use $crate::link::Frame;
                let sent = match frame {
                    Frame::Text(text) => self.try_send_text(text),
                    Frame::Binary(bytes) => self.try_send_binary_shared(bytes),
                    Frame::Prepared(message) => self.try_send_prepared(message),
                };
                sent.map_err($crate::link::send_error)
            }

            fn close(&self, code: ws_proto::CloseCode, reason: &str) -> Result<(), $crate::Error> {
                <$sender>::$close(self, code, reason).map_err($crate::link::close_error)
            }

            fn abort(&self) {
                <$sender>::abort(self);
            }

            fn is_closing(&self) -> bool {
                <$sender>::state(self) != ws_proto::ConnectionState::Open
            }
        }
    };
}
pub(crate) use impl_link;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adapters_refusals_keep_their_meaning() {
        assert!(matches!(send_error(TrySendError::Full), Error::OutputFull));
        assert!(matches!(send_error(TrySendError::Closed), Error::Closed));
        let invalid = send_error(TrySendError::Invalid(ws_proto::Error::MessageInProgress));
        assert!(
            matches!(invalid, Error::Invalid(ws_proto::Error::MessageInProgress)),
            "{invalid:?}"
        );
        let source = std::error::Error::source(&invalid);
        assert!(source.is_some_and(|s| s.is::<ws_proto::Error>()));

        assert!(matches!(close_error(SendError::Closed), Error::Closed));
        let code = close_error(SendError::Invalid(ws_proto::Error::InvalidCloseCode(1005)));
        assert!(matches!(code, Error::InvalidCloseCode(1005)), "{code:?}");
        let reason = close_error(SendError::Invalid(ws_proto::Error::ControlPayloadTooLong));
        assert!(matches!(reason, Error::ReasonTooLong), "{reason:?}");
    }
}

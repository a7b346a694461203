//! The one dispatcher: turns a connection's core events into handler callbacks, identically on
//! every runtime.
//!
//! It owns the ordering guarantee: for every connection `on_open` once (if it opened), then
//! messages, then at most one `on_error` (after which no message is delivered), then
//! `on_terminate` exactly once, whatever path the connection takes. Callbacks of one connection
//! run on the one thread or task that drives the dispatcher, so they never overlap.

use std::sync::Arc;

use ws_proto::{CloseCode, Event};

use crate::data::ReceivedPayload;
use crate::link::{Channel, Link};
use crate::{Data, DataType, ErrorEvent, ErrorInfo, MessageEvent, Status, TerminateEvent};

/// A connection object whose callbacks the dispatcher calls: a client `WebSocket` or a server
/// `WebSocketConnection`.
pub(crate) trait Endpoint: Send + Sync + 'static {
    fn data_type(&self) -> DataType;
    fn channel(&self) -> &Channel;
    /// Hands over the running connection's sending side.
    fn attach(&self, link: Arc<dyn Link>) {
        self.channel().attach(link);
    }
    fn on_open(&self);
    fn on_message(&self, event: MessageEvent);
    fn on_error(&self, event: ErrorEvent);
    /// Called once, after the status became `Closed`.
    fn on_terminate(&self, event: TerminateEvent);
}

/// What a runtime drives for each connection: its start, its events, or its failure to start.
pub(crate) trait Session: Send + 'static {
    /// The connection is open; `link` sends on it.
    fn opened(&mut self, link: Arc<dyn Link>);
    /// The next core event, in order. [`Event::Closed`] is the last.
    fn event(&mut self, event: Event);
    /// The connection could not be opened (DNS, TCP, TLS, refused or invalid handshake).
    fn failed(&mut self, error: ErrorInfo);
}

pub(crate) struct Dispatcher<E: Endpoint> {
    endpoint: Arc<E>,
    errored: bool,
    terminated: bool,
}

impl<E: Endpoint> Dispatcher<E> {
    pub(crate) fn new(endpoint: Arc<E>) -> Self {
        Dispatcher {
            endpoint,
            errored: false,
            terminated: false,
        }
    }

    fn error(&mut self, info: ErrorInfo) {
        if !self.errored && !self.terminated {
            self.errored = true;
            self.endpoint.on_error(ErrorEvent::one(info));
        }
    }

    fn terminate(&mut self, code: u16, reason: String, clean: bool) {
        if self.terminated {
            return;
        }
        self.terminated = true;
        self.endpoint.channel().set_status(Status::Closed);
        self.endpoint.on_terminate(TerminateEvent {
            code,
            reason,
            clean,
        });
    }

    fn message(&mut self, payload: ReceivedPayload) {
        // 4D: an error stops processing; nothing is delivered after `on_error`.
        if self.errored {
            return;
        }
        match Data::received(self.endpoint.data_type(), payload) {
            Ok(data) => self.endpoint.on_message(MessageEvent { data }),
            Err(e) => {
                // DESIGN: an `object` message that is not JSON is an error, then a 1007 close.
                self.error(ErrorInfo::new(
                    ErrorInfo::INVALID_JSON,
                    "ws-api",
                    format!("message is not JSON: {e}"),
                ));
                let _ = self
                    .endpoint
                    .channel()
                    .close(CloseCode::INVALID_PAYLOAD, "message is not JSON");
            }
        }
    }
}

impl<E: Endpoint> Session for Dispatcher<E> {
    fn opened(&mut self, link: Arc<dyn Link>) {
        self.endpoint.attach(link);
        self.endpoint.channel().set_status(Status::Connected);
        self.endpoint.on_open();
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Text(text) => self.message(ReceivedPayload::Text(text)),
            Event::Binary(bytes) => self.message(ReceivedPayload::Binary(bytes)),
            // Pongs are answered by the core; 4D exposes no ping/pong callbacks.
            Event::Ping(_) | Event::Pong(_) => {}
            Event::Closed(outcome) => {
                if let Some(error) = outcome.error {
                    self.error(ErrorInfo::new(
                        u32::from(error.close_code().0),
                        "ws-proto",
                        format!("the peer broke the protocol: {error}"),
                    ));
                }
                let reason = outcome.reason().to_owned();
                self.terminate(outcome.code().0, reason, outcome.clean);
            }
        }
    }

    fn failed(&mut self, error: ErrorInfo) {
        self.error(error);
        self.terminate(CloseCode::ABNORMAL.0, String::new(), false);
    }
}

impl<E: Endpoint> Drop for Dispatcher<E> {
    /// The runtime stopped driving without a final event (it cannot, but the guarantee must not
    /// depend on that): `on_terminate` still comes, once.
    fn drop(&mut self) {
        if !self.terminated {
            self.terminate(CloseCode::ABNORMAL.0, String::new(), false);
        }
    }
}

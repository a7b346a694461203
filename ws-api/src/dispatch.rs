//! The one dispatcher: turns a connection's core events into handler callbacks, identically on
//! every runtime.
//!
//! It owns the ordering guarantee: for every connection `on_open` once (if it opened), then
//! messages, then at most one `on_error` (after which no message is delivered), then
//! `on_terminate` exactly once, whatever path the connection takes. Callbacks of one connection
//! run on the one thread or task that drives the dispatcher, so they never overlap.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use ws_proto::{CloseCode, Event, ProtocolError};

use crate::data::{JsonLimits, ReceivedPayload};
use crate::link::{Channel, Link};
use crate::trace;
use crate::{Data, DataType, ErrorEvent, ErrorInfo, MessageEvent, Status, TerminateEvent};

/// A connection object whose callbacks the dispatcher calls: a client `WebSocket` or a server
/// `WebSocketConnection`.
///
/// Each `on_*` method runs the handler's callback through [`guard`], does its own bookkeeping
/// whether the callback returned or panicked, and hands back the caught panic, if any.
pub(crate) trait Endpoint: Send + Sync + 'static {
    fn data_type(&self) -> DataType;
    fn json_limits(&self) -> JsonLimits;
    fn channel(&self) -> &Channel;
    /// The connection's id (4D: `.id`), which its log events carry as `api_id`.
    fn id(&self) -> u64;
    /// Names the connection in messages written to stderr, e.g. `connection 12`.
    fn label(&self) -> String;
    /// Hands over the running connection's sending side.
    fn attach(&self, link: Arc<dyn Link>) {
        self.channel().attach(link);
    }
    fn on_open(&self) -> Result<(), Panicked>;
    fn on_message(&self, event: MessageEvent) -> Result<(), Panicked>;
    fn on_error(&self, event: ErrorEvent) -> Result<(), Panicked>;
    /// Called once, after the status became `Closed`.
    fn on_terminate(&self, event: TerminateEvent) -> Result<(), Panicked>;
}

/// A callback's panic, caught by [`guard`]: its message.
#[derive(Debug)]
pub(crate) struct Panicked(String);

impl Panicked {
    fn new(payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_owned()
        };
        // A payload whose destructor panics must not escape either.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
        Panicked(message)
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs an application callback, catching a panic so that it unwinds no further than here:
/// not through the dispatcher (whose `Drop` would call `on_terminate` during the unwinding, and
/// a second panic there aborts the process), the server's bookkeeping or the runtime.
///
/// `AssertUnwindSafe`: after a panic the crate only reads its own state, which it never leaves
/// half-updated around a callback (its locks are not held during callbacks and recover from
/// poisoning); the handler's own state is the application's, as after any caught panic.
pub(crate) fn guard<R>(callback: impl FnOnce() -> R) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(callback)).map_err(Panicked::new)
}

/// Writes a caught panic that has no `on_error` to go to (a panic in `on_error` or
/// `on_terminate`) to stderr.
pub(crate) fn log_panic(callback: &str, of: &str, panic: &Panicked) {
    eprintln!("ws-api: {callback} of {of} panicked: {panic} (the panic was caught)");
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

    /// Reports an error to `on_error`, once; nothing is delivered after it. A panic in
    /// `on_error` goes to stderr: there is no second `on_error` to report it to.
    fn error(&mut self, info: ErrorInfo) {
        if !self.errored && !self.terminated {
            self.errored = true;
            if let Err(panic) = self.endpoint.on_error(ErrorEvent::one(info)) {
                trace::callback_panicked("on_error", Some(self.endpoint.id()), &panic);
                log_panic("on_error", &self.endpoint.label(), &panic);
                self.close(CloseCode::INTERNAL_ERROR, "internal error");
            }
        }
    }

    /// Starts the closing handshake on the API's own behalf, if the connection is still open.
    fn close(&self, code: CloseCode, reason: &str) {
        let _ = self.endpoint.channel().close(code, reason);
    }

    /// `callback` panicked: the panic goes to `on_error` (or stderr when `on_error` already
    /// ran), and the connection, whose handler may now be in any state, is closed with 1011.
    fn panicked(&mut self, callback: &str, panic: Panicked) {
        trace::callback_panicked(callback, Some(self.endpoint.id()), &panic);
        if self.errored || self.terminated {
            log_panic(callback, &self.endpoint.label(), &panic);
        } else {
            self.error(ErrorInfo::panicked(callback, &panic));
        }
        self.close(CloseCode::INTERNAL_ERROR, "internal error");
    }

    fn terminate(&mut self, code: u16, reason: String, clean: bool) {
        if self.terminated {
            return;
        }
        self.terminated = true;
        self.endpoint.channel().set_status(Status::Closed);
        let event = TerminateEvent {
            code,
            reason,
            clean,
        };
        if let Err(panic) = self.endpoint.on_terminate(event) {
            trace::callback_panicked("on_terminate", Some(self.endpoint.id()), &panic);
            log_panic("on_terminate", &self.endpoint.label(), &panic);
        }
    }

    fn message(&mut self, payload: ReceivedPayload) {
        // 4D: an error stops processing; nothing is delivered after `on_error`.
        if self.errored {
            return;
        }
        let limits = self.endpoint.json_limits();
        match Data::received(self.endpoint.data_type(), payload, &limits) {
            Ok(data) => {
                if let Err(panic) = self.endpoint.on_message(MessageEvent { data }) {
                    self.panicked("on_message", panic);
                }
            }
            Err(rejection) => {
                // ARCHITECTURE.md (4D decisions): an `object` message that is not JSON is an
                // error, then a 1007 close; one past the JSON limits an error, then 1009 (size)
                // or 1007 (depth).
                let code = rejection.close_code();
                self.error(ErrorInfo::new(
                    u32::from(code.0),
                    "ws-api",
                    rejection.to_string(),
                ));
                self.close(code, rejection.close_reason());
            }
        }
    }
}

impl<E: Endpoint> Session for Dispatcher<E> {
    fn opened(&mut self, link: Arc<dyn Link>) {
        trace::opened(self.endpoint.id());
        self.endpoint.attach(link);
        self.endpoint.channel().set_status(Status::Connected);
        if let Err(panic) = self.endpoint.on_open() {
            self.panicked("on_open", panic);
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Text(text) => self.message(ReceivedPayload::Text(text)),
            Event::Binary(bytes) => self.message(ReceivedPayload::Binary(bytes)),
            // Pongs are answered by the core; 4D exposes no ping/pong callbacks.
            Event::Ping(_) | Event::Pong(_) => {}
            Event::Closed(outcome) => {
                if let Some(error) = outcome.error {
                    let message = match error {
                        ProtocolError::MessageTooLarge | ProtocolError::FrameTooLarge
                            if self.endpoint.data_type() == DataType::Object =>
                        {
                            format!(
                                "the peer sent a message too big for this object connection: \
                                 {error} (JsonLimits::max_size is {} bytes)",
                                self.endpoint.json_limits().max_size
                            )
                        }
                        _ => format!("the peer broke the protocol: {error}"),
                    };
                    self.error(ErrorInfo::new(
                        u32::from(error.close_code().0),
                        "ws-proto",
                        message,
                    ));
                }
                let reason = outcome.reason().to_owned();
                self.terminate(outcome.code().0, reason, outcome.clean);
            }
        }
    }

    fn failed(&mut self, error: ErrorInfo) {
        trace::failed(self.endpoint.id(), &error.message);
        self.error(error);
        self.terminate(CloseCode::ABNORMAL.0, String::new(), false);
    }
}

impl<E: Endpoint> Drop for Dispatcher<E> {
    /// The runtime stopped driving without a final event (it cannot, but the guarantee must not
    /// depend on that): `on_terminate` still comes, once. It is guarded like every callback, so
    /// even a drop during unwinding cannot turn a panic in it into an abort.
    fn drop(&mut self) {
        if !self.terminated {
            self.terminate(CloseCode::ABNORMAL.0, String::new(), false);
        }
    }
}

//! The user's handles on a running connection, the same in every adapter: a `WebSocket` made of
//! a `Sender` (cloneable) and a `Receiver`, sharing the connection's state and a guard that
//! closes the connection when the last handle is dropped. The adapters differ only in how
//! receiving and sending wait (blocking or async), which they add to these types.

use std::cell::RefCell;

use ws_proto::{Connection, Event};

use crate::trace::{self, ConnSpan};

/// Most bytes an adapter reads from its transport at once.
pub const READ_CHUNK: usize = 64 << 10;

thread_local! {
    /// One read buffer per thread, not per connection: what is read goes straight into the
    /// core (which keeps what it needs), so an idle connection holds no read buffer at all.
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's read buffer of [`READ_CHUNK`] bytes (a fresh one if the
/// thread's is in use, e.g. a stream whose read drives another connection).
pub fn with_read_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.is_empty() {
                buf.resize(READ_CHUNK, 0);
            }
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0; READ_CHUNK]),
    })
}

/// Drops every event waiting in `ws`, for a connection whose application will take no more
/// (every handle, or the receiving one, is gone), so reading never stalls on them. The end of
/// the connection is still logged if it is among them.
pub fn discard_events(span: &ConnSpan, ws: &mut Connection) {
    while let Some(event) = ws.poll_event() {
        if let Event::Closed(outcome) = &event {
            trace::closed(span, outcome);
        }
    }
}

/// Generates an adapter's handle types — `WebSocket`, `Sender` and `Receiver` — over its shared
/// connection state `$shared`, with the guard type `$guard` (a struct with one field
/// `shared: Arc<$shared>` whose `Drop` closes the connection). Also generates
/// `WebSocket::from_shared`, `sender`, `split`, `Deref<Target = Sender>` and `Debug`
/// (which use `Sender::state` and `Sender::peer_addr`, supplied by the adapter).
#[macro_export]
macro_rules! handles {
    (
        shared: $shared:ty, guard: $guard:ident;
        $(#[$ws_doc:meta])* websocket;
        $(#[$tx_doc:meta])* sender;
        $(#[$rx_doc:meta])* receiver;
    ) => {
        $(#[$ws_doc])*
        pub struct WebSocket {
            sender: Sender,
            receiver: Receiver,
        }

        $(#[$tx_doc])*
        #[derive(Clone)]
        pub struct Sender {
            shared: std::sync::Arc<$shared>,
            _guard: std::sync::Arc<$guard>,
        }

        $(#[$rx_doc])*
        pub struct Receiver {
            shared: std::sync::Arc<$shared>,
            _guard: std::sync::Arc<$guard>,
        }

        impl WebSocket {
            /// The user's handles on a running connection; dropping the last one drops the
            /// guard, which closes the connection.
            fn from_shared(shared: std::sync::Arc<$shared>) -> WebSocket {
                let guard = std::sync::Arc::new($guard {
                    shared: std::sync::Arc::clone(&shared),
                });
                WebSocket {
                    sender: Sender {
                        shared: std::sync::Arc::clone(&shared),
                        _guard: std::sync::Arc::clone(&guard),
                    },
                    receiver: Receiver {
                        shared,
                        _guard: guard,
                    },
                }
            }

            /// A handle to send from elsewhere (another thread or task).
            pub fn sender(&self) -> Sender {
                self.sender.clone()
            }

            /// Splits into the two halves.
            pub fn split(self) -> (Sender, Receiver) {
                (self.sender, self.receiver)
            }
        }

        impl std::ops::Deref for WebSocket {
            type Target = Sender;

            fn deref(&self) -> &Sender {
                &self.sender
            }
        }

        impl std::fmt::Debug for WebSocket {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("WebSocket")
                    .field("state", &self.state())
                    .field("peer_addr", &self.peer_addr())
                    .finish()
            }
        }

        impl std::fmt::Debug for Sender {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Sender")
                    .field("state", &self.state())
                    .field("peer_addr", &self.peer_addr())
                    .finish()
            }
        }

        impl std::fmt::Debug for Receiver {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Receiver").finish_non_exhaustive()
            }
        }
    };
}

/// Calls the adapter's macro `$callback` with the list of sends every handle offers, so both
/// runtimes offer the same sends from one list: each entry is
/// `name / try_name (args) => |ws| core_call;` with its doc comment.
#[macro_export]
macro_rules! for_each_send {
    ($callback:ident) => {
        $callback! {
            /// Sends a text message.
            send_text / try_send_text (text: &str) => |ws| ws.send_text(text);
            /// Sends a binary message.
            send_binary / try_send_binary (data: &[u8]) => |ws| ws.send_binary(data);
            /// Sends a text message already held as [`Utf8Bytes`](ws_proto::Utf8Bytes), such
            /// as one received: a server shares each frame payload of
            /// [`SHARE_MIN`](ws_proto::SHARE_MIN) bytes or more instead of copying it.
            send_text_shared / try_send_text_shared (text: &ws_proto::Utf8Bytes)
                => |ws| ws.send_text_shared(text);
            /// Sends a binary message already held as [`Bytes`](ws_proto::Bytes), such as one
            /// received: a server shares each frame payload of
            /// [`SHARE_MIN`](ws_proto::SHARE_MIN) bytes or more instead of copying it.
            send_binary_shared / try_send_binary_shared (data: &ws_proto::Bytes)
                => |ws| ws.send_binary_shared(data);
            /// Sends a message encoded once for many connections (a broadcast).
            send_prepared / try_send_prepared (message: &ws_proto::PreparedMessage)
                => |ws| ws.send_prepared(message);
            /// Sends a Ping (at most 125 bytes).
            send_ping / try_send_ping (payload: &[u8]) => |ws| ws.send_ping(payload);
            /// Sends an unsolicited Pong (at most 125 bytes).
            send_pong / try_send_pong (payload: &[u8]) => |ws| ws.send_pong(payload);
            /// Sends one fragment of a text message; `is_final` ends the message.
            send_text_fragment / try_send_text_fragment (text: &str, is_final: bool)
                => |ws| ws.send_text_fragment(text, is_final);
            /// Sends one fragment of a binary message; `is_final` ends the message.
            send_binary_fragment / try_send_binary_fragment (data: &[u8], is_final: bool)
                => |ws| ws.send_binary_fragment(data, is_final);
        }
    };
}

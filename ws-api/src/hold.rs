//! What keeps a client, a WebSocket server or a web server running: the handles the program
//! holds.
//!
//! The handles a constructor returns, and their clones, *own* what they name: each carries the
//! object's [`Hold`], and when the last one is dropped the object ends (a client closes, a
//! WebSocket server terminates, a web server stops listening), so nothing keeps running out of
//! the program's reach. The handles the crate lends (to callbacks, and through
//! `WebSocketConnection::wss` and `WebSocketServer::web_server`), and the ones it keeps for
//! itself, carry none: a handler that keeps the handle it was given cannot keep its own
//! connection or server running through a cycle.

use std::sync::Arc;

/// Shared by an object's owning handles: runs its release once, when the last of them is
/// dropped.
pub(crate) struct Hold {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Hold {
    pub(crate) fn new(release: impl FnOnce() + Send + Sync + 'static) -> Arc<Hold> {
        Arc::new(Hold {
            release: Some(Box::new(release)),
        })
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

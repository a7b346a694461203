//! `status`: "Connecting", "Connected", "Closing", "Closed".

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The state of a client WebSocket or a server connection, as 4D reports it in `.status`.
///
/// A server connection is never `Connecting`: it only exists once its handshake succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The opening handshake is under way (client only).
    Connecting,
    /// Open: messages flow.
    Connected,
    /// A Close frame was sent or received; the connection is ending.
    Closing,
    /// The connection is over; `on_terminate` has been called or is being called.
    Closed,
}

impl Status {
    /// The 4D spelling: `"Connecting"`, `"Connected"`, `"Closing"` or `"Closed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "Connecting",
            Status::Connected => "Connected",
            Status::Closing => "Closing",
            Status::Closed => "Closed",
        }
    }

    fn from_u8(value: u8) -> Status {
        match value {
            0 => Status::Connecting,
            1 => Status::Connected,
            2 => Status::Closing,
            _ => Status::Closed,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A status shared between the callbacks' thread and any caller.
#[derive(Debug)]
pub(crate) struct StatusCell(AtomicU8);

impl StatusCell {
    pub(crate) fn new(status: Status) -> Self {
        StatusCell(AtomicU8::new(status as u8))
    }

    pub(crate) fn get(&self) -> Status {
        Status::from_u8(self.0.load(Ordering::SeqCst))
    }

    pub(crate) fn set(&self, status: Status) {
        self.0.store(status as u8, Ordering::SeqCst);
    }

    /// Moves `Connected` to `Closing`; later states are kept.
    pub(crate) fn closing(&self) {
        let _ = self.0.compare_exchange(
            Status::Connected as u8,
            Status::Closing as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

/// Waits on `changed` until `done` holds for the value in `lock`, or `timeout` passes; returns
/// whether it held. For the blocking `wait_*` helpers.
pub(crate) fn wait_until<T>(
    lock: &Mutex<T>,
    changed: &Condvar,
    timeout: Duration,
    done: impl Fn(&T) -> bool,
) -> bool {
    let deadline = ws_proto::deadline(Instant::now(), timeout);
    let mut value: MutexGuard<'_, T> = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !done(&value) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        value = changed
            .wait_timeout(value, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    true
}

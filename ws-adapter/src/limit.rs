//! Limits at the door: a cap on open connections, answered with 503 before the upgrade, and a
//! back-off for accept loops whose `accept` keeps failing (out of file descriptors, ...).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ws_proto::handshake::Response;

/// Connections a server holds at once unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Counts a server's open connections (from accept to the end of the connection) against a
/// maximum. Cheap to clone; clones share the count.
///
/// With the `tracing` feature, reaching the limit is logged once (`warn`), and so is falling
/// back below it (`info`) once no more than nine tenths of the places are taken: a server that
/// stays at its limit, one connection closing and the next taking its place, logs nothing more.
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    count: Arc<Count>,
}

/// One admitted connection: holds its place in the [`ConnectionLimit`] until dropped.
#[derive(Debug)]
pub struct Permit {
    count: Arc<Count>,
}

#[derive(Debug)]
struct Count {
    open: AtomicUsize,
    max: usize,
    /// A connection was refused since the limit was last reported as relieved.
    #[cfg(feature = "tracing")]
    at_limit: std::sync::atomic::AtomicBool,
}

impl ConnectionLimit {
    /// A limit of `max` connections at once.
    pub fn new(max: usize) -> Self {
        ConnectionLimit {
            count: Arc::new(Count {
                open: AtomicUsize::new(0),
                max,
                #[cfg(feature = "tracing")]
                at_limit: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Admits one more connection, or `None` when `max` are open (answer it with
    /// [`overloaded`]).
    pub fn try_acquire(&self) -> Option<Permit> {
        let count = &self.count;
        let admitted = count
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < count.max).then_some(open + 1)
            })
            .is_ok();
        #[cfg(feature = "tracing")]
        if !admitted && !count.at_limit.swap(true, Ordering::AcqRel) {
            crate::trace::limit_reached(count.max);
        }
        admitted.then(|| Permit {
            count: Arc::clone(&self.count),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.count.open.load(Ordering::Acquire)
    }

    /// The maximum.
    pub fn max(&self) -> usize {
        self.count.max
    }
}

impl Default for ConnectionLimit {
    /// [`DEFAULT_MAX_CONNECTIONS`].
    fn default() -> Self {
        ConnectionLimit::new(DEFAULT_MAX_CONNECTIONS)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let count = &self.count;
        let open = count.open.fetch_sub(1, Ordering::AcqRel) - 1;
        // Relieved only well below the limit, so a server holding at it does not log each
        // connection that closes and the next one refused.
        #[cfg(feature = "tracing")]
        if open <= count.max - count.max / 10
            && count.at_limit.load(Ordering::Acquire)
            && count.at_limit.swap(false, Ordering::AcqRel)
        {
            crate::trace::limit_relieved(open, count.max);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = open;
    }
}

/// The answer to a request over the connection limit: `503 Service Unavailable` with
/// `Retry-After` (RFC 9110 §15.6.4), sent before any upgrade.
pub fn overloaded() -> Response {
    Response::new(503)
        .with_header("Retry-After", "1")
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_body("server at its connection limit\n")
}

/// How long an accept loop pauses after a failed `accept`: 10 ms, doubling on each failure in
/// a row up to 1 s, back to nothing after a success. A loop that retried at once would spin at
/// 100 % CPU while, say, the process is out of file descriptors.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// A connection was accepted: the next failure starts over.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// `accept` failed with `error`: how long to pause before the next attempt. The failure
    /// is logged (feature `tracing`), once per failure, which the pauses space out.
    pub fn failed(&mut self, error: &std::io::Error) -> Duration {
        let delay = Self::FIRST
            .saturating_mul(1 << self.failures.min(10))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        crate::trace::accept_backoff(error, delay);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_admits_up_to_its_maximum_and_frees_places_on_drop() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().expect("first");
        let _b = limit.try_acquire().expect("second");
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.open(), 2);
        drop(a);
        assert!(limit.try_acquire().is_some());
    }

    #[test]
    fn backoff_doubles_to_a_ceiling_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::from_raw_os_error(24); // EMFILE: out of descriptors
        assert_eq!(backoff.failed(&error), Duration::from_millis(10));
        assert_eq!(backoff.failed(&error), Duration::from_millis(20));
        for _ in 0..20 {
            backoff.failed(&error);
        }
        assert_eq!(backoff.failed(&error), Duration::from_secs(1));
        backoff.succeeded();
        assert_eq!(backoff.failed(&error), Duration::from_millis(10));
    }

    #[test]
    fn the_overload_answer_is_a_503_with_retry_after() {
        let response = overloaded();
        assert_eq!(response.status, 503);
        assert!(String::from_utf8_lossy(&response.encode()).contains("Retry-After: 1"));
    }
}

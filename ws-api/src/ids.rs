//! Connection ids: unique in the process, increasing, never reused (ARCHITECTURE.md settles
//! 4D's unspecified `.id` this way). Clients and server connections share the sequence.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

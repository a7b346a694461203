//! Deadlines that cannot overflow.

use std::time::{Duration, Instant};

/// About thirty years: a deadline this far away never comes in practice.
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// The instant `after` past `now`, saturating: a huge configured duration (`Duration::MAX` to
/// mean "never") gives a deadline decades away instead of panicking on overflow as
/// `now + after` would. Every timer of the core and the adapters is computed with it.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// assert_eq!(ws_proto::deadline(now, Duration::from_secs(5)), now + Duration::from_secs(5));
/// assert!(ws_proto::deadline(now, Duration::MAX) > now + Duration::from_secs(3600));
/// ```
pub fn deadline(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

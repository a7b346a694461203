//! Where mask keys and handshake nonces come from.
//!
//! The core never reaches for randomness on its own: a [`KeySource`] is handed to it. The default
//! ([`RandKeySource`], feature `rand`) draws from the thread-local CSPRNG, as RFC 6455 §5.3 and
//! §10.3 require unpredictable mask keys. Tests use [`SeededKeySource`] so every byte a client
//! writes is reproducible.

/// A source of the random bytes the protocol needs: client mask keys (RFC 6455 §5.3) and the
/// client handshake nonce (§4.1).
pub trait KeySource: Send {
    /// Fills `buf` with fresh bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The default key source: the operating-system-seeded thread-local generator of `rand`.
///
/// It is zero-sized: a connection that holds it costs nothing.
#[cfg(feature = "rand")]
#[derive(Clone, Copy, Debug, Default)]
pub struct RandKeySource;

#[cfg(feature = "rand")]
impl KeySource for RandKeySource {
    fn fill(&mut self, buf: &mut [u8]) {
        rand::fill(buf);
    }
}

/// A deterministic key source (SplitMix64) for tests and fuzzing.
///
/// **Not** for production clients: its keys are predictable, which defeats the purpose of
/// masking (RFC 6455 §10.3).
#[derive(Clone, Debug)]
pub struct SeededKeySource {
    state: u64,
}

impl SeededKeySource {
    /// A source whose output is fully decided by `seed`.
    pub fn new(seed: u64) -> Self {
        SeededKeySource { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl KeySource for SeededKeySource {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The key source a connection uses when none is given: [`RandKeySource`] with the `rand`
/// feature.
pub fn default_key_source() -> Box<dyn KeySource> {
    #[cfg(feature = "rand")]
    {
        Box::new(RandKeySource)
    }
    #[cfg(not(feature = "rand"))]
    {
        // Without `rand` there is no safe default; refuse to invent weak keys silently.
        Box::new(MissingKeySource)
    }
}

#[cfg(not(feature = "rand"))]
struct MissingKeySource;

#[cfg(not(feature = "rand"))]
impl KeySource for MissingKeySource {
    fn fill(&mut self, _buf: &mut [u8]) {
        panic!("ws-proto was built without the `rand` feature: pass a KeySource explicitly");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_source_is_reproducible_and_varied() {
        let (mut a, mut b) = (SeededKeySource::new(7), SeededKeySource::new(7));
        let (mut x, mut y) = ([0u8; 12], [0u8; 12]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        a.fill(&mut y);
        assert_ne!(x, y);
    }
}

//! Incremental UTF-8 validation (RFC 6455 §5.6, §8.1).
//!
//! A text message may arrive split anywhere: across frames, across TCP segments, inside a code
//! point. [`Utf8Validator`] checks each piece as it arrives and fails on the first byte that can
//! no longer begin or continue valid UTF-8, so a bad message is rejected before the rest of it
//! arrives (Autobahn 6.4.x). It keeps at most three bytes of an unfinished code point between
//! pieces.

use std::str;

/// The payload is not UTF-8: fail the connection with 1007.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates UTF-8 fed in arbitrary pieces.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of a code point begun in an earlier piece.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece. An error means no continuation could make the text valid.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            // Finish the code point begun earlier, one byte at a time, so an invalid
            // continuation byte is caught even when the piece ends right after it.
            let have = usize::from(self.partial_len);
            let need = sequence_len(self.partial[0]) - have;
            let take = need.min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            let filled = have + take;
            match str::from_utf8(&self.partial[..filled]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {
                    // Still a valid prefix; the piece ended before the code point did.
                    self.partial_len = filled as u8;
                    return Ok(());
                }
            }
            input = &input[take..];
        }
        // A piece usually ends inside a code point only in its last three bytes: set those
        // aside, so the rest (which then ends on a boundary) takes one pass of the SIMD
        // validator, whose failure is then always a real error.
        let cut = incomplete_tail(input);
        if simdutf8::basic::from_utf8(&input[..cut]).is_err() {
            return Err(InvalidUtf8);
        }
        let rest = &input[cut..];
        if rest.is_empty() {
            return Ok(());
        }
        match str::from_utf8(rest) {
            // `incomplete_tail` only sets aside a lead byte that needs more than is there.
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(_) => {
                // A valid prefix of a code point: at most three bytes.
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = rest.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the message: an unfinished code point makes it invalid.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        *self = Self::new();
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

/// Where the last code point of `input` starts if it is cut short: a multi-byte lead byte in
/// the last three bytes, followed by fewer bytes than it needs. Otherwise `input.len()`.
fn incomplete_tail(input: &[u8]) -> usize {
    let len = input.len();
    for back in 1..=len.min(3) {
        let byte = input[len - back];
        if byte & 0xC0 == 0x80 {
            // A continuation byte: the lead is further back.
            continue;
        }
        let needed = match byte {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            // ASCII or a byte that cannot lead: nothing is cut short here.
            _ => return len,
        };
        return if back < needed { len - back } else { len };
    }
    len
}

/// The length of the sequence a lead byte starts. Only called on bytes `str::from_utf8` already
/// accepted as the start of an incomplete sequence, so they are 0xC2..=0xF4.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_split(bytes: &[u8], splits: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &at in splits {
            v.feed(&bytes[start..at])?;
            start = at;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn autobahn_6_x_samples() {
        let valid = [
            "κόσμε",
            "\u{0}",
            "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
            "",
        ];
        for s in valid {
            for at in 0..=s.len() {
                assert_eq!(validate_split(s.as_bytes(), &[at]), Ok(()), "{s:?} at {at}");
            }
        }
        let invalid: [&[u8]; 8] = [
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
            b"\xf4\x90\x80\x80",                                               // > U+10FFFF
            b"\xc0\xaf",                                                       // overlong
            b"\xe0\x80\xaf",                                                   // overlong
            b"\x80",                                                           // lone continuation
            b"\xfe",
            b"\xce",     // truncated at the end
            b"\xf0\x90", // truncated at the end
        ];
        for bytes in invalid {
            assert_eq!(validate_split(bytes, &[]), Err(InvalidUtf8), "{bytes:x?}");
        }
    }

    #[test]
    fn fails_on_the_first_impossible_byte() {
        // 6.4.1-6.4.4: the error must be found as soon as the bad byte arrives, before the rest.
        let mut v = Utf8Validator::new();
        assert_eq!(
            v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
            Ok(())
        );
        assert_eq!(v.feed(b"\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));

        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xed"), Ok(()));
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
    }

    proptest! {
        #[test]
        fn agrees_with_std_at_every_split(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let expected = str::from_utf8(&bytes).is_ok();
            for at in 0..=bytes.len() {
                prop_assert_eq!(validate_split(&bytes, &[at]).is_ok(), expected);
            }
            let every: Vec<usize> = (1..bytes.len()).collect();
            prop_assert_eq!(validate_split(&bytes, &every).is_ok(), expected);
        }

        #[test]
        fn agrees_with_std_on_mostly_valid_text(s in "\\PC{0,16}", junk in any::<u8>(), pos in any::<prop::sample::Index>()) {
            let mut bytes = s.into_bytes();
            let at = pos.index(bytes.len() + 1);
            bytes.insert(at, junk);
            let expected = str::from_utf8(&bytes).is_ok();
            for split in 0..=bytes.len() {
                prop_assert_eq!(validate_split(&bytes, &[split]).is_ok(), expected);
            }
        }

        #[test]
        fn fails_exactly_at_the_first_impossible_prefix(bytes in proptest::collection::vec(any::<u8>(), 1..24)) {
            // Fed one byte at a time, the validator must fail exactly at the first prefix that no
            // continuation can make valid: the earliest fail-fast point there is.
            let prefix_ok = |n: usize| match str::from_utf8(&bytes[..n]) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none(),
            };
            let expected = (1..=bytes.len()).find(|&n| !prefix_ok(n)).map(|n| n - 1);
            let mut v = Utf8Validator::new();
            let failed_at = bytes.iter().position(|b| v.feed(std::slice::from_ref(b)).is_err());
            prop_assert_eq!(failed_at, expected);
        }
    }
}

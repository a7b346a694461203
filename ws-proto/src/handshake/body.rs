//! The body of a rejected handshake: how it is delimited and how a chunked one is decoded
//! (RFC 7230 §3.3.3, §4.1).

use super::error::ResponseError;
use super::headers::{Headers, split_list};

/// The longest chunk-size line (with extensions) accepted in a chunked rejection body.
const MAX_CHUNK_LINE: usize = 1024;

/// How the body of a rejection is delimited (RFC 7230 §3.3.3).
#[derive(Debug)]
pub(super) enum Framing {
    Length(usize),
    Chunked(Chunked),
    UntilEof,
}

/// Incremental decoder of a chunked body (RFC 7230 §4.1).
#[derive(Debug, Default)]
pub(super) struct Chunked {
    phase: ChunkPhase,
    pub(super) body: Vec<u8>,
    /// Raw bytes consumed, framing included.
    raw: usize,
}

#[derive(Debug, Default)]
enum ChunkPhase {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// How the body of a final non-101 response is delimited (RFC 7230 §3.3.3).
pub(super) fn framing(
    status: u16,
    headers: &Headers,
    max: usize,
) -> Result<Framing, ResponseError> {
    if matches!(status, 204 | 304) {
        return Ok(Framing::Length(0));
    }
    if headers.contains("transfer-encoding") {
        let last = headers
            .get_all("transfer-encoding")
            .flat_map(split_list)
            .last();
        return Ok(match last {
            Some(coding) if coding.eq_ignore_ascii_case("chunked") => {
                Framing::Chunked(Chunked::default())
            }
            _ => Framing::UntilEof,
        });
    }
    let mut length = None;
    for value in headers.get_all("content-length").flat_map(split_list) {
        let n = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .ok_or(ResponseError::Malformed("invalid Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(ResponseError::Malformed("conflicting Content-Length"));
        }
        length = Some(n);
    }
    match length {
        None => Ok(Framing::UntilEof),
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Framing::Length(n)),
            _ => Err(ResponseError::TooLarge),
        },
    }
}

impl Chunked {
    /// Decodes what `buf` holds, draining consumed bytes; `true` once the body is complete.
    pub(super) fn feed(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<bool, ResponseError> {
        let bad = ResponseError::Malformed("malformed chunked body");
        let mut at = 0;
        let done = loop {
            let rest = buf.get(at..).unwrap_or_default();
            match self.phase {
                ChunkPhase::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, 0))) => {
                        at += used;
                        self.phase = ChunkPhase::Trailers;
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        let total = u64::try_from(self.body.len())
                            .unwrap_or(u64::MAX)
                            .saturating_add(size);
                        if total > u64::try_from(max).unwrap_or(u64::MAX) {
                            return Err(ResponseError::TooLarge);
                        }
                        at += used;
                        self.phase = ChunkPhase::Data(size);
                    }
                    Ok(httparse::Status::Partial) if rest.len() > MAX_CHUNK_LINE => {
                        return Err(bad);
                    }
                    Ok(httparse::Status::Partial) => break false,
                    Err(_) => return Err(bad),
                },
                ChunkPhase::Data(remaining) => {
                    let take = rest
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    if take == 0 {
                        break false;
                    }
                    self.body
                        .extend_from_slice(rest.get(..take).unwrap_or_default());
                    at += take;
                    let remaining = remaining - take as u64;
                    self.phase = if remaining == 0 {
                        ChunkPhase::DataEnd
                    } else {
                        ChunkPhase::Data(remaining)
                    };
                }
                ChunkPhase::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        at += 2;
                        self.phase = ChunkPhase::Size;
                    }
                    [] | [b'\r'] => break false,
                    _ => return Err(bad),
                },
                // Trailer fields are skipped up to the empty line that ends the message.
                ChunkPhase::Trailers => match rest.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        at += end + 1;
                        if matches!(rest.get(..end), Some([] | [b'\r'])) {
                            break true;
                        }
                    }
                    None => break false,
                },
            }
        };
        self.raw = self.raw.saturating_add(at);
        buf.drain(..at.min(buf.len()));
        // Framing overhead is bounded too: at most as much again as the body limit.
        if self.raw.saturating_add(buf.len()) > max.saturating_mul(2) {
            return Err(ResponseError::TooLarge);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8], max: usize) -> Result<Option<Vec<u8>>, ResponseError> {
        let mut chunked = Chunked::default();
        let mut buf = input.to_vec();
        Ok(chunked.feed(&mut buf, max)?.then_some(chunked.body))
    }

    #[test]
    fn chunked_bodies() {
        let body = b"4\r\nWiki\r\n5;note=x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        assert_eq!(
            decode(body, 100),
            Ok(Some(b"Wikipedia in\r\n\r\nchunks.".to_vec()))
        );
        assert_eq!(decode(b"3\r\nab", 100), Ok(None));
        assert_eq!(decode(b"0\r\nX-T: 1\r\n", 100), Ok(None));
        assert_eq!(decode(b"0\r\nX-T: 1\r\n\r\n", 100), Ok(Some(vec![])));
        assert_eq!(decode(b"65\r\n", 100), Err(ResponseError::TooLarge));
        assert_eq!(decode(b"ffffffffffffffffff\r\n", 100).ok(), None);
        let bad = Err(ResponseError::Malformed("malformed chunked body"));
        assert_eq!(decode(b"g\r\n", 100), bad);
        assert_eq!(decode(b"1\r\nabc", 100), bad);
        assert_eq!(decode(b"3\nabc\r\n", 100), bad); // chunk-size lines need CRLF
        assert_eq!(decode(&[b'1'; MAX_CHUNK_LINE + 1], 100_000), bad);
    }

    #[test]
    fn chunked_input_may_arrive_in_pieces() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n";
        let mut chunked = Chunked::default();
        let mut buf = Vec::new();
        let mut done = false;
        for &byte in body {
            assert!(!done);
            buf.push(byte);
            done = chunked.feed(&mut buf, 100) == Ok(true);
        }
        assert!(done);
        assert_eq!(chunked.body, b"Wikipedia");
    }

    #[test]
    fn framing_rules() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = Headers::new();
            for (k, v) in pairs {
                h.push(*k, *v);
            }
            h
        };
        let kind = |f: Result<Framing, ResponseError>| match f {
            Ok(Framing::Length(n)) => format!("len {n}"),
            Ok(Framing::Chunked(_)) => "chunked".into(),
            Ok(Framing::UntilEof) => "eof".into(),
            Err(e) => e.to_string(),
        };
        let cl = [("Content-Length", "5")];
        assert_eq!(kind(framing(403, &headers(&cl), 10)), "len 5");
        assert_eq!(kind(framing(204, &headers(&cl), 10)), "len 0");
        assert_eq!(kind(framing(304, &headers(&[]), 10)), "len 0");
        assert_eq!(kind(framing(403, &headers(&[]), 10)), "eof");
        let te = [
            ("Transfer-Encoding", "gzip, Chunked"),
            ("Content-Length", "5"),
        ];
        assert_eq!(kind(framing(403, &headers(&te), 10)), "chunked");
        let te = [("Transfer-Encoding", "chunked, gzip")];
        assert_eq!(kind(framing(403, &headers(&te), 10)), "eof");
        let big = [("Content-Length", "11")];
        assert_eq!(
            kind(framing(403, &headers(&big), 10)),
            "handshake response too large"
        );
        let huge = [("Content-Length", "99999999999999999999999")];
        assert!(kind(framing(403, &headers(&huge), 10)).contains("Content-Length"));
    }
}

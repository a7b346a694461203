//! What the benchmark's programs share: the reference servers' command line, the text
//! payloads, and compressing a message as permessage-deflate does.

use flate2::{Compress, Compression, FlushCompress};

/// The `--addr HOST:PORT` of a reference echo server's command line, or `default`.
pub fn parse_addr(default: &str) -> Result<String, String> {
    let mut addr = String::from(default);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: --addr HOST:PORT)"
                ));
            }
        }
    }
    Ok(addr)
}

/// Valid UTF-8 of exactly `size` bytes: [`TEXT_SAMPLE`] cycled, padded with spaces where the
/// next character would not fit.
pub fn text_payload(size: usize) -> String {
    let mut text = String::with_capacity(size);
    for c in TEXT_SAMPLE.chars().cycle() {
        if text.len() + c.len_utf8() > size {
            break;
        }
        text.push(c);
    }
    while text.len() < size {
        text.push(' ');
    }
    text
}

/// The text the load generator and the micro-benchmarks send: about half of its bytes are in
/// two-, three- and four-byte characters, so a UTF-8 validator cannot take an ASCII fast path
/// throughout.
pub const TEXT_SAMPLE: &str =
    "Grüße, κόσμε! 日本語のテキスト → 🦀 WebSocket frames: ünïcödé & ASCII, mixed. ";

/// `payload` as one permessage-deflate message without context takeover: raw deflate ended by a
/// sync flush whose last four bytes are dropped (RFC 7692 §7.2.1).
pub fn deflate_message(payload: &[u8]) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(payload.len() + 64);
    // The flush is complete once the input is consumed and the output has room left.
    while compressor.total_in() as usize != payload.len() || out.len() == out.capacity() {
        out.reserve(64);
        let consumed = compressor.total_in() as usize;
        if compressor
            .compress_vec(&payload[consumed..], &mut out, FlushCompress::Sync)
            .is_err()
        {
            break;
        }
    }
    out.truncate(out.len().saturating_sub(4));
    out
}

/// A masked frame: `first` is its first byte (FIN, RSV bits, opcode), the length uses the
/// shortest encoding (RFC 6455 §5.2) and `payload` is masked with `key`.
pub fn masked_frame(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(first);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

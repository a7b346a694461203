//! What the benchmark's programs share: the reference servers' command line and the text
//! payloads.

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

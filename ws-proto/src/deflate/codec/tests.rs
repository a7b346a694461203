use super::*;

fn kind(window_bits: u8) -> CompressorKind {
    CompressorKind {
        window_bits,
        level: 6,
    }
}

fn compress(payload: &[u8], window_bits: u8) -> Vec<u8> {
    let mut compressor = new_compressor(kind(window_bits));
    let mut out = Vec::new();
    assert!(compress_into(&mut compressor, payload, &mut out));
    out
}

fn inflate(data: &[u8], window_bits: u8, limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut decompressor = new_decompressor(window_bits);
    let mut out = Vec::new();
    inflate_into(
        &mut decompressor,
        data,
        &mut out,
        limit,
        FlushDecompress::None,
    )?;
    inflate_into(
        &mut decompressor,
        &SYNC_TAIL,
        &mut out,
        limit,
        FlushDecompress::Sync,
    )?;
    Ok(out)
}

#[test]
fn the_sync_tail_is_removed_and_put_back() {
    let compressed = compress(b"Hello", 15);
    // RFC 7692 §7.2.3.1.
    assert_eq!(compressed, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(inflate(&compressed, 15, 100), Ok(b"Hello".to_vec()));
}

#[test]
fn every_window_size_round_trips_large_inputs() {
    let text: Vec<u8> = (0..200_000u32)
        .map(|i| {
            b"the quick brown fox jumps over the lazy dog"[(i % 43) as usize] ^ (i / 997) as u8
        })
        .collect();
    for bits in 9..=15 {
        let compressed = compress(&text, bits);
        assert!(
            compressed.len() < text.len() / 2,
            "{bits}: {}",
            compressed.len()
        );
        assert_eq!(
            inflate(&compressed, bits, text.len()),
            Ok(text.clone()),
            "{bits}"
        );
    }
}

#[test]
fn inflating_never_grows_past_the_limit() {
    let zeros = vec![0u8; 10 << 20];
    let compressed = compress(&zeros, 15);
    for limit in [0, 1, 4095, 4096, 100_000, (10 << 20) - 1] {
        let mut decompressor = new_decompressor(15);
        let mut out = Vec::new();
        let result = inflate_into(
            &mut decompressor,
            &compressed,
            &mut out,
            limit,
            FlushDecompress::None,
        );
        assert_eq!(result, Err(InflateError::TooLarge), "{limit}");
        assert!(out.capacity() <= limit + 1, "{limit}: {}", out.capacity());
    }
    assert_eq!(
        inflate(&compressed, 15, 10 << 20).map(|v| v.len()),
        Ok(10 << 20)
    );
}

#[test]
fn garbage_is_invalid() {
    assert_eq!(
        inflate(&[0xff, 0xff, 0xff], 15, 100),
        Err(InflateError::Invalid)
    );
}

#[test]
fn window_bits_outside_zlib_range_are_raised_to_nine() {
    assert_eq!(zlib_window_bits(8), 9);
    assert_eq!(zlib_window_bits(15), 15);
}

#[test]
fn a_nine_bit_compressor_never_reaches_past_256_bytes() {
    // zlib limits match distances to the window size minus 262 (MIN_LOOKAHEAD), so output made
    // with 9 bits decodes with an 8-bit window: a pattern that repeats every 260 bytes is out
    // of its reach, one that repeats every 240 bytes is not.
    let repeating = |period: u32| -> Vec<u8> {
        let unit: Vec<u8> = (0..period).map(|i| (i * 7919 % 251) as u8).collect();
        unit.repeat(20_000 / period as usize)
    };
    let far = repeating(260);
    assert!(compress(&far, 9).len() > far.len() * 9 / 10);
    assert!(compress(&far, 10).len() < far.len() / 10);
    let near = repeating(240);
    assert!(compress(&near, 9).len() < near.len() * 6 / 10);
}

#[test]
fn the_pool_reuses_and_bounds_codecs() {
    let kind = kind(11);
    for _ in 0..POOL_MAX + 3 {
        give_compressor(kind, new_compressor(kind));
    }
    let held = COMPRESSORS
        .lock()
        .iter()
        .filter(|(k, _)| *k == kind)
        .count();
    assert!(held <= POOL_MAX);
    // A pooled compressor was reset: its output equals a fresh one's.
    let mut pooled = take_compressor(kind);
    let mut out = Vec::new();
    assert!(compress_into(&mut pooled, b"Hello", &mut out));
    assert_eq!(out, compress(b"Hello", 11));
}

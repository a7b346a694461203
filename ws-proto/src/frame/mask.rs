//! Payload masking (RFC 6455 §5.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;

/// XORs `buf` with the 4-byte `key`, starting at position `offset` of the key stream (so a payload
/// that arrives in pieces can be unmasked piece by piece). Masking and unmasking are the same
/// operation.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so index 0 of `buf` lines up with key byte `offset % 4`, then XOR eight
    // bytes at a time; the compiler vectorises the wide loop.
    let key = rotate(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Appends `src` to `buf`, XORed with the 4-byte `key` from position `offset` of the key
/// stream: the copy and the masking in one pass over the bytes, instead of a copy followed by
/// [`apply_mask`] over the copy.
pub fn extend_masked(buf: &mut BytesMut, src: &[u8], key: [u8; 4], offset: usize) {
    buf.reserve(src.len());
    let start = buf.len();
    mask_into(&mut buf.spare_capacity_mut()[..src.len()], src, key, offset);
    // SAFETY: `mask_into` initialised the first `src.len()` bytes of the spare capacity, which
    // `reserve` made at least that long.
    unsafe { buf.set_len(start + src.len()) };
}

/// Writes `src` XORed with the key stream into `dst` (of the same length), eight bytes at a time.
fn mask_into(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut out = dst.chunks_exact_mut(8);
    let mut input = src.chunks_exact(8);
    for (out, input) in (&mut out).zip(&mut input) {
        let mut word = [0u8; 8];
        word.copy_from_slice(input);
        let masked = (u64::from_ne_bytes(word) ^ wide).to_ne_bytes();
        for (out, byte) in out.iter_mut().zip(masked) {
            out.write(byte);
        }
    }
    let tail = out.into_remainder().iter_mut().zip(input.remainder());
    for (i, (out, byte)) in tail.enumerate() {
        out.write(byte ^ key[i & 3]);
    }
}

fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let s = offset & 3;
    [key[s], key[(s + 1) & 3], key[(s + 2) & 3], key[(s + 3) & 3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn extend_masked_matches_the_rfc_definition_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
                let mut buf = BytesMut::from(&b"head"[..]);
                extend_masked(&mut buf, &data, key, offset);
                let mut expected = data.clone();
                naive(&mut expected, key, offset);
                assert_eq!(&buf[..4], b"head");
                assert_eq!(&buf[4..], &expected[..], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn matches_the_rfc_definition_for_every_length_and_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            for offset in 0..8 {
                let data: Vec<u8> = (0..len as u8).collect();
                let (mut fast, mut slow) = (data.clone(), data.clone());
                apply_mask(&mut fast, key, offset);
                naive(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn rfc_6455_section_5_7_masked_hello() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}

//! Compressing and inflating messages (RFC 7692 §7.2), with codecs allocated lazily and, for a
//! direction without context takeover, borrowed from a pool for one message at a time.

use std::sync::{Mutex, MutexGuard};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, DeflateParams};
use crate::Role;
use crate::frame::apply_mask;

/// The end of a sync flush: removed from every compressed message (§7.2.1) and put back before
/// inflating one (§7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Idle codecs the pool keeps per kind; more are dropped when given back. A thread compresses
/// one message at a time, so this covers a few busy threads.
const POOL_MAX: usize = 4;

/// Buffer capacity kept between messages; a larger one is released after its message.
const RETAIN: usize = 64 << 10;

/// The first step a growing inflate buffer takes.
const INFLATE_START: usize = 4 << 10;

/// Approximate heap bytes of a `zlib-rs` compressor (at 15 window bits: 64 KiB of window,
/// 64 KiB of chains, a 128 KiB hash table and 64 KiB of pending output; about 194 KiB at 9
/// bits) and of a decompressor (a 32 KiB window whatever the bits, plus state), for
/// [`Deflate::capacity`].
const COMPRESSOR_BYTES: usize = 320 << 10;
const DECOMPRESSOR_BYTES: usize = 42 << 10;

/// What went wrong inflating a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Not valid deflate data (1007).
    Invalid,
    /// The message inflates past the size limit (1009).
    TooLarge,
}

/// One connection's permessage-deflate state, from its own point of view.
pub(crate) struct Deflate {
    params: DeflateParams,
    tx: Tx,
    rx: Rx,
}

/// Our direction.
struct Tx {
    kind: CompressorKind,
    takeover: bool,
    threshold: usize,
    /// The compressor, kept between messages only with context takeover.
    kept: Option<Compress>,
    /// Compressed output of the message being sent.
    scratch: Vec<u8>,
}

/// The peer's direction.
struct Rx {
    window_bits: u8,
    takeover: bool,
    /// With context takeover, keep the decompressor between messages
    /// ([`DeflateConfig::keep_decompressor`]) rather than only `history`.
    keep_decompressor: bool,
    /// The decompressor: borrowed from the pool for one message, or kept.
    current: Option<Decompress>,
    /// With context takeover and a decompressor not kept, what the next message may refer back
    /// to (§7.2.1): the last bytes the peer's messages inflated to, up to the window size. It
    /// is all an idle connection holds of the peer's context (a decompressor allocates about
    /// 42 KiB whatever the window), and the next message's decompressor gets it as its
    /// dictionary.
    history: History,
    /// A `BFINAL` block ended the stream: the next message starts a new one.
    stream_ended: bool,
    /// The unmasked input of a frame being inflated.
    scratch: Vec<u8>,
}

/// What makes two compressors interchangeable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CompressorKind {
    window_bits: u8,
    level: u8,
}

static COMPRESSORS: Pool<CompressorKind, Compress> = Pool::new();
static DECOMPRESSORS: Pool<u8, Decompress> = Pool::new();

impl Deflate {
    /// The state for a connection in `role` that agreed on `params`; `config` gives the level
    /// and threshold. Allocates no codec.
    pub(crate) fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        let config = config.clamped();
        let (ours, theirs) = match role {
            Role::Server => (
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
            ),
            Role::Client => (
                (
                    params.client_max_window_bits,
                    params.client_no_context_takeover,
                ),
                (
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ),
            ),
        };
        Deflate {
            params,
            tx: Tx {
                kind: CompressorKind {
                    window_bits: zlib_window_bits(ours.0),
                    level: config.level,
                },
                takeover: !ours.1,
                threshold: config.threshold,
                kept: None,
                scratch: Vec::new(),
            },
            rx: Rx {
                window_bits: zlib_window_bits(theirs.0),
                takeover: !theirs.1,
                keep_decompressor: config.keep_decompressor,
                current: None,
                history: History::default(),
                stream_ended: false,
                scratch: Vec::new(),
            },
        }
    }

    /// The agreed parameters.
    pub(crate) fn params(&self) -> DeflateParams {
        self.params
    }

    /// Whether a message of `len` bytes is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.tx.threshold
    }

    /// The compressor settings, when messages are compressed independently of each other (no
    /// context takeover): equal kinds produce equal output for equal input.
    pub(crate) fn independent_kind(&self) -> Option<CompressorKind> {
        (!self.tx.takeover).then_some(self.tx.kind)
    }

    /// Heap bytes held between messages: kept codecs and buffers.
    pub(crate) fn capacity(&self) -> usize {
        self.tx.kept.as_ref().map_or(0, |_| COMPRESSOR_BYTES)
            + self.rx.current.as_ref().map_or(0, |_| DECOMPRESSOR_BYTES)
            + self.rx.history.buf.capacity()
            + self.tx.scratch.capacity()
            + self.rx.scratch.capacity()
    }

    // ------------------------------------------------------------------------------- send

    /// Compresses a whole message (§7.2.1), returning the payload to send with RSV1, or `None`
    /// to send the message as it is: without context takeover when compressing does not make it
    /// smaller, or if the compressor fails (it is then replaced, so no state is shared with the
    /// peer that it did not see). Hand the buffer back with [`recycle`](Self::recycle) once
    /// copied.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let tx = &mut self.tx;
        if payload.is_empty() {
            // Nothing to gain, and the compressor is left alone: a second sync flush without
            // input is an error in zlib, which would cost the compressor and its context.
            return None;
        }
        let mut compressor = match tx.kept.take() {
            Some(kept) => kept,
            None if tx.takeover => new_compressor(tx.kind),
            None => take_compressor(tx.kind),
        };
        tx.scratch.clear();
        let ok = compress_into(&mut compressor, payload, &mut tx.scratch);
        if tx.takeover {
            if ok {
                tx.kept = Some(compressor);
            }
        } else {
            give_compressor(tx.kind, compressor);
        }
        if !ok || (!tx.takeover && tx.scratch.len() >= payload.len()) {
            return None;
        }
        Some(std::mem::take(&mut tx.scratch))
    }

    /// Takes back the buffer [`compress`](Self::compress) returned, for the next message, unless
    /// a large message made it large.
    pub(crate) fn recycle(&mut self, mut buffer: Vec<u8>) {
        if buffer.capacity() <= RETAIN {
            buffer.clear();
            self.tx.scratch = buffer;
        }
    }

    /// Compresses `payload` the way a connection of `kind` without context takeover would: for
    /// sending one message on many connections.
    pub(crate) fn compress_independent(kind: CompressorKind, payload: &[u8]) -> Option<Vec<u8>> {
        let mut compressor = take_compressor(kind);
        let mut out = Vec::new();
        let ok = compress_into(&mut compressor, payload, &mut out);
        give_compressor(kind, compressor);
        (ok && out.len() < payload.len()).then_some(out)
    }

    // ---------------------------------------------------------------------------- receive

    /// Inflates part of a compressed message's payload, as it arrives, appending to `out`, which
    /// may not grow past `limit` bytes. Input under a `mask` (key and offset of its first byte
    /// in the frame) is unmasked first (RFC 6455 §5.3).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        mask: Option<([u8; 4], usize)>,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let rx = &mut self.rx;
        if rx.stream_ended {
            // Bytes after a final block belong to no stream (RFC 1951 §3.2.3).
            return Ok(());
        }
        let decompressor = match &mut rx.current {
            Some(current) => current,
            None => {
                let mut fresh = take_decompressor(rx.window_bits);
                // Raw inflate takes a dictionary right after a reset: the earlier messages'
                // bytes, so back references into them resolve as if the stream had gone on.
                // Given in two pieces, oldest first: each call appends to the window.
                let (older, newer) = rx.history.pieces();
                for piece in [older, newer] {
                    if !piece.is_empty() && fresh.set_dictionary(piece).is_err() {
                        return Err(InflateError::Invalid);
                    }
                }
                rx.current.insert(fresh)
            }
        };
        let input = match mask {
            Some((key, offset)) => {
                rx.scratch.clear();
                rx.scratch.extend_from_slice(input);
                apply_mask(&mut rx.scratch, key, offset);
                &rx.scratch[..]
            }
            None => input,
        };
        let ended = inflate_into(decompressor, input, out, limit, FlushDecompress::None);
        rx.stream_ended = ended?;
        Ok(())
    }

    /// Ends a compressed message: inflates the sync-flush tail the sender removed (§7.2.2).
    /// With context takeover it keeps the decompressor, or records the end of `out` (the whole
    /// message) in the history; the decompressor not kept goes back to the pool.
    pub(crate) fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let rx = &mut self.rx;
        let result = match (&mut rx.current, rx.stream_ended) {
            (Some(decompressor), false) => {
                inflate_into(decompressor, &SYNC_TAIL, out, limit, FlushDecompress::Sync)
            }
            // An empty message (no payload at all) or one whose stream ended.
            _ => Ok(false),
        };
        // The tail's first byte may be what completes a final block.
        let result = result.map(|ended| rx.stream_ended |= ended);
        // Context to carry over, unless none was agreed, a final block ended the stream (the
        // next message starts a new one) or the data was bad.
        let carry = result.is_ok() && rx.takeover && !rx.stream_ended;
        if carry && rx.keep_decompressor {
            rx.history = History::default();
        } else {
            if carry {
                rx.history.record(out, 1 << rx.window_bits);
            } else {
                rx.history = History::default();
            }
            // A failed decompressor is dropped, not pooled.
            if let (Ok(()), Some(decompressor)) = (&result, rx.current.take()) {
                give_decompressor(rx.window_bits, decompressor);
            }
            rx.current = None;
        }
        rx.stream_ended = false;
        if rx.scratch.capacity() > RETAIN {
            rx.scratch = Vec::new();
        }
        result
    }

    /// Drops the state of a message cut short (the connection is ending).
    pub(crate) fn abandon_message(&mut self) {
        self.rx.current = None;
        self.rx.history = History::default();
        self.rx.stream_ended = false;
        self.rx.scratch = Vec::new();
    }
}

/// The last bytes a stream produced, up to its window size, in a ring.
#[derive(Default)]
struct History {
    buf: Vec<u8>,
    /// Where the oldest byte is once the ring is full.
    start: usize,
}

impl History {
    /// Records `data` as the newest bytes, keeping the last `size`.
    fn record(&mut self, mut data: &[u8], size: usize) {
        if data.len() >= size {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - size..]);
            self.start = 0;
            return;
        }
        if self.buf.len() < size {
            let take = (size - self.buf.len()).min(data.len());
            // Grows by doubling, never past the window.
            let want = self.buf.len() + take;
            if want > self.buf.capacity() {
                let target = (self.buf.capacity() * 2).clamp(want, size);
                self.buf.reserve_exact(target - self.buf.len());
            }
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        // Full: the newest bytes overwrite the oldest.
        while !data.is_empty() {
            let n = (self.buf.len() - self.start).min(data.len());
            self.buf[self.start..self.start + n].copy_from_slice(&data[..n]);
            self.start = (self.start + n) % self.buf.len();
            data = &data[n..];
        }
    }

    /// The bytes in two pieces, oldest first.
    fn pieces(&self) -> (&[u8], &[u8]) {
        let (newer, older) = self.buf.split_at(self.start);
        (older, newer)
    }
}

/// flate2 (like zlib since 1.2.9) takes 9 to 15: a 9-bit deflate window never reaches back more
/// than 512 − 262 = 250 bytes, so its output is valid for a peer that allowed 8 bits, and a
/// 9-bit inflate window accepts anything an 8-bit one does.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Deflates `payload` with a sync flush into `out`, without the flush's last four bytes.
fn compress_into(compressor: &mut Compress, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.reserve(payload.len() / 2 + 64);
    let mut input = payload;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let before = compressor.total_in();
        if compressor
            .compress_vec(input, out, FlushCompress::Sync)
            .is_err()
        {
            return false;
        }
        let consumed = usize::try_from(compressor.total_in() - before).unwrap_or(input.len());
        input = input.get(consumed..).unwrap_or_default();
        // A sync flush is complete once the compressor stops short of filling the buffer.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&SYNC_TAIL) {
        out.truncate(out.len() - SYNC_TAIL.len());
        true
    } else {
        false
    }
}

/// Inflates `input` into `out`, growing it by doubling up to `limit + 1` bytes so that a bomb
/// is caught before anything larger is allocated. Returns whether the stream ended.
fn inflate_into(
    decompressor: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    flush: FlushDecompress,
) -> Result<bool, InflateError> {
    loop {
        if out.len() == out.capacity() {
            let most = limit.saturating_add(1);
            let target = out
                .capacity()
                .saturating_mul(2)
                .max(INFLATE_START)
                .min(most);
            if target <= out.len() {
                return Err(InflateError::TooLarge);
            }
            out.reserve_exact(target - out.len());
        }
        let before = decompressor.total_in();
        let status = decompressor.decompress_vec(input, out, flush);
        // Too much output counts before bad data found in the same call: the bytes before the
        // bad ones already broke the limit.
        if out.len() > limit {
            return Err(InflateError::TooLarge);
        }
        let status = status.map_err(|_| InflateError::Invalid)?;
        let consumed = usize::try_from(decompressor.total_in() - before).unwrap_or(input.len());
        input = input.get(consumed..).unwrap_or_default();
        if status == Status::StreamEnd {
            return Ok(true);
        }
        // Room left in `out` means the decompressor wants more input.
        if out.len() < out.capacity() {
            return Ok(false);
        }
    }
}

/// Idle codecs of one type, each with the settings it was made with; at most [`POOL_MAX`].
struct Pool<K, T>(Mutex<Vec<(K, T)>>);

impl<K: Copy + PartialEq, T> Pool<K, T> {
    const fn new() -> Self {
        Pool(Mutex::new(Vec::new()))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(K, T)>> {
        // The pool holds only reset codecs: a panic elsewhere cannot leave one half-used.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An idle codec made with `key`, or a new one.
    fn take(&self, key: K, make: impl FnOnce(K) -> T) -> T {
        let mut pool = self.lock();
        match pool.iter().rposition(|(k, _)| *k == key) {
            Some(at) => pool.swap_remove(at).1,
            None => {
                drop(pool);
                make(key)
            }
        }
    }

    /// Keeps a reset codec for the next message, unless the pool is full.
    fn give(&self, key: K, codec: T) {
        let mut pool = self.lock();
        if pool.len() < POOL_MAX {
            pool.push((key, codec));
        }
    }
}

fn new_compressor(kind: CompressorKind) -> Compress {
    Compress::new_with_window_bits(
        Compression::new(u32::from(kind.level)),
        false,
        kind.window_bits,
    )
}

fn take_compressor(kind: CompressorKind) -> Compress {
    COMPRESSORS.take(kind, new_compressor)
}

fn give_compressor(kind: CompressorKind, mut compressor: Compress) {
    compressor.reset();
    COMPRESSORS.give(kind, compressor);
}

fn new_decompressor(window_bits: u8) -> Decompress {
    Decompress::new_with_window_bits(false, window_bits)
}

fn take_decompressor(window_bits: u8) -> Decompress {
    DECOMPRESSORS.take(window_bits, new_decompressor)
}

fn give_decompressor(window_bits: u8, mut decompressor: Decompress) {
    decompressor.reset(false);
    DECOMPRESSORS.give(window_bits, decompressor);
}

#[cfg(test)]
mod tests;

//! The queue of bytes waiting for the socket.
//!
//! Small frames are appended to one growing buffer so many of them leave in one write; large
//! shared payloads ([`Bytes`]) are queued as their own chunks without copying. The caller peeks at
//! the front, writes what the socket takes and consumes exactly that much, so a partial write
//! never loses a byte.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN, extend_masked};

/// Most a released tail is grown to at once for the next burst.
const REGROW_MAX: usize = 256 << 10;

#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Chunks that come before `tail`, in order.
    chunks: VecDeque<Bytes>,
    /// The newest bytes; frames are encoded straight into it.
    tail: BytesMut,
    /// The largest the tail's allocation has been since it was last emptied. Consuming advances
    /// the tail past written bytes, after which its own capacity no longer tells how large the
    /// allocation behind it is.
    tail_peak: usize,
    /// What the tail held at its largest before it was last released: a busy connection's
    /// next burst reserves that much at once instead of growing (and copying) step by step, so
    /// releasing between bursts costs one allocation, not a series of them.
    regrow: usize,
    len: usize,
}

impl Output {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory the queue holds: its chunks and the tail's capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum::<usize>() + self.tail.capacity().max(self.tail_peak)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encodes a frame; with a mask key the payload is masked in the queue (RFC 6455 §5.3).
    pub(crate) fn push_frame(&mut self, header: FrameHeader, payload: &[u8]) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        let need = head_len + payload.len();
        if self.tail.is_empty() && self.tail.capacity() < need {
            self.tail.reserve(need.max(self.regrow));
        }
        self.tail.reserve(need);
        self.tail_peak = self.tail_peak.max(self.tail.capacity());
        self.tail.extend_from_slice(&head[..head_len]);
        match header.mask {
            Some(key) => extend_masked(&mut self.tail, payload, key, 0),
            None => self.tail.extend_from_slice(payload),
        }
        self.len += head_len + payload.len();
    }

    /// Encodes an unmasked frame whose payload is queued as it is, without copying it: the
    /// header goes into the tail, the payload follows as its own chunk.
    pub(crate) fn push_frame_shared(&mut self, header: FrameHeader, payload: Bytes) {
        debug_assert!(header.mask.is_none(), "a masked payload must be copied");
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.push_slice(&head[..head_len]);
        self.push_bytes(payload);
    }

    /// Queues bytes that are already encoded, without copying them.
    pub(crate) fn push_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.len += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// Queues raw bytes by copying them (handshake responses).
    pub(crate) fn push_slice(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.tail_peak = self.tail_peak.max(self.tail.capacity());
        self.len += bytes.len();
    }

    /// The bytes to write next: a prefix of the queue, empty when nothing is queued.
    pub(crate) fn front(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.tail,
        }
    }

    /// The bytes to write next as a shared buffer (no copy): the front chunk, after moving the
    /// tail into the chunk list if it is all there is.
    pub(crate) fn front_shared(&mut self) -> Bytes {
        if self.chunks.is_empty() && !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.chunks.front().cloned().unwrap_or_default()
    }

    /// Fills `slices` with the queued bytes in order, for a vectored write.
    pub(crate) fn io_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let all = self.chunks.iter().map(|c| &c[..]).chain(tail);
        let mut n = 0;
        for (slot, bytes) in slices.iter_mut().zip(all) {
            *slot = IoSlice::new(bytes);
            n += 1;
        }
        n
    }

    /// Drops `n` bytes from the front: the caller wrote them.
    ///
    /// # Panics
    /// If `n` is more than is queued: that is a bug in the caller, which can only have written
    /// bytes it was given.
    pub(crate) fn consume(&mut self, mut n: usize) {
        assert!(
            n <= self.len,
            "consume_output({n}) with only {} bytes queued",
            self.len
        );
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(chunk) if chunk.len() <= n => {
                    n -= chunk.len();
                    self.chunks.pop_front();
                }
                Some(chunk) => {
                    chunk.advance(n);
                    n = 0;
                }
                None => {
                    self.tail.advance(n);
                    n = 0;
                }
            }
        }
        // A tail written out in full is released, so an idle connection holds no output buffer
        // (not even the small one its last message needed). A busy connection pays for it one
        // allocation per burst: the next burst reserves the last one's size at once.
        if self.tail.is_empty() && self.tail_peak > 0 {
            self.regrow = self.tail_peak.min(REGROW_MAX);
            self.tail = BytesMut::new();
            self.tail_peak = 0;
        }
    }

    pub(crate) fn clear(&mut self) {
        *self = Output::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn header(len: usize) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            payload_len: len as u64,
        }
    }

    #[test]
    fn partial_consumes_keep_every_byte_in_order() {
        let mut out = Output::default();
        out.push_frame(header(3), b"abc");
        out.push_bytes(Bytes::from_static(b"shared"));
        out.push_slice(b"xyz");
        let mut written = Vec::new();
        while !out.is_empty() {
            let front = out.front();
            let n = front.len().min(2);
            written.extend_from_slice(&front[..n]);
            out.consume(n);
        }
        assert_eq!(written, b"\x82\x03abcsharedxyz");
    }

    #[test]
    fn a_written_out_tail_is_released_and_the_next_burst_reserves_its_size_at_once() {
        let mut out = Output::default();
        for _ in 0..100 {
            out.push_frame(header(16), &[7; 16]);
        }
        let burst = out.capacity();
        assert!(burst >= 100 * 18, "{burst}");
        let n = out.len();
        out.consume(n - 1);
        assert_eq!(out.capacity(), burst, "a byte is still queued");
        out.consume(1);
        assert_eq!(
            out.capacity(),
            0,
            "an idle connection holds no output buffer"
        );
        out.push_frame(header(16), &[7; 16]);
        assert!(
            out.tail.capacity() >= 100 * 18,
            "regrown at once for a like burst"
        );
    }

    #[test]
    fn vectored_view_covers_everything() {
        let mut out = Output::default();
        out.push_slice(b"ab");
        out.push_bytes(Bytes::from_static(b"cd"));
        out.push_slice(b"ef");
        let mut slices = [IoSlice::new(&[]); 8];
        let n = out.io_slices(&mut slices);
        let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(joined, b"abcdef");
        assert_eq!(out.len(), 6);
    }
}

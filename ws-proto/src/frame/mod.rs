//! Frame headers: opcodes, parsing and encoding (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

mod mask;

pub use mask::{apply_mask, extend_masked};

use crate::ProtocolError;

/// The largest header: 2 fixed bytes, 8 of extended length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: first frame of a text message.
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x8: Close.
    Close,
    /// 0x9: Ping.
    Ping,
    /// 0xA: Pong.
    Pong,
}

impl OpCode {
    /// Decodes the low nibble of the first header byte; reserved opcodes are a protocol error.
    pub fn from_u8(bits: u8) -> Result<OpCode, ProtocolError> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong (opcodes with the high bit set, RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 in the low three bits.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// How many header bytes follow from the first two: 2 to 14.
    pub fn len_from_prefix(second_byte: u8) -> usize {
        let ext = match second_byte & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + if second_byte & 0x80 != 0 { 4 } else { 0 }
    }

    /// Checks the rules visible in the first two bytes, so a bad frame fails as early as possible:
    /// reserved opcodes and, for control frames, FIN and the 125-byte limit (RFC 6455 §5.2,
    /// §5.5). RSV and masking rules depend on the connection and are checked by it.
    pub fn check_prefix(first: u8, second: u8) -> Result<OpCode, ProtocolError> {
        let opcode = OpCode::from_u8(first & 0x0f)?;
        if opcode.is_control() {
            if first & 0x80 == 0 {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if usize::from(second & 0x7f) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        Ok(opcode)
    }

    /// Parses a complete header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` is too short to hold the whole header, otherwise the header
    /// and its length in bytes. Non-minimal length encodings are accepted (the minimal-length
    /// rule of §5.2 binds senders); a 64-bit length with the top bit set is not.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [first, second, ..] = *buf else {
            return Ok(None);
        };
        let opcode = Self::check_prefix(first, second)?;
        let header_len = Self::len_from_prefix(second);
        if buf.len() < header_len {
            return Ok(None);
        }
        let (payload_len, mask_at) = match second & 0x7f {
            126 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(len);
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidPayloadLength);
                }
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let mask = (second & 0x80 != 0).then(|| {
            [
                buf[mask_at],
                buf[mask_at + 1],
                buf[mask_at + 2],
                buf[mask_at + 3],
            ]
        });
        let header = FrameHeader {
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x7,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// Encodes the header into `out`, returning its length. Lengths use the minimal encoding.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            n @ 0..=125 => {
                out[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xffff => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(header: FrameHeader) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut buf);
        assert_eq!(FrameHeader::len_from_prefix(buf[1]), n);
        assert_eq!(FrameHeader::parse(&buf[..n]), Ok(Some((header, n))));
        for short in 0..n {
            assert_eq!(FrameHeader::parse(&buf[..short]), Ok(None));
        }
    }

    #[test]
    fn header_roundtrips_at_length_boundaries() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x1_0000, u64::MAX >> 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                roundtrip(FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                });
            }
        }
        roundtrip(FrameHeader {
            fin: false,
            rsv: 5,
            opcode: OpCode::Continuation,
            mask: None,
            payload_len: 3,
        });
    }

    #[test]
    fn rfc_6455_section_5_7_headers() {
        // Unmasked "Hello", masked "Hello", 256-byte and 64 KiB binary frames.
        let cases: [(&[u8], FrameHeader); 4] = [
            (
                &[0x81, 0x05],
                FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Text,
                    mask: None,
                    payload_len: 5,
                },
            ),
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Text,
                    mask: Some([0x37, 0xfa, 0x21, 0x3d]),
                    payload_len: 5,
                },
            ),
            (
                &[0x82, 0x7e, 0x01, 0x00],
                FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask: None,
                    payload_len: 256,
                },
            ),
            (
                &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
                FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask: None,
                    payload_len: 65536,
                },
            ),
        ];
        for (bytes, header) in cases {
            assert_eq!(FrameHeader::parse(bytes), Ok(Some((header, bytes.len()))));
        }
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(
            FrameHeader::parse(&[0x83, 0x00]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::parse(&[0x8b, 0x00]),
            Err(ProtocolError::ReservedOpcode(0xb))
        );
        assert_eq!(
            FrameHeader::parse(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 0x7e]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }
}

//! Errors, named by who is at fault.
//!
//! [`ProtocolError`] is the *peer's* fault: it is never returned from a call, it fails the
//! connection with the close code it maps to and is reported in the final
//! [`CloseOutcome`](crate::CloseOutcome). [`Error`] is the *caller's* misuse of the API and is
//! returned as a `Result` error; the connection is left as it was.

use std::fmt;

use crate::CloseCode;

/// A rule of RFC 6455 the peer broke, or a limit it exceeded. Each variant maps to exactly one
/// close code ([`ProtocolError::close_code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1–3 set without a negotiated extension that defines them (§5.2), or RSV1 where
    /// permessage-deflate does not allow it: on a control frame or a continuation (RFC 7692 §6).
    ReservedBitsSet,
    /// An opcode reserved for future use: 0x3–0x7 or 0xB–0xF (§5.2).
    ReservedOpcode(u8),
    /// A server received an unmasked frame (§5.1).
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    MaskedFrame,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    InvalidPayloadLength,
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A control frame with more than 125 payload bytes (§5.5).
    ControlFrameTooLong,
    /// A continuation frame with no message in progress (§5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message is in progress (§5.4).
    ExpectedContinuation,
    /// A text message that is not valid UTF-8 (§5.6, §8.1): close code 1007.
    InvalidUtf8,
    /// A one-byte Close payload (§5.5.1).
    ClosePayloadTooShort,
    /// A Close frame whose code may not be sent (§7.4.1, §7.4.2).
    InvalidCloseCode(u16),
    /// A Close reason that is not valid UTF-8 (§5.5.1): close code 1007.
    InvalidCloseReason,
    /// A frame larger than [`Config::max_frame_size`](crate::Config::max_frame_size): 1009.
    FrameTooLarge,
    /// A message larger than [`Config::max_message_size`](crate::Config::max_message_size): 1009.
    MessageTooLarge,
    /// A message with more frames than [`Config::max_fragments`](crate::Config::max_fragments):
    /// 1009.
    TooManyFragments,
    /// A compressed message that is not valid deflate data (RFC 7692 §8): close code 1007.
    InvalidCompressedData,
    /// No answer to a keepalive Ping within [`Config::pong_timeout`](crate::Config::pong_timeout):
    /// 1011.
    KeepaliveTimeout,
}

impl ProtocolError {
    /// The close code this violation is answered with (RFC 6455 §7.4.1).
    pub fn close_code(self) -> CloseCode {
        use ProtocolError::*;
        match self {
            InvalidUtf8 | InvalidCloseReason | InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            FrameTooLarge | MessageTooLarge | TooManyFragments => CloseCode::MESSAGE_TOO_BIG,
            KeepaliveTimeout => CloseCode::INTERNAL_ERROR,
            ReservedBitsSet
            | ReservedOpcode(_)
            | UnmaskedFrame
            | MaskedFrame
            | InvalidPayloadLength
            | FragmentedControlFrame
            | ControlFrameTooLong
            | UnexpectedContinuation
            | ExpectedContinuation
            | ClosePayloadTooShort
            | InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason suitable for the Close frame sent to the peer.
    pub fn reason(self) -> &'static str {
        use ProtocolError::*;
        match self {
            ReservedBitsSet => "reserved bits set",
            ReservedOpcode(_) => "reserved opcode",
            UnmaskedFrame => "unmasked client frame",
            MaskedFrame => "masked server frame",
            InvalidPayloadLength => "invalid payload length",
            FragmentedControlFrame => "fragmented control frame",
            ControlFrameTooLong => "control frame too long",
            UnexpectedContinuation => "continuation without a message",
            ExpectedContinuation => "expected a continuation frame",
            InvalidUtf8 => "invalid UTF-8 in text message",
            ClosePayloadTooShort => "one-byte close payload",
            InvalidCloseCode(_) => "invalid close code",
            InvalidCloseReason => "invalid UTF-8 in close reason",
            FrameTooLarge => "frame too large",
            MessageTooLarge => "message too large",
            TooManyFragments => "too many fragments",
            InvalidCompressedData => "invalid compressed data",
            KeepaliveTimeout => "keepalive timeout",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A call the connection cannot carry out in its current state. Nothing was queued; the
/// connection is unchanged and may be used as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closing or closed: data can no longer be sent (RFC 6455 §5.5.1), or a
    /// second Close was asked for. Wait for [`Event::Closed`](crate::Event::Closed).
    Closed,
    /// The output queue holds [`Config::max_output_buffer`](crate::Config::max_output_buffer)
    /// bytes or more. Write out and [`consume_output`](crate::Connection::consume_output), then
    /// retry.
    OutputFull,
    /// A close code that may not be sent (RFC 6455 §7.4): only 1000–1003, 1007–1014 and
    /// 3000–4999 can be.
    InvalidCloseCode(u16),
    /// A control payload (Ping, Pong, or Close code plus reason) over 125 bytes (§5.5).
    ControlPayloadTooLong,
    /// A whole message was sent while a fragmented one is still being sent (§5.4 forbids
    /// interleaving data messages); finish it with a final fragment first.
    MessageInProgress,
    /// A fragment of the other data type than the message being sent.
    FragmentTypeMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("the connection is closing or closed"),
            Error::OutputFull => f.write_str("the output queue is full"),
            Error::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            Error::ControlPayloadTooLong => f.write_str("control payload over 125 bytes"),
            Error::MessageInProgress => f.write_str("a fragmented message is being sent"),
            Error::FragmentTypeMismatch => {
                f.write_str("fragment type differs from the message being sent")
            }
        }
    }
}

impl std::error::Error for Error {}

//! Close codes (RFC 6455 §7.4), Close frame payloads (§5.5.1) and the final outcome of a
//! connection.

use std::fmt;

use crate::ProtocolError;

/// A close status code (RFC 6455 §7.4).
///
/// Codes 1005, 1006 and 1015 are *local-only*: they describe what happened and may be reported,
/// but they never appear on the wire (§7.4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005 (local only): the peer's Close frame carried no status code.
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006 (local only): the connection ended without a Close frame.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type, such as invalid UTF-8 in a text message.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message that violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid response upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015 (local only): the TLS handshake failed.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether the code may be *received* in a Close frame (RFC 6455 §7.4.1 and §7.4.2, and the
    /// IANA registry): 1000–1003, 1007–1014 and 3000–4999. Everything else, including the
    /// local-only 1005, 1006 and 1015, makes a Close frame invalid (1002).
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether the code is one that is only ever reported locally (1005, 1006, 1015).
    pub fn is_local_only(self) -> bool {
        matches!(self.0, 1005 | 1006 | 1015)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// The status code and reason carried by a Close frame (RFC 6455 §5.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8 (a control payload is at most 125 bytes).
    pub reason: String,
}

impl CloseFrame {
    /// Parses a received Close payload (RFC 6455 §5.5.1): empty means "no status code", one byte
    /// is invalid, otherwise a big-endian code that must be valid on the wire followed by a
    /// UTF-8 reason.
    pub(crate) fn parse(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::ClosePayloadTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(Some(CloseFrame {
                    code,
                    reason: reason.to_owned(),
                }))
            }
        }
    }
}

/// Who started the close handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseInitiator {
    /// This endpoint called [`Connection::close`](crate::Connection::close).
    Local,
    /// The peer sent a Close frame first.
    Remote,
    /// This endpoint failed the connection because the peer broke the protocol or a limit, or the
    /// keepalive timed out (RFC 6455 §7.1.7).
    Failure,
    /// Nobody: the transport ended (EOF, timeout, abort) before any Close frame.
    Transport,
}

/// The Close frame the peer sent, if any (RFC 6455 §5.5.1).
///
/// ```
/// use ws_proto::{CloseCode, CloseFrame, PeerClose};
///
/// fn describe(received: &PeerClose) -> String {
///     match received {
///         PeerClose::NotReceived => "the peer vanished without a Close".into(),
///         PeerClose::WithoutCode => "the peer closed without a code (1005)".into(),
///         PeerClose::Frame(CloseFrame { code, reason }) => format!("{}: {reason}", code.0),
///     }
/// }
///
/// let bye = PeerClose::Frame(CloseFrame { code: CloseCode::GOING_AWAY, reason: "bye".into() });
/// assert_eq!(describe(&bye), "1001: bye");
/// assert!(!PeerClose::default().is_received());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PeerClose {
    /// No Close frame arrived.
    #[default]
    NotReceived,
    /// A Close frame with no status code: reported as 1005 (RFC 6455 §7.1.5).
    WithoutCode,
    /// A Close frame with a status code and a reason (possibly empty).
    Frame(CloseFrame),
}

impl PeerClose {
    /// Whether a Close frame arrived, with or without a code.
    pub fn is_received(&self) -> bool {
        !matches!(self, PeerClose::NotReceived)
    }
}

impl From<Option<CloseFrame>> for PeerClose {
    /// A parsed Close payload: `None` is a frame without a status code.
    fn from(parsed: Option<CloseFrame>) -> Self {
        parsed.map_or(PeerClose::WithoutCode, PeerClose::Frame)
    }
}

/// How a connection ended, reported once in [`Event::Closed`](crate::Event::Closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseOutcome {
    /// The Close frame this endpoint sent, if any.
    pub sent: Option<CloseFrame>,
    /// The Close frame the peer sent, if any.
    pub received: PeerClose,
    /// Who started the closing.
    pub initiator: CloseInitiator,
    /// The peer misbehaviour that failed the connection, if that is how it ended.
    pub error: Option<ProtocolError>,
    /// Whether both Close frames were exchanged before the transport ended (RFC 6455 §7.1.4,
    /// "closed cleanly").
    pub clean: bool,
    /// Whether the closing ran out of [`Config::close_timeout`](crate::Config::close_timeout):
    /// the peer did not finish the close handshake (its Close frame or the end of its stream) in
    /// time, and the transport was dropped (RFC 6455 §7.1.1).
    pub timed_out: bool,
}

impl CloseOutcome {
    /// The close code to report (RFC 6455 §7.1.5): the peer's code if its Close frame carried
    /// one, 1005 if its Close frame had none, 1006 if no Close frame arrived at all.
    pub fn code(&self) -> CloseCode {
        match &self.received {
            PeerClose::Frame(frame) => frame.code,
            PeerClose::WithoutCode => CloseCode::NO_STATUS_RECEIVED,
            PeerClose::NotReceived => CloseCode::ABNORMAL,
        }
    }

    /// The peer's close reason, empty when it sent none (RFC 6455 §7.1.6).
    pub fn reason(&self) -> &str {
        match &self.received {
            PeerClose::Frame(frame) => &frame.reason,
            PeerClose::WithoutCode | PeerClose::NotReceived => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_validity_follows_rfc_6455_section_7_4() {
        let valid: Vec<u16> = (0..=5000)
            .filter(|&c| CloseCode(c).is_valid_on_wire())
            .collect();
        let mut expected: Vec<u16> = (1000..=1003).chain(1007..=1014).collect();
        expected.extend(3000..=4999);
        assert_eq!(valid, expected);
        assert!(!CloseCode(u16::MAX).is_valid_on_wire());
        for local in [1005, 1006, 1015] {
            assert!(CloseCode(local).is_local_only());
            assert!(!CloseCode(local).is_valid_on_wire());
        }
    }

    #[test]
    fn close_payload_parsing() {
        assert_eq!(CloseFrame::parse(b""), Ok(None));
        assert_eq!(
            CloseFrame::parse(b"\x03"),
            Err(ProtocolError::ClosePayloadTooShort)
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8bye"),
            Ok(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye".into()
            }))
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xed"),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn outcome_codes() {
        let mut outcome = CloseOutcome {
            sent: None,
            received: PeerClose::NotReceived,
            initiator: CloseInitiator::Transport,
            error: None,
            clean: false,
            timed_out: false,
        };
        assert_eq!(outcome.code(), CloseCode::ABNORMAL);
        outcome.received = PeerClose::WithoutCode;
        assert_eq!(outcome.code(), CloseCode::NO_STATUS_RECEIVED);
        outcome.received = PeerClose::Frame(CloseFrame {
            code: CloseCode(4000),
            reason: "x".into(),
        });
        assert_eq!((outcome.code(), outcome.reason()), (CloseCode(4000), "x"));
    }
}

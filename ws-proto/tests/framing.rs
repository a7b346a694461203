//! Frame-level rules of RFC 6455 §5, each as a byte vector fed whole, one byte at a time and
//! followed by trailing bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ws_proto::testing::OpCode;
use ws_proto::{CloseCode, Config, Event, ProtocolError, Role};

fn server(input: &[u8]) -> Drained {
    feed_three_ways(Role::Server, Config::default(), input)
}

fn client(input: &[u8]) -> Drained {
    feed_three_ways(Role::Client, Config::default(), input)
}

fn text(s: &str) -> Event {
    Event::Text(s.into())
}

#[track_caller]
fn assert_failed_with(drained: &Drained, error: ProtocolError) {
    assert_failing(drained, error.close_code());
    // The connection stops reading; the server shuts down its write side at once (§7.1.7).
    assert!(
        drained
            .events
            .iter()
            .all(|e| !matches!(e, Event::Closed(_))),
        "not closed before EOF"
    );
}

mod rfc_6455_section_5_7_examples {
    use super::*;

    #[test]
    fn single_frame_unmasked_text_to_a_client() {
        assert_eq!(
            client(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]).events,
            [text("Hello")]
        );
    }

    #[test]
    fn single_frame_masked_text_to_a_server() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(server(&bytes).events, [text("Hello")]);
    }

    #[test]
    fn fragmented_unmasked_text() {
        let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        assert_eq!(client(&bytes).events, [text("Hello")]);
    }

    #[test]
    fn unmasked_ping_and_masked_pong() {
        let d = client(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(d.events, [Event::Ping("Hello".into())]);
        // The automatic Pong echoes the payload (§5.5.2, §5.5.3), masked by the client.
        let frames = d.frames();
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].0.opcode, &frames[0].1[..]),
            (OpCode::Pong, &b"Hello"[..])
        );
        assert!(frames[0].0.mask.is_some());

        let bytes = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(server(&bytes).events, [Event::Pong("Hello".into())]);
    }

    #[test]
    fn binary_256_bytes_and_64_kib_in_one_unmasked_frame() {
        for len in [256usize, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut bytes = if len == 256 {
                vec![0x82, 0x7e, 0x01, 0x00]
            } else {
                vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
            };
            bytes.extend_from_slice(&payload);
            let (_, whole) = feed(Role::Client, Config::default(), &bytes, Feed::Whole);
            assert_eq!(whole.events, [Event::Binary(payload.clone().into())]);
        }
    }
}

mod section_5_1_masking {
    use super::*;

    #[test]
    fn server_fails_on_unmasked_frame() {
        assert_failed_with(
            &server(&server_frame(true, 0x1, b"hi")),
            ProtocolError::UnmaskedFrame,
        );
    }

    #[test]
    fn client_fails_on_masked_frame() {
        assert_failed_with(
            &client(&client_frame(true, 0x1, b"hi")),
            ProtocolError::MaskedFrame,
        );
    }

    #[test]
    fn client_frames_are_masked_and_server_frames_are_not() {
        let now = start();
        let mut c = Endpoint::new(Role::Client, Config::default(), now);
        let mut s = Endpoint::new(Role::Server, Config::default(), now);
        c.conn.send_text("x").unwrap();
        s.conn.send_text("x").unwrap();
        assert!(c.take().frames()[0].0.mask.is_some());
        assert!(s.take().frames()[0].0.mask.is_none());
    }
}

mod section_5_2_base_framing {
    use super::*;

    #[test]
    fn reserved_bits_without_extension() {
        for rsv in 1..8 {
            let d = server(&frame_rsv(true, rsv, 0x1, b"x", true));
            assert_failed_with(&d, ProtocolError::ReservedBitsSet);
        }
    }

    #[test]
    fn reserved_opcodes() {
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            let d = server(&client_frame(true, op, b""));
            assert_failed_with(&d, ProtocolError::ReservedOpcode(op));
        }
    }

    #[test]
    fn sixty_four_bit_length_with_top_bit_set() {
        let mut bytes = vec![0x82, 0xff];
        bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        assert_failed_with(&server(&bytes), ProtocolError::InvalidPayloadLength);
    }

    #[test]
    fn non_minimal_length_encoding_is_accepted() {
        // Senders must use the minimal encoding (§5.2); accepting it costs nothing.
        let mut bytes = vec![0x82, 0x7e, 0x00, 0x03];
        bytes.extend_from_slice(b"abc");
        assert_eq!(client(&bytes).events, [Event::Binary("abc".into())]);
    }

    #[test]
    fn empty_messages() {
        assert_eq!(client(&server_frame(true, 0x1, b"")).events, [text("")]);
        assert_eq!(
            client(&server_frame(true, 0x2, b"")).events,
            [Event::Binary("".into())]
        );
    }
}

mod section_5_4_fragmentation {
    use super::*;

    #[test]
    fn continuation_without_a_message() {
        assert_failed_with(
            &server(&client_frame(true, 0x0, b"x")),
            ProtocolError::UnexpectedContinuation,
        );
    }

    #[test]
    fn new_message_inside_a_fragmented_one() {
        let mut bytes = client_frame(false, 0x1, b"a");
        bytes.extend(client_frame(true, 0x2, b"b"));
        assert_failed_with(&server(&bytes), ProtocolError::ExpectedContinuation);
    }

    #[test]
    fn control_frames_between_fragments_are_handled() {
        let mut bytes = client_frame(false, 0x1, b"frag1 ");
        bytes.extend(client_frame(true, 0x9, b"ping"));
        bytes.extend(client_frame(false, 0x0, b"frag2 "));
        bytes.extend(client_frame(true, 0xa, b"pong"));
        bytes.extend(client_frame(true, 0x0, b"frag3"));
        let d = server(&bytes);
        assert_eq!(
            d.events,
            [
                Event::Ping("ping".into()),
                Event::Pong("pong".into()),
                text("frag1 frag2 frag3")
            ]
        );
        assert_frame_sent(&d, OpCode::Pong, b"ping");
    }

    #[test]
    fn utf8_code_point_split_across_fragments() {
        let s = "κόσμε";
        let bytes = s.as_bytes();
        let mut input = Vec::new();
        for (i, b) in bytes.iter().enumerate() {
            let op = if i == 0 { 0x1 } else { 0x0 };
            input.extend(client_frame(
                i + 1 == bytes.len(),
                op,
                std::slice::from_ref(b),
            ));
        }
        assert_eq!(server(&input).events, [text(s)]);
    }

    #[test]
    fn empty_fragments() {
        let mut bytes = client_frame(false, 0x2, b"");
        bytes.extend(client_frame(false, 0x0, b""));
        bytes.extend(client_frame(true, 0x0, b""));
        assert_eq!(server(&bytes).events, [Event::Binary("".into())]);
    }
}

mod section_5_5_control_frames {
    use super::*;

    #[test]
    fn control_frame_of_126_bytes() {
        let d = server(&client_frame(true, 0x9, &[0u8; 126]));
        assert_failed_with(&d, ProtocolError::ControlFrameTooLong);
    }

    #[test]
    fn control_frame_of_125_bytes_is_fine() {
        let d = server(&client_frame(true, 0x9, &[7u8; 125]));
        assert_eq!(d.events, [Event::Ping(vec![7u8; 125].into())]);
        assert_frame_sent(&d, OpCode::Pong, &[7u8; 125]);
    }

    #[test]
    fn fragmented_control_frame() {
        for op in [0x8u8, 0x9, 0xa] {
            let d = server(&client_frame(false, op, b""));
            assert_failed_with(&d, ProtocolError::FragmentedControlFrame);
        }
    }

    #[test]
    fn only_the_latest_pong_is_kept_while_output_is_full() {
        let config = Config::default().with_max_output_buffer(1);
        let now = start();
        let mut ep = Endpoint::new(Role::Server, config, now);
        ep.conn.send_text("fill the output").unwrap();
        for i in 0..1000u32 {
            ep.conn
                .receive(now, &client_frame(true, 0x9, &i.to_be_bytes()));
        }
        // The output did not grow with a thousand pings.
        assert!(ep.conn.output_len() < 40, "{}", ep.conn.output_len());
        let d = ep.take();
        let pongs: Vec<_> = d
            .frames()
            .into_iter()
            .filter(|(h, _)| h.opcode == OpCode::Pong)
            .collect();
        assert_eq!(pongs.len(), 1);
        assert_eq!(pongs[0].1, 999u32.to_be_bytes());
    }
}

mod section_5_6_and_8_1_utf8 {
    use super::*;

    #[test]
    fn invalid_utf8_fails_with_1007() {
        let d = server(&client_frame(
            true,
            0x1,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ));
        assert_failed_with(&d, ProtocolError::InvalidUtf8);
    }

    #[test]
    fn truncated_code_point_at_message_end() {
        assert_failed_with(
            &server(&client_frame(true, 0x1, b"ok\xce")),
            ProtocolError::InvalidUtf8,
        );
    }

    #[test]
    fn fails_in_the_middle_of_a_frame_before_the_rest_arrives() {
        // Autobahn 6.4.3: the bad byte arrives; the rest of the frame has not.
        let full = client_frame(
            true,
            0x1,
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
        );
        let header_len = 6;
        let cut = header_len + 13; // up to and including 0x90
        let now = start();
        let mut ep = Endpoint::new(Role::Server, Config::default(), now);
        ep.conn.receive(now, &full[..cut - 1]);
        assert!(ep.take().written.is_empty(), "still valid so far");
        ep.conn.receive(now, &full[cut - 1..cut]);
        assert_failing(&ep.take(), CloseCode::INVALID_PAYLOAD);
    }

    #[test]
    fn fails_in_a_middle_fragment() {
        // Autobahn 6.4.1: the second fragment is invalid; the third never needs to arrive.
        let mut bytes = client_frame(false, 0x1, "κόσμε".as_bytes());
        bytes.extend(client_frame(false, 0x0, b"\xf4\x90\x80\x80"));
        assert_failed_with(&server(&bytes), ProtocolError::InvalidUtf8);
    }

    #[test]
    fn binary_messages_are_not_checked() {
        assert_eq!(
            server(&client_frame(true, 0x2, b"\xff\xfe")).events,
            [Event::Binary(vec![0xff, 0xfe].into())]
        );
    }
}

mod limits {
    use super::*;

    #[test]
    fn frame_over_the_limit_fails_with_1009_at_its_header() {
        let config = Config::default().with_max_frame_size(10);
        let bytes = client_frame(true, 0x2, &[0u8; 11]);
        let (_, d) = feed(Role::Server, config.clone(), &bytes[..8], Feed::Whole);
        assert_failed_with(&d, ProtocolError::FrameTooLarge);
        feed_three_ways(Role::Server, config, &bytes);
    }

    #[test]
    fn message_over_the_limit_fails_with_1009() {
        let config = Config::default().with_max_message_size(10);
        let mut bytes = client_frame(false, 0x2, &[0u8; 6]);
        bytes.extend(client_frame(true, 0x0, &[0u8; 6]));
        let d = feed_three_ways(Role::Server, config, &bytes);
        assert_failed_with(&d, ProtocolError::MessageTooLarge);
    }

    #[test]
    fn too_many_fragments_fails_with_1009() {
        let config = Config::default().with_max_fragments(3);
        let mut bytes = client_frame(false, 0x2, b"a");
        for _ in 0..3 {
            bytes.extend(client_frame(false, 0x0, b"b"));
        }
        let d = feed_three_ways(Role::Server, config, &bytes);
        assert_failed_with(&d, ProtocolError::TooManyFragments);
    }

    #[test]
    fn defaults_allow_autobahn_sizes() {
        let c = Config::default();
        assert!(c.max_frame_size >= 16 << 20);
        assert!(c.max_message_size >= 64 << 20);
        assert!(c.max_fragments >= 65_536);
        assert_eq!((c.max_handshake_size, c.max_headers), (16 << 10, 64));
    }

    #[test]
    fn sends_fail_past_the_output_bound_and_recover_after_draining() {
        let config = Config::default().with_max_output_buffer(100);
        let now = start();
        let mut ep = Endpoint::new(Role::Server, config, now);
        ep.conn.send_binary(&[0u8; 150]).unwrap();
        assert!(!ep.conn.can_send());
        assert_eq!(ep.conn.send_binary(b"x"), Err(ws_proto::Error::OutputFull));
        assert_eq!(ep.conn.send_ping(b"x"), Err(ws_proto::Error::OutputFull));
        ep.drain();
        assert!(ep.conn.can_send());
        ep.conn.send_binary(b"x").unwrap();
    }

    #[test]
    fn automatic_fragmentation_of_large_sends() {
        let config = Config::default().with_send_fragment_size(Some(4));
        let now = start();
        let mut ep = Endpoint::new(Role::Server, config, now);
        ep.conn.send_text("abcdefghij").unwrap();
        let frames = ep.take().frames();
        let shape: Vec<_> = frames
            .iter()
            .map(|(h, p)| (h.opcode, h.fin, p.len()))
            .collect();
        assert_eq!(
            shape,
            [
                (OpCode::Text, false, 4),
                (OpCode::Continuation, false, 4),
                (OpCode::Continuation, true, 2)
            ]
        );
    }

    #[test]
    fn answers_to_earlier_messages_go_out_before_the_close() {
        // Autobahn 3.2 / 4.1.3 / 5.15: a message and a bad frame in one segment. The application
        // polls the message and echoes it; only then does the failure take effect.
        let mut input = client_frame(true, 0x1, b"first");
        input.extend(frame_rsv(true, 2, 0x1, b"bad", true));
        input.extend(client_frame(true, 0x9, b"never answered"));
        let now = start();
        let mut ep = Endpoint::new(Role::Server, Config::default(), now);
        ep.conn.receive(now, &input);
        assert!(
            ep.conn.output().is_empty(),
            "nothing acted on before the caller polls"
        );
        assert!(ep.conn.pending_event_bytes() >= 5);
        assert_eq!(ep.conn.poll_event(), Some(text("first")));
        ep.conn.send_text("first").unwrap();
        assert_eq!(ep.conn.poll_event(), None);
        let d = ep.take();
        let frames = d.frames();
        let shape: Vec<_> = frames.iter().map(|(h, _)| h.opcode).collect();
        assert_eq!(shape, [OpCode::Text, OpCode::Close]);
        assert_failing(&d, CloseCode::PROTOCOL_ERROR);
    }

    #[test]
    fn a_peer_close_behind_a_message_waits_for_it_too() {
        let mut input = client_frame(true, 0x1, b"last words");
        input.extend(client_frame(true, 0x8, &close_payload(1000, "")));
        let now = start();
        let mut ep = Endpoint::new(Role::Server, Config::default(), now);
        ep.conn.receive(now, &input);
        assert_eq!(ep.conn.poll_event(), Some(text("last words")));
        ep.conn.send_text("reply").unwrap();
        let d = ep.take();
        let shape: Vec<_> = d.frames().iter().map(|(h, _)| h.opcode).collect();
        assert_eq!(shape, [OpCode::Text, OpCode::Close]);
    }

    #[test]
    fn eof_applies_a_queued_close_the_caller_never_polled() {
        let now = start();
        let mut ep = Endpoint::new(Role::Server, Config::default(), now);
        ep.conn.receive(now, &client_frame(true, 0x1, b"unread"));
        ep.conn
            .receive(now, &client_frame(true, 0x8, &close_payload(4001, "x")));
        ep.conn.receive_eof(now);
        let d = ep.take();
        let outcome = d.closed().expect("closed");
        assert_eq!(outcome.code(), CloseCode(4001));
        assert_eq!(d.events[0], text("unread"));
    }
}

/// Everything `connection` has queued, drained.
fn all_output(connection: &mut ws_proto::Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while connection.output_len() > 0 {
        let front = connection.output().to_vec();
        connection.consume_output(front.len());
        out.extend(front);
    }
    out
}

/// A payload sent as shared bytes goes on the wire exactly as one sent as a slice, whatever
/// its size (copied below `SHARE_MIN`, queued as it is from there on a server), its kind, the
/// role (a client masks a copy) and the fragmentation setting.
#[test]
fn shared_sends_encode_like_copied_ones() {
    use ws_proto::{Bytes, Connection, SHARE_MIN, SeededKeySource, Utf8Bytes};
    let sizes = [0, 10, SHARE_MIN - 1, SHARE_MIN, 3 * SHARE_MIN + 5, 200_000];
    for role in [Role::Server, Role::Client] {
        for fragment in [None, Some(1000), Some(SHARE_MIN)] {
            for size in sizes {
                let config = Config::default().with_send_fragment_size(fragment);
                let conn = || {
                    let keys = Box::new(SeededKeySource::new(7));
                    Connection::with_key_source(role, config.clone(), keys, start())
                };
                let data: Vec<u8> = (0..size).map(|i| (i * 13) as u8).collect();
                let text = "é".repeat(size / 2);
                let (mut copied, mut shared) = (conn(), conn());
                copied.send_binary(&data).unwrap();
                copied.send_text(&text).unwrap();
                shared
                    .send_binary_shared(&Bytes::from(data.clone()))
                    .unwrap();
                shared
                    .send_text_shared(&Utf8Bytes::from(text.clone()))
                    .unwrap();
                assert_eq!(
                    all_output(&mut copied),
                    all_output(&mut shared),
                    "{role:?}, fragments {fragment:?}, {size} bytes"
                );
            }
        }
    }
}

#[test]
fn shared_sends_follow_the_send_rules() {
    use ws_proto::{Bytes, Connection, Error, SHARE_MIN};
    let mut ws = Connection::new(Role::Server, Config::default(), start());
    ws.send_binary_fragment(b"part", false).unwrap();
    let big = Bytes::from(vec![0u8; SHARE_MIN]);
    assert_eq!(ws.send_binary_shared(&big), Err(Error::MessageInProgress));
    ws.send_binary_fragment(b"end", true).unwrap();
    ws.close(start(), ws_proto::CloseCode::NORMAL, "").unwrap();
    assert_eq!(ws.send_binary_shared(&big), Err(Error::Closed));
}

/// A server shares a frame payload of `SHARE_MIN` bytes or more and copies smaller ones, frame
/// by frame: a large message cut into small fragments is copied into one buffer, not queued as
/// hundreds of tiny chunks.
#[test]
fn shared_sends_share_per_frame() {
    use std::io::IoSlice;
    use ws_proto::{Bytes, Connection};
    let chunks = |fragment: Option<usize>| {
        let config = Config::default().with_send_fragment_size(fragment);
        let mut ws = Connection::new(Role::Server, config, start());
        ws.send_binary_shared(&Bytes::from(vec![7u8; 200_000]))
            .unwrap();
        let mut slices = [IoSlice::new(&[]); 64];
        ws.output_vectored(&mut slices)
    };
    // The header, then the payload as it is.
    assert_eq!(chunks(None), 2);
    // Two hundred 1,000-byte frames, all copied into one buffer.
    assert_eq!(chunks(Some(1000)), 1);
}

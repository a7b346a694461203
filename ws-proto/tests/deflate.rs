//! permessage-deflate (RFC 7692) on the wire: the examples of §7.2.3 as byte vectors, the RSV1
//! rules, bad and oversized deflate data, and round trips for every parameter combination.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use ws_proto::testing::{FrameHeader, OpCode};
use ws_proto::{
    Config, Connection, DeflateConfig, DeflateParams, Event, PreparedMessage, ProtocolError, Role,
    SeededKeySource,
};

/// Context takeover both ways, 15-bit windows: what §7.2.3's examples assume.
fn takeover() -> DeflateParams {
    DeflateParams::default()
}

fn endpoint(role: Role, config: Config, params: Option<DeflateParams>) -> Endpoint {
    let now = start();
    let mut conn =
        Connection::with_key_source(role, config, Box::new(SeededKeySource::new(42)), now);
    if let Some(params) = params {
        conn = conn.with_compression(params);
    }
    Endpoint {
        conn,
        drained: Drained::default(),
    }
}

/// Feeds `input` whole and byte by byte to a compressing endpoint; both must agree.
fn feed_both_ways(role: Role, params: DeflateParams, input: &[u8]) -> Drained {
    feed_both_ways_with(role, Config::default(), params, input)
}

fn feed_both_ways_with(role: Role, config: Config, params: DeflateParams, input: &[u8]) -> Drained {
    let now = start();
    let mut whole = endpoint(role, config.clone(), Some(params));
    whole.conn.receive(now, input);
    let whole = whole.take();
    let mut bytewise = endpoint(role, config, Some(params));
    for byte in input {
        bytewise.conn.receive(now, std::slice::from_ref(byte));
        bytewise.drain();
    }
    assert_eq!(
        whole,
        bytewise.take(),
        "whole and byte-by-byte feeding disagree"
    );
    whole
}

fn text(s: &str) -> Event {
    Event::Text(s.into())
}

mod rfc_7692_section_7_2_3_examples {
    use super::*;

    #[test]
    fn one_compressed_block() {
        let frame = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frame).events,
            [text("Hello")]
        );
    }

    #[test]
    fn one_compressed_block_in_two_fragments() {
        let frames = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, // RSV1 on the first frame only
            0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [text("Hello")]
        );
    }

    #[test]
    fn the_second_message_refers_to_the_first() {
        let frames = [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // "Hello"
            0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00, // "Hello" again, from the window
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [text("Hello"), text("Hello")]
        );
    }

    #[test]
    fn a_stored_block() {
        let frame = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frame).events,
            [text("Hello")]
        );
    }

    #[test]
    fn a_final_block() {
        let frames = [
            0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, // BFINAL set
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // a new stream follows
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [text("Hello"), text("Hello")]
        );
    }

    #[test]
    fn two_blocks_in_one_message() {
        let frame = [
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frame).events,
            [text("Hello")]
        );
    }

    #[test]
    fn an_empty_message_as_one_empty_block() {
        let frames = [0xc1, 0x01, 0x00, 0xc2, 0x00];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [text(""), Event::Binary(Vec::new().into())]
        );
    }

    #[test]
    fn an_empty_message_keeps_the_context() {
        let frames = [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // "Hello"
            0xc2, 0x01, 0x00, // an empty message: the sync flush's block, tail removed
            0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00, // "Hello" from the window
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [
                text("Hello"),
                Event::Binary(Vec::new().into()),
                text("Hello")
            ]
        );
    }

    #[test]
    fn a_final_block_completed_by_the_restored_tail() {
        // The final block's last byte is the first byte of the tail the sender removed.
        let frames = [
            0xc1, 0x06, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, // BFINAL, ends in the tail
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // a new stream
        ];
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frames).events,
            [text("Hello"), text("Hello")]
        );
    }

    #[test]
    fn our_compressor_writes_the_same_bytes() {
        let config =
            Config::default().with_compression(Some(DeflateConfig::default().with_threshold(0)));
        let mut server = endpoint(Role::Server, config, Some(takeover()));
        server.conn.send_text("Hello").unwrap();
        server.conn.send_text("Hello").unwrap();
        assert_eq!(
            server.take().written,
            [
                0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // §7.2.3.1
                0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00, // §7.2.3.2
            ]
        );
    }

    #[test]
    fn masked_compressed_frames_to_a_server() {
        let payload = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let frame = frame_rsv(true, 0b100, 0x1, &payload, true);
        assert_eq!(
            feed_both_ways(Role::Server, takeover(), &frame).events,
            [text("Hello")]
        );
    }
}

mod rsv1_rules {
    use super::*;

    fn hello(rsv: u8, opcode: u8) -> Vec<u8> {
        frame_rsv(
            true,
            rsv,
            opcode,
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            false,
        )
    }

    #[track_caller]
    fn fails_with(drained: &Drained, error: ProtocolError) {
        assert_failing(drained, error.close_code());
    }

    #[test]
    fn rsv1_without_negotiation_is_a_protocol_error() {
        let drained = feed_three_ways(Role::Client, Config::default(), &hello(0b100, 0x1));
        fails_with(&drained, ProtocolError::ReservedBitsSet);
    }

    #[test]
    fn rsv1_on_a_control_frame_is_a_protocol_error() {
        for opcode in [0x8, 0x9, 0xa] {
            let drained = feed_both_ways(Role::Client, takeover(), &hello(0b100, opcode));
            fails_with(&drained, ProtocolError::ReservedBitsSet);
        }
    }

    #[test]
    fn rsv1_on_a_continuation_is_a_protocol_error() {
        let mut frames = frame_rsv(false, 0b100, 0x1, &[0xf2, 0x48], false);
        frames.extend(frame_rsv(
            true,
            0b100,
            0x0,
            &[0xcd, 0xc9, 0xc9, 0x07, 0x00],
            false,
        ));
        let drained = feed_both_ways(Role::Client, takeover(), &frames);
        fails_with(&drained, ProtocolError::ReservedBitsSet);
    }

    #[test]
    fn rsv2_and_rsv3_stay_reserved() {
        for rsv in [0b010, 0b001, 0b110] {
            let drained = feed_both_ways(Role::Client, takeover(), &hello(rsv, 0x1));
            fails_with(&drained, ProtocolError::ReservedBitsSet);
        }
    }

    #[test]
    fn an_uncompressed_message_passes_on_a_compressing_connection() {
        let frame = frame(true, 0x1, b"plain", false);
        assert_eq!(
            feed_both_ways(Role::Client, takeover(), &frame).events,
            [text("plain")]
        );
    }
}

mod bad_data {
    use super::*;

    #[test]
    fn invalid_deflate_data_is_1007() {
        // Block type 3 is reserved (RFC 1951 §3.2.3).
        let frame = frame_rsv(true, 0b100, 0x2, &[0xff, 0xff, 0xff], false);
        let drained = feed_both_ways(Role::Client, takeover(), &frame);
        assert_failing(&drained, ProtocolError::InvalidCompressedData.close_code());
        assert_eq!(ProtocolError::InvalidCompressedData.close_code().0, 1007);
    }

    #[test]
    fn invalid_utf8_inside_compressed_text_is_1007() {
        let (server, _) = compressing_pair(takeover(), 0);
        let mut server = server;
        // Binary bytes that are not UTF-8, compressed, then relabelled as text.
        server.conn.send_binary(&[0xc3, 0x28, 0xc3, 0x28]).unwrap();
        let mut wire = server.take().written;
        wire[0] = (wire[0] & 0xf0) | 0x1;
        let drained = feed_both_ways(Role::Client, takeover(), &wire);
        assert_failing(&drained, ProtocolError::InvalidUtf8.close_code());
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let limit = 1 << 20;
        let config = Config::default().with_max_message_size(limit);
        // 64 MiB of zeros deflate to about 64 KiB.
        let (mut server, _) = compressing_pair(takeover(), 0);
        let zeros = vec![0u8; 64 << 20];
        server.conn.send_binary(&zeros).unwrap();
        let wire = server.take().written;
        assert!(wire.len() < 128 << 10, "{} bytes", wire.len());

        let mut client = endpoint(Role::Client, config, Some(takeover()));
        let now = start();
        let mut peak = 0;
        for chunk in wire.chunks(4096) {
            client.conn.receive(now, chunk);
            peak = peak.max(client.conn.buffer_capacity());
            client.drain();
        }
        let drained = client.take();
        assert_failing(&drained, ProtocolError::MessageTooLarge.close_code());
        assert!(
            drained
                .events
                .iter()
                .all(|e| !matches!(e, Event::Binary(_)))
        );
        // The inflated buffer never grew past the limit (plus the decoder's own state).
        assert!(peak <= limit + (200 << 10), "peak {peak}");
    }

    #[test]
    fn a_message_at_the_limit_is_delivered() {
        let limit = 1 << 20;
        let config = Config::default().with_max_message_size(limit);
        let (mut server, _) = compressing_pair(takeover(), 0);
        server.conn.send_binary(&vec![7u8; limit]).unwrap();
        let wire = server.take().written;
        let drained = feed_both_ways_with(Role::Client, config, takeover(), &wire);
        assert!(matches!(&drained.events[..], [Event::Binary(b)] if b.len() == limit));
    }
}

/// A server and a client endpoint that agreed on `params`, compressing from `threshold` bytes.
fn compressing_pair(params: DeflateParams, threshold: usize) -> (Endpoint, Endpoint) {
    compressing_pair_keeping(params, threshold, false)
}

/// Like [`compressing_pair`], keeping the decompressors between messages if `keep`.
fn compressing_pair_keeping(
    params: DeflateParams,
    threshold: usize,
    keep: bool,
) -> (Endpoint, Endpoint) {
    let config = Config::default().with_compression(Some(
        DeflateConfig::default()
            .with_threshold(threshold)
            .with_keep_decompressor(keep),
    ));
    (
        endpoint(Role::Server, config.clone(), Some(params)),
        endpoint(Role::Client, config, Some(params)),
    )
}

/// Sends `messages` from `from` to `to`, delivering the bytes in chunks of the given sizes
/// (cycled), and returns what `to` received.
fn deliver(
    from: &mut Endpoint,
    to: &mut Endpoint,
    messages: &[Vec<u8>],
    chunks: &[usize],
) -> Vec<Event> {
    for (i, message) in messages.iter().enumerate() {
        if i % 2 == 0 {
            from.conn.send_binary(message).unwrap();
        } else {
            let text = String::from_utf8_lossy(message).into_owned();
            from.conn.send_text(&text).unwrap();
        }
    }
    let wire = from.take().written;
    let now = start();
    let mut rest = &wire[..];
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        to.conn.receive(now, &rest[..n]);
        to.drain();
        rest = &rest[n..];
    }
    to.take().events
}

fn expected(messages: &[Vec<u8>]) -> Vec<Event> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i % 2 == 0 {
                Event::Binary(m.clone().into())
            } else {
                text(&String::from_utf8_lossy(m))
            }
        })
        .collect()
}

fn any_params() -> impl Strategy<Value = DeflateParams> {
    (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15).prop_map(|(s, c, sb, cb)| DeflateParams {
        server_no_context_takeover: s,
        client_no_context_takeover: c,
        server_max_window_bits: sb,
        client_max_window_bits: cb,
    })
}

/// Messages that compress (repeated words) and that do not (random bytes), of varied sizes.
fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let compressible = (0usize..40, 0usize..6).prop_map(|(n, word)| {
        let words: [&[u8]; 6] = [
            b"alpha ",
            b"beta ",
            b"gamma ",
            b"{\"k\":1}",
            b"zz",
            b"\xc3\xa9t\xc3\xa9 ",
        ];
        words[word].repeat(n)
    });
    let random = proptest::collection::vec(any::<u8>(), 0..600);
    proptest::collection::vec(prop_oneof![compressible, random], 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_for_every_parameter_combination(
        params in any_params(),
        threshold in prop_oneof![Just(0usize), Just(64), Just(1 << 20)],
        server_messages in messages(),
        client_messages in messages(),
        chunks in proptest::collection::vec(1usize..300, 1..6),
        keep in any::<bool>(),
    ) {
        let (mut server, mut client) = compressing_pair_keeping(params, threshold, keep);
        prop_assert_eq!(
            deliver(&mut server, &mut client, &server_messages, &chunks),
            expected(&server_messages)
        );
        prop_assert_eq!(
            deliver(&mut client, &mut server, &client_messages, &chunks),
            expected(&client_messages)
        );
        // Both ways again: context carried over (or not) from the first round.
        prop_assert_eq!(
            deliver(&mut server, &mut client, &client_messages, &chunks),
            expected(&client_messages)
        );
        prop_assert_eq!(
            deliver(&mut client, &mut server, &server_messages, &chunks),
            expected(&server_messages)
        );
    }
}

#[test]
fn small_messages_go_uncompressed() {
    let (mut server, _) = compressing_pair(takeover(), 128);
    server.conn.send_text(&"a".repeat(127)).unwrap();
    server.conn.send_text(&"a".repeat(128)).unwrap();
    let frames = server.take().frames();
    let rsv: Vec<u8> = frames.iter().map(|(h, _)| h.rsv).collect();
    assert_eq!(rsv, [0, 0b100]);
    assert!(frames[1].1.len() < 16);
}

#[test]
fn incompressible_messages_go_uncompressed_without_context_takeover() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        ..takeover()
    };
    let (mut server, mut client) = compressing_pair(params, 0);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..2000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    server.conn.send_binary(&noise).unwrap();
    let wire = server.take().written;
    let frames = parse_frames(&wire);
    assert_eq!(frames[0].0.rsv, 0);
    client.conn.receive(start(), &wire);
    assert_eq!(client.take().events, [Event::Binary(noise.into())]);
}

#[test]
fn fragmented_sends_set_rsv1_on_the_first_frame_only() {
    let config = Config::default()
        .with_send_fragment_size(Some(8))
        .with_compression(Some(DeflateConfig::default().with_threshold(0)));
    let mut server = endpoint(Role::Server, config, Some(takeover()));
    let text_sent = "a fairly long text that still compresses a little, a fairly long text";
    server.conn.send_text(text_sent).unwrap();
    let drained = server.take();
    let frames = drained.frames();
    assert!(frames.len() > 1);
    let headers: Vec<(u8, OpCode, bool)> = frames
        .iter()
        .map(|(h, _)| (h.rsv, h.opcode, h.fin))
        .collect();
    assert_eq!(headers[0], (0b100, OpCode::Text, false));
    assert!(
        headers[1..]
            .iter()
            .all(|&(rsv, op, _)| rsv == 0 && op == OpCode::Continuation)
    );
    let mut client = endpoint(Role::Client, Config::default(), Some(takeover()));
    client.conn.receive(start(), &drained.written);
    assert_eq!(client.take().events, [text(text_sent)]);
}

#[test]
fn a_prepared_message_is_compressed_once_for_alike_connections() {
    let message = PreparedMessage::text(&"broadcast ".repeat(50));
    let independent = DeflateParams {
        server_no_context_takeover: true,
        ..takeover()
    };
    let (mut a, mut client) = compressing_pair(independent, 0);
    let (mut b, _) = compressing_pair(independent, 0);
    a.conn.send_prepared(&message).unwrap();
    b.conn.send_prepared(&message).unwrap();
    let (wire_a, wire_b) = (a.take().written, b.take().written);
    assert_eq!(wire_a, wire_b);
    let (header, payload): (FrameHeader, Vec<u8>) = parse_frames(&wire_a).remove(0);
    assert_eq!(header.rsv, 0b100);
    assert!(payload.len() < 100);
    client.conn.receive(start(), &wire_a);
    assert_eq!(
        client.take().events,
        [text(std::str::from_utf8(message.payload()).unwrap())]
    );

    // With context takeover each connection compresses its own copy, and it still decodes.
    let (mut c, mut client) = compressing_pair(takeover(), 0);
    c.conn.send_prepared(&message).unwrap();
    c.conn.send_prepared(&message).unwrap();
    let wire = c.take().written;
    client.conn.receive(start(), &wire);
    assert_eq!(
        client.take().events,
        [
            text(std::str::from_utf8(message.payload()).unwrap()),
            text(std::str::from_utf8(message.payload()).unwrap())
        ]
    );
    // A client masks its own copy of the shared compressed payload.
    let (_, mut client) = compressing_pair(independent, 0);
    let (mut server, _) = compressing_pair(independent, 0);
    client.conn.send_prepared(&message).unwrap();
    server.conn.receive(start(), &client.take().written);
    assert_eq!(
        server.take().events,
        [text(std::str::from_utf8(message.payload()).unwrap())]
    );
}

#[test]
fn an_idle_connection_holds_no_codec() {
    let (mut server, mut client) = compressing_pair(
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..takeover()
        },
        0,
    );
    let before = server.conn.buffer_capacity();
    server.conn.send_text(&"idle ".repeat(100)).unwrap();
    client.conn.receive(start(), &server.take().written);
    client.drain();
    client.conn.send_text(&"idle ".repeat(100)).unwrap();
    server.conn.receive(start(), &client.take().written);
    server.drain();
    // Without context takeover both codecs went back to the pool after their message.
    assert!(
        server.conn.buffer_capacity() < before + (16 << 10),
        "{}",
        server.conn.buffer_capacity()
    );
}

#[test]
fn the_peer_context_costs_at_most_a_window() {
    // 15-bit windows, context taken over both ways: what the next message may refer to is
    // kept as bytes, at most 32 KiB however much has been received.
    for (keep, most) in [(false, 40 << 10), (true, 80 << 10)] {
        let (mut server, mut client) = compressing_pair_keeping(takeover(), 0, keep);
        let message: Vec<u8> = b"window ".repeat(1500);
        let mut wire = Vec::new();
        for _ in 0..20 {
            client.conn.send_binary(&message).unwrap();
            wire.extend(client.take().written);
        }
        server.conn.receive(start(), &wire);
        let events = server.take().events;
        assert_eq!(events.len(), 20);
        assert!(
            events
                .iter()
                .all(|e| e == &Event::Binary(message.clone().into()))
        );
        let held = server.conn.buffer_capacity();
        assert!(held <= most, "keep {keep}: {held}");
        assert!(held >= 32 << 10, "keep {keep}: {held}");
    }
}

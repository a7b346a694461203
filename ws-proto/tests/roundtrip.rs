//! Property tests: encode/decode round trips at arbitrary chunkings, and random byte streams that
//! never panic and always end in a documented outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use ws_proto::testing::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws_proto::{CloseCode, Config, ConnectionState, Event, Role};

#[derive(Clone, Debug)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Fragmented(Vec<String>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        any::<String>().prop_map(Msg::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Msg::Binary),
        proptest::collection::vec(any::<String>(), 1..5).prop_map(Msg::Fragmented),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Msg::Ping),
    ]
}

fn send(conn: &mut ws_proto::Connection, m: &Msg) {
    match m {
        Msg::Text(s) => conn.send_text(s).unwrap(),
        Msg::Binary(b) => conn.send_binary(b).unwrap(),
        Msg::Fragmented(parts) => {
            for (i, p) in parts.iter().enumerate() {
                conn.send_text_fragment(p, i + 1 == parts.len()).unwrap();
            }
        }
        Msg::Ping(p) => conn.send_ping(p).unwrap(),
    }
}

fn expected(m: &Msg) -> Event {
    match m {
        Msg::Text(s) => Event::Text(s.as_str().into()),
        Msg::Binary(b) => Event::Binary(b.clone().into()),
        Msg::Fragmented(parts) => Event::Text(parts.concat().into()),
        Msg::Ping(p) => Event::Ping(p.clone().into()),
    }
}

/// Splits `bytes` at the given cut points (taken modulo the length).
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(bytes[start..p].to_vec());
        start = p;
    }
    out.push(bytes[start..].to_vec());
    out
}

proptest! {
    #[test]
    fn header_encode_parse_roundtrip(
        fin: bool, rsv in 0u8..8, op in prop::sample::select(vec![OpCode::Continuation, OpCode::Text, OpCode::Binary, OpCode::Close, OpCode::Ping, OpCode::Pong]),
        mask: Option<[u8; 4]>, len in prop_oneof![0u64..200, 0u64..70_000, 0u64..(1 << 63)], trailing in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let len = if op.is_control() { len % 126 } else { len };
        let fin = fin || op.is_control();
        let header = FrameHeader { fin, rsv, opcode: op, mask, payload_len: len };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut buf);
        let mut bytes = buf[..n].to_vec();
        bytes.extend_from_slice(&trailing);
        prop_assert_eq!(FrameHeader::parse(&bytes), Ok(Some((header, n))));
    }

    #[test]
    fn messages_roundtrip_client_to_server_at_any_chunking(
        msgs in proptest::collection::vec(msg(), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        fragment_size in prop::option::of(1usize..64),
    ) {
        let config = Config::default().with_send_fragment_size(fragment_size);
        for sender_role in [Role::Client, Role::Server] {
            let now = start();
            let mut sender = Endpoint::new(sender_role, config.clone(), now);
            let receiver_role = if sender_role == Role::Client { Role::Server } else { Role::Client };
            let mut receiver = Endpoint::new(receiver_role, config.clone(), now);
            for m in &msgs {
                send(&mut sender.conn, m);
            }
            let wire = sender.take().written;
            for chunk in chunks(&wire, &cuts) {
                receiver.conn.receive(now, &chunk);
            }
            let got = receiver.take().events;
            let want: Vec<Event> = msgs.iter().map(expected).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn random_streams_never_panic_and_end_documented(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        server: bool,
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let config = Config::default().with_max_frame_size(1024).with_max_message_size(2048);
        let now = start();
        let mut ep = Endpoint::new(role, config, now);
        for chunk in chunks(&data, &cuts) {
            ep.conn.receive(now, &chunk);
            ep.drain();
        }
        ep.conn.receive_eof(now);
        let deadline = ep.conn.poll_timeout();
        if let Some(at) = deadline {
            ep.conn.handle_timeout(at);
        }
        let d = ep.take();
        prop_assert_eq!(ep.conn.state(), ConnectionState::Closed);
        let outcomes: Vec<_> = d.events.iter().filter(|e| matches!(e, Event::Closed(_))).collect();
        prop_assert_eq!(outcomes.len(), 1);
        prop_assert!(matches!(d.events.last(), Some(Event::Closed(_))));
        if let Some(outcome) = d.closed() {
            if let Some(error) = outcome.error {
                prop_assert_eq!(outcome.sent.as_ref().map(|f| f.code), Some(error.close_code()));
            }
            prop_assert!(outcome.code().is_valid_on_wire() || outcome.code() == CloseCode::ABNORMAL || outcome.code() == CloseCode::NO_STATUS_RECEIVED);
        }
        // Everything written re-parses as frames with the role's masking.
        for (header, _) in parse_frames(&d.written) {
            prop_assert_eq!(header.mask.is_some(), role == Role::Client);
        }
    }
}

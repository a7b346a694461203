//! The closing handshake (RFC 6455 §5.5.1, §7) on a client and a server wired together in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ws_proto::testing::OpCode;
use ws_proto::{
    CloseCode, CloseFrame, CloseInitiator, CloseOutcome, Config, ConnectionState, Error, Event,
    PeerClose, ProtocolError, Role, TransportAction,
};

fn closed(events: &[Event]) -> Vec<&CloseOutcome> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Closed(outcome) => Some(outcome),
            _ => None,
        })
        .collect()
}

fn close_frame(code: CloseCode, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

#[test]
fn client_closes_first() {
    let mut pair = Pair::new(Config::default());
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "done")
        .unwrap();
    assert_eq!(pair.client.conn.state(), ConnectionState::Closing);
    pair.transfer();

    let server = pair.server_events();
    let client = pair.client_events();
    let (s, c) = (closed(&server), closed(&client));
    assert_eq!((s.len(), c.len()), (1, 1));
    assert_eq!(s[0].initiator, CloseInitiator::Remote);
    assert_eq!((s[0].code(), s[0].reason()), (CloseCode::NORMAL, "done"));
    assert_eq!(c[0].initiator, CloseInitiator::Local);
    assert_eq!(c[0].code(), CloseCode::NORMAL, "the server echoes the code");
    assert!(s[0].clean && c[0].clean);
    // §7.1.1: the server shut down TCP first, the client closed after its EOF.
    assert_eq!(
        pair.server.drained.actions,
        [TransportAction::ShutdownWrite, TransportAction::Close]
    );
    assert_eq!(pair.client.drained.actions, [TransportAction::Close]);
}

#[test]
fn server_closes_first() {
    let mut pair = Pair::new(Config::default());
    pair.server
        .conn
        .close(pair.now, CloseCode(4000), "bye")
        .unwrap();
    pair.transfer();
    let c = pair.client_events();
    let s = pair.server_events();
    let (c, s) = (closed(&c)[0], closed(&s)[0]);
    assert_eq!(
        (c.code(), c.reason(), c.initiator),
        (CloseCode(4000), "bye", CloseInitiator::Remote)
    );
    assert_eq!(
        (s.code(), s.initiator),
        (CloseCode(4000), CloseInitiator::Local)
    );
    assert!(c.clean && s.clean);
    assert_eq!(pair.server.conn.state(), ConnectionState::Closed);
}

#[test]
fn both_close_at_once() {
    let mut pair = Pair::new(Config::default());
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "c")
        .unwrap();
    pair.server
        .conn
        .close(pair.now, CloseCode::GOING_AWAY, "s")
        .unwrap();
    pair.transfer();
    let c = pair.client_events();
    let s = pair.server_events();
    let (c, s) = (closed(&c), closed(&s));
    assert_eq!((c.len(), s.len()), (1, 1));
    assert_eq!(
        c[0].received,
        PeerClose::from(close_frame(CloseCode::GOING_AWAY, "s"))
    );
    assert!(
        !c[0].timed_out && !s[0].timed_out,
        "closed within the close timeout"
    );
    assert_eq!(
        s[0].received,
        PeerClose::from(close_frame(CloseCode::NORMAL, "c"))
    );
    assert!(c[0].clean && s[0].clean);
    // Each side sent exactly one Close frame.
    for drained in [&pair.client.drained, &pair.server.drained] {
        let closes = drained
            .frames()
            .iter()
            .filter(|(h, _)| h.opcode == OpCode::Close)
            .count();
        assert_eq!(closes, 1);
    }
}

#[test]
fn peer_close_in_the_middle_of_a_fragmented_message_is_echoed() {
    // Autobahn 7.1.5: fragment, Close, fragment. The partial message is dropped, the Close is
    // echoed normally and the last fragment is ignored.
    let mut bytes = client_frame(false, 0x1, b"frag1");
    bytes.extend(client_frame(true, 0x8, &close_payload(1000, "")));
    bytes.extend(client_frame(true, 0x0, b"frag2"));
    let d = feed_three_ways(Role::Server, Config::default(), &bytes);
    assert_failing(&d, CloseCode::NORMAL);
    assert!(d.events.iter().all(|e| !matches!(e, Event::Text(_))));
}

#[test]
fn close_without_code_is_echoed_empty_and_reported_as_1005() {
    let d = feed_three_ways(
        Role::Server,
        Config::default(),
        &client_frame(true, 0x8, b""),
    );
    let frames = d.frames();
    assert_eq!((frames[0].0.opcode, frames[0].1.len()), (OpCode::Close, 0));
    let now = start();
    let mut ep = Endpoint::new(Role::Server, Config::default(), now);
    ep.conn.receive(now, &client_frame(true, 0x8, b""));
    ep.conn.receive_eof(now);
    let d = ep.take();
    let outcome = d.closed().unwrap();
    assert_eq!(outcome.code(), CloseCode::NO_STATUS_RECEIVED);
    assert!(outcome.clean);
}

#[test]
fn invalid_close_payloads() {
    for (payload, error) in [
        (vec![0x03], ProtocolError::ClosePayloadTooShort),
        (close_payload(999, ""), ProtocolError::InvalidCloseCode(999)),
        (
            close_payload(1004, ""),
            ProtocolError::InvalidCloseCode(1004),
        ),
        (
            close_payload(1005, ""),
            ProtocolError::InvalidCloseCode(1005),
        ),
        (
            close_payload(1006, ""),
            ProtocolError::InvalidCloseCode(1006),
        ),
        (
            close_payload(1015, ""),
            ProtocolError::InvalidCloseCode(1015),
        ),
        (
            close_payload(1016, ""),
            ProtocolError::InvalidCloseCode(1016),
        ),
        (
            close_payload(2999, ""),
            ProtocolError::InvalidCloseCode(2999),
        ),
        (
            close_payload(5000, ""),
            ProtocolError::InvalidCloseCode(5000),
        ),
        (
            [
                &[0x03, 0xe8][..],
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
            ]
            .concat(),
            ProtocolError::InvalidCloseReason,
        ),
    ] {
        let d = feed_three_ways(
            Role::Server,
            Config::default(),
            &client_frame(true, 0x8, &payload),
        );
        assert_failing(&d, error.close_code());
    }
}

#[test]
fn valid_received_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let d = feed_three_ways(
            Role::Server,
            Config::default(),
            &client_frame(true, 0x8, &close_payload(code, "r")),
        );
        assert_failing(&d, CloseCode(code));
    }
}

#[test]
fn caller_close_rules() {
    let now = start();
    let mut ep = Endpoint::new(Role::Client, Config::default(), now);
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            ep.conn.close(now, CloseCode(code), ""),
            Err(Error::InvalidCloseCode(code))
        );
    }
    assert_eq!(
        ep.conn.close(now, CloseCode::NORMAL, &"x".repeat(124)),
        Err(Error::ControlPayloadTooLong)
    );
    assert_eq!(
        ep.conn.state(),
        ConnectionState::Open,
        "a refused close changes nothing"
    );
    ep.conn
        .close(now, CloseCode::NORMAL, &"x".repeat(123))
        .unwrap();
    assert_eq!(
        ep.conn.close(now, CloseCode::NORMAL, ""),
        Err(Error::Closed)
    );
    assert_eq!(ep.conn.send_text("late"), Err(Error::Closed));
    assert_eq!(ep.conn.send_ping(b""), Err(Error::Closed));
}

#[test]
fn messages_after_our_close_are_still_delivered_until_the_peer_closes() {
    let mut pair = Pair::new(Config::default());
    pair.server.conn.send_text("in flight").unwrap();
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "")
        .unwrap();
    pair.transfer();
    let events = pair.client_events();
    assert_eq!(events[0], Event::Text("in flight".into()));
    assert!(matches!(events[1], Event::Closed(_)));
}

#[test]
fn eof_without_close_is_abnormal_1006() {
    for role in [Role::Client, Role::Server] {
        let now = start();
        let mut ep = Endpoint::new(role, Config::default(), now);
        ep.conn.send_text("unsent").unwrap();
        ep.conn.receive_eof(now);
        ep.conn.receive_eof(now);
        let d = ep.take();
        assert!(d.written.is_empty(), "queued output is dropped");
        let outcomes = closed(&d.events);
        assert_eq!(outcomes.len(), 1, "reported exactly once");
        assert_eq!(
            (outcomes[0].code(), outcomes[0].clean),
            (CloseCode::ABNORMAL, false)
        );
        assert_eq!(d.actions, [TransportAction::Close]);
    }
}

#[test]
fn failure_reports_the_error_once_and_discards_later_input() {
    let now = start();
    let mut ep = Endpoint::new(Role::Server, Config::default(), now);
    ep.conn.receive(now, &client_frame(true, 0x1, b"\xff"));
    ep.conn.receive(now, &client_frame(true, 0x1, b"ignored"));
    let d = ep.take();
    assert_failing(&d, CloseCode::INVALID_PAYLOAD);
    assert_eq!(d.events, []);
    assert_eq!(
        d.actions,
        [TransportAction::ShutdownWrite],
        "the server closes TCP at once (§7.1.7)"
    );
    ep.conn.receive_eof(now);
    let d = ep.take();
    let outcome = d.closed().unwrap();
    assert_eq!(outcome.error, Some(ProtocolError::InvalidUtf8));
    assert_eq!(
        outcome.sent.as_ref().map(|f| f.code),
        Some(CloseCode::INVALID_PAYLOAD)
    );
    assert_eq!(outcome.initiator, CloseInitiator::Failure);
    assert!(!outcome.clean);
    assert_eq!(d.actions, [TransportAction::Close]);
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let config = Config::default().with_close_timeout(Duration::from_millis(250));
    let now = start();
    let mut ep = Endpoint::new(Role::Client, config, now);
    ep.conn.close(now, CloseCode::NORMAL, "").unwrap();
    ep.drain();
    assert_eq!(
        ep.conn.poll_timeout(),
        Some(now + Duration::from_millis(250))
    );
    ep.conn.handle_timeout(now + Duration::from_millis(249));
    assert_eq!(ep.conn.state(), ConnectionState::Closing);
    ep.conn.handle_timeout(now + Duration::from_millis(250));
    let d = ep.take();
    let outcome = d.closed().unwrap();
    assert_eq!(
        (outcome.code(), outcome.clean, outcome.timed_out),
        (CloseCode::ABNORMAL, false, true)
    );
    assert_eq!(d.actions, [TransportAction::Close]);
    assert_eq!(ep.conn.poll_timeout(), None);
}

#[test]
fn client_waits_for_the_server_fin_with_a_timeout() {
    let mut pair = Pair::new(Config::default().with_close_timeout(Duration::from_secs(2)));
    pair.client
        .conn
        .close(pair.now, CloseCode::NORMAL, "")
        .unwrap();
    // Deliver the server's echo but never its FIN.
    pair.client.drain();
    let bytes = std::mem::take(&mut pair.client.drained.written);
    pair.server.conn.receive(pair.now, &bytes);
    pair.server.drain();
    let echo = std::mem::take(&mut pair.server.drained.written);
    pair.client.conn.receive(pair.now, &echo);
    assert_eq!(pair.client.conn.state(), ConnectionState::Closing);
    let step = pair.advance_to_next_deadline().unwrap();
    assert_eq!(step, Duration::from_secs(2));
    let events = pair.client_events();
    let outcome = closed(&events)[0];
    assert!(outcome.clean, "both Close frames were exchanged");
    assert!(outcome.timed_out, "but the server's FIN never came");
}

#[test]
fn abort_ends_at_once_without_a_close_frame() {
    let now = start();
    let mut ep = Endpoint::new(Role::Server, Config::default(), now);
    ep.conn.send_text("dropped").unwrap();
    ep.conn.abort();
    ep.conn.abort();
    let d = ep.take();
    assert!(d.written.is_empty());
    assert_eq!(d.actions, [TransportAction::Close]);
    assert_eq!(closed(&d.events).len(), 1);
}

#[test]
fn close_is_queued_even_when_the_output_is_full() {
    let config = Config::default().with_max_output_buffer(10);
    let now = start();
    let mut ep = Endpoint::new(Role::Server, config, now);
    ep.conn.send_binary(&[0; 20]).unwrap();
    ep.conn.close(now, CloseCode::NORMAL, "").unwrap();
    let frames = ep.take().frames();
    assert_eq!(frames.last().unwrap().0.opcode, OpCode::Close);
}

#[test]
fn no_pong_after_our_close() {
    let now = start();
    let mut ep = Endpoint::new(Role::Server, Config::default(), now);
    ep.conn.close(now, CloseCode::NORMAL, "").unwrap();
    ep.conn.receive(now, &client_frame(true, 0x9, b"late ping"));
    let d = ep.take();
    assert_eq!(
        d.frames()
            .iter()
            .filter(|(h, _)| h.opcode == OpCode::Pong)
            .count(),
        0
    );
    assert_eq!(d.events, [Event::Ping("late ping".into())]);
}

#[test]
fn consuming_output_that_an_abort_dropped_is_harmless() {
    // An adapter took the output, released its lock to write it, and another thread aborted.
    let now = start();
    let mut ep = Endpoint::new(Role::Server, Config::default(), now);
    ep.conn.send_text("in flight").unwrap();
    let taken = ep.conn.output_shared();
    ep.conn.abort();
    ep.conn.consume_output(taken.len());
    assert_eq!(ep.conn.output_len(), 0);
    assert_eq!(ep.conn.state(), ConnectionState::Closed);
}

//! Keepalive, Pong timeout and close timeout on a simulated clock: whole minutes in microseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ws_proto::testing::OpCode;
use ws_proto::{CloseCode, Config, ConnectionState, Event, ProtocolError, Role};

fn keepalive(interval: u64, timeout: u64) -> Config {
    Config::default()
        .with_ping_interval(Some(Duration::from_secs(interval)))
        .with_pong_timeout(Duration::from_secs(timeout))
}

#[test]
fn no_timer_by_default() {
    let pair = Pair::new(Config::default());
    assert_eq!(pair.client.conn.poll_timeout(), None);
    assert_eq!(pair.server.conn.poll_timeout(), None);
}

#[test]
fn keepalive_pings_an_idle_peer_and_the_pong_keeps_it_open() {
    let mut pair = Pair::with_configs(Config::default(), keepalive(20, 10));
    for round in 1..=5u64 {
        let step = pair
            .advance_to_next_deadline()
            .expect("the server has a keepalive timer");
        assert_eq!(step, Duration::from_secs(20));
        pair.transfer();
        // The client answered the ping automatically; the server saw the Pong.
        let events = pair.server_events();
        assert_eq!(events, [Event::Pong(round.to_be_bytes().to_vec().into())]);
        assert_eq!(pair.server.conn.state(), ConnectionState::Open);
    }
}

#[test]
fn traffic_postpones_the_keepalive_ping() {
    let mut pair = Pair::with_configs(Config::default(), keepalive(20, 10));
    pair.now += Duration::from_secs(15);
    pair.client.conn.send_text("still here").unwrap();
    pair.transfer();
    assert_eq!(
        pair.server.conn.poll_timeout(),
        Some(pair.now + Duration::from_secs(20))
    );
}

#[test]
fn pong_timeout_fails_the_connection_with_1011() {
    let mut pair = Pair::with_configs(Config::default(), keepalive(20, 10));
    assert_eq!(
        pair.advance_to_next_deadline(),
        Some(Duration::from_secs(20))
    );
    // The ping is lost: the client never hears from the server.
    pair.server.drain();
    pair.server.drained.written.clear();
    assert_eq!(
        pair.server.conn.poll_timeout(),
        Some(pair.now + Duration::from_secs(10))
    );
    assert_eq!(
        pair.advance_to_next_deadline(),
        Some(Duration::from_secs(10))
    );
    pair.server.drain();
    assert_failing(&pair.server.drained, CloseCode::INTERNAL_ERROR);
    // The close timeout then bounds the wait for a dead peer.
    let close_timeout = Config::default().close_timeout;
    assert_eq!(pair.advance_to_next_deadline(), Some(close_timeout));
    let events = pair.server_events();
    let Some(Event::Closed(outcome)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(outcome.error, Some(ProtocolError::KeepaliveTimeout));
    assert_eq!(outcome.code(), CloseCode::ABNORMAL);
    assert!(outcome.timed_out, "the dead peer never finished closing");
}

#[test]
fn any_bytes_count_as_a_sign_of_life() {
    // A peer busy sending one long frame cannot answer a Ping until the frame ends; its bytes
    // prove it alive.
    let mut pair = Pair::with_configs(Config::default(), keepalive(20, 10));
    pair.advance_to_next_deadline();
    pair.now += Duration::from_secs(9);
    let partial = &client_frame(true, 0x2, &[0u8; 100])[..50];
    pair.server.conn.receive(pair.now, partial);
    assert_eq!(
        pair.server.conn.poll_timeout(),
        Some(pair.now + Duration::from_secs(20))
    );
}

#[test]
fn keepalive_in_microseconds_over_a_simulated_day() {
    let mut pair = Pair::new(keepalive(30, 10));
    let mut simulated = Duration::ZERO;
    while simulated < Duration::from_secs(24 * 3600) {
        simulated += pair.advance_to_next_deadline().unwrap();
        pair.transfer();
    }
    assert_eq!(pair.client.conn.state(), ConnectionState::Open);
    assert_eq!(pair.server.conn.state(), ConnectionState::Open);
    let pings = pair
        .client
        .drained
        .frames()
        .iter()
        .filter(|(h, _)| h.opcode == OpCode::Ping)
        .count();
    assert!(pings >= 2000, "{pings}");
}

#[test]
fn handle_timeout_early_or_twice_is_harmless() {
    let now = start();
    let mut ep = Endpoint::new(Role::Server, keepalive(20, 10), now);
    ep.conn.handle_timeout(now);
    ep.conn.handle_timeout(now + Duration::from_secs(19));
    assert!(ep.take().written.is_empty());
    ep.conn.handle_timeout(now + Duration::from_secs(20));
    ep.conn.handle_timeout(now + Duration::from_secs(20));
    let pings = ep
        .take()
        .frames()
        .iter()
        .filter(|(h, _)| h.opcode == OpCode::Ping)
        .count();
    assert_eq!(pings, 1);
}

#[test]
fn huge_durations_mean_never_instead_of_panicking() {
    let config = Config::default()
        .with_ping_interval(Some(Duration::MAX))
        .with_pong_timeout(Duration::MAX)
        .with_close_timeout(Duration::MAX)
        .with_handshake_timeout(Duration::MAX);
    let mut pair = Pair::new(config);
    let at = pair
        .server
        .conn
        .poll_timeout()
        .expect("a keepalive deadline");
    assert!(at > start() + Duration::from_secs(365 * 24 * 3600));
    pair.server
        .conn
        .close(start(), ws_proto::CloseCode::NORMAL, "")
        .unwrap();
    let at = pair.server.conn.poll_timeout().expect("a close deadline");
    assert!(at > start() + Duration::from_secs(365 * 24 * 3600));
}

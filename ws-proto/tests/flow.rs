//! Flow control and buffer lifetime: the one read rule (`wants_read`) and buffers that shrink
//! back after a large message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ws_proto::{Config, Connection, Event, Role};

fn server(config: Config) -> Connection {
    Connection::new(Role::Server, config, start())
}

#[test]
fn reading_stops_at_the_read_ahead_and_resumes_when_the_application_polls() {
    let mut ws = server(Config::default().with_read_ahead(4 << 10));
    let frame = client_frame(true, 0x2, &[7u8; 1024]);
    let mut fed = 0;
    while ws.wants_read() {
        ws.receive(start(), &frame);
        fed += 1;
        assert!(fed < 100, "reading never stopped");
    }
    // Four 1 KiB messages plus their per-event overhead reach the 4 KiB bound.
    assert_eq!(fed, 4);
    assert!(ws.pending_event_bytes() >= 4 << 10);
    assert!(matches!(ws.poll_event(), Some(Event::Binary(_))));
    assert!(ws.wants_read(), "polling one event makes room again");
}

#[test]
fn one_message_may_exceed_the_read_ahead_but_nothing_more_is_read() {
    let mut ws = server(Config::default().with_read_ahead(1024));
    ws.receive(start(), &client_frame(true, 0x2, &[1u8; 64 << 10]));
    assert!(!ws.wants_read());
    assert!(matches!(ws.poll_event(), Some(Event::Binary(b)) if b.len() == 64 << 10));
    assert!(ws.wants_read());
}

#[test]
fn a_full_output_queue_does_not_stop_reading_and_pongs_do_not_pile_up() {
    let mut ws = server(Config::default().with_max_output_buffer(1024));
    ws.send_binary(&[0u8; 2048]).unwrap();
    // Two peers that both send before receiving must not wait on each other.
    assert!(ws.wants_read());
    let queued = ws.output_len();
    for i in 0..1000u32 {
        ws.receive(start(), &client_frame(true, 0x9, &i.to_be_bytes()));
    }
    // A thousand Pings read while the output is full add nothing to it: only the latest
    // answer waits for room.
    assert_eq!(ws.output_len(), queued);
}

#[test]
fn after_the_peer_close_input_is_discarded_so_reading_goes_on_until_eof() {
    let mut ws = server(Config::default().with_read_ahead(16));
    ws.receive(start(), &client_frame(true, 0x2, &[1u8; 100]));
    ws.receive(start(), &client_frame(true, 0x8, &close_payload(1000, "")));
    assert!(
        ws.wants_read(),
        "only the EOF is awaited; nothing read is kept"
    );
    while ws.poll_event().is_some() {}
    ws.receive_eof(start());
    while ws.poll_event().is_some() {}
    let n = ws.output_len();
    ws.consume_output(n);
    while ws.poll_transport().is_some() {}
    assert!(!ws.wants_read(), "a closed connection reads nothing");
}

#[test]
fn a_large_message_leaves_no_large_buffer_behind() {
    let mut ws = server(Config::default());
    let big = client_frame(true, 0x2, &vec![9u8; 15 << 20]);
    // Fed in socket-sized pieces, as an adapter would.
    let (head, last) = big.split_at(big.len() - 1);
    for chunk in head.chunks(64 << 10) {
        ws.receive(start(), chunk);
    }
    assert!(
        ws.buffer_capacity() >= 14 << 20,
        "the message is held while assembled"
    );
    ws.receive(start(), last);
    let Some(Event::Binary(message)) = ws.poll_event() else {
        panic!("expected the message");
    };
    assert_eq!(message.len(), 15 << 20);
    assert!(
        ws.buffer_capacity() <= 128 << 10,
        "buffers kept {} bytes after delivering the message",
        ws.buffer_capacity()
    );
    drop(message);
    // Small messages afterwards reuse a small buffer.
    for _ in 0..100 {
        ws.receive(start(), &client_frame(true, 0x1, b"small"));
        assert!(matches!(ws.poll_event(), Some(Event::Text(_))));
    }
    assert!(ws.buffer_capacity() <= 128 << 10);
}

#[test]
fn a_large_send_leaves_no_large_output_buffer_behind() {
    let mut ws = server(Config::default().with_max_output_buffer(64 << 20));
    ws.send_binary(&vec![1u8; 15 << 20]).unwrap();
    while ws.output_len() > 0 {
        let n = ws.output().len().min(64 << 10);
        ws.consume_output(n);
    }
    assert!(
        ws.buffer_capacity() <= 128 << 10,
        "kept {}",
        ws.buffer_capacity()
    );
}

#[test]
fn a_declared_length_allocates_nothing_by_itself() {
    let mut ws = server(Config::default());
    // A header announcing 16 MiB, with only 10 payload bytes behind it.
    let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0, 0, 0, 0];
    frame[2..10].copy_from_slice(&(16u64 << 20).to_be_bytes());
    frame.extend_from_slice(&[0u8; 10]);
    ws.receive(start(), &frame);
    assert!(
        ws.buffer_capacity() < 64 << 10,
        "kept {}",
        ws.buffer_capacity()
    );
}

#[test]
fn a_burst_of_small_messages_shares_one_buffer_that_is_let_go_once_delivered() {
    let mut ws = server(Config::default());
    // One read with 1,000 small messages, a Ping among them, and half of a last message.
    let mut burst = Vec::new();
    for i in 0..1000u32 {
        burst.extend(client_frame(true, 0x2, &i.to_be_bytes()));
        if i == 500 {
            burst.extend(client_frame(true, 0x9, b"ping"));
        }
    }
    let last = client_frame(true, 0x1, "héllo, wörld".as_bytes());
    let (first_half, second_half) = last.split_at(last.len() / 2);
    burst.extend_from_slice(first_half);
    ws.receive(start(), &burst);
    // The payloads are sized from what arrived: 4,000 message bytes and the half message,
    // not the length a header claims and not one growing buffer per message.
    assert!(
        ws.buffer_capacity() < 8 << 10,
        "kept {}",
        ws.buffer_capacity()
    );
    let mut held = Vec::new();
    for i in 0..1000u32 {
        match ws.poll_event() {
            Some(Event::Binary(b)) => {
                assert_eq!(&b[..], &i.to_be_bytes());
                held.push(b);
            }
            Some(Event::Ping(p)) if i == 501 => {
                assert_eq!(&p[..], b"ping");
                let Some(Event::Binary(b)) = ws.poll_event() else {
                    panic!("expected message {i}");
                };
                assert_eq!(&b[..], &i.to_be_bytes());
                held.push(b);
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    ws.receive(start(), second_half);
    assert!(matches!(ws.poll_event(), Some(Event::Text(t)) if t == "héllo, wörld"));
    // Messages the application still holds stay valid after the buffer moved on.
    assert_eq!(&held[999][..], &999u32.to_be_bytes());
    drop(held);
    assert!(
        ws.buffer_capacity() < 1024,
        "an idle connection kept {} bytes of receive buffer",
        ws.buffer_capacity()
    );
}

/// Counts the allocations made by the current thread (tests run on threads of their own).
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub(crate) struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    pub(crate) fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// Small messages followed, in the same read, by one too large to share their allocation: the
/// small ones still share one (a reservation that took in the large one too would be released
/// after each small message and made again for the next).
#[test]
fn small_messages_before_a_large_one_in_the_same_read_share_one_allocation() {
    let mut ws = server(Config::default());
    let mut read = Vec::new();
    for _ in 0..63 {
        read.extend(client_frame(true, 0x2, &[1u8; 1024]));
    }
    read.extend(client_frame(true, 0x2, &vec![2u8; 100_000]));
    let before = counting::allocations();
    ws.receive(start(), &read);
    let allocations = counting::allocations() - before;
    let mut sizes = Vec::new();
    while let Some(event) = ws.poll_event() {
        let Event::Binary(b) = event else {
            panic!("expected binary messages");
        };
        sizes.push(b.len());
    }
    assert_eq!(sizes.len(), 64);
    assert!(sizes[..63].iter().all(|&n| n == 1024));
    assert_eq!(sizes[63], 100_000);
    // The small messages' buffer, the large one's (with a step or two of growth), the events'
    // queue growing by doubling: nothing per small message.
    assert!(allocations <= 16, "{allocations} allocations for one read");
}

//! The reactor: one background thread per process that every connection shares. It is what lets
//! a connection need no thread of its own:
//!
//! * **timers**: it fires each connection's next deadline (the core's close, keepalive and Pong
//!   timeouts, and the read sweep below), so a close timeout ends a connection whatever its
//!   application threads are doing;
//! * **writability**: output that a non-blocking write could not place is written when the
//!   socket has room again, so no thread ever blocks in `write` and a peer that stops reading
//!   cannot pin one;
//! * **reading for an absent application**: when no application thread has been in `recv` for a
//!   while, or every handle is gone, it reads what has arrived (non-blocking, within the core's
//!   read-ahead), so Pongs are seen, Pings answered and close handshakes completed;
//! * **refusals**: a connection over a server's limit is answered (503) and drained here, with
//!   no thread spawned for it.
//!
//! The reactor holds each open connection until the core says `Close`, so a connection whose
//! handles were all dropped still finishes its close handshake.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use crate::socket::Shared;
use crate::sys;

/// How long a refused connection may take to read our 503 and close before it is dropped.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);
/// Stack of the reactor thread: it runs only this crate's code.
const REACTOR_STACK: usize = 128 << 10;

/// The process-wide reactor.
pub(crate) struct Reactor {
    poller: Poller,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_key: usize,
    /// Open connections, held until closed.
    connections: HashMap<usize, Arc<Shared>>,
    /// Refused connections being drained after their 503.
    refused: HashMap<usize, Refused>,
    /// Deadlines by time; an entry may be stale (the connection re-checks when it fires).
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
}

struct Refused {
    tcp: TcpStream,
    until: Instant,
}

static REACTOR: OnceLock<io::Result<Arc<Reactor>>> = OnceLock::new();

impl Reactor {
    /// The reactor, started on first use. Fails only if its thread or poller cannot be made.
    pub(crate) fn get() -> io::Result<&'static Arc<Reactor>> {
        REACTOR
            .get_or_init(Reactor::start)
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }

    fn start() -> io::Result<Arc<Reactor>> {
        let reactor = Arc::new(Reactor {
            poller: Poller::new()?,
            state: Mutex::new(State::default()),
        });
        let running = Arc::clone(&reactor);
        thread::Builder::new()
            .name("ws-reactor".into())
            .stack_size(REACTOR_STACK)
            .spawn(move || running.run())?;
        Ok(reactor)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a new connection in: returns its key.
    pub(crate) fn register(&self, tcp: &TcpStream, shared: &Arc<Shared>) -> io::Result<usize> {
        let mut state = self.lock();
        let key = state.next_key;
        state.next_key = state.next_key.wrapping_add(1) % (usize::MAX - 1);
        sys::add(&self.poller, tcp, Event::none(key))?;
        state.connections.insert(key, Arc::clone(shared));
        Ok(key)
    }

    /// The connection is closed: forget it. Call before its socket is closed.
    pub(crate) fn deregister(&self, key: usize, tcp: &TcpStream) {
        let _ = self.poller.delete(tcp);
        // Dropped outside the lock: it may be the last reference to the connection.
        let shared = self.lock().connections.remove(&key);
        drop(shared);
    }

    /// Asks for readiness events of `key`'s socket (one-shot: ask again after each).
    pub(crate) fn interest(&self, key: usize, tcp: &TcpStream, readable: bool, writable: bool) {
        let event = match (readable, writable) {
            (true, true) => Event::all(key),
            (true, false) => Event::readable(key),
            (false, true) => Event::writable(key),
            (false, false) => Event::none(key),
        };
        let _ = self.poller.modify(tcp, event);
    }

    /// Calls the connection `key` back at `at` (or soon after).
    pub(crate) fn schedule(&self, key: usize, at: Instant) {
        let mut state = self.lock();
        let earliest = state.timers.peek().map(|Reverse((t, _))| *t);
        state.timers.push(Reverse((at, key)));
        drop(state);
        if earliest.is_none_or(|t| at < t) {
            let _ = self.poller.notify();
        }
    }

    /// Answers `tcp` with `response` (a 503 at the connection limit) and closes it once the
    /// peer has read it, without a thread. The request is drained, not parsed: the answer does
    /// not depend on it.
    pub(crate) fn refuse(&self, tcp: TcpStream, response: &[u8]) {
        ws_adapter::trace::refused_unread(&tcp);
        let _ = tcp.set_nodelay(true);
        if sys::send_nonblocking(&tcp, response).is_err() {
            return;
        }
        let _ = tcp.shutdown(Shutdown::Write);
        let until = ws_proto::deadline(Instant::now(), REFUSAL_LINGER);
        let mut state = self.lock();
        let key = state.next_key;
        state.next_key = state.next_key.wrapping_add(1) % (usize::MAX - 1);
        if sys::add(&self.poller, &tcp, Event::readable(key)).is_err() {
            return;
        }
        state.refused.insert(key, Refused { tcp, until });
        state.timers.push(Reverse((until, key)));
        drop(state);
        let _ = self.poller.notify();
    }

    fn run(&self) {
        let mut events = Events::new();
        loop {
            let next = self.lock().timers.peek().map(|Reverse((at, _))| *at);
            let timeout = next.map(|at| at.saturating_duration_since(Instant::now()));
            events.clear();
            if self.poller.wait(&mut events, timeout).is_err() {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            for event in events.iter() {
                self.ready(event);
            }
            self.fire_timers(Instant::now());
        }
    }

    fn ready(&self, event: Event) {
        let (shared, refused_done) = {
            let mut state = self.lock();
            match state.connections.get(&event.key) {
                Some(shared) => (Some(Arc::clone(shared)), None),
                None => (None, drain_refused(&mut state, &self.poller, event.key)),
            }
        };
        if let Some(shared) = shared {
            shared.on_ready(event.readable, event.writable);
        }
        drop(refused_done);
    }

    fn fire_timers(&self, now: Instant) {
        let mut due = Vec::new();
        let mut expired = Vec::new();
        {
            let mut state = self.lock();
            while let Some(Reverse((at, key))) = state.timers.peek().copied() {
                if at > now {
                    break;
                }
                state.timers.pop();
                if let Some(shared) = state.connections.get(&key) {
                    due.push(Arc::clone(shared));
                } else if state.refused.get(&key).is_some_and(|r| r.until <= now)
                    && let Some(refused) = state.refused.remove(&key)
                {
                    let _ = self.poller.delete(&refused.tcp);
                    expired.push(refused);
                }
            }
        }
        drop(expired);
        for shared in due {
            shared.on_timer(now);
        }
    }
}

/// Reads and discards what a refused peer sent; returns its socket to drop once it closed.
fn drain_refused(state: &mut State, poller: &Poller, key: usize) -> Option<Refused> {
    let refused = state.refused.get(&key)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        match sys::recv_into(&refused.tcp, &mut buf, true) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let _ = poller.modify(&refused.tcp, Event::readable(key));
                return None;
            }
            Err(_) => break,
        }
    }
    let refused = state.refused.remove(&key)?;
    let _ = poller.delete(&refused.tcp);
    Some(refused)
}

//! Non-blocking socket calls on a blocking socket, and the poller registration: the only
//! platform-specific and `unsafe` code of this crate.
//!
//! A connection's socket stays in blocking mode, because an application thread in `recv` blocks
//! in `read` on it. Writes and the reactor's reads must never block, so they ask for a
//! non-blocking call per call (`MSG_DONTWAIT`) instead of changing the socket's mode, which is
//! shared by every handle of the socket.

use std::io::{self, IoSlice};
use std::net::TcpStream;

use polling::{Event, Poller};
use socket2::SockRef;

#[cfg(unix)]
const DONT_WAIT: libc::c_int = libc::MSG_DONTWAIT;
// Elsewhere there is no per-call flag: the socket's send timeout (set once, short) bounds how
// long a write can block instead.
#[cfg(not(unix))]
const DONT_WAIT: i32 = 0;

/// Writes what the socket takes now of `slices`, without blocking.
pub(crate) fn send_vectored_nonblocking(
    tcp: &TcpStream,
    slices: &[IoSlice<'_>],
) -> io::Result<usize> {
    SockRef::from(tcp).send_vectored_with_flags(slices, DONT_WAIT)
}

/// Writes what the socket takes now of `bytes`, without blocking.
pub(crate) fn send_nonblocking(tcp: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    SockRef::from(tcp).send_with_flags(bytes, DONT_WAIT)
}

/// Reads into the spare capacity of `buf` (cleared first), blocking unless `nonblocking`
/// (`WouldBlock` when nothing has arrived), and sets its length to what arrived. Reading into
/// spare capacity keeps the buffer's untouched pages from ever becoming resident: a connection
/// that only sees small messages costs a page, not the whole buffer.
pub(crate) fn recv_into(
    tcp: &TcpStream,
    buf: &mut Vec<u8>,
    nonblocking: bool,
) -> io::Result<usize> {
    buf.clear();
    let flags = if nonblocking { DONT_WAIT } else { 0 };
    let n = SockRef::from(tcp).recv_with_flags(buf.spare_capacity_mut(), flags)?;
    // SAFETY: `recv` initialised the first `n` bytes of the spare capacity (it never reports
    // more than the buffer it was given).
    unsafe { buf.set_len(n.min(buf.capacity())) };
    Ok(n)
}

/// Registers `tcp` with the poller.
pub(crate) fn add(poller: &Poller, tcp: &TcpStream, interest: Event) -> io::Result<()> {
    // SAFETY: every registered socket is deleted from the poller before it is closed: a
    // connection's socket by `Reactor::deregister` before the core's `Close` drops it (and the
    // reactor holds the connection until then), a refused one when its draining ends.
    unsafe { poller.add(tcp, interest) }
}

/// Prepares a connection's socket for the reactor's non-blocking calls where the platform has
/// no per-call flag.
pub(crate) fn prepare(tcp: &TcpStream) -> io::Result<()> {
    #[cfg(not(unix))]
    tcp.set_write_timeout(Some(std::time::Duration::from_millis(1)))?;
    let _ = tcp;
    Ok(())
}

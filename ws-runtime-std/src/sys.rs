//! Non-blocking socket calls on a blocking socket, and the poller registration: the only
//! platform-specific and `unsafe` code of this crate.
//!
//! A connection's socket stays in blocking mode, because an application thread in `recv` blocks
//! in `read` on it. Writes and the reactor's reads must never block, so they ask for a
//! non-blocking call per call (`MSG_DONTWAIT`) instead of changing the socket's mode, which is
//! shared by every handle of the socket.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
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

/// Reads what has arrived, without blocking (`WouldBlock` when nothing has).
pub(crate) fn recv_nonblocking(tcp: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `recv` only ever writes initialised
    // bytes into the buffer, so viewing initialised bytes as possibly-uninitialised is sound.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    SockRef::from(tcp).recv_with_flags(uninit, DONT_WAIT)
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

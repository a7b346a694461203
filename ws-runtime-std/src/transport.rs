//! The byte pipe under a WebSocket: a TCP stream, optionally wrapped in TLS (rustls).
//!
//! Before the WebSocket handshake a [`Transport`] is an ordinary blocking `Read + Write` stream.
//! Afterwards it is split so one thread only reads and another only writes: both share the
//! rustls state (behind the connection's lock) and each owns a clone of the TCP socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP stream, plain or with TLS.
pub struct Transport {
    pub(crate) tcp: TcpStream,
    pub(crate) tls: Option<rustls::Connection>,
}

impl Transport {
    /// A plain TCP transport (`ws://`).
    pub fn plain(tcp: TcpStream) -> Self {
        Transport { tcp, tls: None }
    }

    /// A TLS transport for the server side of `tcp`; the TLS handshake runs on first use.
    pub fn server_tls(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let tls = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(Transport {
            tcp,
            tls: Some(tls.into()),
        })
    }

    /// A TLS transport for the client side of `tcp`, verifying the server as `server_name`.
    pub fn client_tls(
        tcp: TcpStream,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> io::Result<Self> {
        let name = ws_adapter::tls::server_name(server_name)?;
        let tls = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Transport {
            tcp,
            tls: Some(tls.into()),
        })
    }

    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The underlying TCP stream.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Runs the TLS handshake to completion (a no-op for plain TCP), giving up at `deadline`.
    pub fn complete_tls_handshake(&mut self, deadline: Instant) -> io::Result<()> {
        let Some(tls) = &mut self.tls else {
            return Ok(());
        };
        while tls.is_handshaking() {
            set_deadline(&self.tcp, deadline)?;
            let (read, wrote) = tls.complete_io(&mut self.tcp)?;
            if read == 0 && wrote == 0 && tls.is_handshaking() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF during TLS handshake",
                ));
            }
        }
        // Flush what the handshake left to send (a TLS 1.3 server's session tickets).
        while tls.wants_write() {
            tls.write_tls(&mut self.tcp)?;
        }
        Ok(())
    }

    /// Sets the read and write timeouts of the TCP stream so blocking calls end by `deadline`.
    pub(crate) fn set_deadline(&self, deadline: Instant) -> io::Result<()> {
        set_deadline(&self.tcp, deadline)
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.tcp.read(buf),
            Some(tls) => loop {
                match tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed TCP without close_notify: an EOF all the same.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                while tls.wants_write() {
                    tls.write_tls(&mut self.tcp)?;
                }
                if tls.read_tls(&mut self.tcp)? == 0 {
                    return Ok(0);
                }
                tls.process_new_packets().map_err(io::Error::other)?;
            },
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => self.tcp.write(buf),
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                while tls.wants_write() {
                    tls.write_tls(&mut self.tcp)?;
                }
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                tls.write_tls(&mut self.tcp)?;
            }
        }
        self.tcp.flush()
    }
}

/// Sets both timeouts of `tcp` to the time left until `deadline` (at least 1 ms, since a zero
/// timeout means "block forever").
pub(crate) fn set_deadline(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
    }
    let left = left.max(Duration::from_millis(1));
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

/// Clears the timeouts set for the handshake: afterwards reads block until data or EOF.
pub(crate) fn clear_deadline(tcp: &TcpStream) -> io::Result<()> {
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)
}

/// Ends `tcp` at once and wakes a thread blocked reading it. With `reset`, nothing more is sent:
/// SO_LINGER 0 makes the final close of the socket a RST instead of a FIN, and only the read
/// half is shut down here (SHUT_RD sends nothing), so the peer sees no orderly close.
pub(crate) fn close_tcp(tcp: &TcpStream, reset: bool) {
    if reset {
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
        let _ = tcp.shutdown(Shutdown::Read);
    } else {
        let _ = tcp.shutdown(Shutdown::Both);
    }
}

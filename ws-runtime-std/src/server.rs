//! Serving: a listener with an accept loop, the core's handshake validation, and a hook that
//! accepts or rejects each request.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use ws_proto::Config;
use ws_proto::handshake::{HandshakeError, Request, ServerHandshake};

use crate::socket::WebSocket;
use crate::transport::Transport;
pub use ws_adapter::{AcceptError, Decision};

/// Runs the server side of the opening handshake on `transport`: reads the request (within the
/// handshake timeout), asks `hook`, and answers. `hook` sees every well-formed HTTP request,
/// upgrade or not ([`Request::is_upgrade`]), so one listener can also serve plain HTTP; the
/// upgrade is validated when the hook accepts. On success the WebSocket is running and the
/// request is returned with it.
pub fn accept(
    mut transport: Transport,
    config: &Config,
    hook: impl FnOnce(&Request) -> Decision,
) -> Result<(WebSocket, Request), AcceptError> {
    let start = Instant::now();
    let deadline = start + config.handshake_timeout;
    transport
        .complete_tls_handshake(deadline)
        .map_err(AcceptError::Io)?;
    let mut handshake = ServerHandshake::new(config, start);
    let mut buf = vec![0u8; 4 << 10];
    let request = loop {
        transport.set_deadline(deadline).map_err(AcceptError::Io)?;
        let n = match transport.read(&mut buf) {
            Ok(0) => return Err(AcceptError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(AcceptError::Handshake(HandshakeError::Timeout));
            }
            Err(e) => return Err(AcceptError::Io(e)),
        };
        match handshake.receive(Instant::now(), &buf[..n]) {
            Ok(Some(request)) => break request.clone(),
            Ok(None) => {}
            Err(e) => {
                return Err(answer(
                    &mut transport,
                    e.to_response().encode(),
                    AcceptError::Handshake(e),
                ));
            }
        }
    };
    match hook(&request) {
        Decision::Reject(response) => {
            let status = response.status;
            Err(answer(
                &mut transport,
                handshake.reject(response),
                AcceptError::Rejected(status),
            ))
        }
        Decision::Accept(accept) => match handshake.accept(Instant::now(), &accept) {
            Ok(connection) => {
                let ws =
                    WebSocket::from_transport(transport, connection).map_err(AcceptError::Io)?;
                Ok((ws, request))
            }
            Err(e) => Err(answer(
                &mut transport,
                e.to_response().encode(),
                AcceptError::Handshake(e),
            )),
        },
    }
}

/// Writes an error response, closes, and returns `error`.
fn answer(transport: &mut Transport, response: Vec<u8>, error: AcceptError) -> AcceptError {
    let _ = transport
        .write_all(&response)
        .and_then(|()| transport.flush());
    let _ = transport.tcp().shutdown(std::net::Shutdown::Write);
    error
}

/// A WebSocket server on a TCP listener.
pub struct Server {
    listener: TcpListener,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Server {
    /// Listens on `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr)?))
    }

    /// Serves on an existing listener.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            config: Config::default(),
            tls: None,
        }
    }

    /// Limits and timeouts for every connection.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serve `wss://` with this TLS configuration.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the accept loop on its own thread. For every connection, on a thread of its own:
    /// the handshake, `hook` deciding on the request, then `handler` with the running WebSocket.
    pub fn serve<H, F>(self, hook: H, handler: F) -> io::Result<ServerHandle>
    where
        H: Fn(&Request) -> Decision + Send + Sync + 'static,
        F: Fn(WebSocket, Request) + Send + Sync + 'static,
    {
        let addr = self.listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let (hook, handler) = (Arc::new(hook), Arc::new(handler));
        let thread = thread::Builder::new()
            .name("ws-accept".into())
            .spawn(move || {
                for stream in self.listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(tcp) = stream else { continue };
                    let (config, tls) = (self.config.clone(), self.tls.clone());
                    let (hook, handler) = (Arc::clone(&hook), Arc::clone(&handler));
                    let _ = thread::Builder::new()
                        .name("ws-conn".into())
                        .spawn(move || {
                            let Ok(transport) = server_transport(tcp, tls) else {
                                return;
                            };
                            if let Ok((ws, request)) = accept(transport, &config, |r| hook(r)) {
                                handler(ws, request);
                            }
                        });
                }
            })?;
        Ok(ServerHandle {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// Wraps an accepted stream in TLS when a configuration is given.
pub fn server_transport(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<Transport> {
    match tls {
        Some(config) => Transport::server_tls(tcp, config),
        None => Ok(Transport::plain(tcp)),
    }
}

/// Controls a running [`Server`]: stops its accept loop (connections already open carry on).
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept loop to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own; it sees the flag and ends.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

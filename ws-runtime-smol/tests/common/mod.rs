//! Helpers shared by the integration tests: a test timeout, an echo server, raw peers and test
//! certificates.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::Timer;
use ws_proto::handshake::{
    Accept, ClientHandshake, ClientOutcome, ClientRequest, ServerHandshake, WsUrl,
};
use ws_proto::{Config, Connection, SeededKeySource};
use ws_runtime_smol::{Decision, Event, Server, ServerHandle};

/// Runs `future` to completion, failing the test if it takes longer than `limit`.
pub fn run<T>(limit: Duration, future: impl Future<Output = T>) -> T {
    smol::block_on(futures_lite::future::or(future, async move {
        Timer::after(limit).await;
        panic!("test timed out after {limit:?}");
    }))
}

/// Waits `duration` without blocking the executor.
pub async fn sleep(duration: Duration) {
    Timer::after(duration).await;
}

/// An echo server on 127.0.0.1 (port 0) that sends every text and binary message back.
pub async fn echo_server(config: Config) -> ServerHandle {
    Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .config(config)
        .serve(|_request| Decision::accept(), echo)
        .expect("serve")
}

/// The echo handler.
pub async fn echo(ws: ws_runtime_smol::WebSocket, _request: ws_runtime_smol::Request) {
    while let Some(event) = ws.recv().await {
        let sent = match event {
            Event::Text(text) => ws.send_text(&text).await,
            Event::Binary(data) => ws.send_binary(&data).await,
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

pub fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// A blocking peer on a plain `std` listener: accepts one connection on its own thread, runs
/// the server handshake with the sans-IO machine, and hands the socket and the accepted
/// connection (its output starting with the 101, unwritten) to `then`.
pub fn raw_server<F>(then: F) -> (SocketAddr, std::thread::JoinHandle<()>)
where
    F: FnOnce(TcpStream, Connection) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let thread = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let now = Instant::now();
        // A byte-level peer: tests count and write frames as they are, uncompressed.
        let config = Config::default().with_compression(None);
        let mut handshake = ServerHandshake::new(&config, now);
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).expect("read request");
            assert!(n > 0, "client closed during the handshake");
            if handshake
                .receive(now, &buf[..n])
                .expect("valid request")
                .is_some()
            {
                break;
            }
        }
        let connection = handshake.accept(now, &Accept::new()).expect("accept");
        then(tcp, connection);
    });
    (addr, thread)
}

/// A blocking client peer: connects to `addr`, runs the client handshake with the sans-IO
/// machine, and returns the socket and the established connection (which already holds
/// whatever followed the 101). Panics on any failure, the server's refusal included.
pub fn raw_client(addr: SocketAddr) -> (TcpStream, Connection) {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    tcp.set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let url = WsUrl::parse(&ws_url(addr)).expect("url");
    let now = Instant::now();
    let mut handshake = ClientHandshake::new(
        ClientRequest::new(url),
        Config::default(),
        Box::new(SeededKeySource::new(11)),
        now,
    )
    .expect("request");
    tcp.write_all(handshake.output()).expect("write request");
    let written = handshake.output().len();
    handshake.consume_output(written);
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).expect("read response");
        assert!(n > 0, "server closed during the handshake");
        match handshake.receive(now, &buf[..n]).expect("a valid response") {
            Some(ClientOutcome::Upgraded(established)) => return (tcp, established.connection),
            Some(ClientOutcome::Rejected(response)) => panic!("rejected: {response:?}"),
            None => {}
        }
    }
}

/// Writes the whole output of `connection` to `tcp` in one write call.
pub fn flush_raw(tcp: &mut TcpStream, connection: &mut Connection) {
    let out = connection.output().to_vec();
    tcp.write_all(&out).expect("write");
    connection.consume_output(out.len());
}

/// A self-signed certificate for 127.0.0.1, with a server configuration presenting it and a
/// client configuration trusting only it.
pub fn tls_pair() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = ws_runtime_smol::tls::server_config(vec![cert.clone()], key).expect("server");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    (
        server,
        ws_runtime_smol::tls::client_config_with_roots(roots),
    )
}

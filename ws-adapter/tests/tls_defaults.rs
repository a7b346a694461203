//! The TLS defaults both adapters use: a handshake between the default client and server
//! configurations negotiates ALPN `http/1.1` on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, ServerName};
use ws_adapter::tls;

/// Runs a TLS handshake in memory between a client and a server connection.
fn handshake(client: &mut rustls::ClientConnection, server: &mut rustls::ServerConnection) {
    for _ in 0..10 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        server.read_tls(&mut &wire[..]).unwrap();
        server.process_new_packets().unwrap();
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        client.read_tls(&mut &wire[..]).unwrap();
        client.process_new_packets().unwrap();
        if !client.is_handshaking() && !server.is_handshaking() {
            return;
        }
    }
    panic!("the TLS handshake did not complete");
}

#[test]
fn both_sides_negotiate_alpn_http_1_1() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    let server_config = tls::server_config(vec![cert.der().clone()], key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client_config = tls::client_config_with_roots(roots);
    assert_eq!(client_config.alpn_protocols, [tls::ALPN_HTTP11.to_vec()]);
    assert_eq!(server_config.alpn_protocols, [tls::ALPN_HTTP11.to_vec()]);
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(Arc::clone(&client_config), name).unwrap();
    let mut server = rustls::ServerConnection::new(server_config).unwrap();
    handshake(&mut client, &mut server);
    assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));
}

//! TLS defaults: rustls with the `ring` provider, chosen explicitly (never a process-wide default
//! that could be missing or ambiguous), the Mozilla root store from `webpki-roots`, and ALPN
//! `http/1.1` offered on both sides (a WebSocket upgrade is an HTTP/1.1 request, RFC 6455 §4.1).
//!
//! Pass your own configurations to the adapters' client builders and servers to trust other
//! roots or present client certificates.

use std::sync::Arc;

/// The ALPN protocol a WebSocket over TLS speaks before the upgrade.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider the adapters use: `ring`.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The name a client verifies the server's certificate against, for the host of a `wss://`
/// URL ([`WsUrl::host`](ws_proto::WsUrl::host)): a DNS name or an IP address. An IPv6 zone
/// (`fe80::1%eth0`) is dropped: it names an interface of this machine and means nothing to the
/// server or its certificate (RFC 6874 §4 drops it from the Host header too).
///
/// ```
/// let name = ws_adapter::tls::server_name("fe80::1%eth0").unwrap();
/// assert_eq!(name.to_str(), "fe80::1");
/// assert!(ws_adapter::tls::server_name("example.com").is_ok());
/// ```
pub fn server_name(host: &str) -> std::io::Result<rustls::pki_types::ServerName<'static>> {
    let host = match host.split_once('%') {
        Some((address, _zone)) if address.contains(':') => address,
        _ => host,
    };
    rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// A client configuration trusting the Mozilla root store.
pub fn default_client_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    client_config_with_roots(roots)
}

/// A client configuration trusting exactly `roots`.
pub fn client_config_with_roots(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        // The ring provider supports the safe default versions: this cannot fail.
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Arc::new(config)
}

/// A server configuration presenting `cert_chain` with `key`.
pub fn server_config(
    cert_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

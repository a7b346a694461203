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

//! HTTPS: the rustls configuration built once from `[server.tls]` and shared by every core.
//! Each core accepts and handshakes on its own listener; there is no TLS work elsewhere.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// ALPN protocols offered, most preferred first.
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// The server side of TLS: TLS 1.3 and 1.2 with rustls's default (modern) cipher suites, the
/// certificate chain and key from `config`, ALPN `http/1.1`, session resumption by tickets
/// (keys rotated by rustls) and by the session cache.
pub(crate) fn server_config(config: &TlsConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = if config.self_signed {
        self_signed()?
    } else {
        from_files(config)?
    };
    // ring's provider is deprecated only for lacking post-quantum key exchange (that needs the
    // aws-lc-rs provider and its C/assembly build); it has every classic suite and group.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("server.tls.cert and server.tls.key do not make a usable pair")?;
    server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    server.ticketer = rustls::crypto::ring::Ticketer::new().context("TLS session tickets")?;
    Ok(Arc::new(server))
}

/// The certificate chain and key named by `server.tls.cert` and `server.tls.key`.
fn from_files(
    config: &TlsConfig,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("reading server.tls.cert {}", config.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "server.tls.cert {} holds no PEM certificate",
            config.cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&config.key)
        .with_context(|| format!("reading server.tls.key {}", config.key.display()))?;
    Ok((certs, key))
}

/// A certificate for `localhost` and `127.0.0.1`, made now (`server.tls.self_signed`).
fn self_signed() -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made =
        rcgen::generate_simple_self_signed(names).context("making a self-signed certificate")?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|err| anyhow::anyhow!("the self-signed certificate's key: {err}"))?;
    log::warn!("HTTPS uses a self-signed certificate for localhost (server.tls.self_signed): for development only");
    Ok((vec![made.cert.der().clone()], key))
}

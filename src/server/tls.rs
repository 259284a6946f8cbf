//! HTTPS: the rustls configuration built once from `[server.tls]` and shared by every core.
//! Each core accepts and handshakes on its own listener; there is no TLS work elsewhere.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsConfig;

/// A served certificate, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateInfo {
    /// The leaf's subject, e.g. `CN=example.com`.
    pub(crate) subject: String,
    /// When the leaf expires, Unix seconds.
    pub(crate) not_after: i64,
}

/// Handshake outcomes of every core's HTTPS listener and the certificates served, for
/// `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct HandshakeStats {
    /// Every certificate served (the default one first).
    pub(crate) certificates: Vec<CertificateInfo>,
    /// Handshakes completed.
    pub(crate) completed: AtomicU64,
    /// Handshakes that failed (bad input, no common protocol or cipher suite, ...).
    pub(crate) failed: AtomicU64,
    /// Handshakes not finished within `server.header_read_timeout`.
    pub(crate) timed_out: AtomicU64,
}

impl HandshakeStats {
    /// Zeroed counters for a listener serving `certificates`.
    pub(crate) fn new(certificates: Vec<CertificateInfo>) -> HandshakeStats {
        HandshakeStats {
            certificates,
            ..HandshakeStats::default()
        }
    }

    /// Counts one handshake.
    pub(crate) fn record(&self, outcome: HandshakeOutcome) {
        let counter = match outcome {
            HandshakeOutcome::Completed => &self.completed,
            HandshakeOutcome::Failed => &self.failed,
            HandshakeOutcome::TimedOut => &self.timed_out,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// How one TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeOutcome {
    Completed,
    Failed,
    TimedOut,
}

/// ALPN protocols offered with HTTP/2 on, most preferred first.
const ALPN_WITH_H2: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN protocols offered with `server.http2 = false`.
const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

/// The server side of TLS: TLS 1.3 and 1.2 with rustls's default (modern) cipher suites, the
/// certificate chain and key from `config`, ALPN `h2` (when `http2`) and `http/1.1`, session
/// resumption by tickets (keys rotated by rustls) and by the session cache.
pub(crate) fn server_config(
    config: &TlsConfig,
    http2: bool,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, Vec<CertificateInfo>)> {
    let (certs, key) = if config.self_signed {
        self_signed()?
    } else {
        read_pair(&config.cert, &config.key)?
    };
    // ring's provider is deprecated only for lacking post-quantum key exchange (that needs the
    // aws-lc-rs provider and its C/assembly build); it has every classic suite and group.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = CertifiedKey::from_der(certs, key, &provider)
        .context("server.tls.cert and server.tls.key do not make a usable pair")?;
    let mut others = Vec::with_capacity(config.certificates.len());
    for pair in &config.certificates {
        let (certs, key) = read_pair(&pair.cert, &pair.key)?;
        let certified = CertifiedKey::from_der(certs, key, &provider).with_context(|| {
            format!(
                "{} and {} do not make a usable pair",
                pair.cert.display(),
                pair.key.display()
            )
        })?;
        others.push(Arc::new(certified));
    }
    let certificates = std::iter::once(&default)
        .chain(others.iter().map(|key| &**key))
        .filter_map(describe)
        .collect();
    let resolver = SniResolver {
        default: Arc::new(default),
        others,
    };
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    let alpn = if http2 { ALPN_WITH_H2 } else { ALPN_HTTP1 };
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    server.ticketer = rustls::crypto::ring::Ticketer::new().context("TLS session tickets")?;
    Ok((Arc::new(server), certificates))
}

/// The subject and expiry of `key`'s leaf certificate (None if it does not parse).
fn describe(key: &CertifiedKey) -> Option<CertificateInfo> {
    let der = key.end_entity_cert().ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertificateInfo {
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A PEM certificate chain and its PEM private key.
fn read_pair(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .with_context(|| format!("reading the certificate {}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    Ok((certs, key))
}

/// Picks the certificate valid for the name the client asks for (SNI), the default one for
/// other names and for clients that name none.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    others: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| ServerName::try_from(name).ok())
            .and_then(|name| self.others.iter().find(|key| valid_for(key, &name)));
        Some(Arc::clone(chosen.unwrap_or(&self.default)))
    }
}

/// True when `key`'s leaf certificate names `name` (exactly or by a wildcard).
fn valid_for(key: &CertifiedKey, name: &ServerName<'_>) -> bool {
    key.end_entity_cert()
        .ok()
        .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
        .is_some_and(|cert| cert.verify_is_valid_for_subject_name(name).is_ok())
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

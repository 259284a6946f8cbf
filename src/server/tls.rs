//! HTTPS: the rustls configuration built once from `[server.tls]` and shared by every core.
//! Each core accepts and handshakes on its own listener; there is no TLS work elsewhere.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{AcmeChallenge, TlsConfig};

/// The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737).
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

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
    /// The certificates served.
    pub(crate) certificates: Arc<CertificateStore>,
    /// Handshakes completed.
    pub(crate) completed: AtomicU64,
    /// Handshakes that failed (bad input, no common protocol or cipher suite, ...).
    pub(crate) failed: AtomicU64,
    /// Handshakes not finished within `server.header_read_timeout`.
    pub(crate) timed_out: AtomicU64,
}

impl HandshakeStats {
    /// Zeroed counters for a listener serving `certificates`.
    pub(crate) fn new(certificates: Arc<CertificateStore>) -> HandshakeStats {
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
/// certificates of `config` (from files, self-signed, or issued by ACME into the returned
/// store), ALPN `h2` (when `http2`) and `http/1.1` (plus `acme-tls/1` for TLS-ALPN-01),
/// session resumption by tickets (keys rotated by rustls) and by the session cache.
pub(crate) fn server_config(
    config: &TlsConfig,
    http2: bool,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, Arc<CertificateStore>)> {
    let provider = crypto_provider();
    let default = if config.self_signed {
        let (certs, key) = self_signed()?;
        Some(certified(certs, key, &provider).context("the self-signed certificate")?)
    } else if !config.cert.as_os_str().is_empty() {
        let (certs, key) = read_pair(&config.cert, &config.key)?;
        let pair = certified(certs, key, &provider)
            .context("server.tls.cert and server.tls.key do not make a usable pair")?;
        Some(pair)
    } else {
        None
    };
    let mut others = Vec::with_capacity(config.certificates.len());
    for pair in &config.certificates {
        let (certs, key) = read_pair(&pair.cert, &pair.key)?;
        others.push(certified(certs, key, &provider).with_context(|| {
            format!(
                "{} and {} do not make a usable pair",
                pair.cert.display(),
                pair.key.display()
            )
        })?);
    }
    let store = Arc::new(CertificateStore {
        default,
        others,
        ..CertificateStore::default()
    });
    let resolver = StoreResolver(Arc::clone(&store));
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    let alpn = if http2 { ALPN_WITH_H2 } else { ALPN_HTTP1 };
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    if config.acme.enabled() && config.acme.challenge == AcmeChallenge::TlsAlpn01 {
        server.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    server.ticketer = rustls::crypto::ring::Ticketer::new().context("TLS session tickets")?;
    Ok((Arc::new(server), store))
}

/// The crypto provider of every TLS configuration.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    // ring's provider is deprecated only for lacking post-quantum key exchange (that needs the
    // aws-lc-rs provider and its C/assembly build); it has every classic suite and group.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain and its key, ready to serve.
pub(crate) fn certified(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &rustls::crypto::CryptoProvider,
) -> anyhow::Result<Arc<CertifiedKey>> {
    Ok(Arc::new(CertifiedKey::from_der(certs, key, provider)?))
}

/// Every certificate the HTTPS listener can present, shared by all cores. The files' ones are
/// fixed; the ACME certificate and the TLS-ALPN-01 challenge certificates change while the
/// server runs (a handshake reads the current one; open connections keep theirs).
#[derive(Debug, Default)]
pub(crate) struct CertificateStore {
    /// `server.tls.cert`/`key` or the self-signed one: for names nothing else covers.
    default: Option<Arc<CertifiedKey>>,
    /// `[[server.tls.certificates]]`, chosen by SNI.
    others: Vec<Arc<CertifiedKey>>,
    /// The certificate issued by ACME for `server.tls.acme.domains`.
    acme: RwLock<Option<Arc<CertifiedKey>>>,
    /// TLS-ALPN-01 validation certificates, by domain.
    challenges: RwLock<Vec<(String, Arc<CertifiedKey>)>>,
}

impl CertificateStore {
    /// Serves `key` as the ACME certificate from the next handshake on.
    pub(crate) fn set_acme(&self, key: Arc<CertifiedKey>) {
        if let Ok(mut acme) = self.acme.write() {
            *acme = Some(key);
        }
    }

    /// Presents `key` to TLS-ALPN-01 validation handshakes for `domain`.
    pub(crate) fn add_challenge(&self, domain: &str, key: Arc<CertifiedKey>) {
        if let Ok(mut challenges) = self.challenges.write() {
            challenges.retain(|(name, _)| !name.eq_ignore_ascii_case(domain));
            challenges.push((domain.to_owned(), key));
        }
    }

    /// Forgets every TLS-ALPN-01 certificate.
    pub(crate) fn clear_challenges(&self) {
        if let Ok(mut challenges) = self.challenges.write() {
            challenges.clear();
        }
    }

    /// The subject and expiry of every certificate served (default, others, ACME).
    pub(crate) fn describe(&self) -> Vec<CertificateInfo> {
        let acme = self.acme_key();
        self.default
            .iter()
            .chain(self.others.iter())
            .chain(acme.iter())
            .filter_map(|key| describe(key))
            .collect()
    }

    fn acme_key(&self) -> Option<Arc<CertifiedKey>> {
        self.acme.read().ok().and_then(|acme| acme.clone())
    }

    fn challenge_for(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let challenges = self.challenges.read().ok()?;
        challenges
            .iter()
            .find(|(domain, _)| domain.eq_ignore_ascii_case(name))
            .map(|(_, key)| Arc::clone(key))
    }

    /// The certificate for a client asking for `name` (SNI): a TLS-ALPN-01 certificate for a
    /// validation handshake, else the first of the ACME certificate, the others and the default
    /// that is valid for the name, else the default (or the ACME certificate without one).
    fn choose(&self, name: Option<&str>, acme_validation: bool) -> Option<Arc<CertifiedKey>> {
        if acme_validation {
            return name.and_then(|name| self.challenge_for(name));
        }
        let acme = self.acme_key();
        let server_name = name.and_then(|name| ServerName::try_from(name).ok());
        if let Some(server_name) = &server_name {
            let candidates = acme.iter().chain(self.others.iter());
            if let Some(key) = candidates
                .into_iter()
                .find(|key| valid_for(key, server_name))
            {
                return Some(Arc::clone(key));
            }
        }
        self.default.clone().or(acme)
    }
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

/// rustls's view of a [`CertificateStore`].
#[derive(Debug)]
struct StoreResolver(Arc<CertificateStore>);

impl ResolvesServerCert for StoreResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme_validation = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|protocol| protocol == ACME_TLS_ALPN));
        self.0.choose(hello.server_name(), acme_validation)
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

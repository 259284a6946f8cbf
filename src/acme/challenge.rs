//! What the CA checks: HTTP-01 tokens answered on the plain listener, and TLS-ALPN-01
//! certificates presented to `acme-tls/1` handshakes (RFC 8737).

use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::server::tls;

/// The URL path prefix of HTTP-01 challenges.
pub(crate) const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";

/// HTTP-01 tokens waiting to be fetched by the CA, with their key authorizations. Shared by
/// the ACME thread (which writes) and every core (which answers).
#[derive(Debug, Default)]
pub(crate) struct HttpTokens {
    tokens: RwLock<Vec<(String, String)>>,
}

impl HttpTokens {
    /// Answers `token` with `key_authorization` until [`HttpTokens::clear`].
    pub(crate) fn insert(&self, token: String, key_authorization: String) {
        if let Ok(mut tokens) = self.tokens.write() {
            tokens.push((token, key_authorization));
        }
    }

    /// Forgets every token.
    pub(crate) fn clear(&self) {
        if let Ok(mut tokens) = self.tokens.write() {
            tokens.clear();
        }
    }

    /// The key authorization for a request path, when it is a pending HTTP-01 challenge.
    pub(crate) fn answer(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(HTTP01_PREFIX)?;
        let tokens = self.tokens.read().ok()?;
        tokens
            .iter()
            .find(|(pending, _)| pending == token)
            .map(|(_, key_authorization)| key_authorization.clone())
    }
}

/// The self-signed certificate a TLS-ALPN-01 validation handshake for `domain` expects: the
/// domain as its only name and the SHA-256 digest of the key authorization in a critical
/// acmeIdentifier extension.
pub(crate) fn alpn_certificate(domain: &str, digest: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let mut params = CertificateParams::new(vec![domain.to_owned()])
        .context("a TLS-ALPN-01 certificate for the domain")?;
    params
        .custom_extensions
        .push(CustomExtension::new_acme_identifier(digest));
    let key = KeyPair::generate().context("a TLS-ALPN-01 key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the TLS-ALPN-01 certificate")?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|err| anyhow::anyhow!("the TLS-ALPN-01 key: {err}"))?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    // Not `CertifiedKey::from_der`: its check that the key matches parses the certificate with
    // webpki, which refuses the critical acmeIdentifier extension.
    let signing_key = tls::crypto_provider()
        .key_provider
        .load_private_key(key_der)
        .context("loading the TLS-ALPN-01 key")?;
    Ok(Arc::new(CertifiedKey::new(chain, signing_key)))
}

#[cfg(test)]
mod tests {
    use super::{alpn_certificate, HttpTokens};

    #[test]
    fn tokens_are_answered_only_under_the_challenge_path() {
        let tokens = HttpTokens::default();
        tokens.insert("abc".to_owned(), "abc.thumb".to_owned());
        assert_eq!(
            tokens.answer("/.well-known/acme-challenge/abc").as_deref(),
            Some("abc.thumb")
        );
        assert_eq!(tokens.answer("/.well-known/acme-challenge/abd"), None);
        assert_eq!(tokens.answer("/abc"), None);
        tokens.clear();
        assert_eq!(tokens.answer("/.well-known/acme-challenge/abc"), None);
    }

    #[test]
    fn alpn_certificates_carry_the_acme_identifier() {
        let key = alpn_certificate("example.test", &[7u8; 32]).expect("a certificate");
        let der = key.end_entity_cert().expect("a leaf");
        let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parses");
        let acme_identifier = cert
            .extensions()
            .iter()
            .find(|ext| ext.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("the acmeIdentifier extension");
        assert!(acme_identifier.critical);
    }
}

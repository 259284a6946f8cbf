//! Automatic certificates from an ACME CA (RFC 8555) with instant-acme. The client runs on a
//! thread of its own with a current-thread tokio runtime (instant-acme needs tokio); it shares
//! the HTTP-01 tokens with the cores' plain listeners and the issued and TLS-ALPN-01
//! certificates with their TLS listeners through [`HttpTokens`] and the [`CertificateStore`].
//!
//! At start-up a stored certificate that is still valid is served at once; otherwise one is
//! obtained in the background while plain HTTP already serves. A certificate is renewed when it
//! expires within `renew_before` and swapped in for the next handshake, without a restart or a
//! dropped connection. Failures are logged with the CA's error and retried with backoff.

mod challenge;
mod storage;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

pub(crate) use challenge::HttpTokens;

use crate::config::{AcmeChallenge, AcmeConfig};
use crate::server::tls::{self, CertificateStore};
use storage::Storage;

/// The first retry after a failure; each further failure doubles it, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts after failures.
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// How long the CA gets to validate the challenges and to issue the certificate.
const CA_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts obtaining and renewing the certificate of `config.domains`: serves a stored one at
/// once when it is still valid, then runs the ACME client on its own thread.
pub(crate) fn start(
    config: &AcmeConfig,
    store: Arc<CertificateStore>,
    tokens: Arc<HttpTokens>,
) -> anyhow::Result<()> {
    let storage = Storage::open(&config.storage)?;
    let mut not_after = None;
    match storage.certificate() {
        Ok(Some((chain, key))) => match certified(&chain, &key) {
            Ok((key, expiry)) => {
                store.set_acme(key);
                not_after = Some(expiry);
                log::info!(
                    "ACME: serving the stored certificate for {} (expires {})",
                    config.domains.join(", "),
                    format_time(expiry)
                );
            }
            Err(err) => log::warn!("ACME: ignoring the stored certificate: {err:#}"),
        },
        Ok(None) => {}
        Err(err) => log::warn!("ACME: ignoring the stored certificate: {err:#}"),
    }
    let client = Client {
        config: config.clone(),
        storage,
        store,
        tokens,
    };
    std::thread::Builder::new()
        .name("ephpm-acme".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(client.run(not_after)),
                Err(err) => log::error!("ACME: cannot start its runtime: {err}"),
            }
        })
        .context("starting the ACME thread")?;
    Ok(())
}

/// The ACME client and what it shares with the server.
struct Client {
    config: AcmeConfig,
    storage: Storage,
    store: Arc<CertificateStore>,
    tokens: Arc<HttpTokens>,
}

impl Client {
    /// Obtains and renews forever. `not_after` is the expiry of the certificate served now.
    async fn run(self, mut not_after: Option<i64>) {
        let domains = self.config.domains.join(", ");
        let mut failures = 0u32;
        loop {
            let due_in = not_after.map_or(Duration::ZERO, |expiry| self.renewal_due_in(expiry));
            if !due_in.is_zero() {
                tokio::time::sleep(due_in.min(self.config.check_interval.0)).await;
                continue;
            }
            match self.issue().await {
                Ok(expiry) => {
                    failures = 0;
                    not_after = Some(expiry);
                    log::info!(
                        "ACME: certificate for {domains} issued by {}, expires {}; serving it from now on",
                        self.config.directory,
                        format_time(expiry)
                    );
                    // However soon renewal is due, the next one waits a check interval.
                    tokio::time::sleep(self.config.check_interval.0).await;
                }
                Err(err) => {
                    failures += 1;
                    let retry = retry_delay(failures);
                    log::error!(
                        "ACME: obtaining a certificate for {domains} from {} failed: {err:#}; retrying in {}s",
                        self.config.directory,
                        retry.as_secs()
                    );
                    tokio::time::sleep(retry).await;
                }
            }
        }
    }

    /// Time until a certificate expiring at `not_after` (Unix seconds) is due for renewal.
    fn renewal_due_in(&self, not_after: i64) -> Duration {
        let renew_at = not_after.saturating_sub(secs(self.config.renew_before.0));
        let left = renew_at.saturating_sub(unix_now());
        Duration::from_secs(u64::try_from(left).unwrap_or(0))
    }

    /// One order, from account to installed certificate; returns its expiry.
    async fn issue(&self) -> anyhow::Result<i64> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .config
            .domains
            .iter()
            .map(|domain| Identifier::Dns(domain.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .context("placing the order")?;
        let prepared = self.prepare_challenges(&mut order).await;
        let status = match prepared {
            Ok(()) => order
                .poll_ready(&RetryPolicy::new().timeout(CA_TIMEOUT))
                .await
                .context("waiting for the CA to validate the domains"),
            Err(err) => Err(err),
        };
        self.tokens.clear();
        self.store.clear_challenges();
        let status = status?;
        if status != OrderStatus::Ready {
            let problem = order
                .state()
                .error
                .as_ref()
                .map_or_else(|| format!("{status:?}"), ToString::to_string);
            bail!("the order is not ready: {problem}");
        }
        let key_pem = order.finalize().await.context("finalizing the order")?;
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(CA_TIMEOUT))
            .await
            .context("downloading the certificate")?;
        let (key, not_after) = certified(&chain_pem, &key_pem)?;
        self.storage.save_certificate(&chain_pem, &key_pem)?;
        self.store.set_acme(key);
        Ok(not_after)
    }

    /// Publishes the response to each pending authorization's challenge and tells the CA.
    async fn prepare_challenges(&self, order: &mut instant_acme::Order) -> anyhow::Result<()> {
        let kind = match self.config.challenge {
            AcmeChallenge::Http01 => ChallengeType::Http01,
            AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.context("reading an authorization")?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => bail!("an authorization is {other:?}"),
            }
            let mut challenge = authorization
                .challenge(kind.clone())
                .ok_or_else(|| anyhow::anyhow!("the CA offers no {kind:?} challenge"))?;
            let domain = challenge.identifier().to_string();
            let key_authorization = challenge.key_authorization();
            match self.config.challenge {
                AcmeChallenge::Http01 => self.tokens.insert(
                    challenge.token.clone(),
                    key_authorization.as_str().to_owned(),
                ),
                AcmeChallenge::TlsAlpn01 => {
                    let digest = key_authorization.digest();
                    let key = challenge::alpn_certificate(&domain, digest.as_ref())?;
                    self.store.add_challenge(&domain, key);
                }
            }
            challenge
                .set_ready()
                .await
                .with_context(|| format!("asking the CA to validate {domain}"))?;
        }
        Ok(())
    }

    /// The stored account, or a new one (then stored).
    async fn account(&self) -> anyhow::Result<Account> {
        let builder = if self.config.ca_root.as_os_str().is_empty() {
            Account::builder().context("the ACME HTTP client")?
        } else {
            Account::builder_with_root(&self.config.ca_root).with_context(|| {
                format!(
                    "trusting server.tls.acme.ca_root {}",
                    self.config.ca_root.display()
                )
            })?
        };
        if let Some(json) = self.storage.account()? {
            let credentials: AccountCredentials =
                serde_json::from_str(&json).context("reading the stored ACME account")?;
            return builder
                .from_credentials(credentials)
                .await
                .context("loading the ACME account");
        }
        let contact = format!("mailto:{}", self.config.email);
        let contacts: Vec<&str> = if self.config.email.is_empty() {
            Vec::new()
        } else {
            vec![contact.as_str()]
        };
        let new_account = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let (account, credentials) = builder
            .create(&new_account, self.config.directory.clone(), None)
            .await
            .context("creating the ACME account")?;
        let json = serde_json::to_string(&credentials).context("saving the ACME account")?;
        self.storage.save_account(&json)?;
        log::info!("ACME: account created at {}", self.config.directory);
        Ok(account)
    }
}

/// A PEM chain and key ready to serve, with the leaf's expiry (Unix seconds).
fn certified(chain_pem: &str, key_pem: &str) -> anyhow::Result<(Arc<CertifiedKey>, i64)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .context("reading the certificate chain")?;
    let leaf = chain.first().context("the certificate chain is empty")?;
    let (_, parsed) =
        x509_parser::parse_x509_certificate(leaf).context("parsing the certificate")?;
    let not_after = parsed.validity().not_after.timestamp();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("reading the key")?;
    let certified = tls::certified(chain, key, &tls::crypto_provider())
        .context("the certificate and key do not make a usable pair")?;
    Ok((certified, not_after))
}

fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_RETRY)
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, secs)
}

/// `2026-12-07 21:00:00 UTC` for Unix seconds.
fn format_time(unix: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(unix)
        .map_or_else(|_| unix.to_string(), |time| time.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{retry_delay, MAX_RETRY};

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(10));
        assert_eq!(retry_delay(2), Duration::from_secs(20));
        assert_eq!(retry_delay(4), Duration::from_secs(80));
        assert_eq!(retry_delay(30), MAX_RETRY);
    }
}

//! Authentication plugins: the per-connection nonce and the password scrambles of
//! `mysql_native_password` and `caching_sha2_password` (its fast path).
//!
//! Backends know the plain passwords; they check a client's [`AuthResponse`] with
//! [`password_matches`] (or the per-plugin functions).

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::constants::NONCE_LEN;
use crate::backend::AuthResponse;

/// The random bytes a server sends in its handshake, which the client's scramble covers.
pub type Nonce = [u8; NONCE_LEN];

/// The authentication plugins this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthPlugin {
    /// `mysql_native_password`: SHA-1 based, the pre-8.0 default.
    NativePassword,
    /// `caching_sha2_password`: SHA-256 based, MySQL 8's default (and mysqlnd's).
    #[default]
    CachingSha2Password,
}

impl AuthPlugin {
    /// The plugin's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AuthPlugin::NativePassword => "mysql_native_password",
            AuthPlugin::CachingSha2Password => "caching_sha2_password",
        }
    }

    /// The plugin called `name`, if this server speaks it.
    pub fn from_name(name: &[u8]) -> Option<AuthPlugin> {
        [AuthPlugin::NativePassword, AuthPlugin::CachingSha2Password]
            .into_iter()
            .find(|plugin| plugin.name().as_bytes() == name)
    }

    /// What the backend receives for a client `response` to `nonce` under this plugin.
    pub fn response<'a>(self, response: &'a [u8], nonce: &'a [u8]) -> AuthResponse<'a> {
        match self {
            AuthPlugin::NativePassword => AuthResponse::NativePassword { response, nonce },
            AuthPlugin::CachingSha2Password => AuthResponse::CachingSha2 { response, nonce },
        }
    }
}

/// A fresh nonce from the operating system's random source: 7-bit bytes without NUL or `$`,
/// as MySQL generates them (clients treat part of it as a C string).
pub fn generate_nonce() -> Result<Nonce, getrandom::Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)?;
    for byte in &mut nonce {
        *byte &= 0x7f;
        if *byte == 0 || *byte == b'$' {
            *byte += 1;
        }
    }
    Ok(nonce)
}

/// The `mysql_native_password` response for `password`:
/// `SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password)))`.
pub fn native_password_scramble(password: impl AsRef<[u8]>, nonce: &[u8]) -> [u8; 20] {
    let stage1: [u8; 20] = Sha1::digest(password.as_ref()).into();
    let stage2 = Sha1::digest(stage1);
    let mask: [u8; 20] = Sha1::new()
        .chain_update(nonce)
        .chain_update(stage2)
        .finalize()
        .into();
    xor(stage1, mask)
}

/// The `caching_sha2_password` fast-path response for `password`:
/// `SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce)`.
pub fn caching_sha2_scramble(password: impl AsRef<[u8]>, nonce: &[u8]) -> [u8; 32] {
    let stage1: [u8; 32] = Sha256::digest(password.as_ref()).into();
    let stage2 = Sha256::digest(stage1);
    let mask: [u8; 32] = Sha256::new()
        .chain_update(stage2)
        .chain_update(nonce)
        .finalize()
        .into();
    xor(stage1, mask)
}

/// True when `response` is the `mysql_native_password` scramble of `password` for `nonce`.
/// An empty password matches only an empty response.
pub fn native_password_matches(password: impl AsRef<[u8]>, nonce: &[u8], response: &[u8]) -> bool {
    let password = password.as_ref();
    if password.is_empty() {
        return response.is_empty();
    }
    constant_time_eq(&native_password_scramble(password, nonce), response)
}

/// True when `response` is the `caching_sha2_password` scramble of `password` for `nonce`.
/// An empty password matches only an empty response.
pub fn caching_sha2_matches(password: impl AsRef<[u8]>, nonce: &[u8], response: &[u8]) -> bool {
    let password = password.as_ref();
    if password.is_empty() {
        return response.is_empty();
    }
    constant_time_eq(&caching_sha2_scramble(password, nonce), response)
}

/// True when the client's `auth` proves it knows `password`, whichever plugin it used.
pub fn password_matches(auth: &AuthResponse<'_>, password: impl AsRef<[u8]>) -> bool {
    match *auth {
        AuthResponse::NativePassword { response, nonce } => {
            native_password_matches(password, nonce, response)
        }
        AuthResponse::CachingSha2 { response, nonce } => {
            caching_sha2_matches(password, nonce, response)
        }
    }
}

fn xor<const N: usize>(mut left: [u8; N], right: [u8; N]) -> [u8; N] {
    for (l, r) in left.iter_mut().zip(right) {
        *l ^= r;
    }
    left
}

/// Compares without stopping at the first difference, so timing does not reveal how much of a
/// guessed scramble was right.
fn constant_time_eq(expected: &[u8], actual: &[u8]) -> bool {
    expected.len() == actual.len()
        && expected
            .iter()
            .zip(actual)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: [u8; 20] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn native_password_matches_a_vector_computed_elsewhere() {
        // Python: sha1(pw) XOR sha1(nonce + sha1(sha1(pw))) for pw "secret", nonce 1..=20.
        let scramble = native_password_scramble("secret", &NONCE);
        assert_eq!(hex(&scramble), "b32bb3a583e1340c0a1108d58b1be49781ad8c2f");
    }

    #[test]
    fn caching_sha2_matches_a_vector_computed_elsewhere() {
        // Python: sha256(pw) XOR sha256(sha256(sha256(pw)) + nonce), same inputs.
        let scramble = caching_sha2_scramble("secret", &NONCE);
        assert_eq!(
            hex(&scramble),
            "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9"
        );
    }

    #[test]
    fn native_scramble_passes_the_servers_stored_hash_check() {
        // How MySQL verifies against the stored SHA1(SHA1(pw)), without the password.
        let stored = Sha1::digest(Sha1::digest(b"hunter2"));
        let response = native_password_scramble("hunter2", &NONCE);
        let mask = Sha1::new()
            .chain_update(NONCE)
            .chain_update(stored)
            .finalize();
        let candidate: Vec<u8> = response.iter().zip(mask).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha1::digest(candidate), stored);
    }

    #[test]
    fn caching_sha2_scramble_passes_the_servers_stored_hash_check() {
        let stored = Sha256::digest(Sha256::digest(b"hunter2"));
        let response = caching_sha2_scramble("hunter2", &NONCE);
        let mask = Sha256::new()
            .chain_update(stored)
            .chain_update(NONCE)
            .finalize();
        let candidate: Vec<u8> = response.iter().zip(mask).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha256::digest(candidate), stored);
    }

    #[test]
    fn matching_accepts_the_right_password_only() {
        let native = native_password_scramble("pw", &NONCE);
        assert!(native_password_matches("pw", &NONCE, &native));
        assert!(!native_password_matches("pW", &NONCE, &native));
        assert!(!native_password_matches("pw", &NONCE, &native[..19]));
        assert!(!native_password_matches("pw", &NONCE, &[]));

        let sha2 = caching_sha2_scramble("pw", &NONCE);
        assert!(caching_sha2_matches("pw", &NONCE, &sha2));
        assert!(!caching_sha2_matches("pw", &[0; 20], &sha2));
        assert!(!caching_sha2_matches("pw", &NONCE, &native));
    }

    #[test]
    fn empty_passwords_match_empty_responses_only() {
        assert!(native_password_matches("", &NONCE, &[]));
        assert!(caching_sha2_matches("", &NONCE, &[]));
        assert!(!caching_sha2_matches(
            "",
            &NONCE,
            &caching_sha2_scramble("x", &NONCE)
        ));
    }

    #[test]
    fn password_matches_dispatches_on_the_plugin() {
        let sha2 = caching_sha2_scramble("pw", &NONCE);
        let auth = AuthPlugin::CachingSha2Password.response(&sha2, &NONCE);
        assert!(password_matches(&auth, "pw"));
        let auth = AuthPlugin::NativePassword.response(&sha2, &NONCE);
        assert!(!password_matches(&auth, "pw"));
    }

    #[test]
    fn plugin_names_round_trip() {
        for plugin in [AuthPlugin::NativePassword, AuthPlugin::CachingSha2Password] {
            assert_eq!(
                AuthPlugin::from_name(plugin.name().as_bytes()),
                Some(plugin)
            );
        }
        assert_eq!(AuthPlugin::from_name(b"sha256_password"), None);
    }

    #[test]
    fn nonces_are_seven_bit_without_nul_or_dollar() {
        let nonce = generate_nonce().unwrap();
        assert!(nonce.iter().all(|&b| b != 0 && b != b'$' && b < 0x80));
        assert_ne!(nonce, generate_nonce().unwrap());
    }
}

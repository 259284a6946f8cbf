//! caching_sha2_password's full authentication over an unencrypted connection: the password
//! travels RSA-encrypted with the server's public key.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::rand_core::OsRng;
use rsa::{Oaep, RsaPublicKey};

/// `RSA-OAEP(SHA-1)` of `(password + NUL) XOR nonce` (the nonce repeated as needed) with the
/// PEM public key the server sent (SubjectPublicKeyInfo or PKCS#1), as MySQL 8 expects it.
pub(crate) fn encrypt_password(
    password: &[u8],
    nonce: &[u8],
    pem: &[u8],
) -> Result<Vec<u8>, String> {
    if nonce.is_empty() {
        return Err("the server sent no nonce".into());
    }
    let key = parse_key(pem)?;
    let mut message: Vec<u8> = password.iter().copied().chain([0]).collect();
    for (byte, mask) in message.iter_mut().zip(nonce.iter().cycle()) {
        *byte ^= mask;
    }
    key.encrypt(&mut OsRng, Oaep::new::<sha1::Sha1>(), &message)
        .map_err(|error| format!("cannot encrypt the password with the server's RSA key: {error}"))
}

fn parse_key(pem: &[u8]) -> Result<RsaPublicKey, String> {
    let text = std::str::from_utf8(pem)
        .map_err(|_| "the server's RSA public key is not text".to_owned())?
        .trim_matches(|c: char| c == '\0' || c.is_whitespace());
    RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
        .map_err(|error| format!("the server's RSA public key does not parse: {error}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::RsaPrivateKey;

    use super::*;

    /// A throwaway key pair (1024 bits keeps debug-build key generation quick).
    pub(crate) fn key_pair() -> (RsaPrivateKey, String) {
        let private = RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (private, pem)
    }

    /// What the server recovers from the client's encrypted password.
    pub(crate) fn decrypt(private: &RsaPrivateKey, encrypted: &[u8], nonce: &[u8]) -> Vec<u8> {
        let mut plain = private
            .decrypt(Oaep::new::<sha1::Sha1>(), encrypted)
            .unwrap();
        for (byte, mask) in plain.iter_mut().zip(nonce.iter().cycle()) {
            *byte ^= mask;
        }
        plain
    }

    #[test]
    fn the_server_recovers_the_password() {
        let (private, pem) = key_pair();
        let nonce = b"0123456789abcdefghij";
        let mut pem_with_nul = pem.into_bytes();
        pem_with_nul.push(0);
        let encrypted =
            encrypt_password(b"a longer password than the nonce", nonce, &pem_with_nul).unwrap();
        assert_eq!(
            decrypt(&private, &encrypted, nonce),
            b"a longer password than the nonce\0"
        );

        let pkcs1 = private
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .unwrap();
        let encrypted = encrypt_password(b"pw", nonce, pkcs1.as_bytes()).unwrap();
        assert_eq!(decrypt(&private, &encrypted, nonce), b"pw\0");
    }

    #[test]
    fn bad_keys_and_oversized_passwords_are_errors() {
        assert!(encrypt_password(b"pw", b"nonce", b"not a key").is_err());
        assert!(encrypt_password(b"pw", b"nonce", &[0xff, 0xfe]).is_err());
        let (_, pem) = key_pair();
        assert!(encrypt_password(b"pw", b"", pem.as_bytes()).is_err());
        assert!(encrypt_password(&[b'x'; 200], b"nonce", pem.as_bytes()).is_err());
    }
}

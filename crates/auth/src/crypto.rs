//! Keys, random tokens and hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// The instance's master secret. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl MasterKey {
    /// At least 32 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!("the secret key must be at least 32 bytes, got {}", bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// 32 fresh random bytes.
    pub fn generate() -> Self {
        let mut b = vec![0u8; 32];
        rand::rng().fill_bytes(&mut b);
        Self(b)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A key for one purpose, so a JWT key can never sign a refresh successor and vice versa.
    pub(crate) fn derive(&self, purpose: &str) -> Vec<u8> {
        hmac(&self.0, purpose.as_bytes())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Constant-time check of an HMAC tag.
pub(crate) fn hmac_verify(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.verify_slice(tag).is_ok()
}

/// `prefix` followed by 32 random bytes, base64url.
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// Hex SHA-256: how every high-entropy token is stored.
pub fn sha256_hex(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token("kiln_");
        let b = random_token("kiln_");
        assert_ne!(a, b);
        assert!(a.starts_with("kiln_"));
        assert_eq!(a.len(), 5 + 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let k = MasterKey::new(vec![7; 32]).expect("key");
        assert_ne!(k.derive("a"), k.derive("b"));
        assert!(MasterKey::new(vec![1; 31]).is_err());
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn hmac_verify_rejects_tampering() {
        let tag = hmac(b"key", b"msg");
        assert!(hmac_verify(b"key", b"msg", &tag));
        assert!(!hmac_verify(b"key", b"msh", &tag));
        assert!(!hmac_verify(b"kez", b"msg", &tag));
    }

    #[test]
    fn sha256_hex_known_value() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! Access tokens: compact JWS with HS256 (RFC 7519/7515), nothing else accepted.
//!
//! Written here rather than pulled from a JWT crate: Kiln only ever needs HS256 with its own key,
//! and the general crates bring RSA and elliptic-curve stacks that would dominate build times on
//! small machines. The rules that matter are enforced: the header must say exactly HS256, the tag
//! is checked in constant time before the claims are parsed, and `exp` is required.

use crate::crypto::{b64, hmac, hmac_verify, unb64};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session family the token belongs to.
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn sign(key: &[u8], claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialise");
    let signing_input = format!("{}.{}", b64(HEADER.as_bytes()), b64(&payload));
    let tag = hmac(key, signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&tag))
}

/// Checks the signature and expiry (`now_secs`); `None` for anything else than a valid token.
pub fn verify(key: &[u8], token: &str, now_secs: i64) -> Option<Claims> {
    if token.len() > 4096 {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&unb64(h)?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let tag = unb64(s)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    if !hmac_verify(key, signing_input.as_bytes(), &tag) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&unb64(p)?).ok()?;
    (claims.exp > now_secs).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims { sub: "42".into(), sid: 7, iat: 1000, exp }
    }

    #[test]
    fn round_trip() {
        let t = sign(b"k", &claims(2000));
        assert_eq!(verify(b"k", &t, 1500), Some(claims(2000)));
    }

    #[test]
    fn rejects_expired_wrong_key_tampered_and_alg_none() {
        let t = sign(b"k", &claims(2000));
        assert_eq!(verify(b"k", &t, 2000), None, "expired at exp");
        assert_eq!(verify(b"other", &t, 1500), None, "wrong key");
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64(br#"{"sub":"1","sid":7,"iat":1000,"exp":9999}"#);
        parts[1] = &forged;
        assert_eq!(verify(b"k", &parts.join("."), 1500), None, "tampered claims");
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(br#"{"sub":"1","sid":7,"iat":1000,"exp":9999}"#)
        );
        assert_eq!(verify(b"k", &none, 1500), None, "alg none");
        assert_eq!(verify(b"k", "garbage", 1500), None);
        assert_eq!(verify(b"k", &format!("{t}.x"), 1500), None);
    }
}

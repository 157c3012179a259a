//! Password hashing with argon2id, off the async runtime.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;

/// Hashes and checks passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password: checked against when the email is unknown, so an unknown
    /// email costs the same time as a wrong password.
    dummy: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// OWASP's recommended argon2id parameters: m = 19 MiB, t = 2, p = 1.
    pub fn owasp() -> Self {
        Self::with_params(Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"))
    }

    pub fn with_params(params: Params) -> Self {
        let mut hasher = Self { params, dummy: Arc::new(String::new()) };
        let dummy = hasher.hash_blocking(&crate::crypto::random_token(""));
        hasher.dummy = Arc::new(dummy);
        hasher
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_blocking(&self, password: &str) -> String {
        self.argon2()
            .hash_password(password.as_bytes())
            .expect("argon2 hashing with valid params cannot fail")
            .to_string()
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), computed on the blocking pool.
    pub async fn hash(&self, password: String) -> String {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.hash_blocking(&password))
            .await
            .expect("hashing task does not panic")
    }

    /// Checks `password` against `hash`, or against the dummy hash when `hash` is `None`
    /// (the result is then always false, after the same amount of work).
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| this.dummy.as_ref().clone());
            let ok = match PasswordHash::new(&phc) {
                // The parameters stored in the hash are used, so old hashes keep working.
                Ok(parsed) => this.argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            };
            ok && known
        })
        .await
        .expect("verification task does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::owasp();
        let phc = h.hash("correct horse battery".into()).await;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h.verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!h.verify("correct horse batterx".into(), Some(phc)).await);
        assert!(!h.verify("anything at all".into(), None).await);
        assert!(!h.verify("x".into(), Some("not a hash".into())).await);
    }
}

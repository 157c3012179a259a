//! Managing an account after sign-up: password reset and change, email change with undo,
//! sessions, deletion, and the operator's view of the outbox.

use crate::accounts::{Accounts, ClientInfo, user_info};
use crate::crypto::{random_token, sha256_hex};
use crate::error::{AuthError, LinkProblem};
use crate::limits::Action;
use kiln_core::{Email, OutboxEntry, Password, SessionInfo, UserInfo};
use kiln_store::{Millis, StoreError, Tx, outbox, tokens, users};

const RESET: &str = "reset";
const EMAIL_CHANGE: &str = "email_change";
const EMAIL_UNDO: &str = "email_undo";
/// Reset links live one hour; email-change links 24 hours; undo links 7 days.
const RESET_TTL_MS: i64 = 3_600_000;
const CHANGE_TTL_MS: i64 = 24 * 3_600_000;
const UNDO_TTL_MS: i64 = 7 * 24 * 3_600_000;

/// A short description of a browser from its `User-Agent`, e.g. "Firefox on Linux".
pub fn device(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python-requests/", "Python"),
        ("reqwest", "a Rust client"),
        ("node", "Node.js"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) if ua.is_empty() => "Unknown device".to_owned(),
        (None, None) => ua.chars().take(40).collect(),
    }
}

impl Accounts {
    async fn issue_link(
        &self,
        tx: &mut Tx,
        user_id: i64,
        purpose: &str,
        new_email: Option<&str>,
        ttl: i64,
        now: Millis,
    ) -> Result<String, AuthError> {
        let token = random_token("");
        tokens::insert_email_token(
            tx,
            user_id,
            purpose,
            &sha256_hex(&token),
            new_email,
            now + ttl,
            now,
        )
        .await?;
        Ok(token)
    }

    /// Checks and uses an emailed link of `purpose` inside `tx`.
    async fn use_link(
        &self,
        tx: &mut Tx,
        token: &str,
        purpose: &str,
        now: Millis,
    ) -> Result<tokens::EmailTokenRow, AuthError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AuthError::Link(LinkProblem::Unknown));
        }
        let row = tokens::email_token_by_hash(tx, &sha256_hex(token))
            .await?
            .filter(|r| r.purpose == purpose)
            .ok_or(AuthError::Link(LinkProblem::Unknown))?;
        if row.used_at.is_some() {
            return Err(AuthError::Link(LinkProblem::Used));
        }
        if row.expires_at <= now {
            return Err(AuthError::Link(LinkProblem::Expired));
        }
        if !tokens::use_email_token(tx, row.id, now).await? {
            return Err(AuthError::Link(LinkProblem::Used));
        }
        Ok(row)
    }

    // ---- password reset ------------------------------------------------------------------------

    /// Emails a reset link. The answer is the same whether or not the address has an account,
    /// and so is the work: an unknown address gets a mail saying no account uses it.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> Result<(), AuthError> {
        self.limit(Action::PasswordReset, client, Some(email))?;
        let Ok(email) = Email::parse(email) else { return Ok(()) };
        let user = users::by_email(&self.db, email.as_str()).await?;
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        match user {
            Some(u) => {
                tokens::void_email_tokens(&mut tx, u.id, RESET, now).await?;
                let token = self.issue_link(&mut tx, u.id, RESET, None, RESET_TTL_MS, now).await?;
                let ctx = serde_json::json!({
                    "link": format!("{}/reset-password?token={token}", self.config.public_url),
                    "email": u.email,
                    "minutes": RESET_TTL_MS / 60_000,
                });
                self.mailer.enqueue(&mut tx, &u.email, "reset_password", &ctx, now).await?;
            }
            None => {
                let ctx = serde_json::json!({
                    "email": email.as_str(),
                    "signup": format!("{}/signup", self.config.public_url),
                });
                self.mailer.enqueue(&mut tx, email.as_str(), "reset_unknown", &ctx, now).await?;
            }
        }
        tx.commit().await?;
        self.mail_queued();
        Ok(())
    }

    /// Sets a new password with a reset link and ends every session of the account.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<UserInfo, AuthError> {
        self.limit(Action::PasswordReset, client, None)?;
        let password = Password::parse(new_password)?;
        // A link that cannot work is refused before the (deliberately slow) hashing.
        {
            let mut tx = self.db.begin().await?;
            let row = tokens::email_token_by_hash(&mut tx, &sha256_hex(token)).await?;
            match row.filter(|r| r.purpose == RESET) {
                None => return Err(AuthError::Link(LinkProblem::Unknown)),
                Some(r) if r.used_at.is_some() => return Err(AuthError::Link(LinkProblem::Used)),
                Some(r) if r.expires_at <= self.clock.now() => {
                    return Err(AuthError::Link(LinkProblem::Expired));
                }
                Some(_) => {}
            }
        }
        let hash = self.hasher.hash(password.expose().to_owned()).await;
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let row = self.use_link(&mut tx, token, RESET, now).await?;
        users::set_password(&mut tx, row.user_id, &hash).await?;
        let ended =
            tokens::revoke_user_sessions(&mut tx, row.user_id, None, "password reset", now).await?;
        // Whoever had the account cannot finish moving its address elsewhere.
        tokens::void_email_tokens(&mut tx, row.user_id, EMAIL_CHANGE, now).await?;
        // The link proved the address: an unverified account is verified by it too.
        users::set_verified(&mut tx, row.user_id, now).await?;
        let user = users::by_id_tx(&mut tx, row.user_id).await?.ok_or(AuthError::NotFound)?;
        tx.commit().await?;
        tracing::info!(user_id = user.id, sessions_ended = ended, "password reset");
        Ok(user_info(&user))
    }

    /// Changes the password (the current one is required) and ends every other session.
    pub async fn change_password(
        &self,
        user_id: i64,
        current_session: Option<i64>,
        current: &str,
        new_password: &str,
    ) -> Result<(), AuthError> {
        let user = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        let password = Password::parse(new_password)?;
        self.limit(Action::PasswordCheck, &ClientInfo::default(), Some(&user.email))?;
        if !self.hasher.verify(current.to_owned(), Some(user.password_hash.clone())).await {
            return Err(AuthError::WrongPassword { field: "current_password" });
        }
        let hash = self.hasher.hash(password.expose().to_owned()).await;
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        users::set_password(&mut tx, user_id, &hash).await?;
        tokens::revoke_user_sessions(&mut tx, user_id, current_session, "password changed", now)
            .await?;
        tx.commit().await?;
        tracing::info!(user_id, "password changed");
        Ok(())
    }

    // ---- email change --------------------------------------------------------------------------

    /// Starts an email change: a link to the new address (the change happens when it is opened)
    /// and a notice to the current one with a way to undo.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn request_email_change(
        &self,
        who: &crate::Identity,
        new_email: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        // A leaked API token must not be enough to move the account to another inbox.
        if who.api_token_id.is_some() {
            return Err(AuthError::Forbidden(
                "Change the email address from a signed-in browser, not with an API token.",
            ));
        }
        let user_id = who.user_id;
        let user = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        self.limit(Action::EmailChange, client, Some(&user.email))?;
        let new_email = Email::parse(new_email)?;
        if new_email.as_str() == user.email {
            return Err(AuthError::Invalid(kiln_core::ApiError::invalid(
                "email",
                "That is already your address.",
            )));
        }
        if users::by_email(&self.db, new_email.as_str()).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        tokens::void_email_tokens(&mut tx, user_id, EMAIL_CHANGE, now).await?;
        let confirm = self
            .issue_link(
                &mut tx,
                user_id,
                EMAIL_CHANGE,
                Some(new_email.as_str()),
                CHANGE_TTL_MS,
                now,
            )
            .await?;
        // The undo link remembers the address to go back to.
        let undo = self
            .issue_link(&mut tx, user_id, EMAIL_UNDO, Some(&user.email), UNDO_TTL_MS, now)
            .await?;
        let base = &self.config.public_url;
        let to_new = serde_json::json!({
            "link": format!("{base}/email/confirm?token={confirm}"),
            "old": user.email,
            "new": new_email.as_str(),
            "hours": CHANGE_TTL_MS / 3_600_000,
        });
        self.mailer
            .enqueue(&mut tx, new_email.as_str(), "email_change_verify", &to_new, now)
            .await?;
        let to_old = serde_json::json!({
            "link": format!("{base}/email/undo?token={undo}"),
            "old": user.email,
            "new": new_email.as_str(),
            "days": UNDO_TTL_MS / 86_400_000,
        });
        self.mailer.enqueue(&mut tx, &user.email, "email_change_notice", &to_old, now).await?;
        tx.commit().await?;
        self.mail_queued();
        Ok(())
    }

    /// Opens the link sent to the new address: the address changes now.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn confirm_email_change(&self, token: &str) -> Result<UserInfo, AuthError> {
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let row = self.use_link(&mut tx, token, EMAIL_CHANGE, now).await?;
        let new_email = row.new_email.clone().ok_or(AuthError::Link(LinkProblem::Unknown))?;
        match users::set_email(&mut tx, row.user_id, &new_email, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(AuthError::Link(LinkProblem::Taken)),
            Err(e) => return Err(e.into()),
        }
        let user = users::by_id_tx(&mut tx, row.user_id).await?.ok_or(AuthError::NotFound)?;
        tx.commit().await?;
        tracing::info!(user_id = user.id, "email address changed");
        Ok(user_info(&user))
    }

    /// Opens the undo link sent to the old address: the address goes back (if it had changed),
    /// pending changes are cancelled and every session ends, in case someone else made the change.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn undo_email_change(&self, token: &str) -> Result<UserInfo, AuthError> {
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let row = self.use_link(&mut tx, token, EMAIL_UNDO, now).await?;
        let old = row.new_email.clone().ok_or(AuthError::Link(LinkProblem::Unknown))?;
        tokens::void_email_tokens(&mut tx, row.user_id, EMAIL_CHANGE, now).await?;
        match users::set_email(&mut tx, row.user_id, &old, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(AuthError::Link(LinkProblem::Taken)),
            Err(e) => return Err(e.into()),
        }
        tokens::revoke_user_sessions(&mut tx, row.user_id, None, "email change undone", now)
            .await?;
        // Someone else may hold the account: their API tokens and reset links go too.
        tokens::revoke_user_api_tokens(&mut tx, row.user_id, now).await?;
        tokens::void_email_tokens(&mut tx, row.user_id, RESET, now).await?;
        let user = users::by_id_tx(&mut tx, row.user_id).await?.ok_or(AuthError::NotFound)?;
        tx.commit().await?;
        tracing::warn!(user_id = user.id, "email change undone from the old address");
        Ok(user_info(&user))
    }

    // ---- sessions ------------------------------------------------------------------------------

    /// The user's live sessions, most recently used first.
    pub async fn list_sessions(
        &self,
        user_id: i64,
        current: Option<i64>,
    ) -> Result<Vec<SessionInfo>, AuthError> {
        let rows = tokens::live_sessions(&self.db, user_id, self.clock.now()).await?;
        Ok(rows
            .into_iter()
            .map(|r| SessionInfo {
                id: r.id,
                device: device(&r.user_agent),
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                current: Some(r.id) == current,
            })
            .collect())
    }

    /// Ends one of the user's sessions; `NotFound` if it is not theirs or already ended.
    pub async fn revoke_session(&self, user_id: i64, session_id: i64) -> Result<(), AuthError> {
        let mut tx = self.db.begin_write().await?;
        let s = tokens::session_tx(&mut tx, session_id).await?;
        match s {
            Some(s) if s.user_id == user_id && s.revoked_at.is_none() => {
                tokens::revoke_session(&mut tx, session_id, "revoked by user", self.clock.now())
                    .await?;
                tx.commit().await?;
                Ok(())
            }
            _ => Err(AuthError::NotFound),
        }
    }

    /// Logs out everywhere, this browser included. Returns how many sessions ended.
    pub async fn revoke_all_sessions(&self, user_id: i64) -> Result<u64, AuthError> {
        let mut tx = self.db.begin_write().await?;
        let n = tokens::revoke_user_sessions(
            &mut tx,
            user_id,
            None,
            "logged out everywhere",
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    // ---- deletion ------------------------------------------------------------------------------

    /// Deletes the account after checking its password: its sessions, tokens and links go with
    /// it (see `kiln_store::users::delete` for what else is removed).
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn delete_account(&self, user_id: i64, password: &str) -> Result<(), AuthError> {
        let user = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        self.limit(Action::PasswordCheck, &ClientInfo::default(), Some(&user.email))?;
        if !self.hasher.verify(password.to_owned(), Some(user.password_hash.clone())).await {
            return Err(AuthError::WrongPassword { field: "password" });
        }
        let mut tx = self.db.begin_write().await?;
        users::delete(&mut tx, user_id).await?;
        tx.commit().await?;
        tracing::info!(user_id, "account deleted");
        Ok(())
    }

    // ---- operators -----------------------------------------------------------------------------

    /// The newest outbox entries, for operators only.
    pub async fn outbox(&self, user_id: i64, limit: i64) -> Result<Vec<OutboxEntry>, AuthError> {
        let user = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        if user.role != "operator" {
            return Err(AuthError::Forbidden("Only operators can see the outbox."));
        }
        Ok(outbox::recent(&self.db, limit.clamp(1, 500))
            .await?
            .into_iter()
            .map(|r| OutboxEntry {
                state: match (r.sent_at, &r.last_error) {
                    (Some(_), _) => "sent",
                    (None, Some(_)) => "failing",
                    (None, None) => "queued",
                }
                .to_owned(),
                id: r.id,
                template: r.template,
                to: r.to_addr,
                subject: r.subject,
                created_at: r.created_at,
                attempts: r.attempts,
                sent_at: r.sent_at,
                next_attempt_at: r.next_attempt_at,
                last_error: r.last_error,
            })
            .collect())
    }

    /// Makes a user an operator (`kiln user add --operator`).
    pub async fn make_operator(&self, user_id: i64) -> Result<(), AuthError> {
        users::set_role(&self.db, user_id, "operator").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn describes_devices() {
        let ff = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(ff), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(device(chrome), "Chrome on macOS");
        assert_eq!(device("curl/8.5.0"), "curl");
        assert_eq!(device(""), "Unknown device");
    }
}

//! The account service: every use case of portal accounts, called by both the JSON API and the
//! portal's server functions.

use crate::cookies::CookieConfig;
use crate::crypto::{MasterKey, hmac, random_token, sha256_hex};
use crate::error::{AuthError, LinkProblem};
use crate::jwt::{self, Claims};
use crate::limits::{Action, LimitConfig, RateLimits};
use crate::password::PasswordHasher;
use kiln_core::{ApiTokenInfo, CreatedToken, Email, Password, TokenName, UserInfo};
use kiln_mail::Mailer;
use kiln_store::{Clock, Db, Millis, tokens, users};
use std::sync::Arc;
use tokio::sync::Notify;

const VERIFY: &str = "verify";
const API_TOKEN_PREFIX: &str = "kiln_";
const REFRESH_PREFIX: &str = "r1.";

/// Account settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Base URL of the portal for links in emails, e.g. `http://127.0.0.1:3000`.
    pub public_url: String,
    /// Whether anyone may sign up.
    pub signup_open: bool,
    /// Access token life in seconds (at most 300).
    pub access_ttl_secs: i64,
    /// Session (refresh family) life in milliseconds.
    pub session_ttl_ms: i64,
    /// Verification link life in milliseconds.
    pub verify_ttl_ms: i64,
    /// How long a used refresh token still yields its successor (concurrent tabs).
    pub refresh_grace_ms: i64,
}

impl AuthConfig {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            signup_open: true,
            access_ttl_secs: 300,
            session_ttl_ms: 30 * 24 * 3600 * 1000,
            verify_ttl_ms: 24 * 3600 * 1000,
            refresh_grace_ms: 30_000,
        }
    }

    /// The cookie settings that go with this configuration.
    pub fn cookies(&self) -> CookieConfig {
        CookieConfig {
            secure: self.public_url.starts_with("https://"),
            session_max_age: self.session_ttl_ms / 1000,
        }
    }
}

/// Who a request is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: i64,
    /// The session family (cookie authentication) or `None` (API token).
    pub session_id: Option<i64>,
    /// The API token used, if any.
    pub api_token_id: Option<i64>,
}

/// What the server learned about a request's credentials, stored in its extensions.
#[derive(Debug, Clone, Default)]
pub struct RequestAuth {
    pub identity: Option<Identity>,
    /// The caller's address and browser (for rate limits and the session list).
    pub client: ClientInfo,
    /// No valid access token, but a refresh cookie exists: a page load can be refreshed.
    pub refreshable: bool,
}

/// The secrets of a session, to put in cookies. `Debug` shows no secret.
#[derive(Clone)]
pub struct SessionTokens {
    pub access: String,
    pub access_max_age: i64,
    pub refresh: String,
    pub session_id: i64,
    pub user_id: i64,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The result of a sign-up.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub user: UserInfo,
    pub session: SessionTokens,
}

/// The account service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    pub(crate) db: Db,
    pub(crate) config: Arc<AuthConfig>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) mailer: Arc<Mailer>,
    jwt_key: Arc<Vec<u8>>,
    refresh_key: Arc<Vec<u8>>,
    mail_waker: Option<Arc<Notify>>,
    pub(crate) clock: Clock,
    pub(crate) limits: Arc<RateLimits>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("config", &self.config).finish_non_exhaustive()
    }
}

pub(crate) fn user_info(u: &users::UserRow) -> UserInfo {
    UserInfo {
        id: u.id,
        email: u.email.clone(),
        verified: u.verified_at.is_some(),
        operator: u.role == "operator",
    }
}

/// Who is asking, as far as the HTTP layer knows.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: String,
}

impl Accounts {
    pub fn new(
        db: Db,
        config: AuthConfig,
        key: &MasterKey,
        hasher: PasswordHasher,
        mailer: Arc<Mailer>,
        clock: Clock,
    ) -> Self {
        Self {
            db,
            config: Arc::new(config),
            hasher,
            mailer,
            jwt_key: Arc::new(key.derive("kiln access token v1")),
            refresh_key: Arc::new(key.derive("kiln refresh successor v1")),
            mail_waker: None,
            clock,
            limits: Arc::new(RateLimits::new(LimitConfig::default())),
        }
    }

    /// Replaces the default rate limits.
    pub fn with_limits(mut self, cfg: LimitConfig) -> Self {
        self.limits = Arc::new(RateLimits::new(cfg));
        self
    }

    /// Counts a request against the limits of `action`.
    pub(crate) fn limit(
        &self,
        action: Action,
        client: &ClientInfo,
        account: Option<&str>,
    ) -> Result<(), AuthError> {
        self.limits.check(action, client.ip, account).map_err(|wait| {
            tracing::warn!(?action, ip = ?client.ip, "rate limit reached");
            AuthError::RateLimited(wait.as_millis().div_ceil(1000).max(1) as u64)
        })
    }

    /// Counts a request that asks the configured model for a plan, per IP and per account;
    /// 429 beyond the limits.
    pub fn limit_model_plan(&self, user_id: i64, client: &ClientInfo) -> Result<(), AuthError> {
        self.limit(Action::ModelPlan, client, Some(&format!("user {user_id}")))
    }

    /// Drops idle rate-limit state; call periodically.
    pub fn forget_idle_limits(&self) {
        self.limits.forget_idle();
    }

    /// Wakes the mail worker after each commit that queued mail.
    pub fn with_mail_waker(mut self, waker: Arc<Notify>) -> Self {
        self.mail_waker = Some(waker);
        self
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn mail_queued(&self) {
        if let Some(w) = &self.mail_waker {
            w.notify_one();
        }
    }

    // ---- sign-up, verification -----------------------------------------------------------------

    /// Self-service sign-up: refused when sign-up is closed.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedUp, AuthError> {
        if !self.config.signup_open {
            return Err(AuthError::SignupClosed);
        }
        self.limit(Action::Signup, client, Some(email))?;
        let user = self.create_user(email, password, false).await?;
        let session = self.start_session(user.id, &client.user_agent).await?;
        Ok(SignedUp { user, session })
    }

    /// Creates an account (sign-up, or an operator's `kiln user add` with `verified`).
    /// Unverified accounts get a verification email queued in the same transaction.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        verified: bool,
    ) -> Result<UserInfo, AuthError> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        if users::by_email(&self.db, email.as_str()).await?.is_some() {
            return Err(AuthError::EmailTaken);
        }
        let hash = self.hasher.hash(password.expose().to_owned()).await;
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let id = match users::insert(&mut tx, email.as_str(), &hash, now).await {
            Ok(id) => id,
            Err(kiln_store::StoreError::Conflict(_)) => return Err(AuthError::EmailTaken),
            Err(e) => return Err(e.into()),
        };
        if verified {
            users::set_verified(&mut tx, id, now).await?;
        } else {
            self.queue_verification(&mut tx, id, email.as_str(), now).await?;
        }
        tx.commit().await?;
        if !verified {
            self.mail_queued();
        }
        tracing::info!(user_id = id, "account created");
        let row = users::by_id(&self.db, id).await?.ok_or(AuthError::NotFound)?;
        Ok(user_info(&row))
    }

    async fn queue_verification(
        &self,
        tx: &mut kiln_store::Tx,
        user_id: i64,
        email: &str,
        now: Millis,
    ) -> Result<(), AuthError> {
        tokens::void_email_tokens(tx, user_id, VERIFY, now).await?;
        let token = random_token("");
        let expires = now + self.config.verify_ttl_ms;
        tokens::insert_email_token(tx, user_id, VERIFY, &sha256_hex(&token), None, expires, now)
            .await?;
        let link = format!("{}/verify?token={token}", self.config.public_url);
        let ctx = serde_json::json!({
            "link": link,
            "email": email,
            "hours": self.config.verify_ttl_ms / 3_600_000,
        });
        self.mailer.enqueue(tx, email, "verify_email", &ctx, now).await?;
        Ok(())
    }

    /// Sends a fresh verification link (the previous ones stop working).
    #[tracing::instrument(skip_all, fields(user_id), err(Debug))]
    pub async fn resend_verification(
        &self,
        user_id: i64,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        if user.verified_at.is_some() {
            return Err(AuthError::AlreadyVerified);
        }
        self.limit(Action::Verification, client, Some(&user.email))?;
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        self.queue_verification(&mut tx, user.id, &user.email, now).await?;
        tx.commit().await?;
        self.mail_queued();
        Ok(())
    }

    /// Uses a verification link.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn verify_email(&self, token: &str) -> Result<UserInfo, AuthError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AuthError::Link(LinkProblem::Unknown));
        }
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let row = tokens::email_token_by_hash(&mut tx, &sha256_hex(token))
            .await?
            .filter(|r| r.purpose == VERIFY)
            .ok_or(AuthError::Link(LinkProblem::Unknown))?;
        if row.used_at.is_some() {
            return Err(AuthError::Link(LinkProblem::Used));
        }
        if row.expires_at <= now {
            return Err(AuthError::Link(LinkProblem::Expired));
        }
        if !tokens::use_email_token(&mut tx, row.id, now).await? {
            return Err(AuthError::Link(LinkProblem::Used));
        }
        users::set_verified(&mut tx, row.user_id, now).await?;
        tx.commit().await?;
        let user = users::by_id(&self.db, row.user_id).await?.ok_or(AuthError::NotFound)?;
        tracing::info!(user_id = user.id, "email verified");
        Ok(user_info(&user))
    }

    pub async fn user(&self, user_id: i64) -> Result<UserInfo, AuthError> {
        let u = users::by_id(&self.db, user_id).await?.ok_or(AuthError::Unauthenticated)?;
        Ok(user_info(&u))
    }

    /// Fails with `NotVerified` unless the user's email is verified (gate for creating apps).
    pub async fn require_verified(&self, user_id: i64) -> Result<UserInfo, AuthError> {
        let u = self.user(user_id).await?;
        if !u.verified {
            return Err(AuthError::NotVerified);
        }
        Ok(u)
    }

    // ---- sessions ------------------------------------------------------------------------------

    /// Checks a password and starts a session. Unknown emails and wrong passwords take the same
    /// time and give the same error.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(UserInfo, SessionTokens), AuthError> {
        self.limit(Action::Login, client, Some(email))?;
        // Malformed input is just a failed login: never tell which accounts exist.
        let user = match Email::parse(email) {
            Ok(e) => users::by_email(&self.db, e.as_str()).await?,
            Err(_) => None,
        };
        let password = password.chars().take(kiln_core::validate::PASSWORD_MAX_CHARS).collect();
        let ok = self.hasher.verify(password, user.as_ref().map(|u| u.password_hash.clone())).await;
        let user = match (ok, user) {
            (true, Some(u)) => u,
            _ => return Err(AuthError::BadCredentials),
        };
        let session = self.start_session(user.id, &client.user_agent).await?;
        tracing::info!(user_id = user.id, session_id = session.session_id, "logged in");
        Ok((user_info(&user), session))
    }

    pub(crate) async fn start_session(
        &self,
        user_id: i64,
        user_agent: &str,
    ) -> Result<SessionTokens, AuthError> {
        let now = self.clock.now();
        let ua: String = user_agent.chars().take(256).collect();
        let refresh = random_token(REFRESH_PREFIX);
        let mut tx = self.db.begin_write().await?;
        let sid =
            tokens::insert_session(&mut tx, user_id, &ua, now + self.config.session_ttl_ms, now)
                .await?;
        tokens::insert_refresh(&mut tx, sid, &sha256_hex(&refresh), now).await?;
        tx.commit().await?;
        Ok(self.tokens_for(user_id, sid, refresh, now))
    }

    fn tokens_for(
        &self,
        user_id: i64,
        session_id: i64,
        refresh: String,
        now: Millis,
    ) -> SessionTokens {
        let iat = now / 1000;
        let ttl = self.config.access_ttl_secs.min(300);
        let claims = Claims { sub: user_id.to_string(), sid: session_id, iat, exp: iat + ttl };
        SessionTokens {
            access: jwt::sign(&self.jwt_key, &claims),
            access_max_age: ttl,
            refresh,
            session_id,
            user_id,
        }
    }

    /// The successor of a refresh token: derived, so a second presentation within the grace
    /// period yields the same one without storing it.
    fn successor(&self, refresh: &str) -> String {
        format!(
            "{REFRESH_PREFIX}{}",
            crate::crypto::b64(&hmac(&self.refresh_key, refresh.as_bytes()))
        )
    }

    /// Exchanges a refresh token for a new access token and the next refresh token.
    ///
    /// - first use: rotates;
    /// - used again within the grace period (concurrent tabs): the same successor;
    /// - used again later: treated as stolen, the whole session family is revoked.
    #[tracing::instrument(skip_all, err(Debug))]
    pub async fn refresh(&self, refresh: &str) -> Result<SessionTokens, AuthError> {
        if !refresh.starts_with(REFRESH_PREFIX) || refresh.len() > 128 {
            return Err(AuthError::Unauthenticated);
        }
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let row = tokens::refresh_by_hash(&mut tx, &sha256_hex(refresh))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        let session =
            tokens::session_tx(&mut tx, row.session_id).await?.ok_or(AuthError::Unauthenticated)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(AuthError::Unauthenticated);
        }
        let next = self.successor(refresh);
        // Whoever marks the token used rotates it. On Postgres a concurrent refresh waits for
        // that row and then finds it used: it reads the use time again and joins the grace path.
        let rotated = row.used_at.is_none() && tokens::use_refresh(&mut tx, row.id, now).await?;
        if rotated {
            tokens::insert_refresh(&mut tx, session.id, &sha256_hex(&next), now).await?;
            tokens::touch_session(&mut tx, session.id, now).await?;
            tx.commit().await?;
        } else {
            let used_at = match row.used_at {
                Some(t) => Some(t),
                None => tokens::refresh_by_hash(&mut tx, &sha256_hex(refresh))
                    .await?
                    .and_then(|r| r.used_at),
            };
            match used_at {
                // A concurrent refresh already rotated this token: hand out the same successor.
                Some(used) if now - used <= self.config.refresh_grace_ms => tx.commit().await?,
                _ => {
                    tokens::revoke_session(&mut tx, session.id, "refresh token reused", now)
                        .await?;
                    tx.commit().await?;
                    tracing::warn!(
                        session_id = session.id,
                        user_id = session.user_id,
                        "refresh token reused after rotation: session family revoked"
                    );
                    return Err(AuthError::Unauthenticated);
                }
            }
        }
        Ok(self.tokens_for(session.user_id, session.id, next, now))
    }

    /// Ends the session family a refresh token or access token belongs to.
    pub async fn logout(&self, session_id: i64) -> Result<(), AuthError> {
        let mut tx = self.db.begin_write().await?;
        tokens::revoke_session(&mut tx, session_id, "logout", self.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session a refresh token belongs to, if the token is known.
    pub async fn session_of_refresh(&self, refresh: &str) -> Result<Option<i64>, AuthError> {
        let mut tx = self.db.begin().await?;
        Ok(tokens::refresh_by_hash(&mut tx, &sha256_hex(refresh)).await?.map(|r| r.session_id))
    }

    /// Checks an access token: signature and expiry, then that its session is still live (one
    /// primary-key lookup), so logging out everywhere or a password reset takes effect at once.
    pub async fn authenticate_access(&self, token: &str) -> Option<Identity> {
        let now = self.clock.now();
        let claims = jwt::verify(&self.jwt_key, token, now / 1000)?;
        match tokens::session_is_live(&self.db, claims.sid, now).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::error!(error = %e, "session check failed");
                return None;
            }
        }
        Some(Identity {
            user_id: claims.sub.parse().ok()?,
            session_id: Some(claims.sid),
            api_token_id: None,
        })
    }

    // ---- personal API tokens -------------------------------------------------------------------

    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<CreatedToken, AuthError> {
        let name = TokenName::parse(name)?;
        let token = random_token(API_TOKEN_PREFIX);
        let prefix: String = token.chars().take(12).collect();
        let id = tokens::insert_api_token(
            &self.db,
            user_id,
            name.as_str(),
            &prefix,
            &sha256_hex(&token),
            self.clock.now(),
        )
        .await?;
        tracing::info!(user_id, token_id = id, "API token created");
        Ok(CreatedToken { id, name: name.as_str().to_owned(), token })
    }

    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenInfo>, AuthError> {
        Ok(tokens::list_api_tokens(&self.db, user_id)
            .await?
            .into_iter()
            .map(|r| ApiTokenInfo {
                id: r.id,
                name: r.name,
                prefix: r.prefix,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
            })
            .collect())
    }

    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64) -> Result<(), AuthError> {
        tokens::revoke_api_token(&self.db, user_id, token_id, self.clock.now()).await?;
        tracing::info!(user_id, token_id, "API token revoked");
        Ok(())
    }

    /// Checks a `Bearer` token.
    pub async fn authenticate_api_token(&self, token: &str) -> Result<Identity, AuthError> {
        if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 128 {
            return Err(AuthError::Unauthenticated);
        }
        let row = tokens::api_token_by_hash(&self.db, &sha256_hex(token))
            .await?
            .filter(|r| r.revoked_at.is_none())
            .ok_or(AuthError::Unauthenticated)?;
        tokens::touch_api_token(&self.db, row.id, self.clock.now()).await?;
        Ok(Identity { user_id: row.user_id, session_id: None, api_token_id: Some(row.id) })
    }
}

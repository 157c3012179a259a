//! Secrets that stand for a user: emailed single-use links, session families with their rotating
//! refresh tokens, and personal API tokens. Only hashes of the secrets are stored.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

// ---- emailed links ---------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub new_email: Option<String>,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

pub async fn insert_email_token(
    tx: &mut Tx,
    user_id: i64,
    purpose: &str,
    token_hash: &str,
    new_email: Option<&str>,
    expires_at: Millis,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO email_tokens (user_id, purpose, token_hash, new_email, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(user_id).bind(purpose).bind(token_hash)
        .bind(new_email).bind(expires_at).bind(now).fetch_one(c).await)?)
}

pub async fn email_token_by_hash(
    tx: &mut Tx,
    token_hash: &str,
) -> Result<Option<EmailTokenRow>, StoreError> {
    let q = "SELECT id, user_id, purpose, new_email, expires_at, used_at FROM email_tokens \
             WHERE token_hash = $1";
    Ok(on_tx!(tx, c => sqlx::query_as(q).bind(token_hash).fetch_optional(c).await)?)
}

/// Marks a link used; false if it was used already (a concurrent use won).
pub async fn use_email_token(tx: &mut Tx, id: i64, now: Millis) -> Result<bool, StoreError> {
    let q = "UPDATE email_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL";
    let n = on_tx!(tx, c => sqlx::query(q).bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Voids the unused links of one purpose for a user (a new link replaces the old ones).
pub async fn void_email_tokens(
    tx: &mut Tx,
    user_id: i64,
    purpose: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 \
             AND used_at IS NULL";
    on_tx!(tx, c => sqlx::query(q).bind(now).bind(user_id).bind(purpose).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- sessions and refresh tokens -------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub user_agent: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
}

const SESSION_COLUMNS: &str =
    "id, user_id, user_agent, created_at, last_seen_at, expires_at, revoked_at";

pub async fn insert_session(
    tx: &mut Tx,
    user_id: i64,
    user_agent: &str,
    expires_at: Millis,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO sessions (user_id, user_agent, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $3, $4) RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(user_id).bind(user_agent).bind(now)
        .bind(expires_at).fetch_one(c).await)?)
}

pub async fn session(db: &Db, id: i64) -> Result<Option<SessionRow>, StoreError> {
    let q = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

pub async fn session_tx(tx: &mut Tx, id: i64) -> Result<Option<SessionRow>, StoreError> {
    let q = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

/// The live (not revoked, not expired) sessions of a user, newest first.
pub async fn live_sessions(
    db: &Db,
    user_id: i64,
    now: Millis,
) -> Result<Vec<SessionRow>, StoreError> {
    let q = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 ORDER BY last_seen_at DESC"
    );
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(user_id).bind(now)
        .fetch_all(c).await)?)
}

pub async fn touch_session(tx: &mut Tx, id: i64, now: Millis) -> Result<(), StoreError> {
    let q = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2";
    on_tx!(tx, c => sqlx::query(q).bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Revokes a session family; its refresh tokens stop working at once and its access tokens
/// within their lifetime.
pub async fn revoke_session(
    tx: &mut Tx,
    id: i64,
    reason: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 \
             AND revoked_at IS NULL";
    on_tx!(tx, c => sqlx::query(q).bind(now).bind(reason).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Revokes every live session of a user, except `keep` (the caller's own, when it should stay).
pub async fn revoke_user_sessions(
    tx: &mut Tx,
    user_id: i64,
    keep: Option<i64>,
    reason: &str,
    now: Millis,
) -> Result<u64, StoreError> {
    let q = "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 \
             AND revoked_at IS NULL AND id <> $4";
    Ok(on_tx!(tx, c => sqlx::query(q).bind(now).bind(reason).bind(user_id)
        .bind(keep.unwrap_or(-1)).execute(c).await.map(|r| r.rows_affected()))?)
}

/// Whether a session exists, is not revoked and has not expired (checked on every request made
/// with an access token, so a revoked session stops at once).
pub async fn session_is_live(db: &Db, id: i64, now: Millis) -> Result<bool, StoreError> {
    let q =
        "SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2";
    let n: i64 = on_db!(db, c => sqlx::query_scalar(q).bind(id).bind(now).fetch_one(c).await)?;
    Ok(n == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub id: i64,
    pub session_id: i64,
    pub created_at: Millis,
    pub used_at: Option<Millis>,
}

pub async fn insert_refresh(
    tx: &mut Tx,
    session_id: i64,
    token_hash: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO refresh_tokens (session_id, token_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(session_id).bind(token_hash).bind(now)
        .fetch_one(c).await)?)
}

pub async fn refresh_by_hash(
    tx: &mut Tx,
    token_hash: &str,
) -> Result<Option<RefreshRow>, StoreError> {
    let q = "SELECT id, session_id, created_at, used_at FROM refresh_tokens WHERE token_hash = $1";
    Ok(on_tx!(tx, c => sqlx::query_as(q).bind(token_hash).fetch_optional(c).await)?)
}

/// Marks a refresh token used; false when it already was.
pub async fn use_refresh(tx: &mut Tx, id: i64, now: Millis) -> Result<bool, StoreError> {
    let q = "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL";
    let n = on_tx!(tx, c => sqlx::query(q).bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

// ---- personal API tokens ---------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

const API_TOKEN_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

pub async fn insert_api_token(
    db: &Db,
    user_id: i64,
    name: &str,
    prefix: &str,
    token_hash: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id";
    Ok(on_db!(db, c => sqlx::query_scalar(q).bind(user_id).bind(name).bind(prefix)
        .bind(token_hash).bind(now).fetch_one(c).await)?)
}

/// The user's tokens that are not revoked, newest first.
pub async fn list_api_tokens(db: &Db, user_id: i64) -> Result<Vec<ApiTokenRow>, StoreError> {
    let q = format!(
        "SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL \
         ORDER BY id DESC"
    );
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(user_id).fetch_all(c).await)?)
}

/// Revokes one of the user's tokens; `NotFound` when the user has no such live token.
pub async fn revoke_api_token(
    db: &Db,
    user_id: i64,
    id: i64,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 \
             AND revoked_at IS NULL";
    let n = on_db!(db, c => sqlx::query(q).bind(now).bind(id).bind(user_id).execute(c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn api_token_by_hash(
    db: &Db,
    token_hash: &str,
) -> Result<Option<ApiTokenRow>, StoreError> {
    let q = format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(token_hash)
        .fetch_optional(c).await)?)
}

/// Revokes every live API token of a user (account recovery).
pub async fn revoke_user_api_tokens(
    tx: &mut Tx,
    user_id: i64,
    now: Millis,
) -> Result<u64, StoreError> {
    let q = "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
    Ok(on_tx!(tx, c => sqlx::query(q).bind(now).bind(user_id).execute(c).await
        .map(|r| r.rows_affected()))?)
}

/// Records a use of a token, at most once a minute per token (no write on every request).
pub async fn touch_api_token(db: &Db, id: i64, now: Millis) -> Result<(), StoreError> {
    let q = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $3)";
    on_db!(db, c => sqlx::query(q).bind(now).bind(id).bind(now - 60_000).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

//! Portal users.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub verified_at: Option<Millis>,
    pub created_at: Millis,
}

const COLUMNS: &str = "id, email, password_hash, verified_at, created_at";

/// Inserts a user; `Conflict` when the email is taken.
pub async fn insert(
    tx: &mut Tx,
    email: &str,
    password_hash: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id";
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(q)
        .bind(email).bind(password_hash).bind(now).fetch_one(c).await)?;
    Ok(id)
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(email).fetch_optional(c).await)?)
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<UserRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

/// Marks the user verified (idempotent: keeps the first verification time).
pub async fn set_verified(tx: &mut Tx, id: i64, now: Millis) -> Result<(), StoreError> {
    let q = "UPDATE users SET verified_at = COALESCE(verified_at, $1) WHERE id = $2";
    let n = on_tx!(tx, c => sqlx::query(q).bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64, StoreError> {
    Ok(on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(c).await)?)
}

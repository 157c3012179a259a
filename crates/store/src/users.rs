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
    /// `member` or `operator` (operators see the instance's mail outbox).
    pub role: String,
}

const COLUMNS: &str = "id, email, password_hash, verified_at, created_at, role";

/// Inserts a user (a `member`); `Conflict` when the email is taken.
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

pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<UserRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

pub async fn set_password(tx: &mut Tx, id: i64, password_hash: &str) -> Result<(), StoreError> {
    let q = "UPDATE users SET password_hash = $1 WHERE id = $2";
    let n = on_tx!(tx, c => sqlx::query(q).bind(password_hash).bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Changes the address (it counts as verified: the new address proved itself); `Conflict` when
/// another account has it.
pub async fn set_email(tx: &mut Tx, id: i64, email: &str, now: Millis) -> Result<(), StoreError> {
    let q = "UPDATE users SET email = $1, verified_at = COALESCE(verified_at, $2) WHERE id = $3";
    let n = on_tx!(tx, c => sqlx::query(q).bind(email).bind(now).bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub async fn set_role(db: &Db, id: i64, role: &str) -> Result<(), StoreError> {
    let q = "UPDATE users SET role = $1 WHERE id = $2";
    on_db!(db, c => sqlx::query(q).bind(role).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes a user and everything that belongs to them (sessions, refresh and API tokens, emailed
/// links: `ON DELETE CASCADE`). Later features add their own rows here, in the same transaction
/// (the user's apps, for one), so deleting an account never leaves anything behind.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Serialises writers that count a person's rows (apps, running jobs) against a limit: on
/// Postgres it locks the user's row until the transaction ends; SQLite's write transactions are
/// already exclusive.
pub async fn lock(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    if let crate::Tx::Postgres(t) = tx {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **t)
            .await?;
    }
    Ok(())
}

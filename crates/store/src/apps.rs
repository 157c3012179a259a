//! Apps: what a person describes and Kiln generates.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

const COLUMNS: &str = "id, owner_id, name, slug, description, created_at, updated_at";

/// Inserts an app; `Conflict` when the slug is taken.
pub async fn insert(
    tx: &mut Tx,
    owner_id: i64,
    name: &str,
    slug: &str,
    description: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO apps (owner_id, name, slug, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(owner_id).bind(name).bind(slug)
        .bind(description).bind(now).fetch_one(c).await)?)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<AppRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM apps WHERE id = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

/// The apps of one owner, newest first.
pub async fn by_owner(db: &Db, owner_id: i64) -> Result<Vec<AppRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM apps WHERE owner_id = $1 ORDER BY id DESC");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(owner_id).fetch_all(c).await)?)
}

pub async fn slug_taken(db: &Db, slug: &str) -> Result<bool, StoreError> {
    let n: i64 = on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE slug = $1")
        .bind(slug).fetch_one(c).await)?;
    Ok(n > 0)
}

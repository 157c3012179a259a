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
    /// The version the runtime serves, once one is deployed.
    pub live_version: Option<i64>,
}

const COLUMNS: &str = "id, owner_id, name, slug, description, created_at, updated_at, live_version";

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

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<AppRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM apps WHERE slug = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(slug).fetch_optional(c).await)?)
}

/// Switches the version the runtime serves: one write, so readers see the old or the new.
pub async fn set_live(db: &Db, app_id: i64, version: i64, now: Millis) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    set_live_tx(&mut tx, app_id, version, now).await?;
    tx.commit().await
}

/// [`set_live`] inside the caller's transaction.
pub async fn set_live_tx(
    tx: &mut Tx,
    app_id: i64,
    version: i64,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "UPDATE apps SET live_version = $1, updated_at = $2 WHERE id = $3";
    on_tx!(tx, c => sqlx::query(q).bind(version).bind(now).bind(app_id).execute(c).await.map(|_| ()))?;
    let q = "UPDATE app_versions SET live_at = COALESCE(live_at, $1) WHERE app_id = $2 AND version = $3";
    on_tx!(tx, c => sqlx::query(q).bind(now).bind(app_id).bind(version).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Stops serving an app (no live version).
pub async fn clear_live(db: &Db, app_id: i64) -> Result<(), StoreError> {
    let q = "UPDATE apps SET live_version = NULL WHERE id = $1";
    on_db!(db, c => sqlx::query(q).bind(app_id).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes an app with its versions, descriptions, jobs and their events (cascades).
pub async fn delete(db: &Db, app_id: i64) -> Result<(), StoreError> {
    on_db!(db, c => sqlx::query("DELETE FROM apps WHERE id = $1").bind(app_id).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Apps with a live version (what the runtime serves).
pub async fn live_apps(db: &Db) -> Result<Vec<AppRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM apps WHERE live_version IS NOT NULL ORDER BY id");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).fetch_all(c).await)?)
}

/// Every app's id with its live version.
pub async fn all_ids(db: &Db) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let q = "SELECT id, live_version FROM apps ORDER BY id";
    Ok(on_db!(db, c => sqlx::query_as(q).fetch_all(c).await)?)
}

pub async fn slug_taken(db: &Db, slug: &str) -> Result<bool, StoreError> {
    let n: i64 = on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE slug = $1")
        .bind(slug).fetch_one(c).await)?;
    Ok(n > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub id: i64,
    pub app_id: i64,
    pub job_id: i64,
    pub version: i64,
    pub spec: String,
    pub git_commit: String,
    pub archive: String,
    pub files: i64,
    pub created_at: Millis,
    pub description: String,
    pub changes: String,
    pub tree_key: String,
    /// When it first went live (versions never live cannot be rolled back to).
    pub live_at: Option<Millis>,
}

const VERSION_COLUMNS: &str = "id, app_id, job_id, version, spec, git_commit, archive, files, \
                               created_at, description, changes, tree_key, live_at";

/// What a new version records.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub app_id: i64,
    pub job_id: i64,
    pub spec: &'a str,
    pub git_commit: &'a str,
    pub archive: &'a str,
    pub files: i64,
    pub description: &'a str,
    pub changes: &'a str,
    pub tree_key: &'a str,
}

/// Records the version a job produced; idempotent per job (a job that is run again after its
/// worker died does not add a second version). Returns the version number.
pub async fn record_version(db: &Db, v: &NewVersion<'_>, now: Millis) -> Result<i64, StoreError> {
    let mut tx = db.begin_write().await?;
    let existing: Option<i64> = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT version FROM app_versions WHERE job_id = $1").bind(v.job_id).fetch_optional(c).await)?;
    if let Some(n) = existing {
        return Ok(n);
    }
    let next: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM app_versions WHERE app_id = $1")
        .bind(v.app_id).fetch_one(c).await)?;
    let q = "INSERT INTO app_versions (app_id, job_id, version, spec, git_commit, archive, files, \
             created_at, description, changes, tree_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    on_tx!(&mut tx, c => sqlx::query(q).bind(v.app_id).bind(v.job_id).bind(next).bind(v.spec)
        .bind(v.git_commit).bind(v.archive).bind(v.files).bind(now).bind(v.description)
        .bind(v.changes).bind(v.tree_key).execute(c).await.map(|_| ()))?;
    tx.commit().await?;
    Ok(next)
}

/// One version of an app.
pub async fn version(db: &Db, app_id: i64, version: i64) -> Result<Option<VersionRow>, StoreError> {
    let q =
        format!("SELECT {VERSION_COLUMNS} FROM app_versions WHERE app_id = $1 AND version = $2");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(app_id).bind(version)
        .fetch_optional(c).await)?)
}

/// Whether a version of the app was already generated (and checked) from this tree.
pub async fn has_tree(db: &Db, app_id: i64, tree_key: &str) -> Result<bool, StoreError> {
    let n: i64 = on_db!(db, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM app_versions WHERE app_id = $1 AND tree_key = $2")
        .bind(app_id).bind(tree_key).fetch_one(c).await)?;
    Ok(n > 0)
}

/// How many apps an owner has.
pub async fn count_by_owner(db: &Db, owner_id: i64) -> Result<i64, StoreError> {
    Ok(on_db!(db, c => sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE owner_id = $1")
        .bind(owner_id).fetch_one(c).await)?)
}

/// How many apps an owner has, in the caller's transaction.
pub async fn count_by_owner_tx(tx: &mut Tx, owner_id: i64) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE owner_id = $1")
        .bind(owner_id).fetch_one(c).await)?)
}

/// Replaces the app's current description (in the caller's transaction).
pub async fn set_description(
    tx: &mut Tx,
    id: i64,
    description: &str,
    now: Millis,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE apps SET description = $1, updated_at = $2 WHERE id = $3")
        .bind(description).bind(now).bind(id).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Stores a new description version (and makes it the app's description); returns its number.
/// Run it inside a write transaction (`begin_write`): the number is the next free one.
pub async fn add_description(
    tx: &mut Tx,
    app_id: i64,
    description: &str,
    by: Option<i64>,
    now: Millis,
) -> Result<i64, StoreError> {
    let next: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM app_descriptions WHERE app_id = $1")
        .bind(app_id).fetch_one(c).await)?;
    let q = "INSERT INTO app_descriptions (app_id, version, description, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, c => sqlx::query(q).bind(app_id).bind(next).bind(description).bind(by).bind(now)
        .execute(c).await.map(|_| ()))?;
    set_description(tx, app_id, description, now).await?;
    Ok(next)
}

/// The app's versions, newest first.
pub async fn versions(db: &Db, app_id: i64) -> Result<Vec<VersionRow>, StoreError> {
    let q = format!(
        "SELECT {VERSION_COLUMNS} FROM app_versions WHERE app_id = $1 ORDER BY version DESC"
    );
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(app_id).fetch_all(c).await)?)
}

//! Test helpers: a fresh, migrated database per test on every backend configured.
//!
//! SQLite always (a file in a temporary directory); Postgres too when `KILN_TEST_DATABASE_URL`
//! is set, in a schema of its own so tests running in parallel never see each other's rows.

use crate::{Db, StoreError};
use rand::RngCore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

/// A database for one test; the SQLite file is deleted on drop.
pub struct TestDb {
    pub db: Db,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// SQLite, plus Postgres when `KILN_TEST_DATABASE_URL` is set. Each is migrated and empty.
pub async fn databases() -> Vec<TestDb> {
    let mut out = vec![sqlite().await.expect("temporary SQLite database")];
    if let Ok(url) = std::env::var("KILN_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let db =
            postgres_schema(&url).await.expect("Postgres test schema (KILN_TEST_DATABASE_URL)");
        out.push(TestDb { db, label: "postgres", _dir: None });
    }
    out
}

pub async fn sqlite() -> Result<TestDb, StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    let db = Db::open_sqlite(&dir.path().join("kiln.db")).await?;
    db.migrate().await?;
    Ok(TestDb { db, label: "sqlite", _dir: Some(dir) })
}

/// A new schema in the database at `url`, with a pool whose `search_path` is that schema.
pub async fn postgres_schema(url: &str) -> Result<Db, StoreError> {
    let schema = format!("kiln_test_{:016x}", rand::rng().next_u64());
    let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await?;
    admin.close().await;
    let opts = PgConnectOptions::from_str(url)?.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new().max_connections(4).connect_with(opts).await?;
    let db = Db::Postgres(pool);
    db.migrate().await?;
    Ok(db)
}

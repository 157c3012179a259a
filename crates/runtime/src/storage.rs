//! One app's storage: its own SQLite file, or its own schema in the instance's Postgres
//! database. Every name that comes from a spec is a quoted identifier.

use kiln_core::{AppSpec, Entity, FieldType};
use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Db(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool on one app's storage. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    pub(crate) pool: AnyPool,
    /// The app's schema on Postgres; `None` on SQLite (the file is the app's own).
    schema: Option<String>,
    pub(crate) backend: Backend,
}

/// How a field's values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Int,
    Real,
    Text,
}

impl Class {
    pub fn of(ty: &FieldType) -> Self {
        match ty {
            FieldType::Int { .. } | FieldType::Bool | FieldType::Ref { .. } => Class::Int,
            FieldType::Decimal => Class::Real,
            _ => Class::Text,
        }
    }

    /// The column type (the same on SQLite, where it sets the affinity, and on Postgres).
    fn sql(self) -> &'static str {
        match self {
            Class::Int => "BIGINT",
            Class::Real => "DOUBLE PRECISION",
            Class::Text => "TEXT",
        }
    }

    /// The class of a column as the database reports its declared type.
    fn of_declared(declared: &str) -> Self {
        let d = declared.to_ascii_uppercase();
        if d.contains("INT") {
            Class::Int
        } else if d.contains("DOUB") || d.contains("REAL") || d.contains("FLOA") {
            Class::Real
        } else {
            Class::Text
        }
    }
}

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null(Class),
    Int(i64),
    Real(f64),
    Text(String),
}

/// `"name"`, with any `"` doubled (spec names never hold one; this keeps it so).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

static DRIVERS: std::sync::Once = std::sync::Once::new();

fn install_drivers() {
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// Builds a query with `$n` placeholders and the values bound to them.
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Val>,
    /// Whether the server may cache the prepared statement. Not on Postgres: a migration that
    /// changes a column's type would leave pooled connections with plans of the old result type.
    persistent: bool,
}

impl Sql {
    fn new(text: impl Into<String>, persistent: bool) -> Self {
        Self { text: text.into(), args: Vec::new(), persistent }
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    /// Appends a placeholder bound to `v`.
    pub fn arg(&mut self, v: Val) -> &mut Self {
        self.args.push(v);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }
    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone())).persistent(self.persistent);
        for a in &self.args {
            q = match a {
                Val::Null(Class::Int) => q.bind(None::<i64>),
                Val::Null(Class::Real) => q.bind(None::<f64>),
                Val::Null(Class::Text) => q.bind(None::<String>),
                Val::Int(i) => q.bind(*i),
                Val::Real(f) => q.bind(*f),
                Val::Text(t) => q.bind(t.clone()),
            };
        }
        q
    }
    pub async fn execute(&self, c: &mut AnyConnection) -> Result<u64, StorageError> {
        Ok(self.query().execute(c).await?.rows_affected())
    }
    pub async fn fetch_all(&self, c: &mut AnyConnection) -> Result<Vec<AnyRow>, StorageError> {
        Ok(self.query().fetch_all(c).await?)
    }
    pub async fn fetch_optional(
        &self,
        c: &mut AnyConnection,
    ) -> Result<Option<AnyRow>, StorageError> {
        Ok(self.query().fetch_optional(c).await?)
    }
    pub async fn scalar_i64(&self, c: &mut AnyConnection) -> Result<i64, StorageError> {
        let row = self.query().fetch_one(c).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }
}

impl Storage {
    /// The app's own SQLite file (created when missing).
    pub async fn open_sqlite(path: &Path) -> Result<Self, StorageError> {
        install_drivers();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Other(e.to_string()))?;
        }
        let url = format!(
            "sqlite://{}?mode=rwc",
            path.display().to_string().replace('%', "%25").replace(' ', "%20").replace('?', "%3F")
        );
        let opts = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                         PRAGMA synchronous = NORMAL;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Self { pool, schema: None, backend: Backend::Sqlite })
    }

    /// The app's own schema on a shared Postgres pool (created when missing).
    pub async fn open_postgres(pool: AnyPool, schema: &str) -> Result<Self, StorageError> {
        let schema = schema.to_owned();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {}", quote(&schema))))
            .execute(&pool)
            .await?;
        Ok(Self { pool, schema: Some(schema), backend: Backend::Postgres })
    }

    /// A pool on the instance's Postgres database, shared by every app's schema.
    pub async fn postgres_pool(url: &str) -> Result<AnyPool, StorageError> {
        install_drivers();
        Ok(AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(AnyConnectOptions::from_str(url)?)
            .await?)
    }

    /// A query on this storage (see [`Sql`]).
    pub(crate) fn sql(&self, text: impl Into<String>) -> Sql {
        Sql::new(text, self.backend == Backend::Sqlite)
    }

    /// The quoted, schema-qualified name of a table.
    pub fn table(&self, name: &str) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(name)),
            None => quote(name),
        }
    }

    /// Drops the app's schema with everything in it (Postgres only).
    pub async fn drop_schema(&self) -> Result<(), StorageError> {
        if let Some(schema) = &self.schema {
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(schema))))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Closes the app's own pool (SQLite); the shared Postgres pool stays open.
    pub async fn close(&self) {
        if self.backend == Backend::Sqlite {
            self.pool.close().await;
        }
    }

    /// Reads the storage itself, not only the connection: on SQLite the schema page of the
    /// file, on Postgres whether the app's schema exists. `Ok(false)`: the schema is gone.
    pub async fn probe(&self) -> Result<bool, StorageError> {
        match &self.schema {
            None => {
                sqlx::query("SELECT count(*) FROM sqlite_master").execute(&self.pool).await?;
                Ok(true)
            }
            Some(schema) => {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
                )
                .bind(schema.as_str())
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }
        }
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StorageError> {
        Ok(self.pool.begin().await?)
    }

    /// A transaction that will write: on SQLite it takes the write lock at once, so a write
    /// committed meanwhile by a request cannot make its first write fail with SQLITE_BUSY.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StorageError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StorageError> {
        Ok(self.pool.acquire().await?)
    }

    fn id_column(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        }
    }

    /// The runtime's own tables: end users, their sessions, and what the storage was migrated to.
    pub async fn ensure_internal(&self, c: &mut AnyConnection) -> Result<(), StorageError> {
        let id = self.id_column();
        for ddl in [
            format!(
                "CREATE TABLE IF NOT EXISTS {} (id {id}, email TEXT NOT NULL UNIQUE, \
                 password_hash TEXT NOT NULL, created_at BIGINT NOT NULL)",
                self.table("_kiln_users")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (token_hash TEXT PRIMARY KEY, \
                 user_id BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
                self.table("_kiln_sessions")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                self.table("_kiln_meta")
            ),
        ] {
            self.sql(ddl).execute(c).await?;
        }
        Ok(())
    }

    /// The spec this storage was last migrated to.
    pub async fn migrated_spec(
        &self,
        c: &mut AnyConnection,
    ) -> Result<Option<AppSpec>, StorageError> {
        let mut q =
            self.sql(format!("SELECT value FROM {} WHERE key = ", self.table("_kiln_meta")));
        q.arg(Val::Text("spec".into()));
        let Some(row) = q.fetch_optional(c).await? else { return Ok(None) };
        let text: String = row.try_get(0)?;
        // Unreadable, it must stop the migration: without it no loss could be detected.
        serde_json::from_str(&text).map(Some).map_err(|e| {
            StorageError::Other(format!("the storage's recorded plan is unreadable: {e}"))
        })
    }

    pub async fn set_migrated_spec(
        &self,
        c: &mut AnyConnection,
        spec: &AppSpec,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_string(spec).map_err(|e| StorageError::Other(e.to_string()))?;
        let mut del = self.sql(format!("DELETE FROM {} WHERE key = ", self.table("_kiln_meta")));
        del.arg(Val::Text("spec".into()));
        del.execute(c).await?;
        let mut ins =
            self.sql(format!("INSERT INTO {} (key, value) VALUES (", self.table("_kiln_meta")));
        ins.arg(Val::Text("spec".into())).push(", ").arg(Val::Text(json)).push(")");
        ins.execute(c).await?;
        Ok(())
    }

    /// The columns of a table with their storage class; empty when the table does not exist.
    pub async fn columns(
        &self,
        c: &mut AnyConnection,
        table: &str,
    ) -> Result<Vec<(String, Class)>, StorageError> {
        let q = match &self.schema {
            None => {
                let mut q = self.sql("SELECT name, type FROM pragma_table_info(");
                q.arg(Val::Text(table.into())).push(")");
                q
            }
            Some(schema) => {
                let mut q = self.sql(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = ",
                );
                q.arg(Val::Text(schema.clone())).push(" AND table_name = ");
                q.arg(Val::Text(table.into()));
                q
            }
        };
        let rows = q.fetch_all(c).await?;
        let mut out = Vec::new();
        for r in rows {
            let name: String = r.try_get(0)?;
            let ty: String = r.try_get(1)?;
            out.push((name, Class::of_declared(&ty)));
        }
        Ok(out)
    }

    /// `CREATE TABLE` for an entity: id, creator, timestamps and its fields (all nullable: the
    /// runtime enforces `required`, so older rows never block a migration).
    pub fn create_table_sql(&self, e: &Entity) -> String {
        let mut cols = vec![
            format!("id {}", self.id_column()),
            "created_by BIGINT".to_owned(),
            "created_at BIGINT NOT NULL".to_owned(),
            "updated_at BIGINT NOT NULL".to_owned(),
        ];
        for f in &e.fields {
            cols.push(format!("{} {}", quote(&f.name), Class::of(&f.ty).sql()));
        }
        format!("CREATE TABLE {} ({})", self.table(&e.collection), cols.join(", "))
    }

    pub fn add_column_sql(&self, table: &str, column: &str, class: Class) -> String {
        format!("ALTER TABLE {} ADD COLUMN {} {}", self.table(table), quote(column), class.sql())
    }

    pub fn rename_column_sql(&self, table: &str, from: &str, to: &str) -> String {
        format!("ALTER TABLE {} RENAME COLUMN {} TO {}", self.table(table), quote(from), quote(to))
    }
}

/// Reads column `i` of a row as a value of class `class` (a value of another type reads as null).
pub fn read_val(row: &AnyRow, i: usize, class: Class) -> Val {
    match class {
        Class::Int => match row.try_get::<Option<i64>, _>(i) {
            Ok(Some(v)) => Val::Int(v),
            _ => Val::Null(class),
        },
        Class::Real => match row.try_get::<Option<f64>, _>(i) {
            Ok(Some(v)) => Val::Real(v),
            // SQLite hands back a whole number stored in a REAL column as an integer.
            _ => match row.try_get::<Option<i64>, _>(i) {
                Ok(Some(v)) => Val::Real(v as f64),
                _ => Val::Null(class),
            },
        },
        Class::Text => match row.try_get::<Option<String>, _>(i) {
            Ok(Some(v)) => Val::Text(v),
            _ => Val::Null(class),
        },
    }
}

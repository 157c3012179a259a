//! Serves, for `scripts/bench/apps` (wrk), a generated app's API and a minimal axum + sqlx
//! reference doing the same queries, side by side:
//!
//! - the runtime: a deployed todo app (tasks: title, done, priority; no accounts) with 100 tasks,
//!   its own SQLite file, on 127.0.0.1:<port>, Host `todo.localhost:<port>`;
//! - the reference: `GET /api/tasks` (count + first page of 100, JSON) and `POST /api/tasks`
//!   (insert, read back, 201 JSON) on another SQLite file with the same rows, no validation,
//!   no routing by host, no access rules: the ceiling.
//!
//! Prints `READY <runtime port> <reference port> <runtime without kept lists port>` and serves
//! until killed.
//!
//!     cargo run --release -p kiln-runtime --example bench_apps

use axum::extract::State;
use axum::routing::get;
use kiln_core::{AppSpec, Entity, Feature, Field, FieldType};
use kiln_runtime::{Config, Policy, Runtime};
use kiln_store::{Clock, Db, apps, users};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};

fn spec() -> AppSpec {
    let field = |name: &str, label: &str, ty: FieldType, required: bool| Field {
        name: name.into(),
        label: label.into(),
        ty,
        required,
    };
    AppSpec {
        version: 1,
        name: "Todo".into(),
        slug: "todo".into(),
        features: vec![Feature::Crud],
        entities: vec![Entity {
            name: "task".into(),
            label: "Task".into(),
            collection: "tasks".into(),
            access: None,
            fields: vec![
                field("title", "Title", FieldType::Text, true),
                field("done", "Done", FieldType::Bool, false),
                field(
                    "priority",
                    "Priority",
                    FieldType::Enum { values: vec!["low".into(), "medium".into(), "high".into()] },
                    false,
                ),
            ],
        }],
    }
}

async fn reference_list(State(pool): State<SqlitePool>) -> axum::Json<Value> {
    let mut c = pool.acquire().await.expect("connection");
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE 1 = 1")
        .fetch_one(&mut *c)
        .await
        .expect("count");
    let rows = sqlx::query(
        "SELECT id, created_by, created_at, updated_at, title, done, priority FROM tasks \
         WHERE 1 = 1 ORDER BY id ASC, id ASC LIMIT $1 OFFSET $2",
    )
    .bind(100i64)
    .bind(0i64)
    .fetch_all(&mut *c)
    .await
    .expect("rows");
    let items: Vec<Value> = rows.iter().map(row_json).collect();
    axum::Json(json!({ "items": items, "total": total, "limit": 100, "offset": 0 }))
}

fn row_json(r: &sqlx::sqlite::SqliteRow) -> Value {
    json!({
        "id": r.get::<i64, _>(0),
        "created_by": r.get::<Option<i64>, _>(1),
        "created_at": r.get::<i64, _>(2),
        "updated_at": r.get::<i64, _>(3),
        "title": r.get::<Option<String>, _>(4),
        "done": r.get::<Option<i64>, _>(5).map(|d| d != 0),
        "priority": r.get::<Option<String>, _>(6),
    })
}

async fn reference_create(
    State(pool): State<SqlitePool>,
    axum::Json(body): axum::Json<Value>,
) -> (http::StatusCode, axum::Json<Value>) {
    let mut c = pool.acquire().await.expect("connection");
    let id: i64 =
        insert(&mut c, body["title"].as_str().unwrap_or("x"), body["priority"].as_str()).await;
    let row = sqlx::query(
        "SELECT id, created_by, created_at, updated_at, title, done, priority FROM tasks WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .expect("row");
    (http::StatusCode::CREATED, axum::Json(row_json(&row)))
}

async fn insert(c: &mut SqliteConnection, title: &str, priority: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO tasks (created_by, created_at, updated_at, title, priority) \
         VALUES (NULL, $1, $1, $2, $3) RETURNING id",
    )
    .bind(kiln_store::system_now())
    .bind(title)
    .bind(priority)
    .fetch_one(c)
    .await
    .expect("insert")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(None, &dir.path().join("kiln.db")).await?;
    db.migrate().await?;
    let mut tx = db.begin_write().await?;
    let owner = users::insert(&mut tx, "bench@example.com", "x", 0).await?;
    let app_id = apps::insert(&mut tx, owner, "Todo", "todo", "bench", 0).await?;
    tx.commit().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut config = Config::local(dir.path().to_owned(), port);
    config.anonymous_writes_per_minute = u32::MAX;
    let runtime = Runtime::new(db.clone(), Clock::default(), config);
    let spec = spec();
    let files: Vec<(String, String)> = kiln_codegen::generate(&spec)?.files.into_iter().collect();
    let spec_json = serde_json::to_string(&spec)?;
    apps::record_version(
        &db,
        &apps::NewVersion {
            app_id,
            job_id: 1,
            spec: &spec_json,
            git_commit: "-",
            archive: "-",
            files: files.len() as i64,
            description: "bench",
            changes: "",
            tree_key: "bench",
        },
        0,
    )
    .await?;
    runtime
        .deploy(app_id, 1, &spec, &files, Policy::Ask)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    apps::set_live(&db, app_id, 1, 0).await?;

    let opts = SqliteConnectOptions::new()
        .filename(dir.path().join("reference.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // As the runtime's own files: WAL, synchronous NORMAL, a busy timeout.
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(10));
    let reference = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
    sqlx::query(
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, created_by BIGINT, \
         created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, title TEXT, done BIGINT, \
         priority TEXT)",
    )
    .execute(&reference)
    .await?;
    // The same 100 rows in both.
    let storage = runtime.storage(app_id).await?;
    let mut sc = storage.acquire().await?;
    let entity = &spec.entities[0];
    let mut rc = reference.acquire().await?;
    for n in 0..100 {
        let title = format!("Task number {n}");
        let priority = ["low", "medium", "high"][n % 3];
        let values = kiln_runtime::records::check_body(
            entity,
            &json!({"title": title, "priority": priority}),
            true,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        kiln_runtime::records::insert(&storage, &mut sc, entity, &values, None, 0).await?;
        insert(&mut rc, &title, Some(priority)).await;
    }
    drop((sc, rc));

    let ref_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let ref_port = ref_listener.local_addr()?.port();
    let ref_app = axum::Router::new()
        .route("/api/tasks", get(reference_list).post(reference_create))
        .with_state(reference);
    // The same app through a runtime that computes every list answer (no kept answers).
    let computed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let computed_port = computed_listener.local_addr()?.port();
    let mut config = Config::local(dir.path().to_owned(), computed_port);
    config.anonymous_writes_per_minute = u32::MAX;
    config.list_cache = false;
    let computed = Runtime::new(db.clone(), Clock::default(), config);
    println!("READY {port} {ref_port} {computed_port}");
    let rt_app = runtime.router();
    tokio::try_join!(
        axum::serve(listener, rt_app),
        axum::serve(ref_listener, ref_app),
        axum::serve(computed_listener, computed.router())
    )?;
    Ok(())
}

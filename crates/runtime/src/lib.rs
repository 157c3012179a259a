//! Kiln's runtime for generated apps. Every live app is served on its own origin
//! (`http://<slug>.localhost:<port>/` locally, `https://<slug>.<apps domain>/` in production):
//! the files of its live version, `GET /app.json`, and under `/api/` the backend its spec
//! describes: REST for every entity with typed validation, end-user accounts and per-entity
//! access rules, and a health check. Each app keeps its data in its own storage.
//!
//! [`Runtime::deploy`] unpacks a version, migrates the storage and smoke-checks the version in
//! place; switching the live version is the caller's single write (`apps.live_version`).

mod accounts;
mod api;
mod chat;
mod deploy;
mod lists;
pub mod migrate;
pub mod records;
mod statics;
pub mod storage;

pub use deploy::DeployError;
pub use migrate::{Policy, Report};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota};
use http::{HeaderValue, StatusCode, header};
use kiln_core::AppSpec;
use kiln_store::{Clock, Db};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::Storage;

/// Where generated apps live and how their URLs look.
#[derive(Debug, Clone)]
pub struct Config {
    /// `$KILN_DATA_DIR`: versions under `apps/<id>/versions/<n>`, SQLite files `apps/<id>/data.sqlite`.
    pub data_dir: PathBuf,
    /// Production: apps at `https://<slug>.<domain>/`, `__Host-` cookies. `None`: `<slug>.localhost`.
    pub apps_domain: Option<String>,
    /// The port of `KILN_APPS_ADDR`, for local URLs.
    pub port: u16,
    /// The instance's Postgres URL: each app then gets a schema there instead of a SQLite file.
    pub postgres_url: Option<String>,
    /// Anonymous writes (creates, edits, sign-ups, log-ins) per minute, per app and address.
    pub anonymous_writes_per_minute: u32,
    /// On Postgres, app `n` lives in schema `<prefix><n>` (`app_` by default).
    pub schema_prefix: String,
    /// The model behind apps' `POST /api/chat` (the `chat` feature); without one it is 503.
    pub chat: Option<kiln_llm::LlmPlanner>,
    /// Chat questions per minute, per app and per end user (or address).
    pub chat_per_minute_app: u32,
    pub chat_per_minute_user: u32,
    /// Answer tokens per app per day (counted roughly, four characters a token).
    pub chat_daily_tokens: u64,
    /// Keep list answers in memory until the app's next write (only ever on SQLite storage).
    pub list_cache: bool,
}

impl Config {
    /// Local defaults: SQLite files under `data_dir`, apps at `<slug>.localhost:<port>`.
    pub fn local(data_dir: PathBuf, port: u16) -> Self {
        Self {
            data_dir,
            apps_domain: None,
            port,
            postgres_url: None,
            anonymous_writes_per_minute: 60,
            schema_prefix: "app_".into(),
            chat: None,
            chat_per_minute_app: 60,
            chat_per_minute_user: 10,
            chat_daily_tokens: 200_000,
            list_cache: true,
        }
    }
}

/// The live version of an app, as requests see it.
#[derive(Debug)]
pub struct Live {
    pub app_id: i64,
    pub slug: String,
    pub version: i64,
    pub spec: AppSpec,
    pub dir: PathBuf,
    pub storage: Storage,
}

/// How long a resolved host is trusted before the database is asked again (a deploy in this
/// process forgets it at once; one in another process is seen within this time).
const LIVE_TTL: Duration = Duration::from_secs(1);

/// A resolved host: when it was resolved, and its live version (none: nothing is live).
type Cached = (Instant, Option<Arc<Live>>);

struct Inner {
    db: Db,
    clock: Clock,
    config: Config,
    live: Mutex<HashMap<String, Cached>>,
    storages: tokio::sync::Mutex<HashMap<i64, Storage>>,
    pg: tokio::sync::OnceCell<sqlx::AnyPool>,
    passwords: kiln_auth::PasswordHasher,
    anonymous_writes: DefaultKeyedRateLimiter<(i64, IpAddr)>,
    /// The port local URLs name (the bound one, when the configured port was 0).
    port: std::sync::atomic::AtomicU16,
    /// Checks of the limiter so far (it forgets quiet addresses every few thousand).
    limiter_checks: std::sync::atomic::AtomicU64,
    /// Password hashes at once (each takes ~19 MiB and a core for a while).
    hashing: tokio::sync::Semaphore,
    chat_per_app: governor::DefaultKeyedRateLimiter<i64>,
    chat_per_user: governor::DefaultKeyedRateLimiter<(i64, String)>,
    /// Answer tokens spent per (app, day).
    chat_tokens: Arc<Mutex<HashMap<(i64, i64), u64>>>,
    /// Answers to list requests until the app's data change (SQLite only).
    lists: lists::ListCache,
}

/// The runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// An error page or JSON error for a request the runtime could not serve.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(pub String);

impl From<storage::StorageError> for RuntimeError {
    fn from(e: storage::StorageError) -> Self {
        RuntimeError(e.to_string())
    }
}

impl From<kiln_store::StoreError> for RuntimeError {
    fn from(e: kiln_store::StoreError) -> Self {
        RuntimeError(e.to_string())
    }
}

impl Runtime {
    pub fn new(db: Db, clock: Clock, config: Config) -> Self {
        let per_minute =
            NonZeroU32::new(config.anonymous_writes_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                config: config.clone(),
                live: Mutex::new(HashMap::new()),
                storages: tokio::sync::Mutex::new(HashMap::new()),
                pg: tokio::sync::OnceCell::new(),
                passwords: kiln_auth::PasswordHasher::owasp(),
                anonymous_writes: governor::RateLimiter::dashmap(Quota::per_minute(per_minute)),
                port: std::sync::atomic::AtomicU16::new(config.port),
                limiter_checks: std::sync::atomic::AtomicU64::new(0),
                chat_per_app: governor::RateLimiter::dashmap(Quota::per_minute(
                    NonZeroU32::new(config.chat_per_minute_app).unwrap_or(NonZeroU32::MIN),
                )),
                chat_per_user: governor::RateLimiter::dashmap(Quota::per_minute(
                    NonZeroU32::new(config.chat_per_minute_user).unwrap_or(NonZeroU32::MIN),
                )),
                chat_tokens: Arc::new(Mutex::new(HashMap::new())),
                lists: lists::ListCache::new(config.postgres_url.is_none() && config.list_cache),
                hashing: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
                ),
            }),
        }
    }

    /// Hashes end users' passwords with these parameters (tests use cheap ones).
    pub fn with_password_hasher(self, hasher: kiln_auth::PasswordHasher) -> Self {
        let inner = Arc::try_unwrap(self.inner)
            .unwrap_or_else(|_| panic!("configure the runtime before cloning it"));
        Self { inner: Arc::new(Inner { passwords: hasher, ..inner }) }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The URL an app is served at.
    pub fn url_for(&self, slug: &str) -> String {
        match &self.inner.config.apps_domain {
            Some(d) => format!("https://{slug}.{d}/"),
            None => format!("http://{slug}.localhost:{}/", self.port()),
        }
    }

    /// The port local URLs name.
    pub fn port(&self) -> u16 {
        self.inner.port.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records the port the apps' listener actually bound.
    pub fn set_port(&self, port: u16) {
        self.inner.port.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    fn production(&self) -> bool {
        self.inner.config.apps_domain.is_some()
    }

    /// The slug a `Host` header names, if it is one of the apps' hosts.
    pub fn slug_of(&self, host: &str) -> Option<String> {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.rsplit_once(':') {
            Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n.to_owned(),
            _ => host,
        };
        let suffix = match &self.inner.config.apps_domain {
            Some(d) => format!(".{}", d.to_ascii_lowercase()),
            None => ".localhost".to_owned(),
        };
        let slug = name.strip_suffix(&suffix)?;
        let ok = !slug.is_empty()
            && slug.len() <= 63
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| slug.to_owned())
    }

    /// Where a version's files are unpacked.
    pub fn version_dir(&self, app_id: i64, version: i64) -> PathBuf {
        self.inner
            .config
            .data_dir
            .join("apps")
            .join(app_id.to_string())
            .join("versions")
            .join(version.to_string())
    }

    /// Where an app's SQLite file is (when Kiln runs without Postgres).
    fn sqlite_path(&self, app_id: i64) -> PathBuf {
        self.inner.config.data_dir.join("apps").join(app_id.to_string()).join("data.sqlite")
    }

    /// Closes an app's storage pool; the next request opens it again.
    async fn reopen_storage(&self, app_id: i64, slug: &str) {
        let open = self.inner.storages.lock().await.remove(&app_id);
        self.invalidate(slug);
        if let Some(s) = open {
            s.close().await;
        }
    }

    /// Self-healing of an app's storage. `Ok(None)`: it answers. `Ok(Some(what))`: it did not,
    /// and `what` says how it was put right; the caller then deploys the live version again in
    /// place, which recreates missing tables and smoke-checks it. `Err`: it still cannot be read.
    ///
    /// A SQLite file that was removed, or cannot be read even by a new connection, is set aside
    /// (renamed, never deleted, with its `-wal` and `-shm`) and the app starts on a new, empty
    /// file; a Postgres schema that was dropped is created again, empty.
    pub async fn heal_storage(&self, app_id: i64, slug: &str) -> Result<Option<String>, String> {
        let sqlite = self.inner.config.postgres_url.is_none();
        if sqlite && !self.sqlite_path(app_id).exists() {
            // Open connections may still reach the removed file, new ones would not: one pool.
            self.reopen_storage(app_id, slug).await;
            self.storage(app_id).await.map_err(|e| e.0)?;
            return Ok(Some(
                "its data file was missing; it starts again on a new, empty one".to_owned(),
            ));
        }
        let first = match self.storage(app_id).await {
            Ok(s) => s.probe().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.0),
        };
        let first = match first {
            Ok(true) => return Ok(None),
            Ok(false) => {
                self.reopen_storage(app_id, slug).await;
                self.storage(app_id).await.map_err(|e| e.0)?;
                return Ok(Some(
                    "its schema was missing; it starts again on a new, empty one".to_owned(),
                ));
            }
            Err(e) => e,
        };
        // A fresh pool, in case only the connections were broken.
        self.reopen_storage(app_id, slug).await;
        let again = match self.storage(app_id).await {
            Ok(s) => s.probe().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.0),
        };
        match again {
            Ok(_) => return Ok(Some(format!("its storage did not answer ({first}); reopened"))),
            Err(e) if !sqlite => return Err(format!("its storage cannot be read: {e}")),
            Err(_) => {}
        }
        self.reopen_storage(app_id, slug).await;
        let path = self.sqlite_path(app_id);
        let aside = path.with_file_name(format!("data.sqlite.unreadable-{}", self.now()));
        std::fs::rename(&path, &aside)
            .map_err(|e| format!("its data file cannot be read ({first}) nor set aside: {e}"))?;
        for ext in ["-wal", "-shm"] {
            let from = path.with_file_name(format!("data.sqlite{ext}"));
            if from.exists() {
                let to = aside.with_file_name(format!(
                    "{}{ext}",
                    aside.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                ));
                let _ = std::fs::rename(from, to);
            }
        }
        self.storage(app_id).await.map_err(|e| e.0)?;
        tracing::error!(app_id, error = %first, aside = %aside.display(), "an app's data file was unreadable; set aside");
        Ok(Some(format!(
            "its data file could not be read ({first}); it was kept as {} for recovery and the \
             app starts again on a new, empty one",
            aside.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        )))
    }

    /// What is left on disk of interrupted work, removed at start-up: half-written version
    /// directories (`.N.partial`), versions that were unpacked but never switched to (`keep`
    /// says which versions of an app to leave: its live one, and all of them while a job of it
    /// may still run), and the directories of apps that no longer exist. Returns what it removed.
    pub fn sweep(&self, keep: impl Fn(i64) -> Option<(Vec<i64>, bool)>) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let apps = self.inner.config.data_dir.join("apps");
        let Ok(dirs) = std::fs::read_dir(&apps) else { return removed };
        for d in dirs.flatten() {
            let Some(id) = d.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else {
                continue;
            };
            match keep(id) {
                // No such app: an orphan.
                None => {
                    if std::fs::remove_dir_all(d.path()).is_ok() {
                        removed.push(d.path());
                    }
                }
                Some((keep, busy)) => {
                    let Ok(versions) = std::fs::read_dir(d.path().join("versions")) else {
                        continue;
                    };
                    for v in versions.flatten() {
                        let name = v.file_name().to_string_lossy().into_owned();
                        // (A job of the app may be unpacking right now, on another replica.)
                        let stale = if name.ends_with(".partial") {
                            !busy
                        } else {
                            name.parse::<i64>().is_ok_and(|n| !keep.contains(&n))
                        };
                        if stale && std::fs::remove_dir_all(v.path()).is_ok() {
                            removed.push(v.path());
                        }
                    }
                }
            }
        }
        removed
    }

    /// The app's storage (opened once, then shared).
    pub async fn storage(&self, app_id: i64) -> Result<Storage, RuntimeError> {
        let mut open = self.inner.storages.lock().await;
        if let Some(s) = open.get(&app_id) {
            return Ok(s.clone());
        }
        let s = match &self.inner.config.postgres_url {
            Some(url) => {
                let pool =
                    self.inner.pg.get_or_try_init(|| Storage::postgres_pool(url)).await?.clone();
                Storage::open_postgres(
                    pool,
                    &format!("{}{app_id}", self.inner.config.schema_prefix),
                )
                .await?
            }
            None => Storage::open_sqlite(&self.sqlite_path(app_id)).await?,
        };
        open.insert(app_id, s.clone());
        Ok(s)
    }

    /// Removes an app's files and all its end-user data (its SQLite file and versions, or its
    /// Postgres schema). The caller has stopped serving it first (`apps.live_version` cleared).
    pub async fn undeploy(&self, app_id: i64, slug: &str) -> Result<(), RuntimeError> {
        self.invalidate(slug);
        let open = self.inner.storages.lock().await.remove(&app_id);
        if self.inner.config.postgres_url.is_some() {
            let s = match open {
                Some(s) => s,
                None => {
                    let s = self.storage(app_id).await?;
                    self.inner.storages.lock().await.remove(&app_id);
                    s
                }
            };
            s.drop_schema().await?;
        } else if let Some(s) = open {
            s.close().await;
        }
        let dir = self.inner.config.data_dir.join("apps").join(app_id.to_string());
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RuntimeError(format!("removing {}: {e}", dir.display()))),
        }
    }

    /// Forgets what is cached about an app's host (after a deploy switched its version).
    pub fn invalidate(&self, slug: &str) {
        if let Ok(mut m) = self.inner.live.lock() {
            m.remove(slug);
        }
        self.inner.lists.clear();
    }

    /// The live version behind a slug, or `None` when no version of it is live.
    pub async fn live(&self, slug: &str) -> Result<Option<Arc<Live>>, RuntimeError> {
        if let Ok(m) = self.inner.live.lock()
            && let Some((at, live)) = m.get(slug)
            && at.elapsed() < LIVE_TTL
        {
            return Ok(live.clone());
        }
        let live = self.resolve(slug).await?;
        if let Ok(mut m) = self.inner.live.lock() {
            m.insert(slug.to_owned(), (Instant::now(), live.clone()));
        }
        Ok(live)
    }

    async fn resolve(&self, slug: &str) -> Result<Option<Arc<Live>>, RuntimeError> {
        let db = &self.inner.db;
        let Some(app) = kiln_store::apps::by_slug(db, slug).await? else { return Ok(None) };
        let Some(version) = app.live_version else { return Ok(None) };
        let Some(row) = kiln_store::apps::version(db, app.id, version).await? else {
            return Ok(None);
        };
        let spec: AppSpec = serde_json::from_str(&row.spec)
            .map_err(|e| RuntimeError(format!("the live version's spec is unreadable: {e}")))?;
        let storage = self.storage(app.id).await?;
        Ok(Some(Arc::new(Live {
            app_id: app.id,
            slug: app.slug,
            version,
            spec,
            dir: self.version_dir(app.id, version),
            storage,
        })))
    }

    /// The router of the apps' listener: every request is dispatched by its `Host`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new().fallback(handle).with_state(self.clone())
    }

    fn now(&self) -> i64 {
        self.inner.clock.now()
    }
}

/// The policy every response of a generated app carries.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p></body></html>",
        t = esc(title),
        m = esc(message)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn handle(State(rt): State<Runtime>, req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let mut resp = match rt.slug_of(&host) {
        None => page(
            StatusCode::NOT_FOUND,
            "No app here",
            "This address does not name a Kiln app: apps live at <slug>.<apps domain>.",
        ),
        Some(slug) => match rt.live(&slug).await {
            Err(e) => {
                tracing::error!(%slug, error = %e, "could not resolve an app");
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "This app cannot be reached right now; try again shortly.",
                )
            }
            Ok(None) => page(
                StatusCode::NOT_FOUND,
                "No app here",
                &format!("No app named {slug:?} is live on this Kiln. It may still be generating."),
            ),
            Ok(Some(live)) => {
                let path = req.uri().path();
                if path == "/api" || path.starts_with("/api/") {
                    api::handle(&rt, &live, &host, req).await
                } else {
                    statics::serve(&live, req).await
                }
            }
        },
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    if rt.production() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    resp
}

/// An empty body response (for HEAD and 304).
fn empty(status: StatusCode) -> Response {
    Response::builder().status(status).body(Body::empty()).unwrap_or_default()
}

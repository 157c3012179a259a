//! A pipeline with a runtime, on a fresh SQLite database and data directory, for the tests that
//! generate and deploy for real (they need the JS toolchain: `scripts/setup --test` installs it,
//! `KILN_TOOLCHAIN_DIR` names it).

use kiln_pipeline::{Limits, Mail, Pipeline};
use kiln_sandbox::Sandbox;
use kiln_store::{Clock, Db, users};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub db: Db,
    /// A portal user who owns the apps.
    pub owner: i64,
    pub runtime: kiln_runtime::Runtime,
    pub pipeline: Pipeline,
}

/// Apps at `<slug>.localhost:3001`, emails to the outbox with links to `http://portal.test`,
/// end users' passwords hashed cheaply, no per-person limits in the way.
pub async fn setup() -> Setup {
    let toolchain = PathBuf::from(
        std::env::var("KILN_TOOLCHAIN_DIR").unwrap_or_else(|_| "/var/cache/kiln/toolchain".into()),
    );
    assert!(
        toolchain.join("node_modules/.bin/eslint").exists(),
        "no JS toolchain in {} (scripts/setup --test installs it; KILN_TOOLCHAIN_DIR points at it)",
        toolchain.display()
    );
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(None, &dir.path().join("kiln.db")).await.expect("db");
    db.migrate().await.expect("migrate");
    let mut tx = db.begin_write().await.expect("tx");
    let owner = users::insert(&mut tx, "owner@example.com", "x", 0).await.expect("user");
    tx.commit().await.expect("commit");
    let (runtime, pipeline) = started(&dir, &db, toolchain);
    Setup { dir, db, owner, runtime, pipeline }
}

/// A runtime and pipeline on `dir` and `db`: what a (re)started Kiln has.
#[allow(dead_code)] // not every test binary restarts
pub fn restart(dir: &tempfile::TempDir, db: &Db) -> (kiln_runtime::Runtime, Pipeline) {
    let toolchain = PathBuf::from(
        std::env::var("KILN_TOOLCHAIN_DIR").unwrap_or_else(|_| "/var/cache/kiln/toolchain".into()),
    );
    started(dir, db, toolchain)
}

fn started(
    dir: &tempfile::TempDir,
    db: &Db,
    toolchain: PathBuf,
) -> (kiln_runtime::Runtime, Pipeline) {
    let clock = Clock::default();
    let runtime = kiln_runtime::Runtime::new(
        db.clone(),
        clock.clone(),
        kiln_runtime::Config::local(dir.path().to_owned(), 3001),
    )
    .with_password_hasher(kiln_auth::PasswordHasher::with_params(
        argon2::Params::new(1024, 1, 1, None).expect("params"),
    ));
    let sandbox = Sandbox { toolchain: Some(toolchain), ..Default::default() };
    let pipeline = Pipeline::new(db.clone(), clock, sandbox, dir.path().to_owned())
        .with_limits(Limits { max_apps: 1000, max_active_jobs: 1000 })
        .with_runtime(runtime.clone())
        .with_mail(Mail {
            mailer: Arc::new(kiln_mail::Mailer::new()),
            portal_url: "http://portal.test".into(),
        });
    (runtime, pipeline)
}

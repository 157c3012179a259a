//! A deploy that fails keeps the previous version live, fails the job with the reason and emails
//! the owner "Generation failed" with what to try; a successful one emails "live".
//! Needs the JS toolchain (KILN_TOOLCHAIN_DIR, installed by `scripts/setup --test`).

mod common;

use axum::body::Body;
use http::{Request, StatusCode, header};
use kiln_store::{jobs, outbox};
use serde_json::Value;
use tower::ServiceExt;

const TODO: &str = "A todo list where I can sign in, add tasks with a due date and a priority \
                    (low, medium, high), mark them done and filter by priority.";

async fn health(rt: &kiln_runtime::Runtime, slug: &str) -> Value {
    let req = Request::builder()
        .uri("/api/health")
        .header(header::HOST, format!("{slug}.localhost:3001"))
        .body(Body::empty())
        .expect("request");
    let resp = rt.router().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 16).await.expect("body"))
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deploy_keeps_the_live_version_and_tells_the_owner() {
    let common::Setup { dir, db, owner, runtime, pipeline } = common::setup().await;

    let created = pipeline.create_app(owner, TODO, None, None).await.expect("create");
    pipeline.run_next("w").await.expect("run");
    assert_eq!(jobs::get(&db, created.job_id).await.expect("job").expect("row").state, "live");
    assert_eq!(health(&runtime, &created.slug).await["version"], 1);

    // Version 2's directory cannot be written: a plain file sits where it goes.
    let versions = dir.path().join("apps").join(created.app_id.to_string()).join("versions");
    std::fs::write(versions.join("2"), "in the way").expect("blocker");
    let with_notes = TODO.replace("a due date and a priority", "a due date, notes and a priority");
    let again = pipeline
        .generate(owner, created.app_id, Some(&with_notes), None, false)
        .await
        .expect("gen");
    pipeline.run_next("w").await.expect("run");
    let job = jobs::get(&db, again.job_id).await.expect("job").expect("row");
    assert_eq!(job.state, "failed");
    let why = job.error.unwrap_or_default();
    assert!(
        why.contains("deploying version 2 failed") && why.contains("version 1 stays live"),
        "{why}"
    );
    // Version 1 still serves, with its own plan.
    assert_eq!(health(&runtime, &created.slug).await["version"], 1);

    let mails = outbox::recent(&db, 10).await.expect("outbox");
    let live = mails.iter().find(|m| m.template == "app_live").expect("a live email");
    assert_eq!(live.to_addr, "owner@example.com");
    assert!(live.text_body.contains(&format!("http://{}.localhost:3001/", created.slug)));
    assert!(live.text_body.contains(&format!("http://portal.test/apps/{}", created.app_id)));
    let failed = mails.iter().find(|m| m.template == "generation_failed").expect("a failure email");
    assert!(failed.subject.starts_with("Generation failed"), "{}", failed.subject);
    assert!(failed.text_body.contains("version 1 stays live"), "{}", failed.text_body);
    assert!(failed.text_body.contains("What to try:"), "{}", failed.text_body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_live_version_heals_from_its_archive_or_rolls_back() {
    let common::Setup { dir, db, owner, runtime, pipeline } = common::setup().await;
    let created = pipeline.create_app(owner, TODO, None, None).await.expect("create");
    pipeline.run_next("w").await.expect("run");
    assert_eq!(pipeline.heal().await.expect("heal"), 0, "nothing to heal");

    // Someone deletes a file of the live version and changes another.
    let v1 = dir.path().join("apps").join(created.app_id.to_string()).join("versions/1");
    std::fs::remove_file(v1.join("index.html")).expect("rm");
    std::fs::write(v1.join("src/main.js"), "broken").expect("write");
    let get = |path: &'static str| {
        let rt = runtime.clone();
        let host = format!("{}.localhost:3001", created.slug);
        async move {
            let req = Request::builder()
                .uri(path)
                .header(header::HOST, host)
                .body(Body::empty())
                .expect("req");
            rt.router().oneshot(req).await.expect("resp").status()
        }
    };
    assert_eq!(get("/").await, StatusCode::NOT_FOUND);
    assert_eq!(pipeline.heal().await.expect("heal"), 1);
    assert_eq!(get("/").await, StatusCode::OK);
    assert!(!std::fs::read_to_string(v1.join("src/main.js")).expect("main").contains("broken"));
    let job = jobs::latest_for_app(&db, created.app_id).await.expect("job").expect("row");
    assert_eq!((job.kind.as_str(), job.state.as_str()), ("heal", "live"));
    let lines: Vec<String> = jobs::events(&db, job.id, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("2 file(s) missing or changed") && l.contains("index.html")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("restored from its archive")), "{lines:?}");
    let mails = outbox::recent(&db, 10).await.expect("outbox");
    let healed = mails.iter().find(|m| m.template == "app_healed").expect("a repair email");
    assert!(healed.text_body.contains("index.html"), "{}", healed.text_body);
    assert_eq!(pipeline.heal().await.expect("heal"), 0, "healed for good");

    // Version 2, then its archive is lost and its files damaged: back to version 1.
    let with_notes = TODO.replace("a due date and a priority", "a due date, notes and a priority");
    pipeline.generate(owner, created.app_id, Some(&with_notes), None, false).await.expect("gen");
    pipeline.run_next("w").await.expect("run");
    let app = kiln_store::apps::get(&db, created.app_id).await.expect("app").expect("row");
    assert_eq!(app.live_version, Some(2));
    let archive =
        kiln_store::apps::version(&db, created.app_id, 2).await.expect("v").expect("row").archive;
    std::fs::remove_file(dir.path().join("archives").join(&archive)).expect("rm archive");
    let v2 = dir.path().join("apps").join(created.app_id.to_string()).join("versions/2");
    std::fs::remove_file(v2.join("index.html")).expect("rm");
    assert_eq!(pipeline.heal().await.expect("heal"), 1);
    pipeline.run_next("w").await.expect("the rollback job");
    let app = kiln_store::apps::get(&db, created.app_id).await.expect("app").expect("row");
    assert_eq!(app.live_version, Some(1));
    assert_eq!(get("/").await, StatusCode::OK);
}

/// A small app without accounts, so the test can write records anonymously.
const NOTES: &str = "A list of notes with a title and a body; anyone can add and delete notes.";

async fn call(
    rt: &kiln_runtime::Runtime,
    slug: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, format!("{slug}.localhost:3001"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let resp = rt.router().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn heal_lines(db: &kiln_store::Db, app_id: i64) -> Vec<String> {
    let job = jobs::latest_for_app(db, app_id).await.expect("job").expect("row");
    assert_eq!((job.kind.as_str(), job.state.as_str()), ("heal", "live"));
    jobs::events(db, job.id, 0).await.expect("events").into_iter().map(|e| e.message).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_storage_and_interrupted_work_are_repaired() {
    let common::Setup { dir, db, owner, runtime, pipeline } = common::setup().await;
    let created = pipeline.create_app(owner, NOTES, None, None).await.expect("create");
    pipeline.run_next("w").await.expect("run");
    let slug = created.slug.clone();
    let plan = runtime.live(&slug).await.expect("live").expect("is live").spec.clone();
    let notes = &plan.entities[0];
    let record = |title: &str| {
        let mut body = serde_json::Map::new();
        for f in &notes.fields {
            if f.required {
                body.insert(f.name.clone(), Value::from(title));
            }
        }
        Value::Object(body).to_string()
    };
    let list = format!("/api/{}", notes.collection);
    let (status, _) = call(&runtime, &slug, "POST", &list, &record("kept")).await;
    assert_eq!(status, StatusCode::CREATED);
    let app_dir = dir.path().join("apps").join(created.app_id.to_string());

    // 1. Its data file is removed while it runs: it starts again on a new file, tables and all.
    for f in ["data.sqlite", "data.sqlite-wal", "data.sqlite-shm"] {
        let _ = std::fs::remove_file(app_dir.join(f));
    }
    assert_eq!(pipeline.heal().await.expect("heal"), 1);
    let lines = heal_lines(&db, created.app_id).await;
    assert!(lines.iter().any(|l| l.contains("data file was missing")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("checked again and serves")), "{lines:?}");
    let (status, _) = call(&runtime, &slug, "POST", &list, &record("after")).await;
    assert_eq!(status, StatusCode::CREATED, "the tables were created again");
    assert_eq!(pipeline.heal().await.expect("heal"), 0, "healed for good");

    // 2. Restarted with a table gone: only the thorough pass at start-up smoke-checks, and it
    // puts the table back by deploying the live version again in place.
    runtime.storage(created.app_id).await.expect("storage").close().await;
    drop((runtime, pipeline));
    let (runtime, pipeline) = common::restart(&dir, &db);
    {
        let storage = runtime.storage(created.app_id).await.expect("storage");
        let mut c = storage.acquire().await.expect("connection");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{}\"", notes.collection)))
            .execute(&mut *c)
            .await
            .expect("drop");
    }
    assert_eq!(pipeline.heal_pass(false).await.expect("heal"), 0, "files and storage answer");
    assert_eq!(pipeline.heal_pass(true).await.expect("heal"), 1);
    let lines = heal_lines(&db, created.app_id).await;
    assert!(lines.iter().any(|l| l.contains("failed its smoke check at start-up")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("checked again and serves")), "{lines:?}");
    let (status, body) = call(&runtime, &slug, "GET", &list, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 3. Restarted with a data file that is not a database: set aside, never deleted.
    runtime.storage(created.app_id).await.expect("storage").close().await;
    drop((runtime, pipeline));
    for f in ["data.sqlite-wal", "data.sqlite-shm"] {
        let _ = std::fs::remove_file(app_dir.join(f));
    }
    std::fs::write(app_dir.join("data.sqlite"), vec![0x5a; 8192]).expect("garbage");
    let (runtime, pipeline) = common::restart(&dir, &db);
    assert_eq!(pipeline.heal_pass(true).await.expect("heal"), 1);
    let lines = heal_lines(&db, created.app_id).await;
    assert!(
        lines.iter().any(|l| l.contains("could not be read") && l.contains("kept as")),
        "{lines:?}"
    );
    let aside: Vec<_> = std::fs::read_dir(&app_dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("data.sqlite.unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "the unreadable file is kept");
    assert_eq!(std::fs::read(aside[0].path()).expect("aside"), vec![0x5a; 8192]);
    let (status, _) = call(&runtime, &slug, "POST", &list, &record("fresh")).await;
    assert_eq!(status, StatusCode::CREATED);

    // 4. A crash left a half-written version, an unpacked version never switched to, the
    // directory of an app that no longer exists, and a job held by a worker that is gone.
    runtime.storage(created.app_id).await.expect("storage").close().await;
    drop((runtime, pipeline));
    std::fs::create_dir_all(app_dir.join("versions/.3.partial/src")).expect("partial");
    std::fs::create_dir_all(app_dir.join("versions/9")).expect("stray version");
    let orphan = dir.path().join("apps/999999/versions/1");
    std::fs::create_dir_all(&orphan).expect("orphan");
    let (_, before) = common::restart(&dir, &db);
    let more = NOTES.replace("a title and a body", "a title, a body and a colour");
    let again =
        before.generate(owner, created.app_id, Some(&more), None, false).await.expect("gen");
    let held = jobs::claim(&db, "a-worker-that-died", kiln_store::system_now(), 3_600_000)
        .await
        .expect("claim");
    assert_eq!(held.map(|j| j.id), Some(again.job_id));
    drop(before);
    let (runtime, pipeline) = common::restart(&dir, &db);
    let (released, removed) = pipeline.recover_at_start().await.expect("recover");
    assert_eq!(
        (released, removed),
        (1, 3),
        "the job; the .partial, version 9 (no such version) and the orphan"
    );
    assert!(!app_dir.join("versions/.3.partial").exists() && !app_dir.join("versions/9").exists());
    assert!(app_dir.join("versions/1/index.html").exists(), "the live version stays");
    assert!(!dir.path().join("apps/999999").exists());
    // The interrupted job resumes at once (its lease would have run for an hour).
    assert_eq!(pipeline.run_next("w").await.expect("run"), Some(again.job_id));
    assert_eq!(jobs::get(&db, again.job_id).await.expect("job").expect("row").state, "live");
    let (_, removed) = pipeline.recover_at_start().await.expect("recover");
    assert_eq!(removed, 1, "now that no job runs: the replaced version 1");
    assert!(!app_dir.join("versions/1").exists());
    assert!(app_dir.join("versions/2/index.html").exists(), "the live version stays");
    let (status, body) = call(&runtime, &slug, "GET", "/api/health", "").await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::OK, Some(2)));
}

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

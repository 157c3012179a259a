//! From a description to a live app through the JSON API: plan, generate, check in the
//! sandbox, commit and archive; status events; download; cancel; a dead worker's job resumes.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const TODO: &str = "A todo list where I can sign in, add tasks with a due date and a priority \
                    (low, medium, high), mark them done and filter by priority.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_user_generates_and_downloads_an_app() {
    let app = spawn_app().await;
    app.signup("maker@example.com").await;
    let res = app.post_json("/api/createApp", &json!({"description": TODO})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "verify first");
    let link = app.verification_link("maker@example.com", 1).await;
    common::client().get(&link).send().await.expect("verify");

    assert_eq!(
        app.post_json("/api/createApp", &json!({"description": "  "})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let res = app.post_json("/api/createApp", &json!({"description": TODO})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["slug"], "todo-list");
    let job_id = created["job_id"].as_i64().expect("job");
    let app_id = created["app_id"].as_i64().expect("app");

    let status = app.wait_finished(job_id).await;
    assert_eq!(status["state"], "live", "{status}");
    assert_eq!(status["progress"], 100);
    let states: Vec<&str> = status["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "state")
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert_eq!(
        states,
        ["queued", "planning", "generating", "checking", "packaging", "deploying", "live"]
    );
    let logs: Vec<&str> = status["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "log")
        .filter_map(|e| e["message"].as_str())
        .collect();
    for tool in ["prettier: passed", "eslint: passed", "node --test: passed"] {
        assert!(logs.contains(&tool), "{logs:?}");
    }

    let apps: Vec<Value> = app.get("/api/apps").await.json().await.expect("json");
    assert_eq!((apps[0]["id"].as_i64(), apps[0]["state"].as_str()), (Some(app_id), Some("live")));
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(detail["versions"][0]["version"], 1);
    assert_eq!(detail["versions"][0]["git_commit"].as_str().map(str::len), Some(40));
    // The commit says what was described and what changed.
    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(app.data_dir.join("repos").join(app_id.to_string()))
        .args(["log", "-1", "--format=%B"])
        .output()
        .expect("git");
    let message = String::from_utf8_lossy(&log.stdout);
    assert!(message.contains(TODO) && message.contains("Changes: "), "{message}");
    assert_eq!(
        detail["versions"][0]["changes"].as_str().map(|c| c.ends_with("files added")),
        Some(true)
    );

    let res = app.get(&format!("/api/apps/{app_id}/download")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let zip = res.bytes().await.expect("bytes");
    assert!(zip.starts_with(b"PK"));
    let names = String::from_utf8_lossy(&zip);
    for f in [
        "todo-list/app.json",
        "todo-list/index.html",
        "todo-list/tests/validate.test.js",
        "todo-list/eslint.config.mjs",
    ] {
        assert!(names.contains(f), "{f} missing from the zip");
    }

    // Another user sees none of it.
    let other = common::client();
    other
        .post(app.url("/api/signup"))
        .json(&json!({"email": "other@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    let res =
        other.get(app.url(&format!("/api/status?job_id={job_id}"))).send().await.expect("status");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res =
        other.get(app.url(&format!("/api/apps/{app_id}/download"))).send().await.expect("download");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_and_a_dead_workers_job_resumes_exactly_once() {
    // No workers: the test drives the pipeline itself.
    let app = spawn_with(|s| s.workers = 0).await;
    app.verified_user("driver@example.com").await;
    let created: Value = app
        .post_json("/api/createApp", &json!({"description": "Tasks with a title."}))
        .await
        .json()
        .await
        .expect("json");
    let job = created["job_id"].as_i64().expect("job");
    let res =
        app.client.post(app.url(&format!("/api/jobs/{job}/cancel"))).send().await.expect("cancel");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.state.pipeline.run_next("w1").await.expect("run");
    let s: Value = app.get(&format!("/api/status?job_id={job}")).await.json().await.expect("json");
    assert_eq!(s["state"], "cancelled");

    // A second app; a worker claims its job and dies (never finishes).
    let created: Value = app
        .post_json("/api/createApp", &json!({"description": "Notes with a title and a body."}))
        .await
        .json()
        .await
        .expect("json");
    let (job, app_id) =
        (created["job_id"].as_i64().expect("job"), created["app_id"].as_i64().expect("app"));
    let claimed = kiln_store::jobs::claim(&app.state.db, "dead-worker", app.clock.now(), 30_000)
        .await
        .expect("claim");
    assert_eq!(claimed.map(|j| j.id), Some(job));
    assert_eq!(
        app.state.pipeline.run_next("w2").await.expect("run"),
        None,
        "leased to the dead worker"
    );
    app.clock.advance(31_000);
    assert_eq!(app.state.pipeline.run_next("w2").await.expect("run"), Some(job));
    let s: Value = app.get(&format!("/api/status?job_id={job}")).await.json().await.expect("json");
    assert_eq!(s["state"], "live", "{s}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(1), "exactly one version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_generate_on_request_one_job_at_a_time_within_limits() {
    // No workers: the test runs the queue itself.
    let app = spawn_with(|s| {
        s.workers = 0;
        s.max_apps = 2;
        s.max_active_jobs = 1;
    })
    .await;
    app.verified_user("drafter@example.com").await;
    assert_eq!(
        app.post_json("/api/apps", &json!({"description": ""})).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unnamed draft needs a description"
    );
    let res = app.post_json("/api/apps", &json!({"description": "Notes with a title."})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let draft: Value = res.json().await.expect("json");
    let app_id = draft["app_id"].as_i64().expect("app");
    assert!(draft.get("job_id").is_none(), "a draft has no job: {draft}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert!(detail.get("job").is_none() && detail["versions"] == json!([]), "{detail}");

    // Generate: 202 with the job; a second request names the running job.
    let res = app.post_json(&format!("/api/apps/{app_id}/generate"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job = res.json::<Value>().await.expect("json")["job_id"].as_i64().expect("job");
    let res = app.post_json(&format!("/api/apps/{app_id}/generate"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.expect("json");
    assert!(body["message"].as_str().unwrap_or_default().contains(&format!("Job {job}")), "{body}");

    // Bad bodies: malformed JSON is 400, a wrong field 422, an unknown one too.
    let url = app.url(&format!("/api/apps/{app_id}/generate"));
    let raw = |body: &'static str| {
        app.client.post(&url).header("content-type", "application/json").body(body).send()
    };
    assert_eq!(raw("{bad").await.expect("post").status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        raw(r#"{"spec": 5}"#).await.expect("post").status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        raw(r#"{"colour": 1}"#).await.expect("post").status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Limits: one active job per person here, two apps.
    let res = app.post_json("/api/createApp", &json!({"description": "Books with a title."})).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a second concurrent job");
    assert!(res.headers().contains_key("retry-after"));
    let res = app.post_json("/api/apps", &json!({"name": "Second", "description": ""})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "a named draft may start empty");
    let res = app.post_json("/api/apps", &json!({"name": "Third", "description": ""})).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a third app");
    let second = app.get("/api/apps").await.json::<Vec<Value>>().await.expect("json")[0]["id"]
        .as_i64()
        .expect("id");
    let res = app.post_json(&format!("/api/apps/{second}/generate"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "nothing described yet");

    // The live status: server-sent events from the start, ending with the final status.
    // The stream is open (headers received) before the job runs: its events arrive live.
    let res =
        app.client.get(app.url(&format!("/api/jobs/{job}/events"))).send().await.expect("events");
    let runner = {
        let pipeline = app.state.pipeline.clone();
        tokio::spawn(async move { pipeline.run_next("w1").await })
    };
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(120), res.text())
        .await
        .expect("the stream ends when the job does")
        .expect("text");
    runner.await.expect("join").expect("run");
    for needle in ["\"state\":\"planning\"", "\"state\":\"checking\"", "prettier: passed"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let end = text.split("event: end\n").nth(1).expect("an end event");
    assert!(end.contains("\"state\":\"live\""), "{end}");
    // Resuming after the last event id gives only what came after it.
    let last_id: i64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|v| v.trim().parse().ok())
        .max()
        .expect("ids");
    let tail = app
        .client
        .get(app.url(&format!("/api/jobs/{job}/events")))
        .header("last-event-id", last_id.to_string())
        .send()
        .await
        .expect("resume")
        .text()
        .await
        .expect("text");
    assert!(!tail.contains("\"kind\":"), "no event repeats: {tail}");
    assert!(tail.contains("event: end"));

    // Generating the same plan again reuses the checked tree; both versions download.
    let res = app.post_json(&format!("/api/apps/{app_id}/generate"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job2 = res.json::<Value>().await.expect("json")["job_id"].as_i64().expect("job");
    app.state.pipeline.run_next("w1").await.expect("run");
    let s: Value = app.get(&format!("/api/status?job_id={job2}")).await.json().await.expect("json");
    assert_eq!(s["state"], "live", "{s}");
    let logs = s["events"].to_string();
    assert!(logs.contains("checked tree is reused") && !logs.contains("eslint: passed"), "{logs}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(detail["versions"][0]["version"], 2);
    assert_eq!(detail["versions"][0]["changes"], "no files changed");
    assert_eq!(detail["versions"][1]["description"], "Notes with a title.");
    for v in [1, 2] {
        let res = app.get(&format!("/api/apps/{app_id}/versions/{v}/download")).await;
        assert_eq!(res.status(), StatusCode::OK, "version {v}");
        assert!(res.bytes().await.expect("zip").starts_with(b"PK"));
    }
    let res = app.get(&format!("/api/apps/{app_id}/versions/3/download")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

//! From a description to a live app on its own origin, through the portal's JSON API and the
//! apps' listener: end users, their data across redeploys, a data-losing plan that waits for the
//! owner's confirmation, and the owner's emails.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const TODO: &str = "A todo list where I can sign in, add tasks with a due date and a priority \
                    (low, medium, high), mark them done and filter by priority.";

/// The same app with one more field.
const TODO_WITH_NOTES: &str = "A todo list where I can sign in, add tasks with a due date, a \
                               priority (low, medium, high) and notes, mark them done and filter \
                               by priority.";

/// A browser-like client of one app: `<slug>.localhost` resolved to the apps' listener.
fn app_client(app: &TestApp, slug: &str) -> reqwest::Client {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], app.state.runtime.port()));
    reqwest::Client::builder()
        .cookie_store(true)
        .resolve(&format!("{slug}.localhost"), addr)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_runs_on_to_live_and_redeploys_keep_end_users_and_their_data() {
    let app = spawn_app().await;
    app.verified_user("maker@example.com").await;
    let created: Value = app
        .post_json("/api/createApp", &json!({"description": TODO}))
        .await
        .json()
        .await
        .expect("json");
    let (app_id, slug) = (
        created["app_id"].as_i64().expect("id"),
        created["slug"].as_str().expect("slug").to_owned(),
    );
    let s = app.wait_finished(created["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let url = format!("http://{slug}.localhost:{}/", app.state.runtime.port());
    assert_eq!(s["url"], url.as_str());
    let logs: Vec<&str> = s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(logs.iter().any(|l| l.starts_with("smoke check passed")), "{logs:?}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(
        (detail["url"].as_str(), detail["live_version"].as_i64()),
        (Some(url.as_str()), Some(1))
    );

    // The app itself, on its own origin.
    let web = app_client(&app, &slug);
    let page = web.get(&url).send().await.expect("index");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-security-policy"].to_str().expect("csp").contains("'self'"));
    assert!(page.text().await.expect("html").contains("src/main.js"));
    let spec: Value =
        web.get(format!("{url}app.json")).send().await.expect("spec").json().await.expect("json");
    let tasks = spec["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .find(|e| e["collection"] == "tasks")
        .expect("tasks")
        .clone();
    assert_eq!(tasks["access"], "private");
    let res = web.get(format!("{url}api/tasks")).send().await.expect("anon");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = web
        .post(format!("{url}api/auth/signup"))
        .json(&json!({"email": "ada@example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = web
        .post(format!("{url}api/tasks"))
        .json(&json!({"title": "Buy milk", "priority": "urgent"}))
        .send()
        .await
        .expect("bad enum");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = res.json().await.expect("json");
    assert_eq!(e["fields"][0]["field"], "priority", "{e}");
    let res = web
        .post(format!("{url}api/tasks"))
        .json(&json!({"title": "Buy milk", "priority": "high"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let task: Value = res.json().await.expect("json");
    let task_url = format!("{url}api/tasks/{}", task["id"]);
    // A write from another origin is refused, whatever cookie rides along.
    let res = web
        .delete(&task_url)
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .await
        .expect("cross");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The owner was told.
    let mails = app.mails_to("maker@example.com", 2).await;
    assert!(mails.iter().any(|m| m.contains("is live") && m.contains(&url)), "{mails:?}");

    // A new description version, then version 2: Ada and her task are still there.
    let res = app
        .post_json(
            &format!("/api/apps/{app_id}/description"),
            &json!({"description": TODO_WITH_NOTES}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let d: Value = res.json().await.expect("json");
    assert_eq!(d["description_version"], 2);
    let res = app.post_json(&format!("/api/apps/{app_id}/generate"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.expect("json");
    let s = app.wait_finished(job["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let spec: Value =
        web.get(format!("{url}app.json")).send().await.expect("spec").json().await.expect("json");
    let fields = spec["entities"]
        .as_array()
        .expect("e")
        .iter()
        .find(|e| e["collection"] == "tasks")
        .expect("tasks")["fields"]
        .clone();
    assert!(fields.as_array().expect("fields").iter().any(|f| f["name"] == "notes"), "{fields}");
    let kept: Value = web.get(&task_url).send().await.expect("task").json().await.expect("json");
    assert_eq!((&kept["title"], &kept["priority"]), (&json!("Buy milk"), &json!("high")), "{kept}");
    let health: Value =
        web.get(format!("{url}api/health")).send().await.expect("h").json().await.expect("json");
    assert_eq!(health["version"], 2);

    // A plan without `priority` would lose Ada's value: it waits for the owner.
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    let mut plan = detail["spec"].clone();
    for e in plan["entities"].as_array_mut().expect("entities") {
        if e["collection"] == "tasks" {
            e["fields"].as_array_mut().expect("fields").retain(|f| f["name"] != "priority");
        }
    }
    let res = app.post_json(&format!("/api/apps/{app_id}/generate"), &json!({"spec": plan})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.expect("json");
    let s = app.wait_finished(job["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "awaiting_confirmation", "{s}");
    let why = s["error"].as_str().expect("error");
    assert!(why.contains("1 task has a value in Priority, which the new plan drops"), "{why}");
    assert!(why.contains("Version 2 stays live"), "{why}");
    let still: Value = web.get(&task_url).send().await.expect("task").json().await.expect("json");
    assert_eq!(still["priority"], "high");
    let mails = app.mails_to("maker@example.com", 4).await;
    assert!(mails.iter().any(|m| m.contains("would lose data")), "{mails:?}");
    // Confirming deploys exactly that version.
    let res = app
        .post_json(&format!("/api/apps/{app_id}/generate"), &json!({"confirm_data_loss": true}))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.expect("json");
    let s = app.wait_finished(job["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let now: Value = web.get(&task_url).send().await.expect("task").json().await.expect("json");
    assert_eq!((&now["title"], now.get("priority")), (&json!("Buy milk"), None), "{now}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(detail["live_version"], 3);
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(3));
    // Roll back to version 2: `priority` comes back with Ada's value (it was kept, hidden).
    let res = app.post_json(&format!("/api/apps/{app_id}/rollback"), &json!({"version": 2})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.expect("json");
    let s = app.wait_finished(job["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let back: Value = web.get(&task_url).send().await.expect("task").json().await.expect("json");
    assert_eq!((&back["title"], &back["priority"]), (&json!("Buy milk"), &json!("high")), "{back}");
    let detail: Value = app.get(&format!("/api/apps/{app_id}")).await.json().await.expect("json");
    assert_eq!(detail["live_version"], 2);
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(3), "a rollback adds no version");
    // The live version, or one never live, is refused.
    for v in [2, 9] {
        let res =
            app.post_json(&format!("/api/apps/{app_id}/rollback"), &json!({"version": v})).await;
        assert!([StatusCode::CONFLICT, StatusCode::NOT_FOUND].contains(&res.status()), "{v}");
    }
    // And forward to version 3 again.
    let res = app.post_json(&format!("/api/apps/{app_id}/rollback"), &json!({"version": 3})).await;
    let job: Value = res.json().await.expect("json");
    let s = app.wait_finished(job["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let fwd: Value = web.get(&task_url).send().await.expect("task").json().await.expect("json");
    assert_eq!((&fwd["title"], fwd.get("priority")), (&json!("Buy milk"), None), "{fwd}");

    // Nothing waits any more.
    let res = app
        .post_json(&format!("/api/apps/{app_id}/generate"), &json!({"confirm_data_loss": true}))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_app_leaves_nothing_behind() {
    let app = spawn_app().await;
    app.verified_user("maker@example.com").await;
    let created: Value = app
        .post_json("/api/createApp", &json!({"description": "Notes with a title."}))
        .await
        .json()
        .await
        .expect("json");
    let app_id = created["app_id"].as_i64().expect("id");
    let slug = created["slug"].as_str().expect("slug").to_owned();
    let s = app.wait_finished(created["job_id"].as_i64().expect("job")).await;
    assert_eq!(s["state"], "live", "{s}");
    let web = app_client(&app, &slug);
    let url = format!("http://{slug}.localhost:{}/", app.state.runtime.port());
    let res = web
        .post(format!("{url}api/notes"))
        .json(&json!({"title": "a note"}))
        .send()
        .await
        .expect("note");
    assert_eq!(res.status(), StatusCode::CREATED);
    let dirs = [
        app.data_dir.join("apps").join(app_id.to_string()),
        app.data_dir.join("repos").join(app_id.to_string()),
        app.data_dir.join("archives").join(app_id.to_string()),
    ];
    for d in &dirs {
        assert!(d.exists(), "{} before", d.display());
    }

    // Another person cannot delete it; the owner can.
    let other = common::client();
    other
        .post(app.url("/api/signup"))
        .json(&json!({"email": "x@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    let res = other.delete(app.url(&format!("/api/apps/{app_id}"))).send().await.expect("delete");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res =
        app.client.delete(app.url(&format!("/api/apps/{app_id}"))).send().await.expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_eq!(app.get(&format!("/api/apps/{app_id}")).await.status(), StatusCode::NOT_FOUND);
    let res = web.get(&url).send().await.expect("gone");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    for d in &dirs {
        assert!(!d.exists(), "{} is left", d.display());
    }
    let kiln_store::Db::Sqlite(pool) = &app.state.db else { panic!("SQLite") };
    for table in ["apps", "app_versions", "app_descriptions", "jobs"] {
        let col = if table == "apps" { "id" } else { "app_id" };
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE {col} = {app_id}"
        )))
        .fetch_one(pool)
        .await
        .expect("count");
        assert_eq!(n, 0, "{table}");
    }
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_events")
        .fetch_one(pool)
        .await
        .expect("events");
    assert_eq!(events, 0, "job events");
    // Its slug is free again.
    assert!(!kiln_store::apps::slug_taken(&app.state.db, &slug).await.expect("slug"));
}

//! The runtime end to end through its router: deploy a generated version, then use the app's
//! origin as a browser would. On SQLite always, on Postgres too when KILN_TEST_DATABASE_URL is set.

use axum::body::Body;
use http::{Request, StatusCode, header};
use kiln_core::{Access, AppSpec, Entity, Feature, Field, FieldType};
use kiln_runtime::{Config, DeployError, Policy, Runtime};
use kiln_store::{Clock, Db, apps};
use serde_json::{Value, json};
use tower::ServiceExt;

fn field(name: &str, ty: FieldType, required: bool) -> Field {
    let mut label = name.replace('_', " ");
    label[..1].make_ascii_uppercase();
    Field { name: name.into(), label, ty, required }
}

fn todo() -> AppSpec {
    AppSpec {
        version: 1,
        name: "Todo".into(),
        slug: "todo".into(),
        features: vec![Feature::Auth, Feature::Crud],
        entities: vec![
            Entity {
                name: "project".into(),
                label: "Project".into(),
                collection: "projects".into(),
                access: Some(Access::Shared),
                fields: vec![field("name", FieldType::Text, true)],
            },
            Entity {
                name: "task".into(),
                label: "Task".into(),
                collection: "tasks".into(),
                access: Some(Access::Private),
                fields: vec![
                    field("title", FieldType::Text, true),
                    field("done", FieldType::Bool, false),
                    field(
                        "priority",
                        FieldType::Enum { values: vec!["low".into(), "high".into()] },
                        false,
                    ),
                    field("estimate", FieldType::Int { min: Some(1), max: Some(8) }, false),
                    field("project", FieldType::Ref { entity: "project".into() }, false),
                ],
            },
        ],
    }
}

struct Env {
    rt: Runtime,
    db: Db,
    app_id: i64,
    host: String,
    _dir: tempfile::TempDir,
    _test_db: kiln_store::testing::TestDb,
}

async fn envs() -> Vec<Env> {
    envs_with(1000).await
}

/// With `anonymous_writes` per minute allowed from one address.
async fn envs_with(anonymous_writes: u32) -> Vec<Env> {
    envs_configured(|c| c.anonymous_writes_per_minute = anonymous_writes).await
}

/// An app on every backend, with its runtime configured by `configure` (after the tests'
/// defaults: 1000 anonymous writes a minute).
async fn envs_configured(configure: impl Fn(&mut Config)) -> Vec<Env> {
    let mut out = Vec::new();
    for t in kiln_store::testing::databases().await {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::local(dir.path().to_owned(), 3001);
        config.anonymous_writes_per_minute = 1000;
        configure(&mut config);
        if t.label == "postgres" {
            config.postgres_url = std::env::var("KILN_TEST_DATABASE_URL").ok();
            config.schema_prefix = format!("kiln_rt_{:08x}_", rand::random::<u32>());
        }
        let db = t.db.clone();
        let mut tx = db.begin().await.expect("tx");
        let owner =
            kiln_store::users::insert(&mut tx, "owner@example.com", "x", 0).await.expect("user");
        let app_id =
            apps::insert(&mut tx, owner, "Todo", "todo", "a todo app", 0).await.expect("app");
        tx.commit().await.expect("commit");
        let rt = Runtime::new(db.clone(), Clock::default(), config)
            .with_password_hasher(kiln_auth::PasswordHasher::with_params(argon2_params()));
        out.push(Env {
            rt,
            db,
            app_id,
            host: "todo.localhost:3001".into(),
            _dir: dir,
            _test_db: t,
        });
    }
    out
}

fn argon2_params() -> argon2::Params {
    argon2::Params::new(1024, 1, 1, None).expect("params")
}

impl Env {
    /// Generates `spec`'s files, records version `v` and deploys it; switches it live on success.
    async fn deploy(
        &self,
        v: i64,
        spec: &AppSpec,
        confirm: bool,
    ) -> Result<kiln_runtime::Report, DeployError> {
        self.deploy_with(v, spec, if confirm { Policy::Confirmed } else { Policy::Ask }).await
    }

    /// Records version `v` (once), deploys it under `policy` and switches it live.
    async fn deploy_with(
        &self,
        v: i64,
        spec: &AppSpec,
        policy: Policy,
    ) -> Result<kiln_runtime::Report, DeployError> {
        let tree = kiln_codegen::generate(spec).expect("generate");
        let files: Vec<(String, String)> = tree.files.into_iter().collect();
        let spec_json = serde_json::to_string(spec).expect("spec");
        apps::record_version(
            &self.db,
            &apps::NewVersion {
                app_id: self.app_id,
                job_id: v + self.app_id * 1000,
                spec: &spec_json,
                git_commit: "c",
                archive: "a",
                files: files.len() as i64,
                description: "d",
                changes: "",
                tree_key: &format!("k{v}"),
            },
            0,
        )
        .await
        .ok();
        let report = self.rt.deploy(self.app_id, v, spec, &files, policy).await?;
        apps::set_live(&self.db, self.app_id, v, 0).await.expect("switch");
        self.rt.invalidate("todo");
        Ok(report)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, http::HeaderMap, Value) {
        let mut b = Request::builder().method(method).uri(path).header(header::HOST, &self.host);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let req = match body {
            Some(v) => {
                b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string()))
            }
            None => b.body(Body::empty()),
        }
        .expect("request");
        let resp = self.rt.router().oneshot(req).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, v)
    }

    async fn signup(&self, email: &str) -> String {
        let (s, h, v) = self
            .call(
                "POST",
                "/api/auth/signup",
                None,
                Some(json!({"email": email, "password": "correct horse"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["email"], email);
        let set = h.get(header::SET_COOKIE).expect("cookie").to_str().expect("ascii");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        set.split(';').next().expect("pair").to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_app_serves_its_files_api_accounts_and_access_rules() {
    for env in envs().await {
        // Nothing live yet.
        let (s, _, _) = env.call("GET", "/", None, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let report = env.deploy(1, &todo(), false).await.expect("deploy v1");
        assert!(report.steps.iter().any(|s| s.contains("new collection tasks")), "{report:?}");

        // Files, with types, caching and the policy.
        let (s, h, body) = env.call("GET", "/", None, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(body.as_str().expect("html").contains("<title>Todo</title>"));
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("csp")
                .contains("default-src 'self'")
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        let (s, h, _) = env.call("GET", "/src/main.js", None, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let (s, _, spec) = env.call("GET", "/app.json", None, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(spec["entities"][1]["collection"], "tasks");
        let (s, _, _) = env.call("GET", "/../../etc/passwd", None, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, _) = env.call("GET", "/favicon.ico", None, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _, h) = env.call("GET", "/api/health", None, None).await;
        assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));

        // Anonymous: a private collection needs a user.
        let (s, _, _) = env.call("GET", "/api/tasks", None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = env.call("POST", "/api/tasks", None, Some(json!({"title": "x"}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        let (s, _, session) = env.call("GET", "/api/auth/session", None, None).await;
        assert_eq!((s, &session["user"]), (StatusCode::OK, &Value::Null), "nobody, and no 401");
        let ada = env.signup("ada@example.com").await;
        let (s, _, me) = env.call("GET", "/api/auth/me", Some(&ada), None).await;
        assert_eq!((s, me["email"].as_str()), (StatusCode::OK, Some("ada@example.com")));
        let (s, _, session) = env.call("GET", "/api/auth/session", Some(&ada), None).await;
        assert_eq!(
            (s, session["user"]["email"].as_str()),
            (StatusCode::OK, Some("ada@example.com"))
        );
        let (s, _, _) = env
            .call(
                "POST",
                "/api/auth/signup",
                None,
                Some(json!({"email": "ADA@example.com", "password": "another one"})),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);

        // Validation: per-field messages, unknown fields refused.
        let (s, _, e) = env
            .call(
                "POST",
                "/api/tasks",
                Some(&ada),
                Some(json!({"title": "", "priority": "urgent", "estimate": 9, "colour": "red"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let fields: Vec<&str> = e["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|f| f["field"].as_str().expect("name"))
            .collect();
        for f in ["title", "priority", "estimate", "colour"] {
            assert!(fields.contains(&f), "{f} in {e}");
        }
        let (s, _, e) = env
            .call("POST", "/api/tasks", Some(&ada), Some(json!({"title": "x", "project": 99})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["fields"][0]["field"], "project");

        let (s, _, p) =
            env.call("POST", "/api/projects", Some(&ada), Some(json!({"name": "Home"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let (s, h, t) = env
            .call(
                "POST",
                "/api/tasks",
                Some(&ada),
                Some(json!({"title": "Buy milk", "priority": "high", "project": p["id"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        let id = t["id"].as_i64().expect("id");
        assert_eq!(h[header::LOCATION], format!("/api/tasks/{id}").as_str());
        assert_eq!(t["done"], Value::Null);
        assert!(t["created_at"].as_str().expect("time").ends_with('Z'));
        assert!(t["created_by"].is_i64());
        let (s, _, t) = env
            .call("PATCH", &format!("/api/tasks/{id}"), Some(&ada), Some(json!({"done": true})))
            .await;
        assert_eq!(
            (s, &t["done"], &t["title"]),
            (StatusCode::OK, &json!(true), &json!("Buy milk"))
        );
        env.call(
            "POST",
            "/api/tasks",
            Some(&ada),
            Some(json!({"title": "Walk the dog", "priority": "low"})),
        )
        .await;
        let (_, _, list) = env.call("GET", "/api/tasks?sort=-id&limit=1", Some(&ada), None).await;
        assert_eq!(
            (list["total"].as_i64(), list["items"][0]["title"].as_str()),
            (Some(2), Some("Walk the dog"))
        );
        let (_, _, list) = env.call("GET", "/api/tasks?q=MILK", Some(&ada), None).await;
        assert_eq!(list["total"], 1);
        let (_, _, list) = env.call("GET", "/api/tasks?priority=low", Some(&ada), None).await;
        assert_eq!(list["total"], 1);
        let (s, _, _) = env.call("GET", "/api/tasks?colour=red", Some(&ada), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Another end user sees none of Ada's private tasks, and cannot touch them.
        let bob = env.signup("bob@example.com").await;
        let (_, _, list) = env.call("GET", "/api/tasks", Some(&bob), None).await;
        assert_eq!(list["total"], 0);
        for m in ["GET", "DELETE"] {
            let (s, _, _) = env.call(m, &format!("/api/tasks/{id}"), Some(&bob), None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{m}");
        }
        // Shared: Bob reads Ada's project but may not change it.
        let (s, _, _) =
            env.call("GET", &format!("/api/projects/{}", p["id"]), Some(&bob), None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = env
            .call(
                "PATCH",
                &format!("/api/projects/{}", p["id"]),
                Some(&bob),
                Some(json!({"name": "Mine"})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Bad input changes nothing.
        let bad = Request::builder()
            .method("POST")
            .uri("/api/tasks")
            .header(header::HOST, &env.host)
            .header(header::COOKIE, &ada)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{not json"))
            .expect("req");
        assert_eq!(
            env.rt.router().oneshot(bad).await.expect("resp").status(),
            StatusCode::BAD_REQUEST
        );
        let huge = json!({"title": "x".repeat(70_000)});
        let (s, _, _) = env.call("POST", "/api/tasks", Some(&ada), Some(huge)).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let cross = Request::builder()
            .method("DELETE")
            .uri(format!("/api/tasks/{id}"))
            .header(header::HOST, &env.host)
            .header(header::COOKIE, &ada)
            .header(header::ORIGIN, "http://evil.localhost:3001")
            .body(Body::empty())
            .expect("req");
        assert_eq!(
            env.rt.router().oneshot(cross).await.expect("resp").status(),
            StatusCode::FORBIDDEN
        );
        let (_, _, list) = env.call("GET", "/api/tasks", Some(&ada), None).await;
        assert_eq!(list["total"], 2);

        // Log-in and log-out.
        let (s, _, _) = env
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": "ada@example.com", "password": "wrong password"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, h, _) = env
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": "ada@example.com", "password": "correct horse"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let again =
            h[header::SET_COOKIE].to_str().expect("c").split(';').next().expect("pair").to_owned();
        let (s, _, _) = env.call("POST", "/api/auth/logout", Some(&again), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _, _) = env.call("GET", "/api/auth/me", Some(&again), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Version 2 adds a required field: the data stays, older records get a default.
        let mut v2 = todo();
        v2.entities[1].fields.push(field("notes", FieldType::LongText, false));
        v2.entities[1].fields.push(field("size", FieldType::Int { min: Some(1), max: None }, true));
        // While version 2 is deployed, requests keep being answered: by version 1, then 2.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let watcher = {
            let (rt, host, done) = (env.rt.clone(), env.host.clone(), done.clone());
            let answered = answered.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let req = Request::builder()
                        .uri("/api/health")
                        .header(header::HOST, &host)
                        .body(Body::empty())
                        .expect("req");
                    let resp = rt.router().oneshot(req).await.expect("resp");
                    assert_eq!(resp.status(), StatusCode::OK, "a request failed during the deploy");
                    let v: Value = serde_json::from_slice(
                        &axum::body::to_bytes(resp.into_body(), 4096).await.expect("body"),
                    )
                    .expect("json");
                    seen.push(v["version"].as_i64().expect("version"));
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
                seen
            })
        };
        while answered.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let report = env.deploy(2, &v2, false).await.expect("deploy v2");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = watcher.await.expect("watcher");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]) && seen.first() == Some(&1), "{seen:?}");
        assert!(
            report.steps.iter().any(|s| s.contains("tasks.size (2 existing records get 1)")),
            "{report:?}"
        );
        let (_, _, t) = env.call("GET", &format!("/api/tasks/{id}"), Some(&ada), None).await;
        assert_eq!(
            (&t["title"], &t["size"], &t["notes"]),
            (&json!("Buy milk"), &json!(1), &Value::Null)
        );
        let (s, _, h) = env.call("GET", "/api/health", None, None).await;
        assert_eq!((s, &h["version"]), (StatusCode::OK, &json!(2)));

        // Version 3 drops a field that holds values and narrows an enum: stopped until confirmed.
        let mut v3 = v2.clone();
        v3.entities[1].fields.retain(|f| f.name != "priority");
        v3.entities[1].fields.retain(|f| f.name != "title");
        v3.entities[1].fields.push(field("title", FieldType::Int { min: None, max: None }, false));
        match env.rt.deploy(env.app_id, 3, &v3, &[], Policy::Ask).await {
            Err(DeployError::DataLoss(l)) => {
                assert!(l.iter().any(|x| x.contains("2 tasks have a value in Priority")), "{l:?}");
                assert!(l.iter().any(|x| x.contains("that the new type cannot hold")), "{l:?}");
            }
            other => panic!("expected a data-loss stop, got {other:?}"),
        }
        // Nothing changed: version 2 still serves every value.
        let (_, _, t) = env.call("GET", &format!("/api/tasks/{id}"), Some(&ada), None).await;
        assert_eq!((&t["title"], &t["priority"]), (&json!("Buy milk"), &json!("high")));
        env.deploy(3, &v3, true).await.expect("confirmed");
        let (_, _, t) = env.call("GET", &format!("/api/tasks/{id}"), Some(&ada), None).await;
        assert_eq!((&t["title"], t.get("priority")), (&Value::Null, None));
        // Dropped values are kept hidden: bringing the field back shows them again.
        let mut v4 = v3.clone();
        v4.entities[1].fields.push(field(
            "priority",
            FieldType::Enum { values: vec!["low".into(), "high".into()] },
            false,
        ));
        env.deploy(4, &v4, false).await.expect("v4");
        let (_, _, t) = env.call("GET", &format!("/api/tasks/{id}"), Some(&ada), None).await;
        assert_eq!(t["priority"], "high");
    }
}

#[tokio::test]
async fn a_failed_smoke_check_keeps_the_previous_version() {
    for env in envs().await {
        env.deploy(1, &todo(), false).await.expect("v1");
        let mut v2 = todo();
        v2.entities[1].fields.push(field("notes", FieldType::LongText, false));
        let tree = kiln_codegen::generate(&v2).expect("generate");
        // A version whose files lack the index page.
        let files: Vec<(String, String)> =
            tree.files.into_iter().filter(|(p, _)| p != "index.html").collect();
        match env.rt.deploy(env.app_id, 2, &v2, &files, Policy::Ask).await {
            Err(DeployError::Failed(why)) => assert!(why.contains("index.html"), "{why}"),
            other => panic!("expected a failed smoke check, got {other:?}"),
        }
        // The migration was rolled back with it: version 1 still serves, without `notes`.
        let (s, _, h) = env.call("GET", "/api/health", None, None).await;
        assert_eq!((s, &h["version"]), (StatusCode::OK, &json!(1)));
        let ada = env.signup("ada@example.com").await;
        let (s, _, t) =
            env.call("POST", "/api/tasks", Some(&ada), Some(json!({"title": "x"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(t.get("notes").is_none());
        let storage = env.rt.storage(env.app_id).await.expect("storage");
        let mut c = storage.acquire().await.expect("conn");
        let cols = storage.columns(&mut c, "tasks").await.expect("columns");
        assert!(!cols.iter().any(|(n, _)| n == "notes"), "{cols:?}");
    }
}

#[tokio::test]
async fn public_records_are_read_by_anyone_and_changed_by_their_creator() {
    for env in envs().await {
        let mut spec = todo();
        spec.entities[0].access = Some(Access::Public);
        env.deploy(1, &spec, false).await.expect("deploy");
        let ada = env.signup("ada@example.com").await;
        let (s, _, p) =
            env.call("POST", "/api/projects", Some(&ada), Some(json!({"name": "Open"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _, list) = env.call("GET", "/api/projects", None, None).await;
        assert_eq!((s, list["total"].as_i64()), (StatusCode::OK, Some(1)));
        let at = format!("/api/projects/{}", p["id"]);
        let (s, _, _) = env.call("GET", &at, None, None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = env.call("PATCH", &at, None, Some(json!({"name": "x"}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let bob = env.signup("bob@example.com").await;
        let (s, _, _) = env.call("DELETE", &at, Some(&bob), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _, _) = env.call("DELETE", &at, Some(&ada), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        // Lists are kept in memory between writes: every write shows in the next list.
        let (_, _, list) = env.call("GET", "/api/projects", None, None).await;
        assert_eq!(list["total"], 0, "the deletion shows");
        let (_, _, list) = env.call("GET", "/api/projects", None, None).await;
        assert_eq!(list["total"], 0);
        env.call("POST", "/api/projects", Some(&bob), Some(json!({"name": "Two"}))).await;
        let (_, _, list) = env.call("GET", "/api/projects", None, None).await;
        assert_eq!(list["items"][0]["name"], "Two", "the creation shows");
        env.call(
            "PATCH",
            &format!("/api/projects/{}", list["items"][0]["id"]),
            Some(&bob),
            Some(json!({"name": "Renamed"})),
        )
        .await;
        let (_, _, list) = env.call("GET", "/api/projects", None, None).await;
        assert_eq!(list["items"][0]["name"], "Renamed", "the change shows");
        let (_, _, mine) = env.call("GET", "/api/projects", Some(&bob), None).await;
        assert_eq!(mine["items"][0]["name"], "Renamed", "a signed-in view of the same list");
    }
}

#[tokio::test]
async fn unknown_hosts_and_apps_without_accounts() {
    for env in envs_with(3).await {
        let mut open = todo();
        open.features = vec![Feature::Crud];
        for e in &mut open.entities {
            e.access = None;
        }
        env.deploy(1, &open, false).await.expect("deploy");
        let (s, _, t) =
            env.call("POST", "/api/tasks", None, Some(json!({"title": "anyone"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        assert_eq!(t["created_by"], Value::Null);
        let (s, _, _) = env.call("GET", "/api/auth/me", None, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Anonymous writes are limited per address (here 3 a minute).
        let mut refused = None;
        for n in 0..10 {
            let body = json!({"name": format!("p{n}")});
            let (s, h, _) = env.call("POST", "/api/projects", None, Some(body)).await;
            if s == StatusCode::TOO_MANY_REQUESTS {
                refused = Some((n, h.get(header::RETRY_AFTER).is_some()));
                break;
            }
            assert_eq!(s, StatusCode::CREATED);
        }
        // One write was made above: the loop's third is the fourth in the minute, refused.
        assert_eq!(refused, Some((2, true)));
        let other = Request::builder()
            .uri("/")
            .header(header::HOST, "127.0.0.1:3001")
            .body(Body::empty())
            .expect("req");
        assert_eq!(
            env.rt.router().oneshot(other).await.expect("resp").status(),
            StatusCode::NOT_FOUND
        );
        let nope = Request::builder()
            .uri("/")
            .header(header::HOST, "nope.localhost:3001")
            .body(Body::empty())
            .expect("req");
        assert_eq!(
            env.rt.router().oneshot(nope).await.expect("resp").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(env.rt.url_for("todo"), "http://todo.localhost:3001/");
    }
}

#[tokio::test]
async fn log_ins_count_against_the_address_even_with_a_session() {
    for env in envs_with(3).await {
        env.deploy(1, &todo(), false).await.expect("deploy");
        let ada = env.signup("ada@example.com").await;
        let creds = json!({"email": "ada@example.com", "password": "wrong password"});
        for _ in 0..2 {
            let (s, _, _) =
                env.call("POST", "/api/auth/login", Some(&ada), Some(creds.clone())).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
        // The fourth sign-up or log-in from this address in the minute, session or not.
        let (s, h, _) = env.call("POST", "/api/auth/login", Some(&ada), Some(creds)).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        assert!(h.get(header::RETRY_AFTER).is_some());
        // Signed-in writes are not limited by it.
        let (s, _, _) =
            env.call("POST", "/api/tasks", Some(&ada), Some(json!({"title": "x"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        // Methods a route does not take: 405 naming the ones it does; HEAD is GET without a body.
        let (s, h, _) = env.call("PATCH", "/api/tasks", Some(&ada), Some(json!({}))).await;
        assert_eq!(
            (s, h.get(header::ALLOW).and_then(|v| v.to_str().ok())),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET, HEAD, POST"))
        );
        let (s, h, _) = env.call("OPTIONS", "/api/tasks/1", None, None).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert!(h.contains_key(header::ALLOW));
        let (s, _, _) = env.call("HEAD", "/api/health", None, None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = env.call("POST", "/api/health", None, Some(json!({}))).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn a_reference_moved_to_another_entity_counts_as_a_loss() {
    for env in envs().await {
        env.deploy(1, &todo(), false).await.expect("deploy");
        let ada = env.signup("ada@example.com").await;
        let (_, _, p) =
            env.call("POST", "/api/projects", Some(&ada), Some(json!({"name": "Home"}))).await;
        let (s, _, _) = env
            .call("POST", "/api/tasks", Some(&ada), Some(json!({"title": "x", "project": p["id"]})))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let mut v2 = todo();
        v2.entities.push(Entity {
            name: "area".into(),
            label: "Area".into(),
            collection: "areas".into(),
            access: Some(Access::Private),
            fields: vec![field("name", FieldType::Text, true)],
        });
        for f in &mut v2.entities[1].fields {
            if f.name == "project" {
                f.ty = FieldType::Ref { entity: "area".into() };
            }
        }
        let files: Vec<(String, String)> =
            kiln_codegen::generate(&v2).expect("gen").files.into_iter().collect();
        match env.rt.deploy(env.app_id, 2, &v2, &files, Policy::Ask).await {
            Err(DeployError::DataLoss(l)) => {
                assert!(
                    l.iter().any(|x| x.contains(
                        "1 task has a Project that would point at records of another entity"
                    )),
                    "{l:?}"
                );
            }
            other => panic!("expected a data-loss stop, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_rollback_keeps_every_value_and_going_forward_again_restores_them() {
    for env in envs().await {
        env.deploy(1, &todo(), false).await.expect("v1");
        let ada = env.signup("ada@example.com").await;
        let (_, _, t) = env
            .call(
                "POST",
                "/api/tasks",
                Some(&ada),
                Some(json!({"title": "Buy milk", "priority": "high"})),
            )
            .await;
        let at = format!("/api/tasks/{}", t["id"]);
        let mut v2 = todo();
        v2.entities[1].fields.push(field("notes", FieldType::LongText, false));
        for f in &mut v2.entities[1].fields {
            if f.name == "priority" {
                f.ty =
                    FieldType::Enum { values: vec!["low".into(), "high".into(), "urgent".into()] };
            }
        }
        env.deploy(2, &v2, false).await.expect("v2 only widens");
        let (s, _, _) = env
            .call(
                "PATCH",
                &at,
                Some(&ada),
                Some(json!({"notes": "semi-skimmed", "priority": "urgent"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // Back to version 1: `urgent` is not one of its values and it has no notes; both are kept.
        let report = env.deploy_with(1, &todo(), Policy::KeepAll).await.expect("rollback to v1");
        assert!(report.lost.is_empty(), "{report:?}");
        assert!(report.steps.iter().any(|s| s.contains("kept, hidden")), "{report:?}");
        let (_, _, back) = env.call("GET", &at, Some(&ada), None).await;
        assert_eq!(
            (&back["title"], &back["priority"], back.get("notes")),
            (&json!("Buy milk"), &Value::Null, None),
            "{back}"
        );
        let (s, _, h) = env.call("GET", "/api/health", None, None).await;
        assert_eq!((s, &h["version"]), (StatusCode::OK, &json!(1)));

        // Forward to version 2 again: every value is where it was.
        env.deploy_with(2, &v2, Policy::KeepAll).await.expect("forward to v2");
        let (_, _, again) = env.call("GET", &at, Some(&ada), None).await;
        assert_eq!(
            (&again["priority"], &again["notes"]),
            (&json!("urgent"), &json!("semi-skimmed")),
            "{again}"
        );
    }
}

#[tokio::test]
async fn undeploy_removes_the_apps_files_and_data() {
    for env in envs().await {
        env.deploy(1, &todo(), false).await.expect("deploy");
        let ada = env.signup("ada@example.com").await;
        let (s, _, _) =
            env.call("POST", "/api/tasks", Some(&ada), Some(json!({"title": "x"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        let dir = env.rt.config().data_dir.join("apps").join(env.app_id.to_string());
        assert!(dir.exists());
        kiln_store::apps::clear_live(&env.db, env.app_id).await.expect("stop serving");
        env.rt.undeploy(env.app_id, "todo").await.expect("undeploy");
        assert!(!dir.exists(), "{}", dir.display());
        let (s, _, _) = env.call("GET", "/api/health", None, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Deployed again from nothing, it starts empty: no end user, no task.
        env.deploy(2, &todo(), false).await.expect("again");
        let (s, _, _) = env
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": "ada@example.com", "password": "correct horse"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

/// A local server that speaks the streaming chat-completions wire format (OpenAI's): it checks
/// the request and answers "Add a task, then mark it done." in three chunks.
async fn streaming_model() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(req): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().expect("log").push(req.clone());
                let chunk = |content: &str, finish: Option<&str>| {
                    let c = json!({
                        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                        "model": req["model"], "choices": [{"index": 0,
                        "delta": if content.is_empty() { json!({}) } else { json!({"role": "assistant", "content": content}) },
                        "finish_reason": finish}]
                    });
                    format!("data: {c}\n\n")
                };
                let body = [
                    chunk("Add a task, ", None),
                    chunk("then mark it ", None),
                    chunk("done.", None),
                    chunk("", Some("stop")),
                    "data: [DONE]\n\n".to_owned(),
                ]
                .concat();
                ([(header::CONTENT_TYPE, "text/event-stream")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_the_models_answer_within_limits() {
    let (base, seen) = streaming_model().await;
    let mut spec = todo();
    spec.features.push(Feature::Chat);
    for (limit, budget) in [(None, 0), (Some(base.clone()), 200_000), (Some(base.clone()), 8)] {
        let expect_stream = limit.is_some();
        let envs = envs_configured(|config| {
            config.chat_per_minute_user = 2;
            config.chat_daily_tokens = budget;
            config.chat = limit.clone().map(|base_url| {
                kiln_llm::LlmPlanner::new(kiln_llm::LlmConfig {
                    base_url,
                    model: "test-model".into(),
                    api_key: None,
                    timeout: std::time::Duration::from_secs(10),
                })
            });
        })
        .await;
        for env in envs {
            env.deploy(1, &spec, false).await.expect("deploy");
            let ask = json!({"message": "How do I finish a task?"});
            let (s, _, _) = env.call("POST", "/api/chat", None, Some(ask.clone())).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "accounts first");
            let ada = env.signup("ada@example.com").await;
            let (s, h, body) = env.call("POST", "/api/chat", Some(&ada), Some(ask.clone())).await;
            if !expect_stream {
                assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
                assert!(body["message"].as_str().expect("message").contains("not available"));
                continue;
            }
            assert_eq!(s, StatusCode::OK, "{body}");
            assert_eq!(h[header::CONTENT_TYPE], "text/event-stream");
            let text = body.as_str().expect("event stream");
            let pieces: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter(|d| *d != "[DONE]")
                .map(|d| {
                    serde_json::from_str::<Value>(d).expect("json")["delta"]
                        .as_str()
                        .expect("delta")
                        .to_owned()
                })
                .collect();
            assert_eq!(pieces.concat(), "Add a task, then mark it done.");
            assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
            // The model was asked with the app described, the question, streaming on.
            let req = seen.lock().expect("seen").last().cloned().expect("a request");
            assert_eq!(
                (req["stream"].as_bool(), req["model"].as_str()),
                (Some(true), Some("test-model"))
            );
            let system = req["messages"][0]["content"].as_str().expect("system");
            assert!(
                system.contains("\"Todo\"") && system.contains("Task records: Title"),
                "{system}"
            );
            assert_eq!(req["messages"][1]["content"], "How do I finish a task?");
            if budget == 8 {
                // That answer cost about 9 tokens: today's budget of 8 is spent.
                let (s, _, e) = env.call("POST", "/api/chat", Some(&ada), Some(ask.clone())).await;
                assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
                assert!(e["message"].as_str().expect("message").contains("budget"), "{e}");
                continue;
            }
            // Bad input, then the per-user limit (2 a minute here).
            let (s, _, _) =
                env.call("POST", "/api/chat", Some(&ada), Some(json!({"message": " "}))).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
            let (s, _, _) = env.call("POST", "/api/chat", Some(&ada), Some(ask.clone())).await;
            assert_eq!(s, StatusCode::OK);
            let (s, h, _) = env.call("POST", "/api/chat", Some(&ada), Some(ask)).await;
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
            assert!(h.contains_key(header::RETRY_AFTER));
        }
    }
}

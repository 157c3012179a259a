//! Every description of the development set reaches `live` through the real pipeline (offline
//! planner, templates, the checks in the sandbox, deploy), and its first collection accepts a
//! valid record on the app's own origin (after signing up, when the app has accounts).
//! Needs the JS toolchain (KILN_TOOLCHAIN_DIR, installed by `scripts/setup --test`).

mod common;

use axum::body::Body;
use http::{Request, StatusCode, header};
use kiln_core::{AppSpec, Field, FieldType};
use kiln_store::jobs;
use serde_json::{Value, json};
use tower::ServiceExt;

fn descriptions() -> Vec<(String, String)> {
    kiln_planner::quality::dev_set().into_iter().map(|c| (c.id, c.description)).collect()
}

/// A value a person could type for `f`; refs point at `target_id`.
fn valid(f: &Field, target_id: Option<i64>) -> Value {
    match &f.ty {
        FieldType::Text | FieldType::LongText => json!(format!("A {}", f.label.to_lowercase())),
        FieldType::Int { min, max } => {
            json!(3i64.clamp(min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX)))
        }
        FieldType::Decimal => json!(12.5),
        FieldType::Bool => json!(false),
        FieldType::Date => json!("2026-12-01"),
        FieldType::Datetime => json!("2026-12-01T18:30"),
        FieldType::Time => json!("18:30"),
        FieldType::Email => json!("someone@example.com"),
        FieldType::Url => json!("https://example.com/x"),
        FieldType::Enum { values } => json!(values.last()),
        FieldType::Ref { .. } => target_id.map_or(Value::Null, |id| json!(id)),
    }
}

async fn call(
    rt: &kiln_runtime::Runtime,
    host: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: &Value,
) -> (StatusCode, Option<String>, Value) {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let resp = rt
        .router()
        .oneshot(b.body(Body::from(body.to_string())).expect("req"))
        .await
        .expect("resp");
    let status = resp.status();
    let cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
    (status, cookie, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dev_set_description_goes_live_and_takes_a_record() {
    let common::Setup { dir: _dir, db, owner, runtime, pipeline } = common::setup().await;
    for (id, description) in descriptions() {
        let created = pipeline.create_app(owner, &description, None, None).await.expect("create");
        pipeline.run_next("test").await.expect("run");
        let job = jobs::get(&db, created.job_id).await.expect("job").expect("row");
        assert_eq!(job.state, "live", "{id}: {:?}", job.error);
        let status = pipeline.job_status(owner, created.job_id, 0).await.expect("status");
        let url = status.url.expect("a live job names its URL");
        assert_eq!(url, format!("http://{}.localhost:3001/", created.slug));
        let host = format!("{}.localhost:3001", created.slug);

        let (s, _, spec) = call(&runtime, &host, "GET", "/app.json", None, &Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{id}");
        let spec: AppSpec = serde_json::from_value(spec).expect("spec");
        let cookie = if spec.features.contains(&kiln_core::Feature::Auth) {
            let (s, cookie, _) = call(
                &runtime,
                &host,
                "POST",
                "/api/auth/signup",
                None,
                &json!({"email": "end@example.com", "password": "long enough"}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{id}");
            cookie
        } else {
            None
        };
        // The first collection, with a record of each entity it refers to created first.
        let first = &spec.entities[0];
        let mut body = serde_json::Map::new();
        for f in &first.fields {
            let target_id = match &f.ty {
                FieldType::Ref { entity } => {
                    let t = spec.entities.iter().find(|e| &e.name == entity).expect("target");
                    let tb: serde_json::Map<String, Value> = t
                        .fields
                        .iter()
                        .filter(|g| !matches!(g.ty, FieldType::Ref { .. }))
                        .map(|g| (g.name.clone(), valid(g, None)))
                        .collect();
                    let (s, _, r) = call(
                        &runtime,
                        &host,
                        "POST",
                        &format!("/api/{}", t.collection),
                        cookie.as_deref(),
                        &Value::Object(tb),
                    )
                    .await;
                    assert_eq!(s, StatusCode::CREATED, "{id}: {} {r}", t.collection);
                    r["id"].as_i64()
                }
                _ => None,
            };
            body.insert(f.name.clone(), valid(f, target_id));
        }
        let (s, _, r) = call(
            &runtime,
            &host,
            "POST",
            &format!("/api/{}", first.collection),
            cookie.as_deref(),
            &Value::Object(body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{id}: {r}");
        let (s, _, list) = call(
            &runtime,
            &host,
            "GET",
            &format!("/api/{}", first.collection),
            cookie.as_deref(),
            &Value::Null,
        )
        .await;
        assert_eq!((s, list["total"].as_i64()), (StatusCode::OK, Some(1)), "{id}: {list}");
    }
}

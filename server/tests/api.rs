//! The JSON API and the plain-HTTP endpoints, end to end against the real server.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_signs_up_verifies_by_the_emailed_link_and_gets_a_token() {
    let app = spawn_app().await;
    let res = app.signup("ada@example.com").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.expect("json");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["verified"], false);

    // The mail is an .eml in the outbox with the link alone on its own line.
    let mails = app.mails_to("ada@example.com", 1).await;
    assert!(mails[0].contains("Subject: Confirm your email address for Kiln"), "{}", mails[0]);
    assert!(mails[0].contains("multipart/alternative"));
    let link = app.verification_link("ada@example.com", 1).await;

    // A plain GET verifies on the server and redirects to the portal.
    let res = common::client().get(&link).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/verified?status=ok");
    let me: Value = app.get("/api/me").await.json().await.expect("json");
    assert_eq!(me["verified"], true);

    // The link works once.
    let res = common::client().get(&link).send().await.expect("get");
    assert_eq!(res.headers()["location"], "/verified?status=used");

    // Log in from a fresh client and get a token.
    let fresh = spawn_client(&app);
    let res = fresh
        .post(app.url("/api/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let cookies: Vec<_> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("kiln_access=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")
            && c.contains("Max-Age=300")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("kiln_refresh=") && c.contains("Path=/auth;")),
        "{cookies:?}"
    );
    let res = fresh
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "laptop"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("kiln_"));

    // The token authenticates on its own, is listed without its secret, and can be revoked.
    let bearer = common::client();
    let list: Value = bearer
        .get(app.url("/api/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["name"], "laptop");
    assert!(!list.to_string().contains(&token), "the secret is never listed");
    let id = list[0]["id"].as_i64().expect("id");
    let res = bearer
        .delete(app.url(&format!("/api/tokens/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("del");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = bearer.get(app.url("/api/tokens")).bearer_auth(&token).send().await.expect("list");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let err: Value = res.json().await.expect("json");
    assert_eq!(err["error"], "unauthorized");
}

fn spawn_client(_app: &TestApp) -> reqwest::Client {
    common::client()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_unknown_credentials_get_the_same_401() {
    let app = spawn_app().await;
    app.signup("bob@example.com").await;
    let wrong = app.login("bob@example.com", "not the right password").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let malformed_email = app.login("not-an-email", PASSWORD).await;
    for res in [wrong, unknown, malformed_email] {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body, json!({"error": "unauthorized", "message": "Wrong email or password."}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let raw = |body: &'static str| {
        app.client
            .post(app.url("/api/signup"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = raw("{not json").await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.expect("json")["error"], "bad_request");

    let res = raw(r#"{"email":"x@example.com"}"#).await.expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = raw(r#"{"email":"x@example.com","password":"long enough pass","admin":true}"#)
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");

    let res = app.client.post(app.url("/api/signup")).body("email=x").send().await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "not JSON content type");

    let huge = format!(r#"{{"email":"x@example.com","password":"{}"}}"#, "a".repeat(200_000));
    let res = app
        .client
        .post(app.url("/api/signup"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json::<Value>().await.expect("json")["error"], "payload_too_large");

    // Validation: a short password, SQL and HTML in the email.
    let res =
        app.post_json("/api/signup", &json!({"email": "y@example.com", "password": "short"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["fields"][0]["field"], "password");
    assert!(body["fields"][0]["message"].as_str().expect("msg").contains("at least 12 characters"));
    for email in ["x'); DROP TABLE users;--@example.com", "<script>alert(1)</script>@example.com"] {
        let res =
            app.post_json("/api/signup", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
    }

    // None of that created an account or queued mail.
    assert_eq!(
        app.login("x@example.com", "long enough pass").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        !app.data_dir.join("outbox").exists()
            || std::fs::read_dir(app.data_dir.join("outbox")).expect("dir").count() == 0
    );

    // Wrong methods and bad path parameters answer JSON too.
    let res = app.client.put(app.url("/api/tokens")).send().await.expect("put");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.json::<Value>().await.expect("json")["error"], "method_not_allowed");
    let res = app
        .client
        .delete(app.url("/api/tokens/not-a-number"))
        .bearer_auth("kiln_x")
        .send()
        .await
        .expect("del");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a bad token is refused first");

    // The API's unknown paths answer JSON too.
    let res = app.get("/api/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.expect("json")["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_email_is_a_409() {
    let app = spawn_app().await;
    assert_eq!(app.signup("carol@example.com").await.status(), StatusCode::CREATED);
    let res = app.signup("  CAROL@example.com ").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "conflict");
    assert_eq!(body["fields"][0]["field"], "email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_tolerates_concurrent_use_and_revokes_on_reuse() {
    let app = spawn_app().await;
    let res = app.signup("dora@example.com").await;
    let r0 = set_cookie(&res, "kiln_refresh").expect("refresh cookie");
    let refresh = |token: String| {
        common::client()
            .post(app.url("/auth/refresh"))
            .header("cookie", format!("kiln_refresh={token}"))
            .send()
    };

    let res = refresh(r0.clone()).await.expect("refresh");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let r1 = set_cookie(&res, "kiln_refresh").expect("successor");
    assert_ne!(r1, r0);
    let access = set_cookie(&res, "kiln_access").expect("access");

    // A second tab refreshing with the same token moments later gets the same successor.
    let res = refresh(r0.clone()).await.expect("refresh");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(set_cookie(&res, "kiln_refresh").as_deref(), Some(r1.as_str()));

    // Reused after the 30 s grace: the whole family is revoked, including the successor.
    app.clock.advance(31_000);
    let res = refresh(r0.clone()).await.expect("refresh");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "kiln_refresh").is_some_and(|v| v.is_empty()), "cookies cleared");
    let res = refresh(r1).await.expect("refresh");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The access token of the revoked family stops at once (its session is checked on every
    // request), not only when it expires.
    let me = |tok: String| {
        common::client()
            .get(app.url("/api/me"))
            .header("cookie", format!("kiln_access={tok}"))
            .send()
    };
    assert_eq!(me(access).await.expect("me").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expire_after_five_minutes() {
    let app = spawn_app().await;
    let res = app.signup("exp@example.com").await;
    let access = set_cookie(&res, "kiln_access").expect("access");
    let me = || {
        common::client()
            .get(app.url("/api/me"))
            .header("cookie", format!("kiln_access={access}"))
            .send()
    };
    assert_eq!(me().await.expect("me").status(), StatusCode::OK);
    app.clock.advance(299_000);
    assert_eq!(me().await.expect("me").status(), StatusCode::OK);
    app.clock.advance(2_000);
    assert_eq!(me().await.expect("me").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_transparently_on_page_loads() {
    let app = spawn_app().await;
    app.signup("erin@example.com").await;
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    app.clock.advance(301_000);
    // The API says 401 ...
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    // ... a page load goes through the refresh endpoint and back.
    let res = app
        .client
        .get(app.url("/settings"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/auth/refresh?next=/settings");
    let res =
        app.client.get(app.url("/auth/refresh?next=/settings")).send().await.expect("refresh");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/settings");
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
    // An open redirect is not possible through `next`.
    app.clock.advance(301_000);
    let res =
        app.client.get(app.url("/auth/refresh?next=//evil.example")).send().await.expect("refresh");
    assert_eq!(res.headers()["location"], "/apps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let res = app.signup("fay@example.com").await;
    let r0 = set_cookie(&res, "kiln_refresh").expect("refresh");
    let res = app.client.post(app.url("/api/logout")).send().await.expect("logout");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
    let res = common::client()
        .post(app.url("/auth/refresh"))
        .header("cookie", format!("kiln_refresh={r0}"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the refresh token died with the session");
    // Protected pages now send the visitor to the login form.
    let res =
        app.client.get(app.url("/apps")).header("accept", "text/html").send().await.expect("page");
    assert_eq!(res.headers()["location"], "/login?next=/apps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_after_the_access_token_expired_still_ends_the_session() {
    let app = spawn_app().await;
    let res = app.signup("late@example.com").await;
    let r0 = set_cookie(&res, "kiln_refresh").expect("refresh");
    app.clock.advance(301_000);
    let res = app.client.post(app.url("/auth/logout")).send().await.expect("logout");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = common::client()
        .post(app.url("/auth/refresh"))
        .header("cookie", format!("kiln_refresh={r0}"))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the family is revoked");
    // A browser form post is answered with a redirect to the start page.
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_parameters_never_leave_the_site() {
    let app = spawn_app().await;
    app.signup("nx@example.com").await;
    app.clock.advance(301_000);
    for bad in ["/%09/evil.example", "//evil.example", "/%5Cevil.example", "https://evil.example"] {
        let res = app
            .client
            .get(app.url(&format!("/auth/refresh?next={bad}")))
            .send()
            .await
            .expect("refresh");
        assert_eq!(res.headers()["location"], "/apps", "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_writes_are_refused() {
    let app = spawn_app().await;
    app.verified_user("gus@example.com").await;
    let post = |origin: Option<&str>, site: Option<&str>| {
        let mut r = app.client.post(app.url("/api/tokens")).json(&json!({"name": "t"}));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    assert_eq!(
        post(Some("http://evil.example"), None).await.expect("send").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(post(Some("null"), None).await.expect("send").status(), StatusCode::FORBIDDEN);
    assert_eq!(post(None, Some("cross-site")).await.expect("send").status(), StatusCode::FORBIDDEN);
    assert_eq!(
        post(Some(&app.base), Some("same-origin")).await.expect("send").status(),
        StatusCode::CREATED
    );
    assert_eq!(
        post(None, None).await.expect("send").status(),
        StatusCode::CREATED,
        "scripts send no Origin"
    );

    // Bearer requests carry no ambient credentials: allowed from anywhere.
    let created: Value = post(None, None).await.expect("send").json().await.expect("json");
    let token = created["token"].as_str().expect("token");
    let res = common::client()
        .post(app.url("/api/tokens"))
        .bearer_auth(token)
        .header("origin", "http://evil.example")
        .json(&json!({"name": "from a script"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::CREATED);
    // Reads are never refused.
    let res = app
        .client
        .get(app.url("/api/tokens"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_links_expire_and_can_be_renewed() {
    let app = spawn_app().await;
    app.signup("hal@example.com").await;
    let first = app.verification_link("hal@example.com", 1).await;
    app.clock.advance(25 * 3600 * 1000);
    let res = common::client().get(&first).send().await.expect("get");
    assert_eq!(res.headers()["location"], "/verified?status=expired");
    let res = common::client().get(app.url("/verify?token=bogus")).send().await.expect("get");
    assert_eq!(res.headers()["location"], "/verified?status=invalid");

    // Log in again (the access token expired with the clock) and ask for a new link.
    assert_eq!(app.login("hal@example.com", PASSWORD).await.status(), StatusCode::OK);
    let res = app.client.post(app.url("/api/verify/resend")).send().await.expect("resend");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let second = app.verification_link("hal@example.com", 2).await;
    assert_ne!(first, second);
    let res = common::client().get(&second).send().await.expect("get");
    assert_eq!(res.headers()["location"], "/verified?status=ok");
    let res = app.client.post(app.url("/api/verify/resend")).send().await.expect("resend");
    assert_eq!(res.status(), StatusCode::CONFLICT, "already verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_signup_refuses_self_service() {
    let app = spawn_with(closed_signup).await;
    let res = app.signup("ivy@example.com").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.json::<Value>().await.expect("json")["message"].as_str().expect("m").contains("closed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_a_token_name_is_stored_verbatim_and_escaped_in_pages() {
    let app = spawn_app().await;
    app.verified_user("jay@example.com").await;
    let name = "<img src=x onerror=alert(1)>";
    let res = app.post_json("/api/tokens", &json!({"name": name})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let list: Value = app.get("/api/tokens").await.json().await.expect("json");
    assert_eq!(list[0]["name"], name);
    let page = app
        .client
        .get(app.url("/settings"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Account settings"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "escaped");
    assert!(!html.contains(name), "never raw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_and_request_ids() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let id =
        res.headers().get("x-request-id").expect("request id").to_str().expect("str").to_owned();
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("kiln_build_info{version=\""), "{metrics}");
    assert!(
        metrics.contains("kiln_http_requests_total{method=\"GET\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("kiln_outbox_pending 0"), "{metrics}");
    // A request id sent by a proxy is kept.
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("get");
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_on_the_server() {
    let app = spawn_app().await;
    let html = app.get("/").await.text().await.expect("html");
    assert!(html.contains("<h1>Kiln</h1>"), "{html}");
    assert!(html.contains("/pkg/kiln.js"), "hydration script linked");
    let signup = app.get("/signup").await.text().await.expect("html");
    assert!(signup.contains("<label for=\"field-email\">Email</label>"));
    assert!(signup.contains("action=\"/sfn/signup\""), "a plain form post works without wasm");
    let res = app.get("/no-such-page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut app = spawn_app().await;
    app.signup("busy@example.com").await;
    // Log-ins take a while (argon2id); start several, then ask the server to stop.
    let mut in_flight = Vec::new();
    for _ in 0..6 {
        let (client, url) = (common::client(), app.url("/api/login"));
        in_flight.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "busy@example.com", "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status())
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.stop().await.expect("clean stop");
    let mut answered = 0;
    for h in in_flight {
        // Requests the server had accepted were answered; none was cut off half way.
        if let Ok(status) = h.await.expect("join") {
            assert_eq!(status, StatusCode::OK);
            answered += 1;
        }
    }
    assert!(answered > 0, "at least the requests already accepted were answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_quickly() {
    let mut app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    app.stop().await.expect("clean stop");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(common::client().get(app.url("/healthz")).send().await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_runs_on_postgres_too() {
    let Ok(url) = std::env::var("KILN_TEST_DATABASE_URL") else {
        eprintln!(
            "KILN_TEST_DATABASE_URL not set: the Postgres run of this flow is in the storage suite only"
        );
        return;
    };
    if url.is_empty() {
        return;
    }
    // A schema of its own, named through the connection options in the URL.
    let schema = format!("kiln_it_{}", std::process::id());
    let admin = kiln_store::Db::open_postgres(&url).await.expect("connect");
    if let kiln_store::Db::Postgres(pool) = &admin {
        sqlx_exec(pool, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        sqlx_exec(pool, &format!("CREATE SCHEMA {schema}")).await;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let app =
        spawn_with(with_database(format!("{url}{sep}options=-c%20search_path%3D{schema}"))).await;
    app.verified_user("pg@example.com").await;
    let res = app.post_json("/api/tokens", &json!({"name": "pg"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Apps and jobs too: the per-person limits lock the user's row; one active job per app.
    let res = app.post_json("/api/apps", &json!({"description": "Notes with a title."})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let app_id = res.json::<Value>().await.expect("json")["app_id"].as_i64().expect("id");
    let generate = format!("/api/apps/{app_id}/generate");
    let empty = json!({});
    let (a, b) = tokio::join!(app.post_json(&generate, &empty), app.post_json(&generate, &empty));
    let mut codes = [a.status().as_u16(), b.status().as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [202, 409]);
    assert!(!app.data_dir.join("kiln.db").exists(), "SQLite was not used");

    // The app goes live with its data in a schema of its own, beside Kiln's.
    let job = if a.status() == StatusCode::ACCEPTED { a } else { b };
    let job_id = job.json::<Value>().await.expect("json")["job_id"].as_i64().expect("job");
    let status = app.wait_finished(job_id).await;
    assert_eq!(status["state"], "live", "{status}");
    let port = app.state.runtime.port();
    let slug =
        status["url"].as_str().expect("url").split('.').next().expect("host")[7..].to_owned();
    let web = reqwest::Client::builder()
        .resolve(&format!("{slug}.localhost"), std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .expect("client");
    let res = web
        .post(format!("http://{slug}.localhost:{port}/api/notes"))
        .json(&json!({"title": "kept in Postgres"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap_or_default());
    if let kiln_store::Db::Postgres(pool) = &admin {
        let app_schema = format!("{schema}_app_{app_id}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{app_schema}\".\"notes\""
        )))
        .fetch_one(pool)
        .await
        .expect("the app's own schema");
        assert_eq!(n, 1);
        sqlx_exec(pool, &format!("DROP SCHEMA IF EXISTS \"{app_schema}\" CASCADE")).await;
    }
}

async fn sqlx_exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(pool).await.expect("sql");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_a_description_into_an_app_spec() {
    let app = spawn_app().await;
    let body = json!({"description": "Track my books: books with a title, an author and a rating out of 5."});
    assert_eq!(
        common::client()
            .post(app.url("/api/plan"))
            .json(&body)
            .send()
            .await
            .expect("plan")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.signup("planner@example.com").await;
    let spec: Value = app.post_json("/api/plan", &body).await.json().await.expect("json");
    assert_eq!(spec["entities"][0]["name"], "book");
    assert_eq!(spec["entities"][0]["collection"], "books");
    let rating = spec["entities"][0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "rating")
        .expect("rating")
        .clone();
    assert_eq!(
        (rating["type"].as_str(), rating["min"].as_i64(), rating["max"].as_i64()),
        (Some("int"), Some(1), Some(5))
    );
    let res = app.post_json("/api/plan", &json!({"description": "   "})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post_json("/api/plan", &json!({"description": "x".repeat(20_001)})).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

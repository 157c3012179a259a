//! Password reset and change, email change, sessions, deletion, the operator's outbox and rate
//! limits, through the JSON API of the real server.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The text of the newest mail to `to` whose subject contains `subject`.
async fn mail(app: &TestApp, to: &str, subject: &str) -> String {
    for _ in 0..100 {
        let all = app.mails_to(to, 1).await;
        if let Some(m) = all.iter().rev().find(|m| m.contains(subject)) {
            return m.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} about {subject:?}");
}

fn link(mail: &str, path: &str) -> String {
    mail.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| l.starts_with("http") && l.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in {mail}"))
        .to_owned()
}

fn token(link: &str) -> String {
    link.rsplit('=').next().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_and_reset_password() {
    let app = spawn_app().await;
    app.verified_user("kim@example.com").await;
    let old_session = app.client.clone();

    let known = app.post_json("/api/password/forgot", &json!({"email": "kim@example.com"})).await;
    let unknown =
        app.post_json("/api/password/forgot", &json!({"email": "nobody@example.com"})).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), known.status());
    let (a, b): (Value, Value) =
        (known.json().await.expect("json"), unknown.json().await.expect("json"));
    assert_eq!(a, b, "the same answer for unknown addresses");
    let unknown_mail = mail(&app, "nobody@example.com", "password reset requested").await;
    assert!(unknown_mail.contains("no Kiln account uses this address"));

    let reset_mail = mail(&app, "kim@example.com", "Reset your Kiln password").await;
    let t = token(&link(&reset_mail, "/reset-password?token="));
    let res = app.post_json("/api/password/reset", &json!({"token": t, "password": "short"})).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the link is not used up by a bad password"
    );
    let res = app
        .post_json("/api/password/reset", &json!({"token": t, "password": "a fresh new password"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post_json("/api/password/reset", &json!({"token": t, "password": "another new password"}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "single use");

    // The session that existed before the reset is gone at once.
    let res = old_session.get(app.url("/api/me")).send().await.expect("me");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("kim@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("kim@example.com", "a fresh new password").await.status(), StatusCode::OK);

    // Expired links.
    app.post_json("/api/password/forgot", &json!({"email": "kim@example.com"})).await;
    let mails = app.mails_to("kim@example.com", 3).await;
    let late = token(&link(mails.last().expect("mail"), "/reset-password?token="));
    app.clock.advance(3_600_001);
    let res = app
        .post_json("/api/password/reset", &json!({"token": late, "password": "too late password"}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert!(body["message"].as_str().expect("message").contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_and_email() {
    let app = spawn_app().await;
    app.verified_user("lee@example.com").await;
    let res = app
        .post_json(
            "/api/password/change",
            &json!({"current_password": "wrong one", "password": "a changed password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json::<Value>().await.expect("json")["fields"][0]["field"], "current_password");
    let res = app
        .post_json(
            "/api/password/change",
            &json!({"current_password": PASSWORD, "password": "a changed password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK, "this session stays");

    let res = app.post_json("/api/email/change", &json!({"email": "lee.new@example.com"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let me: Value = app.get("/api/me").await.json().await.expect("json");
    assert_eq!(me["email"], "lee@example.com", "unchanged until the new address confirms");
    let confirm = link(
        &mail(&app, "lee.new@example.com", "Confirm your new email").await,
        "/email/confirm?token=",
    );
    let notice = mail(&app, "lee@example.com", "is being changed").await;
    let undo = token(&link(&notice, "/email/undo?token="));

    let res = common::client().get(&confirm).send().await.expect("confirm");
    assert_eq!(res.headers()["location"], "/email-changed?status=ok");
    let me: Value = app.get("/api/me").await.json().await.expect("json");
    assert_eq!(me["email"], "lee.new@example.com");
    assert_eq!(
        app.login("lee.new@example.com", "a changed password").await.status(),
        StatusCode::OK
    );

    let res = app.post_json("/api/email/undo", &json!({"token": undo})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.expect("json")["email"], "lee@example.com");
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED, "every session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_be_listed_and_revoked() {
    let app = spawn_app().await;
    app.verified_user("max@example.com").await;
    let other = common::client();
    other
        .post(app.url("/api/login"))
        .json(&json!({"email": "max@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let list: Vec<Value> = app.get("/api/sessions").await.json().await.expect("json");
    assert_eq!(list.len(), 2);
    let theirs = list.iter().find(|s| s["current"] == false).expect("other session");
    let res = app
        .client
        .delete(app.url(&format!("/api/sessions/{}", theirs["id"])))
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        other.get(app.url("/api/me")).send().await.expect("me").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);

    let res = app.client.post(app.url("/api/sessions/revoke-all")).send().await.expect("all");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_removes_it() {
    let app = spawn_app().await;
    app.verified_user("ned@example.com").await;
    let created: Value =
        app.post_json("/api/tokens", &json!({"name": "t"})).await.json().await.expect("json");
    let res = app
        .client
        .delete(app.url("/api/account"))
        .json(&json!({"password": "not it at all"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .client
        .delete(app.url("/api/account"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = common::client()
        .get(app.url("/api/tokens"))
        .bearer_auth(created["token"].as_str().expect("token"))
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ned@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_see_the_outbox() {
    let app = spawn_app().await;
    app.verified_user("first@example.com").await;
    assert_eq!(app.get("/api/outbox").await.status(), StatusCode::FORBIDDEN, "not yet an operator");
    let me: Value = app.get("/api/me").await.json().await.expect("json");
    app.state.accounts.make_operator(me["id"].as_i64().expect("id")).await.expect("promote");
    let outbox: Vec<Value> = app.get("/api/outbox").await.json().await.expect("json");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["state"], "sent");
    assert_eq!(outbox[0]["to"], "first@example.com");
    assert!(outbox[0].get("text_body").is_none(), "no bodies: they hold links");
    let member = common::client();
    member
        .post(app.url("/api/signup"))
        .json(&json!({"email": "second@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    let res = member.get(app.url("/api/outbox")).send().await.expect("outbox");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_with(|s| s.rate_limit_ip = 12).await;
    app.signup("ola@example.com").await;
    for _ in 0..12 {
        assert_eq!(
            app.login("ola@example.com", "wrong password!!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login("ola@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().expect("str").parse().expect("secs");
    assert!((1..=5).contains(&retry), "{retry}");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "rate_limited");
    // Other actions have their own budget; the limit recovers after the wait.
    let res = app.post_json("/api/password/forgot", &json!({"email": "ola@example.com"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(app.login("ola@example.com", PASSWORD).await.status(), StatusCode::OK);
}

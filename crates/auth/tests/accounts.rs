//! Account stories on every configured backend (SQLite always, Postgres with
//! `KILN_TEST_DATABASE_URL`), with a clock the tests move forward.

use kiln_auth::{
    Accounts, AuthConfig, AuthError, ClientInfo, Clock, Identity, LimitConfig, LinkProblem,
    MasterKey, PasswordHasher,
};
use kiln_mail::Mailer;
use kiln_store::testing::databases;
use kiln_store::{Db, outbox};
use std::sync::Arc;

const PW: &str = "correct horse battery staple";

fn browser(user_id: i64) -> Identity {
    Identity { user_id, session_id: None, api_token_id: None }
}

fn cl() -> ClientInfo {
    ClientInfo { ip: Some([127, 0, 0, 1].into()), user_agent: "Firefox/128.0 (X11; Linux)".into() }
}

fn accounts(db: &Db, clock: &Clock) -> Accounts {
    Accounts::new(
        db.clone(),
        AuthConfig::new("http://kiln.test"),
        &MasterKey::generate(),
        PasswordHasher::owasp(),
        Arc::new(Mailer::new()),
        clock.clone(),
    )
    // Stories make many requests from one address; the limits have their own test.
    .with_limits(LimitConfig { per_ip_per_minute: 10_000, per_account_per_hour: 10_000 })
}

/// The token of the newest verification mail to `to`.
async fn mailed_token(db: &Db, to: &str) -> String {
    let rows = outbox::recent(db, 50).await.expect("outbox");
    let row = rows.iter().find(|r| r.to_addr == to).expect("a mail");
    let line = row
        .text_body
        .lines()
        .find(|l| l.starts_with("http://kiln.test/verify?token="))
        .expect("link line");
    line.rsplit('=').next().expect("token").to_owned()
}

#[tokio::test]
async fn signup_queues_one_mail_in_the_same_transaction_and_verification_is_single_use() {
    for t in databases().await {
        let clock = Clock::default();
        let acc = accounts(&t.db, &clock);
        let done = acc.signup("Ada@Example.com", PW, &cl()).await.expect("signup");
        assert_eq!(done.user.email, "ada@example.com");
        assert!(!done.user.verified);
        assert_eq!(outbox::pending_count(&t.db).await.expect("count"), 1, "{}", t.label);
        assert!(matches!(acc.require_verified(done.user.id).await, Err(AuthError::NotVerified)));

        let token = mailed_token(&t.db, "ada@example.com").await;
        let user = acc.verify_email(&token).await.expect("verify");
        assert!(user.verified);
        assert!(acc.require_verified(user.id).await.is_ok());
        let again = acc.verify_email(&token).await;
        assert!(matches!(again, Err(AuthError::Link(LinkProblem::Used))), "{}: {again:?}", t.label);
        assert!(matches!(
            acc.verify_email("nope").await,
            Err(AuthError::Link(LinkProblem::Unknown))
        ));
        assert!(matches!(
            acc.resend_verification(user.id, &cl()).await,
            Err(AuthError::AlreadyVerified)
        ));
    }
}

#[tokio::test]
async fn a_refused_signup_leaves_nothing_behind() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        assert!(matches!(acc.signup("bad", PW, &cl()).await, Err(AuthError::Invalid(_))));
        assert!(matches!(
            acc.signup("a@example.com", "short", &cl()).await,
            Err(AuthError::Invalid(_))
        ));
        acc.signup("a@example.com", PW, &cl()).await.expect("first");
        assert!(matches!(acc.signup("A@example.com", PW, &cl()).await, Err(AuthError::EmailTaken)));
        assert_eq!(outbox::pending_count(&t.db).await.expect("count"), 1, "{}", t.label);
    }
}

#[tokio::test]
async fn verification_links_expire_and_a_new_one_voids_the_old() {
    for t in databases().await {
        let clock = Clock::default();
        let acc = accounts(&t.db, &clock);
        let done = acc.signup("b@example.com", PW, &cl()).await.expect("signup");
        let first = mailed_token(&t.db, "b@example.com").await;
        acc.resend_verification(done.user.id, &cl()).await.expect("resend");
        let second = mailed_token(&t.db, "b@example.com").await;
        assert_ne!(first, second);
        assert!(matches!(acc.verify_email(&first).await, Err(AuthError::Link(LinkProblem::Used))));
        clock.advance(24 * 3600 * 1000 + 1);
        let late = acc.verify_email(&second).await;
        assert!(
            matches!(late, Err(AuthError::Link(LinkProblem::Expired))),
            "{}: {late:?}",
            t.label
        );
    }
}

#[tokio::test]
async fn login_refresh_rotation_grace_and_reuse_detection() {
    for t in databases().await {
        let clock = Clock::default();
        let acc = accounts(&t.db, &clock);
        acc.signup("c@example.com", PW, &cl()).await.expect("signup");
        assert!(matches!(
            acc.login("c@example.com", "wrong password!", &cl()).await,
            Err(AuthError::BadCredentials)
        ));
        assert!(matches!(
            acc.login("x@example.com", PW, &cl()).await,
            Err(AuthError::BadCredentials)
        ));
        let (user, s0) = acc.login("c@example.com", PW, &cl()).await.expect("login");
        let id = acc.authenticate_access(&s0.access).await.expect("valid access");
        assert_eq!((id.user_id, id.session_id), (user.id, Some(s0.session_id)));

        let s1 = acc.refresh(&s0.refresh).await.expect("rotate");
        assert_ne!(s1.refresh, s0.refresh);
        clock.advance(10_000);
        let s1b = acc.refresh(&s0.refresh).await.expect("grace");
        assert_eq!(s1b.refresh, s1.refresh, "{}: same successor within 30 s", t.label);
        let s2 = acc.refresh(&s1.refresh).await.expect("rotate again");

        clock.advance(31_000);
        assert!(matches!(acc.refresh(&s0.refresh).await, Err(AuthError::Unauthenticated)));
        // The family is revoked: even the newest token is dead.
        assert!(
            matches!(acc.refresh(&s2.refresh).await, Err(AuthError::Unauthenticated)),
            "{}",
            t.label
        );

        // Access tokens die within 5 minutes.
        let (_, s) = acc.login("c@example.com", PW, &cl()).await.expect("login");
        clock.advance(300_000);
        assert!(acc.authenticate_access(&s.access).await.is_none());
        assert!(acc.authenticate_access("not.a.jwt").await.is_none());

        acc.logout(s.session_id).await.expect("logout");
        assert!(matches!(acc.refresh(&s.refresh).await, Err(AuthError::Unauthenticated)));
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_succeed_with_one_successor() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        acc.signup("d@example.com", PW, &cl()).await.expect("signup");
        let (_, s0) = acc.login("d@example.com", PW, &cl()).await.expect("login");
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (acc, r) = (acc.clone(), s0.refresh.clone());
            tasks.push(tokio::spawn(async move { acc.refresh(&r).await }));
        }
        let mut successors = Vec::new();
        for task in tasks {
            successors.push(task.await.expect("join").expect("refresh").refresh);
        }
        successors.dedup();
        assert_eq!(successors.len(), 1, "{}: {successors:?}", t.label);
    }
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let a = acc.signup("e@example.com", PW, &cl()).await.expect("a").user;
        let b = acc.signup("f@example.com", PW, &cl()).await.expect("b").user;
        let tok = acc.create_api_token(a.id, "ci").await.expect("create");
        assert!(matches!(acc.create_api_token(a.id, "  ").await, Err(AuthError::Invalid(_))));
        let id = acc.authenticate_api_token(&tok.token).await.expect("auth");
        assert_eq!((id.user_id, id.api_token_id), (a.id, Some(tok.id)));
        assert!(acc.authenticate_api_token("kiln_forged").await.is_err());
        assert!(
            matches!(acc.revoke_api_token(b.id, tok.id).await, Err(AuthError::NotFound)),
            "not yours"
        );
        acc.revoke_api_token(a.id, tok.id).await.expect("revoke");
        assert!(acc.authenticate_api_token(&tok.token).await.is_err(), "{}", t.label);
        assert!(acc.list_api_tokens(a.id).await.expect("list").is_empty());
    }
}

#[tokio::test]
async fn closed_signup_still_lets_operators_create_verified_users() {
    for t in databases().await {
        let mut cfg = AuthConfig::new("http://kiln.test");
        cfg.signup_open = false;
        let acc = Accounts::new(
            t.db.clone(),
            cfg,
            &MasterKey::generate(),
            PasswordHasher::owasp(),
            Arc::new(Mailer::new()),
            Clock::default(),
        );
        assert!(matches!(
            acc.signup("g@example.com", PW, &cl()).await,
            Err(AuthError::SignupClosed)
        ));
        let u = acc.create_user("g@example.com", PW, true).await.expect("operator");
        assert!(u.verified);
        assert_eq!(
            outbox::pending_count(&t.db).await.expect("count"),
            0,
            "no mail for a verified user"
        );
        acc.login("g@example.com", PW, &cl()).await.expect("login");
    }
}

/// The token of the newest mail of `template` to `to`, from the line holding `path`.
async fn link_token(db: &Db, to: &str, template: &str, path: &str) -> String {
    let rows = outbox::recent(db, 100).await.expect("outbox");
    let row = rows.iter().find(|r| r.to_addr == to && r.template == template).expect("a mail");
    let line = row.text_body.lines().find(|l| l.contains(path)).expect("link line");
    line.rsplit('=').next().expect("token").to_owned()
}

#[tokio::test]
async fn password_reset_is_single_use_ends_every_session_and_looks_the_same_for_unknown_emails() {
    for t in databases().await {
        let clock = Clock::default();
        let acc = accounts(&t.db, &clock);
        acc.signup("r@example.com", PW, &cl()).await.expect("signup");
        let (_, s1) = acc.login("r@example.com", PW, &cl()).await.expect("login");

        acc.forgot_password("r@example.com", &cl()).await.expect("known");
        acc.forgot_password("nobody@example.com", &cl()).await.expect("unknown: same answer");
        acc.forgot_password("not an email", &cl()).await.expect("malformed: same answer");
        let rows = outbox::recent(&t.db, 10).await.expect("outbox");
        assert!(
            rows.iter().any(|r| r.to_addr == "nobody@example.com" && r.template == "reset_unknown")
        );

        let token =
            link_token(&t.db, "r@example.com", "reset_password", "/reset-password?token=").await;
        assert!(matches!(
            acc.reset_password(&token, "short", &cl()).await,
            Err(AuthError::Invalid(_))
        ));
        let new_pw = "a brand new password";
        acc.reset_password(&token, new_pw, &cl()).await.expect("reset");
        let again = acc.reset_password(&token, "another new password", &cl()).await;
        assert!(matches!(again, Err(AuthError::Link(LinkProblem::Used))), "{}: {again:?}", t.label);

        // Every session ended, at once (not only when the access token expires).
        assert!(acc.authenticate_access(&s1.access).await.is_none(), "{}", t.label);
        assert!(acc.refresh(&s1.refresh).await.is_err());
        assert!(matches!(
            acc.login("r@example.com", PW, &cl()).await,
            Err(AuthError::BadCredentials)
        ));
        acc.login("r@example.com", new_pw, &cl()).await.expect("new password");

        // An expired link.
        acc.forgot_password("r@example.com", &cl()).await.expect("again");
        let late =
            link_token(&t.db, "r@example.com", "reset_password", "/reset-password?token=").await;
        clock.advance(3_600_001);
        let r = acc.reset_password(&late, "yet another password", &cl()).await;
        assert!(matches!(r, Err(AuthError::Link(LinkProblem::Expired))), "{}: {r:?}", t.label);
    }
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let user = acc.signup("p@example.com", PW, &cl()).await.expect("signup").user;
        let (_, here) = acc.login("p@example.com", PW, &cl()).await.expect("here");
        let (_, there) = acc.login("p@example.com", PW, &cl()).await.expect("there");
        let wrong =
            acc.change_password(user.id, Some(here.session_id), "nope", "a new password!").await;
        assert!(matches!(wrong, Err(AuthError::WrongPassword { field: "current_password" })));
        acc.change_password(user.id, Some(here.session_id), PW, "a new password!")
            .await
            .expect("change");
        assert!(
            acc.authenticate_access(&here.access).await.is_some(),
            "{}: this one stays",
            t.label
        );
        assert!(acc.authenticate_access(&there.access).await.is_none(), "{}: others end", t.label);
        acc.login("p@example.com", "a new password!", &cl()).await.expect("login");
    }
}

#[tokio::test]
async fn email_change_waits_for_the_new_address_and_can_be_undone_from_the_old_one() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let user = acc.signup("old@example.com", PW, &cl()).await.expect("signup").user;
        acc.signup("taken@example.com", PW, &cl()).await.expect("other");
        let taken = acc.request_email_change(&browser(user.id), "taken@example.com", &cl()).await;
        assert!(matches!(taken, Err(AuthError::EmailTaken)));
        let same = acc.request_email_change(&browser(user.id), "old@example.com", &cl()).await;
        assert!(matches!(same, Err(AuthError::Invalid(_))));

        acc.request_email_change(&browser(user.id), "new@example.com", &cl())
            .await
            .expect("request");
        assert_eq!(acc.user(user.id).await.expect("user").email, "old@example.com", "not yet");
        let confirm =
            link_token(&t.db, "new@example.com", "email_change_verify", "/email/confirm?token=")
                .await;
        let undo =
            link_token(&t.db, "old@example.com", "email_change_notice", "/email/undo?token=").await;

        let changed = acc.confirm_email_change(&confirm).await.expect("confirm");
        assert_eq!((changed.email.as_str(), changed.verified), ("new@example.com", true));
        acc.login("new@example.com", PW, &cl()).await.expect("new address logs in");
        assert!(matches!(
            acc.confirm_email_change(&confirm).await,
            Err(AuthError::Link(LinkProblem::Used))
        ));

        // The old owner undoes it: the address returns and every session ends.
        let (_, s) = acc.login("new@example.com", PW, &cl()).await.expect("login");
        let back = acc.undo_email_change(&undo).await.expect("undo");
        assert_eq!(back.email, "old@example.com", "{}", t.label);
        assert!(acc.authenticate_access(&s.access).await.is_none());
        acc.login("old@example.com", PW, &cl()).await.expect("old address again");
    }
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_by_one_or_all() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let a = acc.signup("s@example.com", PW, &cl()).await.expect("signup");
        let other = acc.signup("s2@example.com", PW, &cl()).await.expect("other");
        let (_, s2) = acc.login("s@example.com", PW, &cl()).await.expect("login");
        let list = acc.list_sessions(a.user.id, Some(s2.session_id)).await.expect("list");
        assert_eq!(list.len(), 2, "{}", t.label);
        assert_eq!(list.iter().filter(|s| s.current).count(), 1);
        assert!(list.iter().all(|s| s.device == "Firefox on Linux"), "{list:?}");
        let not_mine = acc.revoke_session(other.user.id, a.session.session_id).await;
        assert!(matches!(not_mine, Err(AuthError::NotFound)));
        acc.revoke_session(a.user.id, a.session.session_id).await.expect("revoke");
        assert_eq!(acc.list_sessions(a.user.id, None).await.expect("list").len(), 1);
        assert_eq!(acc.revoke_all_sessions(a.user.id).await.expect("all"), 1);
        assert!(acc.authenticate_access(&s2.access).await.is_none(), "{}", t.label);
    }
}

#[tokio::test]
async fn deleting_an_account_needs_its_password_and_removes_everything() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let a = acc.signup("del@example.com", PW, &cl()).await.expect("signup");
        let tok = acc.create_api_token(a.user.id, "t").await.expect("token");
        let wrong = acc.delete_account(a.user.id, "wrong password").await;
        assert!(matches!(wrong, Err(AuthError::WrongPassword { field: "password" })));
        acc.delete_account(a.user.id, PW).await.expect("delete");
        assert!(acc.authenticate_api_token(&tok.token).await.is_err());
        assert!(acc.authenticate_access(&a.session.access).await.is_none());
        assert!(acc.refresh(&a.session.refresh).await.is_err());
        assert!(matches!(
            acc.login("del@example.com", PW, &cl()).await,
            Err(AuthError::BadCredentials)
        ));
        // The address is free again.
        acc.signup("del@example.com", PW, &cl()).await.expect("sign up again");
    }
}

#[tokio::test]
async fn only_operators_see_the_outbox() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        let first = acc.signup("op@example.com", PW, &cl()).await.expect("first").user;
        let second = acc.signup("member@example.com", PW, &cl()).await.expect("second").user;
        assert!(
            !first.operator && !second.operator,
            "{}: nobody is an operator by signing up",
            t.label
        );
        assert!(matches!(acc.outbox(first.id, 10).await, Err(AuthError::Forbidden(_))));
        acc.make_operator(first.id).await.expect("promote");
        let mail = acc.outbox(first.id, 10).await.expect("operator");
        assert_eq!(mail.len(), 2);
        assert!(mail.iter().all(|m| m.state == "queued" && m.template == "verify_email"));
        assert!(acc.user(first.id).await.expect("user").operator);
    }
}

#[tokio::test]
async fn an_api_token_cannot_move_the_account_to_another_inbox() {
    let t = kiln_store::testing::sqlite().await.expect("db");
    let acc = accounts(&t.db, &Clock::default());
    let user = acc.signup("tok@example.com", PW, &cl()).await.expect("signup").user;
    let via_token = Identity { user_id: user.id, session_id: None, api_token_id: Some(1) };
    let r = acc.request_email_change(&via_token, "thief@example.com", &cl()).await;
    assert!(matches!(r, Err(AuthError::Forbidden(_))), "{r:?}");
}

#[tokio::test]
async fn undoing_an_email_change_also_revokes_api_tokens_and_a_reset_voids_pending_changes() {
    let t = kiln_store::testing::sqlite().await.expect("db");
    let acc = accounts(&t.db, &Clock::default());
    let user = acc.signup("u@example.com", PW, &cl()).await.expect("signup").user;
    let tok = acc.create_api_token(user.id, "maybe stolen").await.expect("token");
    acc.request_email_change(&browser(user.id), "x@example.com", &cl()).await.expect("change");
    let undo =
        link_token(&t.db, "u@example.com", "email_change_notice", "/email/undo?token=").await;
    acc.undo_email_change(&undo).await.expect("undo");
    assert!(acc.authenticate_api_token(&tok.token).await.is_err());

    acc.request_email_change(&browser(user.id), "y@example.com", &cl()).await.expect("change");
    let confirm =
        link_token(&t.db, "y@example.com", "email_change_verify", "/email/confirm?token=").await;
    acc.forgot_password("u@example.com", &cl()).await.expect("forgot");
    let reset =
        link_token(&t.db, "u@example.com", "reset_password", "/reset-password?token=").await;
    acc.reset_password(&reset, "a brand new password", &cl()).await.expect("reset");
    let r = acc.confirm_email_change(&confirm).await;
    assert!(matches!(r, Err(AuthError::Link(LinkProblem::Used))), "{r:?}");
}

#[tokio::test]
async fn a_reset_with_a_bad_link_is_refused_before_hashing() {
    let t = kiln_store::testing::sqlite().await.expect("db");
    let acc = accounts(&t.db, &Clock::default());
    let r = acc.reset_password("no-such-token", "a good long password", &cl()).await;
    assert!(matches!(r, Err(AuthError::Link(LinkProblem::Unknown))), "{r:?}");
}

#[tokio::test]
async fn rate_limits_answer_with_a_wait_and_recover() {
    let t = kiln_store::testing::sqlite().await.expect("db");
    let acc = Accounts::new(
        t.db.clone(),
        AuthConfig::new("http://kiln.test"),
        &MasterKey::generate(),
        PasswordHasher::owasp(),
        Arc::new(Mailer::new()),
        Clock::default(),
    )
    .with_limits(LimitConfig { per_ip_per_minute: 20, per_account_per_hour: 100 });
    acc.signup("rl@example.com", PW, &cl()).await.expect("signup");
    for _ in 0..20 {
        let _ = acc.login("rl@example.com", "wrong password!", &cl()).await;
    }
    let limited = acc.login("rl@example.com", PW, &cl()).await;
    let Err(AuthError::RateLimited(secs)) = limited else { panic!("expected 429: {limited:?}") };
    assert!((1..=3).contains(&secs), "{secs}");
    // Another address is not limited by this one's requests.
    let elsewhere = ClientInfo { ip: Some([10, 1, 2, 3].into()), ..cl() };
    acc.login("rl@example.com", PW, &elsewhere).await.expect("another IP");
    // The limit recovers as time passes (GCRA: one request every 3 s at 20 per minute).
    tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    acc.login("rl@example.com", PW, &cl()).await.expect("recovered");
}

#[tokio::test]
async fn model_plans_are_limited_per_account() {
    let t = kiln_store::testing::sqlite().await.expect("db");
    let acc = Accounts::new(
        t.db.clone(),
        AuthConfig::new("http://kiln.test"),
        &MasterKey::generate(),
        PasswordHasher::owasp(),
        Arc::new(Mailer::new()),
        Clock::default(),
    )
    .with_limits(LimitConfig { per_ip_per_minute: 1_000, per_account_per_hour: 3 });
    for _ in 0..3 {
        acc.limit_model_plan(7, &cl()).expect("within the limit");
    }
    let limited = acc.limit_model_plan(7, &cl());
    assert!(matches!(limited, Err(AuthError::RateLimited(_))), "{limited:?}");
    // Another person has their own budget.
    acc.limit_model_plan(8, &cl()).expect("another account");
}

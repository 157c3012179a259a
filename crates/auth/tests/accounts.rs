//! Account stories on every configured backend (SQLite always, Postgres with
//! `KILN_TEST_DATABASE_URL`), with a clock the tests move forward.

use kiln_auth::{Accounts, AuthConfig, AuthError, Clock, LinkProblem, MasterKey, PasswordHasher};
use kiln_mail::Mailer;
use kiln_store::testing::databases;
use kiln_store::{Db, outbox};
use std::sync::Arc;

const PW: &str = "correct horse battery staple";

fn accounts(db: &Db, clock: &Clock) -> Accounts {
    Accounts::new(
        db.clone(),
        AuthConfig::new("http://kiln.test"),
        &MasterKey::generate(),
        PasswordHasher::owasp(),
        Arc::new(Mailer::new()),
        clock.clone(),
    )
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
        let done = acc
            .signup("Ada@Example.com", PW, "test")
            .await
            .expect("signup");
        assert_eq!(done.user.email, "ada@example.com");
        assert!(!done.user.verified);
        assert_eq!(
            outbox::pending_count(&t.db).await.expect("count"),
            1,
            "{}",
            t.label
        );
        assert!(matches!(
            acc.require_verified(done.user.id).await,
            Err(AuthError::NotVerified)
        ));

        let token = mailed_token(&t.db, "ada@example.com").await;
        let user = acc.verify_email(&token).await.expect("verify");
        assert!(user.verified);
        assert!(acc.require_verified(user.id).await.is_ok());
        let again = acc.verify_email(&token).await;
        assert!(
            matches!(again, Err(AuthError::Link(LinkProblem::Used))),
            "{}: {again:?}",
            t.label
        );
        assert!(matches!(
            acc.verify_email("nope").await,
            Err(AuthError::Link(LinkProblem::Unknown))
        ));
        assert!(matches!(
            acc.resend_verification(user.id).await,
            Err(AuthError::AlreadyVerified)
        ));
    }
}

#[tokio::test]
async fn a_refused_signup_leaves_nothing_behind() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        assert!(matches!(
            acc.signup("bad", PW, "").await,
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            acc.signup("a@example.com", "short", "").await,
            Err(AuthError::Invalid(_))
        ));
        acc.signup("a@example.com", PW, "").await.expect("first");
        assert!(matches!(
            acc.signup("A@example.com", PW, "").await,
            Err(AuthError::EmailTaken)
        ));
        assert_eq!(
            outbox::pending_count(&t.db).await.expect("count"),
            1,
            "{}",
            t.label
        );
    }
}

#[tokio::test]
async fn verification_links_expire_and_a_new_one_voids_the_old() {
    for t in databases().await {
        let clock = Clock::default();
        let acc = accounts(&t.db, &clock);
        let done = acc.signup("b@example.com", PW, "").await.expect("signup");
        let first = mailed_token(&t.db, "b@example.com").await;
        acc.resend_verification(done.user.id).await.expect("resend");
        let second = mailed_token(&t.db, "b@example.com").await;
        assert_ne!(first, second);
        assert!(matches!(
            acc.verify_email(&first).await,
            Err(AuthError::Link(LinkProblem::Used))
        ));
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
        acc.signup("c@example.com", PW, "").await.expect("signup");
        assert!(matches!(
            acc.login("c@example.com", "wrong password!", "").await,
            Err(AuthError::BadCredentials)
        ));
        assert!(matches!(
            acc.login("x@example.com", PW, "").await,
            Err(AuthError::BadCredentials)
        ));
        let (user, s0) = acc
            .login("c@example.com", PW, "Firefox")
            .await
            .expect("login");
        let id = acc.authenticate_access(&s0.access).expect("valid access");
        assert_eq!((id.user_id, id.session_id), (user.id, Some(s0.session_id)));

        let s1 = acc.refresh(&s0.refresh).await.expect("rotate");
        assert_ne!(s1.refresh, s0.refresh);
        clock.advance(10_000);
        let s1b = acc.refresh(&s0.refresh).await.expect("grace");
        assert_eq!(
            s1b.refresh, s1.refresh,
            "{}: same successor within 30 s",
            t.label
        );
        let s2 = acc.refresh(&s1.refresh).await.expect("rotate again");

        clock.advance(31_000);
        assert!(matches!(
            acc.refresh(&s0.refresh).await,
            Err(AuthError::Unauthenticated)
        ));
        // The family is revoked: even the newest token is dead.
        assert!(
            matches!(
                acc.refresh(&s2.refresh).await,
                Err(AuthError::Unauthenticated)
            ),
            "{}",
            t.label
        );

        // Access tokens die within 5 minutes.
        let (_, s) = acc.login("c@example.com", PW, "").await.expect("login");
        clock.advance(300_000);
        assert!(acc.authenticate_access(&s.access).is_none());
        assert!(acc.authenticate_access("not.a.jwt").is_none());

        acc.logout(s.session_id).await.expect("logout");
        assert!(matches!(
            acc.refresh(&s.refresh).await,
            Err(AuthError::Unauthenticated)
        ));
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_succeed_with_one_successor() {
    for t in databases().await {
        let acc = accounts(&t.db, &Clock::default());
        acc.signup("d@example.com", PW, "").await.expect("signup");
        let (_, s0) = acc.login("d@example.com", PW, "").await.expect("login");
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
        let a = acc.signup("e@example.com", PW, "").await.expect("a").user;
        let b = acc.signup("f@example.com", PW, "").await.expect("b").user;
        let tok = acc.create_api_token(a.id, "ci").await.expect("create");
        assert!(matches!(
            acc.create_api_token(a.id, "  ").await,
            Err(AuthError::Invalid(_))
        ));
        let id = acc.authenticate_api_token(&tok.token).await.expect("auth");
        assert_eq!((id.user_id, id.api_token_id), (a.id, Some(tok.id)));
        assert!(acc.authenticate_api_token("kiln_forged").await.is_err());
        assert!(
            matches!(
                acc.revoke_api_token(b.id, tok.id).await,
                Err(AuthError::NotFound)
            ),
            "not yours"
        );
        acc.revoke_api_token(a.id, tok.id).await.expect("revoke");
        assert!(
            acc.authenticate_api_token(&tok.token).await.is_err(),
            "{}",
            t.label
        );
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
            acc.signup("g@example.com", PW, "").await,
            Err(AuthError::SignupClosed)
        ));
        let u = acc
            .create_user("g@example.com", PW, true)
            .await
            .expect("operator");
        assert!(u.verified);
        assert_eq!(
            outbox::pending_count(&t.db).await.expect("count"),
            0,
            "no mail for a verified user"
        );
        acc.login("g@example.com", PW, "").await.expect("login");
    }
}

//! The storage suite: every story runs on SQLite, and on Postgres when
//! `KILN_TEST_DATABASE_URL` is set.

use kiln_store::outbox::{self, NewMail};
use kiln_store::testing::databases;
use kiln_store::{StoreError, tokens, users};

#[tokio::test]
async fn users_are_unique_by_email_and_verifiable() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        let id = users::insert(&mut tx, "ada@example.com", "hash", 1).await?;
        tx.commit().await?;

        let mut tx = db.begin_write().await?;
        let dup = users::insert(&mut tx, "ada@example.com", "other", 2).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{}: {dup:?}", t.label);
        drop(tx);

        let u = users::by_email(db, "ada@example.com").await?.expect("found");
        assert_eq!((u.id, u.verified_at), (id, None), "{}", t.label);

        let mut tx = db.begin_write().await?;
        users::set_verified(&mut tx, id, 10).await?;
        users::set_verified(&mut tx, id, 20).await?;
        tx.commit().await?;
        let u = users::by_id(db, id).await?.expect("found");
        assert_eq!(u.verified_at, Some(10), "{}: first verification time kept", t.label);
        assert_eq!(users::count(db).await?, 1);
    }
    Ok(())
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_nothing() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        let id = users::insert(&mut tx, "gone@example.com", "h", 1).await?;
        let mail =
            NewMail { template: "t", to: "gone@example.com", subject: "s", text: "x", html: "y" };
        outbox::enqueue(&mut tx, &mail, 1).await?;
        drop(tx); // no commit
        assert!(users::by_id(db, id).await?.is_none(), "{}", t.label);
        assert_eq!(outbox::pending_count(db).await?, 0, "{}", t.label);
    }
    Ok(())
}

#[tokio::test]
async fn email_tokens_are_single_use() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        let uid = users::insert(&mut tx, "b@example.com", "h", 1).await?;
        let tid = tokens::insert_email_token(&mut tx, uid, "verify", "hash1", None, 100, 1).await?;
        tx.commit().await?;

        let mut tx = db.begin_write().await?;
        let row = tokens::email_token_by_hash(&mut tx, "hash1").await?.expect("found");
        assert_eq!((row.id, row.user_id, row.used_at), (tid, uid, None));
        assert!(tokens::use_email_token(&mut tx, tid, 5).await?);
        assert!(!tokens::use_email_token(&mut tx, tid, 6).await?, "{}: second use", t.label);
        tx.commit().await?;

        let mut tx = db.begin_write().await?;
        tokens::insert_email_token(&mut tx, uid, "verify", "hash2", None, 100, 7).await?;
        tokens::void_email_tokens(&mut tx, uid, "verify", 8).await?;
        let row = tokens::email_token_by_hash(&mut tx, "hash2").await?.expect("found");
        assert_eq!(row.used_at, Some(8), "{}: voided", t.label);
        assert!(tokens::email_token_by_hash(&mut tx, "nope").await?.is_none());
    }
    Ok(())
}

#[tokio::test]
async fn sessions_and_refresh_tokens() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        let uid = users::insert(&mut tx, "c@example.com", "h", 1).await?;
        let sid = tokens::insert_session(&mut tx, uid, "Firefox", 1_000, 1).await?;
        let rid = tokens::insert_refresh(&mut tx, sid, "r-hash", 1).await?;
        tx.commit().await?;

        let mut tx = db.begin_write().await?;
        let r = tokens::refresh_by_hash(&mut tx, "r-hash").await?.expect("found");
        assert_eq!((r.id, r.session_id, r.used_at), (rid, sid, None));
        assert!(tokens::use_refresh(&mut tx, rid, 2).await?);
        assert!(!tokens::use_refresh(&mut tx, rid, 3).await?);
        tokens::touch_session(&mut tx, sid, 4).await?;
        tx.commit().await?;

        let live = tokens::live_sessions(db, uid, 5).await?;
        assert_eq!(live.len(), 1, "{}", t.label);
        assert_eq!((live[0].last_seen_at, live[0].user_agent.as_str()), (4, "Firefox"));
        assert!(tokens::live_sessions(db, uid, 1_000).await?.is_empty(), "expired");

        let mut tx = db.begin_write().await?;
        tokens::revoke_session(&mut tx, sid, "logout", 6).await?;
        tx.commit().await?;
        assert!(tokens::live_sessions(db, uid, 5).await?.is_empty(), "{}", t.label);
        assert_eq!(tokens::session(db, sid).await?.expect("row").revoked_at, Some(6));
    }
    Ok(())
}

#[tokio::test]
async fn api_tokens_list_revoke_and_scope_by_user() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        let a = users::insert(&mut tx, "a@example.com", "h", 1).await?;
        let b = users::insert(&mut tx, "b2@example.com", "h", 1).await?;
        tx.commit().await?;
        let name = "<script>alert(1)</script>'; DROP TABLE api_tokens;--";
        let id = tokens::insert_api_token(db, a, name, "kiln_abc", "th", 10).await?;
        let list = tokens::list_api_tokens(db, a).await?;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, name, "{}: stored verbatim", t.label);
        assert!(tokens::list_api_tokens(db, b).await?.is_empty());

        // Another user cannot revoke it.
        let other = tokens::revoke_api_token(db, b, id, 11).await;
        assert!(matches!(other, Err(StoreError::NotFound)), "{}", t.label);

        tokens::touch_api_token(db, id, 100_000).await?;
        tokens::touch_api_token(db, id, 100_500).await?; // within a minute: not written
        let row = tokens::api_token_by_hash(db, "th").await?.expect("found");
        assert_eq!(row.last_used_at, Some(100_000), "{}", t.label);

        tokens::revoke_api_token(db, a, id, 12).await?;
        assert!(tokens::list_api_tokens(db, a).await?.is_empty());
        assert!(matches!(tokens::revoke_api_token(db, a, id, 13).await, Err(StoreError::NotFound)));
        assert_eq!(tokens::api_token_by_hash(db, "th").await?.expect("row").revoked_at, Some(12));
    }
    Ok(())
}

#[tokio::test]
async fn outbox_leases_retries_and_marks_sent() -> anyhow::Result<()> {
    for t in databases().await {
        let db = &t.db;
        let mut tx = db.begin_write().await?;
        for i in 0..3 {
            let to = format!("u{i}@example.com");
            let mail = NewMail { template: "t", to: &to, subject: "s", text: "x", html: "y" };
            outbox::enqueue(&mut tx, &mail, 100).await?;
        }
        tx.commit().await?;

        let claimed = outbox::claim_due(db, 100, 1_000, 2).await?;
        assert_eq!(claimed.len(), 2, "{}", t.label);
        assert!(claimed.iter().all(|r| r.attempts == 1));
        // Leased rows are not handed out twice; the third still is.
        let rest = outbox::claim_due(db, 101, 1_000, 10).await?;
        assert_eq!(rest.len(), 1, "{}", t.label);

        outbox::mark_sent(db, claimed[0].id, 102).await?;
        outbox::mark_failed(db, claimed[1].id, "disk full", 5_000).await?;
        // The failed one waits for its retry time; the lease of the third has not run out.
        assert!(outbox::claim_due(db, 1_000, 1_000, 10).await?.is_empty(), "{}", t.label);
        // After the lease runs out the third is claimable again (a crashed worker loses nothing).
        let again = outbox::claim_due(db, 1_200, 1_000, 10).await?;
        assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), vec![rest[0].id]);
        outbox::mark_sent(db, rest[0].id, 1_300).await?;
        let retried = outbox::claim_due(db, 5_000, 1_000, 10).await?;
        assert_eq!(retried.len(), 1);
        assert_eq!((retried[0].id, retried[0].attempts), (claimed[1].id, 2));
        assert_eq!(retried[0].last_error.as_deref(), Some("disk full"));

        assert_eq!(outbox::pending_count(db).await?, 1, "{}", t.label);
        let recent = outbox::recent(db, 10).await?;
        assert_eq!(recent.len(), 3);
        assert_eq!(recent.iter().filter(|r| r.sent_at.is_some()).count(), 2);
    }
    Ok(())
}

#[tokio::test]
async fn concurrent_writers_wait_instead_of_failing() -> anyhow::Result<()> {
    // SQLite in WAL mode with a busy timeout: many tasks writing at once all succeed.
    for t in databases().await {
        let mut handles = Vec::new();
        for i in 0..16 {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                users::insert(&mut tx, &format!("w{i}@example.com"), "h", i).await?;
                let mail = NewMail {
                    template: "t",
                    to: "x@example.com",
                    subject: "s",
                    text: "x",
                    html: "y",
                };
                outbox::enqueue(&mut tx, &mail, i).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }));
        }
        for h in handles {
            h.await??;
        }
        assert_eq!(users::count(&t.db).await?, 16, "{}", t.label);
        assert_eq!(outbox::pending_count(&t.db).await?, 16, "{}", t.label);
    }
    Ok(())
}

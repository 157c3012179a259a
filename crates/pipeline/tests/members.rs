//! Invitations to co-edit an app: a link that works once, only for the address it was sent
//! to, only until it expires, and not after the owner withdraws it.

use kiln_core::ErrorCode;
use kiln_pipeline::{INVITE_TTL_MS, Mail, Pipeline, PipelineError};
use kiln_sandbox::Sandbox;
use kiln_store::collab::Role;
use kiln_store::{Clock, Db, users};
use std::sync::Arc;

/// The token in the newest invitation email to `to` (from the outbox).
async fn emailed_token(db: &Db, to: &str) -> String {
    let body: String = sqlx::query_scalar(
        "SELECT text_body FROM outbox WHERE to_addr = ? AND template = 'app_invite' \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(match db {
        Db::Sqlite(pool) => pool,
        Db::Postgres(_) => unreachable!("this test runs on SQLite"),
    })
    .await
    .expect("an invitation email");
    let at = body.find("/invites/").expect("a link") + "/invites/".len();
    body[at..].split_whitespace().next().expect("token").to_owned()
}

fn code(e: PipelineError) -> (ErrorCode, String) {
    match e {
        PipelineError::Refused(a) => (a.error, a.message),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn invitations_expire_are_single_use_personal_and_can_be_withdrawn() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(None, &dir.path().join("kiln.db")).await.expect("db");
    db.migrate().await.expect("migrate");
    let mut tx = db.begin_write().await.expect("tx");
    let owner = users::insert(&mut tx, "owner@example.com", "x", 0).await.expect("owner");
    let ed = users::insert(&mut tx, "ed@example.com", "x", 0).await.expect("ed");
    let other = users::insert(&mut tx, "other@example.com", "x", 0).await.expect("other");
    tx.commit().await.expect("commit");
    let clock = Clock::default();
    let pipeline =
        Pipeline::new(db.clone(), clock.clone(), Sandbox::default(), dir.path().to_owned())
            .with_mail(Mail {
                mailer: Arc::new(kiln_mail::Mailer::new()),
                portal_url: "http://portal.test".into(),
            });
    let app = pipeline.create_draft(owner, "A notes app.", None).await.expect("app").app_id;

    // An invitation not used in time expires: refused, no role, no longer listed.
    pipeline.invite(owner, app, "ed@example.com", "editor").await.expect("invite");
    let stale = emailed_token(&db, "ed@example.com").await;
    assert_eq!(pipeline.members(owner, app).await.expect("members").invites.len(), 1);
    clock.advance(INVITE_TTL_MS + 1);
    let (c, m) = code(pipeline.accept_invite(ed, &stale).await.expect_err("expired"));
    assert_eq!(c, ErrorCode::Conflict);
    assert!(m.contains("expired"), "{m}");
    assert_eq!(pipeline.role_of(ed, app).await.expect("role"), None);
    assert!(pipeline.members(owner, app).await.expect("members").invites.is_empty());

    // A new one works, for the address it went to only, and once.
    pipeline.invite(owner, app, "ed@example.com", "viewer").await.expect("invite");
    let fresh = emailed_token(&db, "ed@example.com").await;
    assert_ne!(fresh, stale);
    let (c, m) = code(pipeline.accept_invite(other, &fresh).await.expect_err("not theirs"));
    assert_eq!(c, ErrorCode::Forbidden);
    assert!(m.contains("ed@example.com"), "{m}");
    assert_eq!(pipeline.role_of(other, app).await.expect("role"), None);
    clock.advance(INVITE_TTL_MS - 60_000);
    assert_eq!(pipeline.accept_invite(ed, &fresh).await.expect("accept"), (app, Role::Viewer));
    assert_eq!(pipeline.role_of(ed, app).await.expect("role"), Some(Role::Viewer));
    let (c, _) = code(pipeline.accept_invite(ed, &fresh).await.expect_err("used"));
    assert_eq!(c, ErrorCode::Conflict);
    // The stale token still does not work.
    let (c, _) = code(pipeline.accept_invite(ed, &stale).await.expect_err("expired"));
    assert_eq!(c, ErrorCode::Conflict);

    // A withdrawn invitation is gone; only the owner may invite.
    let inv = pipeline.invite(owner, app, "other@example.com", "editor").await.expect("invite");
    let withdrawn = emailed_token(&db, "other@example.com").await;
    pipeline.revoke_invite(owner, app, inv.id).await.expect("revoke");
    let (c, _) = code(pipeline.accept_invite(other, &withdrawn).await.expect_err("withdrawn"));
    assert_eq!(c, ErrorCode::NotFound);
    assert_eq!(pipeline.role_of(other, app).await.expect("role"), None);
    assert!(pipeline.invite(ed, app, "x@example.com", "editor").await.is_err());
    let (c, _) = code(pipeline.accept_invite(ed, "inv_not-a-token").await.expect_err("unknown"));
    assert_eq!(c, ErrorCode::NotFound);
}

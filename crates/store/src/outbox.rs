//! The mail outbox: rows written in the same transaction as the change that sends the mail, then
//! leased by a delivery worker. A lease (`locked_until`) that runs out makes the row claimable
//! again, so a worker that died mid-delivery loses nothing.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

/// A message ready to queue (already rendered).
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub template: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRow {
    pub id: i64,
    pub template: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: Millis,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub sent_at: Option<Millis>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "id, template, to_addr, subject, text_body, html_body, created_at, attempts, \
                       next_attempt_at, sent_at, last_error";

pub async fn enqueue(tx: &mut Tx, mail: &NewMail<'_>, now: Millis) -> Result<i64, StoreError> {
    let q = "INSERT INTO outbox (template, to_addr, subject, text_body, html_body, created_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(mail.template).bind(mail.to)
        .bind(mail.subject).bind(mail.text).bind(mail.html).bind(now).fetch_one(c).await)?)
}

/// Leases up to `limit` due messages until `now + lease_ms` and counts the attempt.
pub async fn claim_due(
    db: &Db,
    now: Millis,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<MailRow>, StoreError> {
    // Postgres skips rows another worker is claiming; SQLite serialises writers anyway.
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let q = format!(
        "UPDATE outbox SET locked_until = $1, attempts = attempts + 1 WHERE id IN (\
           SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
           AND (locked_until IS NULL OR locked_until <= $2) ORDER BY id LIMIT $3 {lock}) \
         RETURNING {COLUMNS}"
    );
    let mut rows: Vec<MailRow> = on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q))
        .bind(now + lease_ms).bind(now).bind(limit).fetch_all(c).await)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

pub async fn mark_sent(db: &Db, id: i64, now: Millis) -> Result<(), StoreError> {
    // The bodies go once delivered: they hold single-use links, which the database otherwise
    // keeps only as hashes.
    let q = "UPDATE outbox SET sent_at = $1, locked_until = NULL, last_error = NULL, \
             text_body = '', html_body = '' WHERE id = $2";
    on_db!(db, c => sqlx::query(q).bind(now).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failed attempt; the message is tried again at `retry_at`.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    error: &str,
    retry_at: Millis,
) -> Result<(), StoreError> {
    let q = "UPDATE outbox SET last_error = $1, next_attempt_at = $2, locked_until = NULL \
             WHERE id = $3";
    on_db!(db, c => sqlx::query(q).bind(error).bind(retry_at).bind(id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The newest messages, for the operator's view and tests.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<MailRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(limit).fetch_all(c).await)?)
}

/// Messages not delivered yet.
pub async fn pending_count(db: &Db) -> Result<i64, StoreError> {
    let q = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL";
    Ok(on_db!(db, c => sqlx::query_scalar(q).fetch_one(c).await)?)
}

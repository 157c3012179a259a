//! The durable job queue. A job is claimed by one worker at a time through a lease it renews;
//! every write a worker makes is fenced by its lease (`lease_owner`), so a worker that lost the
//! job (its lease ran out and another worker took over) can no longer change it. An expired
//! lease makes the job claimable again: the work of a worker that died resumes elsewhere.
//! Every state change and log line is an event row.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub app_id: i64,
    pub kind: String,
    pub state: String,
    pub progress: i64,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: Millis,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub cancel_requested: i64,
    pub error: Option<String>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

const COLUMNS: &str = "id, app_id, kind, state, progress, payload, attempts, max_attempts, \
                       run_after, lease_owner, lease_until, cancel_requested, error, created_at, \
                       finished_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub job_id: i64,
    pub at: Millis,
    /// `state` or `log`.
    pub kind: String,
    pub state: String,
    pub progress: i64,
    pub message: String,
}

async fn event_tx(
    tx: &mut Tx,
    job_id: i64,
    kind: &str,
    state: &str,
    progress: i64,
    message: &str,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "INSERT INTO job_events (job_id, at, kind, state, progress, message) \
             VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, c => sqlx::query(q).bind(job_id).bind(now).bind(kind).bind(state).bind(progress)
        .bind(message).execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Queues a job in the caller's transaction (with the rows it is about). `Conflict` when the app
/// already has an active job: the message names it.
pub async fn enqueue(
    tx: &mut Tx,
    app_id: i64,
    kind: &str,
    payload: &str,
    max_attempts: i64,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO jobs (app_id, kind, state, payload, max_attempts, run_after, created_at, \
             updated_at) VALUES ($1, $2, 'queued', $3, $4, $5, $5, $5) RETURNING id";
    let id: i64 = match on_tx!(tx, c => sqlx::query_scalar(q).bind(app_id).bind(kind)
        .bind(payload).bind(max_attempts).bind(now).fetch_one(c).await)
    {
        Ok(id) => id,
        Err(e) => {
            return Err(match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("app {app_id} already has an active job"))
                }
                other => other,
            });
        }
    };
    event_tx(tx, id, "state", "queued", 0, "queued", now).await?;
    Ok(id)
}

/// Records work done outside the queue (the runtime healing an app) as a finished job with its
/// log lines, so that it shows in the app's history like any job.
pub async fn record_done(
    tx: &mut Tx,
    app_id: i64,
    kind: &str,
    state: &str,
    lines: &[String],
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO jobs (app_id, kind, state, progress, payload, max_attempts, run_after, \
             created_at, updated_at, finished_at) VALUES ($1, $2, $3, 100, '{}', 0, $4, $4, $4, $4) \
             RETURNING id";
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(q).bind(app_id).bind(kind).bind(state)
        .bind(now).fetch_one(c).await)?;
    for line in lines {
        event_tx(tx, id, "log", state, 100, line, now).await?;
    }
    event_tx(tx, id, "state", state, 100, state, now).await?;
    Ok(id)
}

/// The active (unfinished) job of an app, if any.
pub async fn active_for_app(db: &Db, app_id: i64) -> Result<Option<JobRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM jobs WHERE app_id = $1 AND finished_at IS NULL");
    Ok(
        on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(app_id).fetch_optional(c).await)?,
    )
}

pub async fn get(db: &Db, id: i64) -> Result<Option<JobRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(c).await)?)
}

/// Leases the next due job (queued, retried, or whose lease ran out) to `worker` until
/// `now + lease_ms`, counting the attempt.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: Millis,
    lease_ms: i64,
) -> Result<Option<JobRow>, StoreError> {
    let lock = match db {
        Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let q = format!(
        "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
         updated_at = $3 WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NULL \
         AND run_after <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
         ORDER BY run_after, id LIMIT 1 {lock}) RETURNING {COLUMNS}"
    );
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(worker).bind(now + lease_ms)
        .bind(now).fetch_optional(c).await)?)
}

/// Start-up of a single process (SQLite): every lease still held belongs to a worker of the
/// previous run, which is gone; its jobs become claimable at once. Returns how many.
pub async fn release_all_leases(db: &Db, now: Millis) -> Result<u64, StoreError> {
    let q = "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE finished_at IS NULL AND lease_owner IS NOT NULL";
    Ok(on_db!(db, c => sqlx::query(q).bind(now).execute(c).await.map(|r| r.rows_affected()))?)
}

/// Renews the lease; false when `worker` no longer holds the job.
pub async fn heartbeat(
    db: &Db,
    id: i64,
    worker: &str,
    now: Millis,
    lease_ms: i64,
) -> Result<bool, StoreError> {
    let q = "UPDATE jobs SET lease_until = $1, updated_at = $2 WHERE id = $3 \
             AND lease_owner = $4 AND finished_at IS NULL";
    let n = on_db!(db, c => sqlx::query(q).bind(now + lease_ms).bind(now).bind(id).bind(worker)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Moves the job to `state` with `progress` and records the event; false when `worker` no
/// longer holds the job (nothing is written then).
pub async fn advance(
    db: &Db,
    id: i64,
    worker: &str,
    state: &str,
    progress: i64,
    message: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_write().await?;
    let q = "UPDATE jobs SET state = $1, progress = $2, updated_at = $3 WHERE id = $4 \
             AND lease_owner = $5 AND finished_at IS NULL";
    let n = on_tx!(&mut tx, c => sqlx::query(q).bind(state).bind(progress).bind(now).bind(id)
        .bind(worker).execute(c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    event_tx(&mut tx, id, "state", state, progress, message, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// A log line of the job's current stage.
pub async fn log(db: &Db, id: i64, message: &str, now: Millis) -> Result<(), StoreError> {
    let job = get(db, id).await?.ok_or(StoreError::NotFound)?;
    let mut tx = db.begin_write().await?;
    event_tx(&mut tx, id, "log", &job.state, job.progress, message, now).await?;
    tx.commit().await
}

/// Ends the job in a final `state` (`packaged`, `live`, `failed`, `cancelled`); false when
/// `worker` no longer holds it.
pub async fn finish(
    db: &Db,
    id: i64,
    worker: &str,
    state: &str,
    error: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_write().await?;
    if !finish_tx(&mut tx, id, worker, state, error, now).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// [`finish`] inside the caller's transaction (with what must happen with it: the live switch,
/// the owner's email); false when `worker` no longer holds the job.
pub async fn finish_tx(
    tx: &mut Tx,
    id: i64,
    worker: &str,
    state: &str,
    error: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    let progress = if error.is_none() { 100 } else { 0 };
    let q = "UPDATE jobs SET state = $1, error = $2, finished_at = $3, updated_at = $3, \
             lease_owner = NULL, lease_until = NULL, \
             progress = CASE WHEN $4 = 100 THEN 100 ELSE progress END \
             WHERE id = $5 AND lease_owner = $6 AND finished_at IS NULL";
    let n = on_tx!(tx, c => sqlx::query(q).bind(state).bind(error).bind(now).bind(progress)
        .bind(id).bind(worker).execute(c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    let p: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT progress FROM jobs WHERE id = $1")
        .bind(id).fetch_one(c).await)?;
    event_tx(tx, id, "state", state, p, error.unwrap_or(state), now).await?;
    Ok(true)
}

/// A transient failure: releases the job to run again at `run_after`, or fails it for good
/// once it has used its attempts. Returns the state it is left in (`None`: lease lost).
pub async fn retry_later(
    db: &Db,
    id: i64,
    worker: &str,
    error: &str,
    run_after: Millis,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let Some(job) = get(db, id).await? else { return Ok(None) };
    if job.attempts >= job.max_attempts {
        let msg = format!("gave up after {} attempts: {error}", job.attempts);
        return Ok(finish(db, id, worker, "failed", Some(&msg), now)
            .await?
            .then(|| "failed".into()));
    }
    let mut tx = db.begin_write().await?;
    let q = "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, run_after = $1, error = $2, \
             updated_at = $3 WHERE id = $4 AND lease_owner = $5 AND finished_at IS NULL";
    let n = on_tx!(&mut tx, c => sqlx::query(q).bind(run_after).bind(error).bind(now).bind(id)
        .bind(worker).execute(c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(None);
    }
    let msg = format!("attempt {} failed, retrying: {error}", job.attempts);
    event_tx(&mut tx, id, "log", &job.state, job.progress, &msg, now).await?;
    tx.commit().await?;
    Ok(Some(job.state))
}

/// Asks a job to stop at its next stage boundary; false when it has already finished.
pub async fn request_cancel(db: &Db, id: i64, now: Millis) -> Result<bool, StoreError> {
    let q = "UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 \
             AND finished_at IS NULL";
    let n = on_db!(db, c => sqlx::query(q).bind(now).bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The job's events after `after_id`, in order.
pub async fn events(db: &Db, job_id: i64, after_id: i64) -> Result<Vec<EventRow>, StoreError> {
    let q = "SELECT id, job_id, at, kind, state, progress, message FROM job_events \
             WHERE job_id = $1 AND id > $2 ORDER BY id";
    Ok(on_db!(db, c => sqlx::query_as(q).bind(job_id).bind(after_id).fetch_all(c).await)?)
}

/// The newest job of an app.
pub async fn latest_for_app(db: &Db, app_id: i64) -> Result<Option<JobRow>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM jobs WHERE app_id = $1 ORDER BY id DESC LIMIT 1");
    Ok(
        on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(app_id).fetch_optional(c).await)?,
    )
}

/// How many unfinished jobs the apps of one owner have.
pub async fn active_count_for_owner(db: &Db, owner_id: i64) -> Result<i64, StoreError> {
    let q = "SELECT COUNT(*) FROM jobs JOIN apps ON apps.id = jobs.app_id \
             WHERE apps.owner_id = $1 AND jobs.finished_at IS NULL";
    Ok(on_db!(db, c => sqlx::query_scalar(q).bind(owner_id).fetch_one(c).await)?)
}

/// How many unfinished jobs the apps of one owner have, in the caller's transaction.
pub async fn active_count_for_owner_tx(tx: &mut Tx, owner_id: i64) -> Result<i64, StoreError> {
    let q = "SELECT COUNT(*) FROM jobs JOIN apps ON apps.id = jobs.app_id \
             WHERE apps.owner_id = $1 AND jobs.finished_at IS NULL";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(owner_id).fetch_one(c).await)?)
}

-- Apps and the durable job queue that generates them.

CREATE TABLE apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    slug        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX apps_owner ON apps(owner_id);

-- A job runs through stages; a worker holds it with a lease it renews (heartbeat). An expired
-- lease makes the job claimable again, so the work of a worker that died resumes elsewhere.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id           INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    progress         INTEGER NOT NULL DEFAULT 0,
    payload          TEXT    NOT NULL DEFAULT '{}',
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 5,
    run_after        INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX jobs_due ON jobs(finished_at, run_after);
-- One active job per app: a second request is refused by the database itself.
CREATE UNIQUE INDEX jobs_one_active_per_app ON jobs(app_id) WHERE finished_at IS NULL;

-- Every state change and log line of a job, in order.
CREATE TABLE job_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id   INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    progress INTEGER NOT NULL,
    message  TEXT    NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id, id);

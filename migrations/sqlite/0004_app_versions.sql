-- Each successful generation is a version: a commit in the app's own git repository and an archive.
CREATE TABLE app_versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    job_id     INTEGER NOT NULL UNIQUE,
    version    INTEGER NOT NULL,
    spec       TEXT    NOT NULL,
    git_commit TEXT    NOT NULL,
    archive    TEXT    NOT NULL,
    files      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, version)
);

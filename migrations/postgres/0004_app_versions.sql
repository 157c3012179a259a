-- Each successful generation is a version: a commit in the app's own git repository and an archive.
CREATE TABLE app_versions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id     BIGINT  NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    job_id     BIGINT  NOT NULL UNIQUE,
    version    BIGINT  NOT NULL,
    spec       TEXT    NOT NULL,
    git_commit TEXT    NOT NULL,
    archive    TEXT    NOT NULL,
    files      BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    UNIQUE (app_id, version)
);

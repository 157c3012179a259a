-- Collaboration on an app's description: who may take part, invitations, and the shared
-- document (a yrs/Yjs document) as a snapshot plus the updates written since.

-- People other than the owner (apps.owner_id) with a role on an app.
CREATE TABLE app_members (
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('editor', 'viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX app_members_user ON app_members(user_id);

-- An invitation by email; accepting it (signed in, before it expires) adds the role.
CREATE TABLE app_invites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('editor', 'viewer')),
    token_hash  TEXT    NOT NULL UNIQUE,
    invited_by  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX app_invites_app ON app_invites(app_id);

-- The document: the state up to update `upto` (compaction), then every update after it.
CREATE TABLE doc_snapshots (
    app_id     INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    state      BLOB    NOT NULL,
    upto       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE doc_updates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX doc_updates_app ON doc_updates(app_id, id);

-- Presence (awareness) updates, relayed between replicas on one database; kept a short while.
CREATE TABLE doc_awareness (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

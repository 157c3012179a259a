-- The version the runtime serves; switching it is one write (the deploy stage's atomic switch).
ALTER TABLE apps ADD COLUMN live_version INTEGER;

-- Every description an app was given, numbered per app (the newest is apps.description).
CREATE TABLE app_descriptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    description TEXT    NOT NULL,
    created_by  INTEGER,
    created_at  INTEGER NOT NULL,
    UNIQUE (app_id, version)
);

-- The version the runtime serves; switching it is one write (the deploy stage's atomic switch).
ALTER TABLE apps ADD COLUMN live_version BIGINT;

-- Every description an app was given, numbered per app (the newest is apps.description).
CREATE TABLE app_descriptions (
    id          BIGSERIAL PRIMARY KEY,
    app_id      BIGINT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    description TEXT   NOT NULL,
    created_by  BIGINT,
    created_at  BIGINT NOT NULL,
    UNIQUE (app_id, version)
);

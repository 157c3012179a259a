-- When a version first went live: the versions a rollback may return to.
ALTER TABLE app_versions ADD COLUMN live_at INTEGER;

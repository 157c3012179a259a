-- What each version was generated from and what it changed; the generated tree's cache key
-- (same plan + same template version → the checked tree is reused).
ALTER TABLE app_versions ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE app_versions ADD COLUMN changes TEXT NOT NULL DEFAULT '';
ALTER TABLE app_versions ADD COLUMN tree_key TEXT NOT NULL DEFAULT '';

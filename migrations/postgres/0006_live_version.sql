-- The version the runtime serves; switching it is one write (the deploy stage's atomic switch).
ALTER TABLE apps ADD COLUMN live_version BIGINT;

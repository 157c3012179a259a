-- Operators see the instance's mail outbox; `kiln user add --operator` makes one.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';

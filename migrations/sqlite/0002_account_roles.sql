-- Operators see the instance's mail outbox; the first account of an instance is one.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';

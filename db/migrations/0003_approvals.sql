-- Human approval that an agent cannot give (issue 13): approvers with TOTP secrets, approval requests
-- bound to token + tool + exact arguments + the target's state, a record of every decision and every
-- refused try, the per-token choice of which calls need proof, and who approved each call in history.

CREATE TABLE approvers (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_step INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  removed_at INTEGER
);

CREATE TABLE approvals (
  id TEXT PRIMARY KEY NOT NULL,
  token_id TEXT NOT NULL,
  client TEXT NOT NULL,
  tool TEXT NOT NULL,
  args_hash TEXT NOT NULL,
  args TEXT NOT NULL,
  plan TEXT NOT NULL,
  reason TEXT NOT NULL,
  target_digest TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_at INTEGER,
  decided_by TEXT,
  decided_how TEXT,
  used_at INTEGER
);

CREATE INDEX approvals_status ON approvals (status, created_at);

CREATE TABLE approval_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  approval_id TEXT,
  actor TEXT,
  how TEXT NOT NULL,
  outcome TEXT NOT NULL,
  message TEXT NOT NULL
);

CREATE INDEX approval_events_at ON approval_events (at);

ALTER TABLE client_tokens ADD COLUMN proof TEXT NOT NULL DEFAULT 'default';

ALTER TABLE history ADD COLUMN approved_by TEXT;

ALTER TABLE history ADD COLUMN approval TEXT;

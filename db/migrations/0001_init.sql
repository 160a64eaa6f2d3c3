-- Tokens, history, confirmations, settings. See db/schema.ts for what each column means.
CREATE TABLE client_tokens (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  mode TEXT NOT NULL CHECK (mode IN ('read-only', 'safe', 'normal')),
  ceiling TEXT NOT NULL CHECK (ceiling IN ('read-only', 'safe', 'normal')),
  learning INTEGER NOT NULL DEFAULT 0,
  token_hash TEXT NOT NULL UNIQUE,
  token_hint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  expires_at INTEGER,
  revoked_at INTEGER,
  source TEXT NOT NULL DEFAULT 'cli'
);

CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  call_id TEXT NOT NULL UNIQUE,
  started_at INTEGER NOT NULL,
  client TEXT NOT NULL,
  door TEXT NOT NULL,
  tool TEXT NOT NULL,
  args TEXT NOT NULL,
  mode TEXT NOT NULL,
  outcome TEXT NOT NULL,
  error_code TEXT,
  message TEXT,
  duration_ms INTEGER,
  upids TEXT,
  node TEXT,
  vmid INTEGER,
  request_id TEXT NOT NULL
);
CREATE INDEX history_started_at ON history (started_at);
CREATE INDEX history_tool ON history (tool, started_at);
CREATE INDEX history_client ON history (client, started_at);
CREATE INDEX history_node ON history (node, started_at);
CREATE INDEX history_vmid ON history (vmid, started_at);
CREATE INDEX history_outcome ON history (outcome, started_at);

CREATE TABLE confirmations (
  id TEXT PRIMARY KEY NOT NULL,
  token_id TEXT NOT NULL,
  tool TEXT NOT NULL,
  args_hash TEXT NOT NULL,
  plan TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX confirmations_expires ON confirmations (expires_at);

CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

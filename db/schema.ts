/**
 * The libSQL tables, as drizzle sees them. The SQL that creates them is in db/migrations/ (applied at
 * start-up by lib/store/migrate.ts); keep the two in step.
 */
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per client (Claude Code on a laptop, a CI job...). Only the SHA-256 of the token is kept. */
export const clientTokens = sqliteTable('client_tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  role: text('role', { enum: ['admin', 'operator', 'viewer'] }).notNull(),
  mode: text('mode', { enum: ['read-only', 'safe', 'normal'] }).notNull(),
  ceiling: text('ceiling', { enum: ['read-only', 'safe', 'normal'] }).notNull(),
  learning: integer('learning', { mode: 'boolean' }).notNull().default(false),
  tokenHash: text('token_hash').notNull().unique(),
  /** The first characters of the token, so a person can tell tokens apart in a list. */
  tokenHint: text('token_hint').notNull(),
  createdAt: integer('created_at').notNull(),
  lastUsedAt: integer('last_used_at'),
  expiresAt: integer('expires_at'),
  revokedAt: integer('revoked_at'),
  /** 'bootstrap-env' for the token that comes from MCP_ADMIN_TOKEN. */
  source: text('source').notNull().default('cli'),
  /**
   * Which calls need proof (an approver's TOTP or the host CLI), set only from the host CLI:
   * 'default' (safe: destructive; every mode: raising a mode, self_update, restore_config),
   * 'destructive' (also destructive calls in normal mode), 'changes' (every change, even where the client can ask).
   */
  proof: text('proof', { enum: ['default', 'destructive', 'changes'] }).notNull().default('default'),
});

/** Every call through every door. Written when the call starts and completed when it ends. */
export const history = sqliteTable(
  'history',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** One per call; the row is written when a change starts and completed when it ends. */
    callId: text('call_id').notNull().unique(),
    startedAt: integer('started_at').notNull(),
    client: text('client').notNull(),
    door: text('door').notNull(),
    tool: text('tool').notNull(),
    args: text('args').notNull(),
    mode: text('mode').notNull(),
    outcome: text('outcome').notNull(),
    errorCode: text('error_code'),
    message: text('message'),
    durationMs: integer('duration_ms'),
    upids: text('upids'),
    node: text('node'),
    vmid: integer('vmid'),
    requestId: text('request_id').notNull(),
    /** Who said yes to this call: an approver's name, 'host:<user>' for the host CLI, 'client' for an elicitation. */
    approvedBy: text('approved_by'),
    /** The strength of that yes: 'ask' (elicitation) or 'proof' (approver TOTP or host CLI). */
    approval: text('approval'),
  },
  (table) => [
    index('history_started_at').on(table.startedAt),
    index('history_tool').on(table.tool, table.id, table.startedAt),
    index('history_client').on(table.client, table.id, table.startedAt),
    index('history_node').on(table.node, table.id, table.startedAt),
    index('history_vmid').on(table.vmid, table.id, table.startedAt),
    index('history_outcome').on(table.outcome, table.id, table.startedAt),
  ],
);

/** Pending human confirmations: single use, short-lived, bound to token + tool + exact arguments. */
export const confirmations = sqliteTable('confirmations', {
  id: text('id').primaryKey(),
  tokenId: text('token_id').notNull(),
  tool: text('tool').notNull(),
  argsHash: text('args_hash').notNull(),
  plan: text('plan').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  usedAt: integer('used_at'),
});

/** Small server-wide settings (JSON values). */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Named approvers: each has a TOTP secret (RFC 6238) in an authenticator app. Managed only from the host CLI. */
export const approvers = sqliteTable('approvers', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  /** Base32 TOTP secret. Never in a backup, a log line or an answer. */
  secret: text('secret').notNull(),
  createdAt: integer('created_at').notNull(),
  /** The last TOTP time step accepted: a code is good once. */
  lastStep: integer('last_step').notNull().default(0),
  failures: integer('failures').notNull().default(0),
  lockedUntil: integer('locked_until').notNull().default(0),
  removedAt: integer('removed_at'),
});

/** A call waiting for (or holding) proof: bound to token, tool, exact arguments and the target's state. */
export const approvals = sqliteTable(
  'approvals',
  {
    id: text('id').primaryKey(),
    tokenId: text('token_id').notNull(),
    client: text('client').notNull(),
    tool: text('tool').notNull(),
    argsHash: text('args_hash').notNull(),
    /** Redacted arguments, for the page. */
    args: text('args').notNull(),
    plan: text('plan').notNull(),
    /** Why proof is needed, in words. */
    reason: text('reason').notNull(),
    targetDigest: text('target_digest').notNull(),
    status: text('status', { enum: ['pending', 'approved', 'denied', 'used', 'void', 'expired'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    decidedAt: integer('decided_at'),
    decidedBy: text('decided_by'),
    decidedHow: text('decided_how'),
    usedAt: integer('used_at'),
  },
  (table) => [index('approvals_status').on(table.status, table.createdAt)],
);

/** Every decision and every refused try on the approval page or CLI. */
export const approvalEvents = sqliteTable(
  'approval_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    approvalId: text('approval_id'),
    actor: text('actor'),
    how: text('how').notNull(),
    outcome: text('outcome').notNull(),
    message: text('message').notNull(),
  },
  (table) => [index('approval_events_at').on(table.at)],
);

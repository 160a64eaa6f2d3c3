/**
 * proxmox://history/me: the calling client's own calls of the last 24 hours, newest first. Arguments
 * were redacted before they were stored, and each row is masked again on the way out with today's
 * rules (redactHistoryRow), so a row written before a rule existed never comes back with a secret.
 */
import { redactHistoryRow } from '../runtime/redact-args.ts';
import type { Store } from '../store/store.ts';
import type { Caller } from '../tool.ts';
import { compact } from './common.ts';

export const historyUri = 'proxmox://history/me';

const dayMs = 24 * 3600_000;
const limit = 200;

function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function readHistory(store: Store, caller: Caller) {
  const { rows, nextCursor } = await store.history.query({ client: caller.name, since: Date.now() - dayMs, limit });
  return {
    client: caller.name,
    since: new Date(Date.now() - dayMs).toISOString(),
    count: rows.length,
    ...(nextCursor ? { more: `Only the newest ${limit} are shown; use get_command_history with since "24h" and cursor ${nextCursor} for older ones.` } : {}),
    calls: rows.map(redactHistoryRow).map((row) =>
      compact({
        time: new Date(row.startedAt).toISOString(),
        tool: row.tool,
        door: row.door,
        mode: row.mode,
        outcome: row.outcome,
        arguments: parseJson(row.args),
        error_code: row.errorCode,
        message: row.message,
        duration_ms: row.durationMs,
        node: row.node,
        vmid: row.vmid,
        upids: parseJson(row.upids),
      }),
    ),
  };
}

/**
 * The command history (audit trail). Every call through every door gets one row.
 *
 * Durability where it matters, speed where it does not: a call that can change something (write or
 * destructive) has its row inserted and committed BEFORE it runs, so a crash mid-call still leaves the
 * attempt on record; its outcome is written when it ends. A read call gets one row when it ends. Rows
 * and outcomes are written in small batches by one writer, so recording history costs a call almost
 * nothing and a burst of calls becomes a few transactions instead of thousands.
 */
import { and, asc, desc, eq, gte, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import type { Client, InStatement } from '@libsql/client';
import { history } from '../../db/schema.ts';
import { sleep } from '../abort.ts';
import type { Logger } from '../log.ts';

export type HistoryRow = typeof history.$inferSelect;

export type Outcome = 'running' | 'ok' | 'error' | 'refused' | 'confirmation_required';

export interface CallRecord {
  callId: string;
  startedAt: number;
  client: string;
  door: string;
  tool: string;
  /** Already redacted. */
  args: string;
  mode: string;
  node?: string | null;
  vmid?: number | null;
  requestId: string;
  /** Who said yes to this call (an approver's name, host:<user>, or the client's user through an elicitation). */
  approvedBy?: string | null;
  /** The strength of that yes: 'ask' or 'proof'. */
  approval?: 'ask' | 'proof' | null;
}

export interface CallEnd {
  outcome: Exclude<Outcome, 'running'>;
  errorCode?: string | null;
  message?: string | null;
  durationMs: number;
  upids?: string[];
  node?: string | null;
  vmid?: number | null;
}

export interface HistoryQuery {
  since?: number;
  until?: number;
  tool?: string;
  client?: string;
  outcome?: Outcome;
  node?: string;
  vmid?: number;
  /** Page size (default 50, at most 500). */
  limit?: number;
  /** Return rows older than this id (the `nextCursor` of the previous page). */
  before?: number;
  /** Sort keys (default: newest first); with a sort, pages go by `offset` instead of `before`. */
  sort?: { column: HistorySortColumn; descending: boolean }[];
  offset?: number;
}

/** The columns get_command_history can sort by. */
export const historySortColumns = {
  time: history.startedAt,
  duration_ms: history.durationMs,
  tool: history.tool,
  client: history.client,
  outcome: history.outcome,
  node: history.node,
  vmid: history.vmid,
} as const;
export type HistorySortColumn = keyof typeof historySortColumns;

const insertSql =
  'INSERT INTO history (call_id, started_at, client, door, tool, args, mode, outcome, error_code, message, duration_ms, upids, node, vmid, request_id, approved_by, approval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const completeSql =
  'UPDATE history SET outcome = ?, error_code = ?, message = ?, duration_ms = ?, upids = ?, node = COALESCE(?, node), vmid = COALESCE(?, vmid) WHERE call_id = ?';

function insertStatement(record: CallRecord, end?: CallEnd): InStatement {
  return {
    sql: insertSql,
    args: [
      record.callId,
      record.startedAt,
      record.client,
      record.door,
      record.tool,
      record.args,
      record.mode,
      end?.outcome ?? 'running',
      end?.errorCode ?? null,
      end?.message ?? null,
      end?.durationMs ?? null,
      end?.upids?.length ? JSON.stringify(end.upids) : null,
      end?.node ?? record.node ?? null,
      end?.vmid ?? record.vmid ?? null,
      record.requestId,
      record.approvedBy ?? null,
      record.approval ?? null,
    ],
  };
}

export class HistoryRepo {
  private queue: InStatement[] = [];
  private flushing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Rows the writer failed to store even after a retry (reported by health). */
  dropped = 0;
  written = 0;

  constructor(
    private readonly db: LibSQLDatabase,
    private readonly client: Client,
    private readonly log?: Logger,
    private readonly batchDelayMs = 5,
  ) {}

  /** Record a call that may change something, durably, before it runs. */
  async begin(record: CallRecord): Promise<void> {
    await this.client.execute(insertStatement(record));
    this.written++;
  }

  /** Complete a row written by begin(). */
  complete(callId: string, end: CallEnd): void {
    this.enqueue({
      sql: completeSql,
      args: [end.outcome, end.errorCode ?? null, end.message ?? null, end.durationMs, end.upids?.length ? JSON.stringify(end.upids) : null, end.node ?? null, end.vmid ?? null, callId],
    });
  }

  /** Record a finished call in one row (reads, refusals). */
  record(record: CallRecord, end: CallEnd): void {
    this.enqueue(insertStatement(record, end));
  }

  private enqueue(statement: InStatement): void {
    this.queue.push(statement);
    if (this.queue.length >= 200) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.batchDelayMs);
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** Write everything queued; resolves when it is stored. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.writeBatch(batch).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
    if (this.queue.length > 0) await this.flush();
  }

  private async writeBatch(batch: InStatement[]): Promise<void> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        await this.client.batch(batch, 'write');
        this.written += batch.length;
        return;
      } catch (error) {
        if (attempt === 2) {
          this.dropped += batch.length;
          this.log?.error('Could not write command history', { rows: batch.length, error: error instanceof Error ? error.message : String(error) });
        }
      }
    }
  }

  async query(filter: HistoryQuery): Promise<{ rows: HistoryRow[]; nextCursor?: number; more: boolean }> {
    await this.flush();
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
    const conditions = this.conditions(filter);
    if (filter.sort?.length) {
      const order = [...filter.sort.map((key) => (key.descending ? desc(historySortColumns[key.column]) : asc(historySortColumns[key.column]))), desc(history.id)];
      const rows = await this.db
        .select()
        .from(history)
        .where(conditions.length ? and(...conditions) : undefined)
        .orderBy(...order)
        .limit(limit + 1)
        .offset(Math.max(0, filter.offset ?? 0));
      const more = rows.length > limit;
      return { rows: more ? rows.slice(0, limit) : rows, more };
    }
    if (filter.before !== undefined) conditions.push(lt(history.id, filter.before));
    const rows = await this.db
      .select()
      .from(history)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(history.id))
      .limit(limit + 1);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { rows: page, nextCursor: more ? page[page.length - 1].id : undefined, more };
  }

  /** How many rows match the filters (all pages; `before`, `offset` and `sort` do not count). */
  async countMatching(filter: HistoryQuery): Promise<number> {
    await this.flush();
    const conditions = this.conditions(filter);
    const [row] = await this.db.select({ n: sql<number>`count(*)` }).from(history).where(conditions.length ? and(...conditions) : undefined);
    return Number(row?.n ?? 0);
  }

  private conditions(filter: HistoryQuery): SQL[] {
    const conditions: SQL[] = [];
    if (filter.since !== undefined) conditions.push(gte(history.startedAt, filter.since));
    if (filter.until !== undefined) conditions.push(lte(history.startedAt, filter.until));
    if (filter.tool) conditions.push(eq(history.tool, filter.tool));
    if (filter.client) conditions.push(eq(history.client, filter.client));
    if (filter.outcome) conditions.push(eq(history.outcome, filter.outcome));
    if (filter.node) conditions.push(eq(history.node, filter.node));
    if (filter.vmid !== undefined) conditions.push(eq(history.vmid, filter.vmid));
    return conditions;
  }

  async count(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)` }).from(history);
    return Number(row?.n ?? 0);
  }

  /**
   * Delete rows older than `olderThan`, a few thousand at a time so that calls writing history in the
   * meantime are never held up for long. Returns how many rows went.
   */
  async prune(olderThan: number, chunk = 500, pauseMs = 10): Promise<number> {
    // The embedded libSQL client runs each statement synchronously on the event loop, so one DELETE is
    // a pause for every call in flight: 500 rows take ~10 ms (5,000 took ~120 ms with the indexes), and
    // the pause after each gives the calls the loop back. 125,000 rows go in a few seconds.
    let total = 0;
    for (;;) {
      const result = await this.client.execute({
        sql: 'DELETE FROM history WHERE id IN (SELECT id FROM history WHERE started_at < ? ORDER BY id LIMIT ?)',
        args: [olderThan, chunk],
      });
      total += result.rowsAffected;
      if (result.rowsAffected < chunk) return total;
      await sleep(pauseMs);
    }
  }
}

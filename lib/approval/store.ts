/**
 * Approvers, approval requests and their event record, in the shared libSQL store (any replica and the
 * host CLI see the same rows). Every state change is one conditional UPDATE, so two replicas (or the
 * page and the CLI) racing over one approval or one TOTP step cannot both win.
 */
import { and, desc, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { isIPv6 } from 'node:net';
import { approvalEvents, approvals, approvers } from '../../db/schema.ts';
import type { Store } from '../store/store.ts';
import { matchingStep, newTotpSecret, otpauthUri } from './totp.ts';

export type ApprovalRow = typeof approvals.$inferSelect;
export type ApproverRow = typeof approvers.$inferSelect;
export type ApprovalEventRow = typeof approvalEvents.$inferSelect;
export type ApprovalStatus = ApprovalRow['status'];

export const approverNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Wrong codes, two brakes (issue 13 follow-up: a lock anyone could trigger was a denial of service):
 * - per (approver, source address): every maxFailures wrong codes in a row from one address lock that
 *   address out of that approver for lockMs, doubling with each further lock (up to a day). Other
 *   addresses, and the approver, are not locked. Kept in this process's memory (a restart forgets it).
 * - per approver, for everyone: after globalCeiling wrong codes in a row from anywhere, every further try
 *   of that approver waits for its own slot, spaced slowStepMs more per wrong code (up to maxSpacingMs),
 *   claimed in the shared database so replicas share the pace. Slower, never locked: the approver still
 *   gets in by waiting, one try per address at a time, and the host CLI (no code at all) always works.
 *   A right code ends the slow pace.
 */
export const maxFailures = 5;
export const lockMs = 5 * 60_000;
export const globalCeiling = 10;
export const slowStepMs = 2_000;
export const maxSpacingMs = 30_000;
/** A try whose slot is further off than this is refused ("busy") instead of held open. */
export const maxWaitMs = 90_000;

/**
 * The address a per-address brake counts: IPv4 as is (an IPv4-mapped IPv6 form too), IPv6 by its /64,
 * which one host or home line usually holds whole (else a single attacker would have 2^64 addresses).
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head, tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export type CodeCheck =
  | { ok: true; approver: ApproverRow }
  | { ok: false; reason: 'unknown_approver' | 'locked' | 'busy' | 'wrong_code' | 'reused_code'; message: string };

export interface CodeCheckOptions {
  /** The address the code came from (the page's peer); the host CLI does not check codes. */
  source?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type UseResult =
  | { ok: true; row: ApprovalRow }
  | { ok: false; reason: 'unknown' | 'pending' | 'denied' | 'used' | 'void' | 'expired' | 'mismatch'; row?: ApprovalRow };

export class ApprovalStore {
  constructor(private readonly db: LibSQLDatabase) {}

  // ---- approvers -------------------------------------------------------------------------------

  async addApprover(name: string): Promise<{ approver: ApproverRow; uri: string }> {
    if (!approverNamePattern.test(name)) throw new Error(`Approver name '${name}' is not valid: use 1-64 letters, digits, dot, dash or underscore.`);
    const existing = await this.approver(name);
    if (existing) throw new Error(`An approver named '${name}' exists already; remove it first to give it a new secret.`);
    const secret = newTotpSecret();
    const row: ApproverRow = { id: crypto.randomUUID(), name, secret, createdAt: Date.now(), lastStep: 0, failures: 0, lockedUntil: 0, removedAt: null };
    // A removed approver of the same name keeps its history rows; its row is replaced.
    await this.db.delete(approvers).where(eq(approvers.name, name));
    await this.db.insert(approvers).values(row);
    return { approver: row, uri: otpauthUri(secret, name) };
  }

  async approver(name: string): Promise<ApproverRow | undefined> {
    const [row] = await this.db.select().from(approvers).where(and(eq(approvers.name, name), isNull(approvers.removedAt))).limit(1);
    return row;
  }

  async listApprovers(): Promise<Omit<ApproverRow, 'secret'>[]> {
    const rows = await this.db.select().from(approvers).where(isNull(approvers.removedAt)).orderBy(approvers.name);
    return rows.map(({ secret: _secret, ...rest }) => rest);
  }

  async removeApprover(name: string): Promise<boolean> {
    const result = await this.db.update(approvers).set({ removedAt: Date.now() }).where(and(eq(approvers.name, name), isNull(approvers.removedAt)));
    return result.rowsAffected > 0;
  }

  private readonly sources = new Map<string, { failures: number; lockedUntil: number }>();
  private readonly inFlight = new Set<string>();

  /** The per-address state of an approver (for tests and the page's notes). */
  sourceState(name: string, source: string): { failures: number; lockedUntil: number } {
    return this.sources.get(`${name}\n${sourceKey(source)}`) ?? { failures: 0, lockedUntil: 0 };
  }

  /**
   * Check an approver's code: known approver, this address not locked out of it, the approver's slow pace
   * (after many wrong codes from anywhere), a code of now (one step either side), and a step later than
   * the last one accepted (single use).
   */
  async checkCode(name: string, code: string, options: CodeCheckOptions = {}): Promise<CodeCheck> {
    const clock = options.now ?? Date.now;
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const approver = await this.approver(name);
    if (!approver) return { ok: false, reason: 'unknown_approver', message: `There is no approver named '${name}'. Approvers are added on the host: npm run approve -- approver add NAME.` };
    const key = `${name}\n${sourceKey(options.source ?? 'unknown')}`;
    const local = this.sources.get(key) ?? { failures: 0, lockedUntil: 0 };
    if (local.lockedUntil > clock()) {
      return { ok: false, reason: 'locked', message: `Too many wrong codes for '${name}' from this address: try again after ${new Date(local.lockedUntil).toISOString().slice(11, 19)} UTC (other addresses and the host CLI are not affected).` };
    }
    if (this.inFlight.has(key)) return { ok: false, reason: 'busy', message: `A code for '${name}' from this address is still being checked; wait for its answer.` };
    this.inFlight.add(key);
    try {
      if (approver.failures >= globalCeiling) {
        const spacing = Math.min(maxSpacingMs, slowStepMs * (approver.failures - globalCeiling + 1));
        const now = clock();
        const [slot] = await this.db
          .update(approvers)
          .set({ lockedUntil: sql`max(${approvers.lockedUntil}, ${now}) + ${spacing}` })
          .where(and(eq(approvers.id, approver.id), sql`max(${approvers.lockedUntil}, ${now}) <= ${now + maxWaitMs}`))
          .returning({ until: approvers.lockedUntil });
        if (!slot) {
          return { ok: false, reason: 'busy', message: `'${name}' had ${approver.failures} wrong codes in a row from somewhere, so its tries are slowed down and the queue is full: try again in a minute, or decide on the host (npm run approve -- yes ID).` };
        }
        const wait = slot.until - spacing - clock();
        if (wait > 0) await sleep(wait);
      }
      const step = matchingStep(approver.secret, code.trim(), clock());
      if (step === undefined) {
        await this.db.update(approvers).set({ failures: sql`${approvers.failures} + 1` }).where(eq(approvers.id, approver.id));
        const failures = local.failures + 1;
        const locks = failures % maxFailures === 0 ? failures / maxFailures : 0;
        const lockedFor = locks > 0 ? Math.min(24 * 3600_000, lockMs * 2 ** (locks - 1)) : 0;
        this.sources.set(key, { failures, lockedUntil: lockedFor ? clock() + lockedFor : local.lockedUntil });
        if (this.sources.size > 10_000) this.sources.delete(this.sources.keys().next().value as string);
        return { ok: false, reason: 'wrong_code', message: `That code is not the current code of '${name}'${lockedFor ? `; this address is now locked out of '${name}' for ${Math.round(lockedFor / 60_000)} minutes` : ''}.` };
      }
      const result = await this.db
        .update(approvers)
        .set({ lastStep: step, failures: 0 })
        .where(and(eq(approvers.id, approver.id), lt(approvers.lastStep, step)));
      if (result.rowsAffected === 0) return { ok: false, reason: 'reused_code', message: `That code of '${name}' was already used; wait for the next one (codes change every 30 seconds).` };
      this.sources.delete(key);
      return { ok: true, approver };
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** The host CLI's reset after an attack: wrong-code count and slow pace back to zero. */
  async resetApprover(name: string): Promise<boolean> {
    const result = await this.db.update(approvers).set({ failures: 0, lockedUntil: 0 }).where(and(eq(approvers.name, name), isNull(approvers.removedAt)));
    for (const key of this.sources.keys()) if (key.startsWith(`${name}\n`)) this.sources.delete(key);
    return result.rowsAffected > 0;
  }

  // ---- approvals -------------------------------------------------------------------------------

  async create(input: Omit<ApprovalRow, 'id' | 'status' | 'createdAt' | 'decidedAt' | 'decidedBy' | 'decidedHow' | 'usedAt' | 'expiresAt'> & { ttlMs: number }): Promise<ApprovalRow> {
    const now = Date.now();
    const { ttlMs, ...rest } = input;
    const row: ApprovalRow = {
      ...rest,
      id: 'approval_' + crypto.randomUUID().replace(/-/g, '').slice(0, 20),
      status: 'pending',
      createdAt: now,
      expiresAt: now + ttlMs,
      decidedAt: null,
      decidedBy: null,
      decidedHow: null,
      usedAt: null,
    };
    await this.db.insert(approvals).values(row);
    return row;
  }

  /** A pending approval for exactly this call and target state, so asking again does not pile up requests. */
  async pendingFor(expected: { tokenId: string; tool: string; argsHash: string; targetDigest: string }): Promise<ApprovalRow | undefined> {
    const [row] = await this.db
      .select()
      .from(approvals)
      .where(
        and(
          eq(approvals.tokenId, expected.tokenId),
          eq(approvals.tool, expected.tool),
          eq(approvals.argsHash, expected.argsHash),
          eq(approvals.targetDigest, expected.targetDigest),
          eq(approvals.status, 'pending'),
          gt(approvals.expiresAt, Date.now() + 60_000),
        ),
      )
      .orderBy(desc(approvals.createdAt))
      .limit(1);
    return row;
  }

  private lastPrune = 0;

  /** Old approvals and events go after a week (like history); at most once an hour per process. */
  async pruneNow(now = Date.now()): Promise<void> {
    if (now - this.lastPrune < 3600_000) return;
    this.lastPrune = now;
    await this.prune(now).catch(() => undefined);
  }

  async get(id: string): Promise<ApprovalRow | undefined> {
    const [row] = await this.db.select().from(approvals).where(eq(approvals.id, id)).limit(1);
    if (row && row.expiresAt < Date.now() && (row.status === 'pending' || row.status === 'approved')) {
      await this.db.update(approvals).set({ status: 'expired' }).where(and(eq(approvals.id, id), eq(approvals.status, row.status)));
      return { ...row, status: 'expired' };
    }
    return row;
  }

  async pending(limit = 50): Promise<ApprovalRow[]> {
    return this.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.status, 'pending'), gt(approvals.expiresAt, Date.now())))
      .orderBy(desc(approvals.createdAt))
      .limit(limit);
  }

  async recent(limit = 30): Promise<ApprovalRow[]> {
    return this.db
      .select()
      .from(approvals)
      .where(inArray(approvals.status, ['approved', 'denied', 'used', 'void', 'expired']))
      .orderBy(desc(approvals.createdAt))
      .limit(limit);
  }

  /** Decide a pending approval; false when it is no longer pending (decided elsewhere, expired). */
  async decide(id: string, decision: 'approved' | 'denied', by: string, how: string): Promise<boolean> {
    const result = await this.db
      .update(approvals)
      .set({ status: decision, decidedAt: Date.now(), decidedBy: by, decidedHow: how })
      .where(and(eq(approvals.id, id), eq(approvals.status, 'pending'), gt(approvals.expiresAt, Date.now())));
    return result.rowsAffected > 0;
  }

  /** The target changed after the approval: it no longer counts. */
  async voidApproval(id: string): Promise<void> {
    await this.db.update(approvals).set({ status: 'void' }).where(and(eq(approvals.id, id), inArray(approvals.status, ['pending', 'approved'])));
  }

  /**
   * Use an approved approval for one run: it must be approved, unexpired, unused and bound to this
   * token, tool and these exact arguments. One conditional UPDATE: two racing calls cannot both run.
   */
  async use(id: string, expected: { tokenId: string; tool: string; argsHash: string }): Promise<UseResult> {
    const row = await this.get(id);
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.tokenId !== expected.tokenId || row.tool !== expected.tool || row.argsHash !== expected.argsHash) return { ok: false, reason: 'mismatch', row };
    if (row.status !== 'approved') return { ok: false, reason: row.status as Exclude<ApprovalStatus, 'approved'>, row };
    const result = await this.db
      .update(approvals)
      .set({ status: 'used', usedAt: Date.now() })
      .where(and(eq(approvals.id, id), eq(approvals.status, 'approved')));
    if (result.rowsAffected === 0) return { ok: false, reason: 'used', row };
    return { ok: true, row };
  }

  async event(input: { approvalId?: string | null; actor?: string | null; how: string; outcome: string; message: string }): Promise<void> {
    await this.db.insert(approvalEvents).values({ at: Date.now(), approvalId: input.approvalId ?? null, actor: input.actor ?? null, how: input.how, outcome: input.outcome, message: input.message.slice(0, 500) });
  }

  async events(limit = 30, approvalId?: string): Promise<ApprovalEventRow[]> {
    const query = this.db.select().from(approvalEvents);
    return (approvalId ? query.where(eq(approvalEvents.approvalId, approvalId)) : query).orderBy(desc(approvalEvents.id)).limit(limit);
  }

  async prune(now = Date.now(), keepMs = 7 * 86400_000): Promise<void> {
    await this.db.delete(approvals).where(lt(approvals.expiresAt, now - keepMs));
    await this.db.delete(approvalEvents).where(lt(approvalEvents.at, now - keepMs));
  }

  /** Pending, unexpired approvals of one client token. */
  async countPendingFor(tokenId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)` })
      .from(approvals)
      .where(and(eq(approvals.tokenId, tokenId), eq(approvals.status, 'pending'), gt(approvals.expiresAt, Date.now())));
    return Number(row?.n ?? 0);
  }

  async countPending(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)` }).from(approvals).where(eq(approvals.status, 'pending'));
    return Number(row?.n ?? 0);
  }
}

const byStore = new WeakMap<object, ApprovalStore>();

/** The approval store of a store (one per database connection). */
export function approvalsOf(store: Pick<Store, 'db'>): ApprovalStore {
  let found = byStore.get(store.db);
  if (!found) {
    found = new ApprovalStore(store.db);
    byStore.set(store.db, found);
  }
  return found;
}

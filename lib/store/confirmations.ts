/**
 * Confirmation ids for clients that cannot be asked directly (no elicitation): single use, short-lived,
 * bound to one client token, one tool and the exact arguments. Kept in the DB so any replica can honour
 * an id another replica issued.
 */
import { and, eq, isNull, lt } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { confirmations } from '../../db/schema.ts';

export type ConfirmationRow = typeof confirmations.$inferSelect;

export type RedeemResult =
  | { ok: true; row: ConfirmationRow }
  | { ok: false; reason: 'unknown' | 'expired' | 'used' | 'mismatch' };

export class ConfirmationRepo {
  constructor(private readonly db: LibSQLDatabase) {}

  async issue(input: { tokenId: string; tool: string; argsHash: string; plan: unknown; ttlMs: number }): Promise<ConfirmationRow> {
    const now = Date.now();
    const row: ConfirmationRow = {
      id: 'confirm_' + crypto.randomUUID().replace(/-/g, '').slice(0, 20),
      tokenId: input.tokenId,
      tool: input.tool,
      argsHash: input.argsHash,
      plan: JSON.stringify(input.plan),
      createdAt: now,
      expiresAt: now + input.ttlMs,
      usedAt: null,
    };
    await this.db.insert(confirmations).values(row);
    return row;
  }

  /**
   * Use an id: it must exist, be unused, unexpired and match token, tool and arguments. Marking it used
   * is one conditional UPDATE, so two replicas racing for the same id cannot both win.
   */
  async redeem(id: string, expected: { tokenId: string; tool: string; argsHash: string }): Promise<RedeemResult> {
    const [row] = await this.db.select().from(confirmations).where(eq(confirmations.id, id)).limit(1);
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.usedAt !== null) return { ok: false, reason: 'used' };
    if (row.expiresAt < Date.now()) return { ok: false, reason: 'expired' };
    if (row.tokenId !== expected.tokenId || row.tool !== expected.tool || row.argsHash !== expected.argsHash) {
      return { ok: false, reason: 'mismatch' };
    }
    const result = await this.db
      .update(confirmations)
      .set({ usedAt: Date.now() })
      .where(and(eq(confirmations.id, id), isNull(confirmations.usedAt)));
    if (result.rowsAffected === 0) return { ok: false, reason: 'used' };
    return { ok: true, row };
  }

  async prune(now = Date.now()): Promise<number> {
    const result = await this.db.delete(confirmations).where(lt(confirmations.expiresAt, now - 24 * 3600_000));
    return result.rowsAffected;
  }
}

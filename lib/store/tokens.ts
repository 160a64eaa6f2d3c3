/**
 * Client tokens: created with a random secret shown once, stored as SHA-256, looked up by hash and then
 * compared in constant time. A token is `pmcp_` + 43 base64url characters (256 bits).
 */
import { createHash } from 'node:crypto';
import { eq, isNull, sql } from 'drizzle-orm';
import type { LibSQLDatabase } from 'drizzle-orm/libsql';
import { clientTokens } from '../../db/schema.ts';
import type { Mode, Role } from '../tool.ts';

export type ClientToken = typeof clientTokens.$inferSelect;

export const modeRank: Record<Mode, number> = { 'read-only': 0, safe: 1, normal: 2 };

export function generateTokenSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return 'pmcp_' + base64url(bytes);
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function hashToken(secret: string): Promise<string> {
  // node:crypto's one-shot hash: microseconds on the calling thread; crypto.subtle.digest goes through
  // the thread pool and a promise job, which costs far more on every authenticated request.
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two equal-length hex strings. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export interface CreateTokenInput {
  name: string;
  role: Role;
  ceiling?: Mode;
  mode?: Mode;
  expiresAt?: number | null;
  /** Use this secret instead of a random one (MCP_ADMIN_TOKEN bootstrap). */
  secret?: string;
  source?: string;
}

export const tokenNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class TokenRepo {
  /** Built once: every authenticated request runs it. */
  private readonly findByHash;

  constructor(private readonly db: LibSQLDatabase) {
    this.findByHash = db.select().from(clientTokens).where(eq(clientTokens.tokenHash, sql.placeholder('hash'))).limit(1).prepare();
  }

  async create(input: CreateTokenInput): Promise<{ token: ClientToken; secret: string }> {
    if (!tokenNamePattern.test(input.name)) {
      throw new Error(`Token name '${input.name}' is not valid: use 1-64 letters, digits, dot, dash or underscore.`);
    }
    const ceiling = input.ceiling ?? (input.role === 'viewer' ? 'read-only' : 'normal');
    // New tokens start in safe mode (or lower, when the ceiling is lower).
    const requested = input.mode ?? 'safe';
    const mode = modeRank[requested] <= modeRank[ceiling] ? requested : ceiling;
    const secret = input.secret ?? generateTokenSecret();
    const row: ClientToken = {
      id: crypto.randomUUID(),
      name: input.name,
      role: input.role,
      mode,
      ceiling,
      learning: false,
      tokenHash: await hashToken(secret),
      tokenHint: secret.slice(0, 9),
      createdAt: Date.now(),
      lastUsedAt: null,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      source: input.source ?? 'cli',
      proof: 'default',
    };
    await this.db.insert(clientTokens).values(row);
    return { token: row, secret };
  }

  /**
   * Rows recently read by findBySecret, by token hash. Every write through this repo empties it, so a
   * revoke, rotate or mode change in this process counts at once; a change made by another process
   * (the token CLI, another replica) counts within `cacheTtlMs`.
   */
  private readonly recent = new Map<string, { row: ClientToken | undefined; until: number }>();
  cacheTtlMs = 1_000;

  /** The token row for a presented secret, whatever its state (the caller decides on expiry/revocation). */
  async findBySecret(secret: string): Promise<ClientToken | undefined> {
    const hash = await hashToken(secret);
    const now = Date.now();
    const hit = this.recent.get(hash);
    if (hit && hit.until > now) return hit.row;
    const [found] = await this.findByHash.all({ hash });
    const row = found && constantTimeEqual(found.tokenHash, hash) ? found : undefined;
    // Only known tokens are kept: random invalid secrets must not grow the map.
    if (row) {
      if (this.recent.size >= 1_000) this.recent.clear();
      this.recent.set(hash, { row, until: now + this.cacheTtlMs });
    }
    return row;
  }

  /** Drop every cached row (after writing client_tokens other than through this repo, e.g. a restore). */
  forget(): void {
    this.recent.clear();
  }

  async byName(name: string): Promise<ClientToken | undefined> {
    const [row] = await this.db.select().from(clientTokens).where(eq(clientTokens.name, name)).limit(1);
    return row;
  }

  async byId(id: string): Promise<ClientToken | undefined> {
    const [row] = await this.db.select().from(clientTokens).where(eq(clientTokens.id, id)).limit(1);
    return row;
  }

  async list(includeRevoked = false): Promise<ClientToken[]> {
    const query = this.db.select().from(clientTokens);
    return includeRevoked ? query.orderBy(clientTokens.createdAt) : query.where(isNull(clientTokens.revokedAt)).orderBy(clientTokens.createdAt);
  }

  async revoke(name: string): Promise<boolean> {
    const result = await this.db.update(clientTokens).set({ revokedAt: Date.now() }).where(eq(clientTokens.name, name));
    this.forget();
    return result.rowsAffected > 0;
  }

  /** A new secret for the same client; the old one stops working at once. */
  async rotate(name: string): Promise<string | undefined> {
    this.forget();
    const secret = generateTokenSecret();
    const result = await this.db
      .update(clientTokens)
      .set({ tokenHash: await hashToken(secret), tokenHint: secret.slice(0, 9), revokedAt: null })
      .where(eq(clientTokens.name, name));
    this.forget();
    return result.rowsAffected > 0 ? secret : undefined;
  }

  async setMode(id: string, mode: Mode): Promise<void> {
    await this.db.update(clientTokens).set({ mode }).where(eq(clientTokens.id, id));
    this.forget();
  }

  /** Which calls of this client need proof (host CLI only: `npm run token -- proof NAME ...`). */
  async setProof(id: string, proof: ClientToken['proof']): Promise<void> {
    await this.db.update(clientTokens).set({ proof }).where(eq(clientTokens.id, id));
    this.forget();
  }

  async setLearning(id: string, learning: boolean): Promise<void> {
    await this.db.update(clientTokens).set({ learning }).where(eq(clientTokens.id, id));
    this.forget();
  }

  async touch(id: string, at = Date.now()): Promise<void> {
    await this.db.update(clientTokens).set({ lastUsedAt: at }).where(eq(clientTokens.id, id));
  }

  /** Replace the stored secret (bootstrap token whose MCP_ADMIN_TOKEN changed). */
  async replaceSecret(id: string, secret: string): Promise<void> {
    this.forget();
    await this.db.update(clientTokens).set({ tokenHash: await hashToken(secret), tokenHint: secret.slice(0, 9), revokedAt: null }).where(eq(clientTokens.id, id));
    this.forget();
  }
}

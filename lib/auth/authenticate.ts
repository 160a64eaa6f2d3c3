/**
 * Bearer-token authentication for every door. A failure never says which part was wrong beyond what a
 * legitimate client needs (missing / not valid / expired / revoked), and repeated failures from one
 * address are slowed down: each failure in the last 10 minutes adds delay, up to 5 s.
 */
import type { ClientToken } from '../store/tokens.ts';
import type { Store } from '../store/store.ts';

export type AuthFailure = 'missing' | 'invalid' | 'expired' | 'revoked';

export type AuthResult = { ok: true; token: ClientToken } | { ok: false; reason: AuthFailure; message: string };

const failureMessages: Record<AuthFailure, string> = {
  missing: 'No client token: send the header "Authorization: Bearer <token>" (create one with `npm run token -- create`).',
  invalid: 'The client token is not valid. Check that the whole token was copied, or create a new one with `npm run token -- create`.',
  expired: 'The client token has expired. Ask an admin to rotate it (`npm run token -- rotate <name>`).',
  revoked: 'The client token was revoked. Ask an admin for a new one.',
};

export function bearerFrom(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

export async function authenticate(store: Store, header: string | null | undefined, now = Date.now()): Promise<AuthResult> {
  const secret = bearerFrom(header);
  if (!secret) return { ok: false, reason: 'missing', message: failureMessages.missing };
  const token = await store.tokens.findBySecret(secret);
  if (!token) return { ok: false, reason: 'invalid', message: failureMessages.invalid };
  if (token.revokedAt !== null) return { ok: false, reason: 'revoked', message: failureMessages.revoked };
  if (token.expiresAt !== null && token.expiresAt <= now) return { ok: false, reason: 'expired', message: failureMessages.expired };
  return { ok: true, token };
}

/** Slows down an address that keeps failing. In memory per replica: it is a brake, not a record. */
export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly windowMs = 10 * 60_000,
    private readonly stepMs = 250,
    private readonly maxDelayMs = 5_000,
    private readonly freeFailures = 3,
  ) {}

  /** How long to wait before answering this address. */
  delayFor(address: string, now = Date.now()): number {
    const recent = this.recent(address, now);
    const over = recent.length - this.freeFailures;
    return over > 0 ? Math.min(this.maxDelayMs, over * this.stepMs) : 0;
  }

  fail(address: string, now = Date.now()): void {
    const recent = this.recent(address, now);
    recent.push(now);
    this.failures.set(address, recent.slice(-100));
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((at) => now - at < this.windowMs);
  }
}

/** Record last use at most once a minute per token, so authentication stays a read. */
export class LastUsedTracker {
  private readonly lastWritten = new Map<string, number>();

  constructor(private readonly store: Store, private readonly intervalMs = 60_000) {}

  touch(tokenId: string, now = Date.now()): void {
    const last = this.lastWritten.get(tokenId) ?? 0;
    if (now - last < this.intervalMs) return;
    this.lastWritten.set(tokenId, now);
    void this.store.tokens.touch(tokenId, now).catch(() => undefined);
  }
}

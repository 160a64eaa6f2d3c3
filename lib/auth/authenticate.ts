/**
 * Bearer-token authentication for every door. A failure never says which part was wrong beyond what a
 * legitimate client needs (missing / not valid / expired / revoked), and repeated failures from one
 * address are slowed down: each failure in the last 10 minutes adds delay, up to 5 s.
 */
import type { ClientToken } from '../store/tokens.ts';
import type { Store } from '../store/store.ts';

export type AuthFailure = 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked';

export type AuthResult = { ok: true; token: ClientToken } | { ok: false; reason: AuthFailure; message: string };

/** How to make a token, the same words in every answer that sends a person to make one. */
export const createTokenHint = 'An admin creates one on the server with `npm run token -- create NAME --role operator` (the token is printed once).';

const failureMessages: Record<Exclude<AuthFailure, 'malformed'>, string> = {
  missing: `No client token: send the header "Authorization: Bearer <token>" (Claude Code: claude mcp add --transport http proxmox http://HOST:3001/mcp --header "Authorization: Bearer <token>"). ${createTokenHint}`,
  invalid: 'The client token is not valid. Check that the whole token was copied, or create a new one with `npm run token -- create NAME`.',
  expired: 'The client token has expired. Ask an admin to rotate it (`npm run token -- rotate <name>`).',
  revoked: 'The client token was revoked. Ask an admin for a new one.',
};

/**
 * What is wrong with an Authorization header that carries no usable bearer token, in words that say
 * exactly what to change. Never quotes the header's value: it may be a secret (a password, a Proxmox token).
 */
export function malformedReason(header: string): string | undefined {
  const value = header.trim();
  const expected = 'Send "Authorization: Bearer <token>" with a proxmox-mcp client token.';
  if (!value) return `The Authorization header is empty. ${expected} ${createTokenHint}`;
  const scheme = /^([A-Za-z][A-Za-z0-9._~+/-]*)(?:\s+([\s\S]*))?$/.exec(value);
  if (/^PVEAPIToken[=\s]/i.test(value)) {
    return `The Authorization header holds a Proxmox API token (PVEAPIToken=...). This server does not take Proxmox tokens from clients; its own Proxmox token is in its configuration. ${expected} ${createTokenHint}`;
  }
  if (scheme && /^bearer$/i.test(scheme[1])) {
    const rest = (scheme[2] ?? '').trim();
    if (!rest) return `The Authorization header says "Bearer" but no token follows it. ${expected}`;
    if (/\s/.test(rest)) return `The Authorization header has more than one word after "Bearer"; a client token is one word without spaces. ${expected}`;
    return undefined;
  }
  if (scheme && scheme[2] !== undefined && /^(basic|digest|negotiate|ntlm|token|apikey|api-key|hoba|mutual|aws4-hmac-sha256)$/i.test(scheme[1])) {
    return `The Authorization header uses the "${scheme[1].slice(0, 20)}" scheme; this server only takes "Bearer". ${expected} ${createTokenHint}`;
  }
  if (!/\s/.test(value)) return `The Authorization header has no "Bearer " prefix before the token. ${expected}`;
  return `The Authorization header is not of the form "Bearer <token>". ${expected} ${createTokenHint}`;
}

export function bearerFrom(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

export async function authenticate(store: Store, header: string | null | undefined, now = Date.now()): Promise<AuthResult> {
  const secret = bearerFrom(header);
  if (!secret) {
    const malformed = header === undefined || header === null ? undefined : malformedReason(header);
    return malformed ? { ok: false, reason: 'malformed', message: malformed } : { ok: false, reason: 'missing', message: failureMessages.missing };
  }
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

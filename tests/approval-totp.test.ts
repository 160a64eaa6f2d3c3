/**
 * TOTP (RFC 6238 over RFC 4226 HMAC-SHA1), the approver store's single-use and lock rules, the policy
 * table of which call needs which strength of yes, and the host CLI for approvers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base32Decode, base32Encode, hotp, matchingStep, otpauthUri, totp } from '../lib/approval/totp.ts';
import { requiredStrength } from '../lib/approval/policy.ts';
import { approvalsOf, lockMs, maxFailures } from '../lib/approval/store.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import { backedUpTables } from '../lib/self/db-state.ts';
import { approveCli } from './helpers/approval.ts';

// RFC 6238 appendix B, SHA-1, 8 digits, secret "12345678901234567890".
const rfcSecret = base32Encode(new TextEncoder().encode('12345678901234567890'));

describe('TOTP', () => {
  it('matches the RFC 6238 test vectors (SHA-1) and RFC 4226 HOTP values', () => {
    for (const [seconds, code] of [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ] as const) {
      expect(totp(rfcSecret, seconds * 1000, 8)).toBe(code);
    }
    const key = new TextEncoder().encode('12345678901234567890');
    expect([0, 1, 2, 9].map((counter) => hotp(key, counter))).toEqual(['755224', '287082', '359152', '520489']);
  });

  it('base32 round-trips and the otpauth URI carries what an authenticator app needs', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    expect([...base32Decode(base32Encode(bytes))]).toEqual([...bytes]);
    const uri = new URL(otpauthUri('JBSWY3DPEHPK3PXP', 'alice'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/proxmox-mcp:alice');
    expect(Object.fromEntries(uri.searchParams)).toEqual({ secret: 'JBSWY3DPEHPK3PXP', issuer: 'proxmox-mcp', algorithm: 'SHA1', digits: '6', period: '30' });
  });

  it('accepts one step of drift either way and nothing else; refuses codes that are not six digits', () => {
    const now = 1_700_000_000_000;
    const step = Math.floor(now / 30_000);
    expect(matchingStep(rfcSecret, totp(rfcSecret, now), now)).toBe(step);
    expect(matchingStep(rfcSecret, totp(rfcSecret, now - 30_000), now)).toBe(step - 1);
    expect(matchingStep(rfcSecret, totp(rfcSecret, now + 30_000), now)).toBe(step + 1);
    expect(matchingStep(rfcSecret, totp(rfcSecret, now - 90_000), now)).toBeUndefined();
    for (const bad of ['', '12345', '1234567', ' 123456', '12345a', '１２３４５６', '123456\0']) expect(matchingStep(rfcSecret, bad, now)).toBeUndefined();
  });
});

describe('which call needs which strength', () => {
  const base = { proof: 'default' as const, canAsk: true };
  it('safe: a change asks (proof where the client cannot ask), destructive needs proof; normal: runs unless chosen', () => {
    expect(requiredStrength({ ...base, policy: 'mode', effect: 'write', mode: 'safe' }).strength).toBe('ask');
    expect(requiredStrength({ ...base, canAsk: false, policy: 'mode', effect: 'write', mode: 'safe' }).strength).toBe('proof');
    expect(requiredStrength({ ...base, policy: 'mode', effect: 'destructive', mode: 'safe' }).strength).toBe('proof');
    expect(requiredStrength({ ...base, policy: 'mode', effect: 'destructive', mode: 'normal' }).strength).toBe('none');
    expect(requiredStrength({ ...base, proof: 'destructive', policy: 'mode', effect: 'destructive', mode: 'normal' }).strength).toBe('proof');
    expect(requiredStrength({ ...base, proof: 'destructive', policy: 'mode', effect: 'write', mode: 'normal' }).strength).toBe('none');
    expect(requiredStrength({ ...base, proof: 'changes', policy: 'mode', effect: 'write', mode: 'normal' }).strength).toBe('proof');
    expect(requiredStrength({ ...base, proof: 'changes', policy: 'mode', effect: 'write', mode: 'safe' }).strength).toBe('proof');
    expect(requiredStrength({ ...base, policy: 'mode', effect: 'read', mode: 'safe' }).strength).toBe('none');
  });
  it('in every mode, what a tool marks always/human (raising a mode, self_update, restore_config) needs proof, even where the client can ask', () => {
    for (const mode of ['safe', 'normal', 'read-only'] as const) {
      for (const policy of ['always', 'human'] as const) {
        expect(requiredStrength({ ...base, policy, effect: 'read', mode }).strength).toBe('proof');
        expect(requiredStrength({ ...base, policy, effect: 'write', mode }).strength).toBe('proof');
      }
    }
  });
});

describe('approvers', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pmcp-approvers-'));
    store = await openStore(`file:${join(dir, 'db.sqlite')}`);
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a code is good once per approver and time step; a later step works', async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('once');
    const secret = new URL(uri).searchParams.get('secret')!;
    const code = totp(secret);
    expect((await approvals.checkCode('once', code)).ok).toBe(true);
    const again = await approvals.checkCode('once', code);
    expect(again).toMatchObject({ ok: false, reason: 'reused_code' });
    // An older step than the last one accepted is refused too.
    const older = await approvals.checkCode('once', totp(secret, Date.now() - 30_000));
    expect(older.ok).toBe(false);
    expect((await approvals.checkCode('once', totp(secret, Date.now() + 30_000))).ok).toBe(true);
    expect(await approvals.checkCode('nobody', code)).toMatchObject({ ok: false, reason: 'unknown_approver' });
  });

  it(`locks after ${maxFailures} wrong codes in a row, even for the right code, longer each time`, async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('guessed');
    const secret = new URL(uri).searchParams.get('secret')!;
    const right = totp(secret);
    const wrong = right === '000000' ? '000001' : '000000';
    for (let i = 0; i < maxFailures; i++) expect((await approvals.checkCode('guessed', wrong)).ok).toBe(false);
    const locked = await approvals.checkCode('guessed', right);
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    const row = (await approvals.approver('guessed'))!;
    expect(row.lockedUntil - Date.now()).toBeGreaterThan(lockMs - 5_000);
    // Later, five more wrong codes lock for twice as long.
    const after = row.lockedUntil + 1;
    for (let i = 0; i < maxFailures; i++) await approvals.checkCode('guessed', wrong, after);
    expect((await approvals.approver('guessed'))!.lockedUntil - after).toBeGreaterThan(2 * lockMs - 5_000);
  });

  it('the host CLI adds an approver (otpauth URI printed once), lists without secrets, removes; secrets are in no backup table', async () => {
    const added = await approveCli(store, 'approver', 'add', 'carol');
    expect(added.code).toBe(0);
    const secret = /secret=([A-Z2-7]+)/.exec(added.out)?.[1];
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const listed = await approveCli(store, 'approver', 'list');
    expect(listed.out).toContain('carol');
    expect(listed.out).not.toContain(secret);
    expect(Object.keys(backedUpTables)).not.toContain('approvers');
    const events = await approvalsOf(store).events(10);
    expect(JSON.stringify(events)).not.toContain(secret);
    await expect(approveCli(store, 'approver', 'add', 'carol')).rejects.toThrow(/exists already/);
    await expect(approveCli(store, 'approver', 'add', 'bad name')).rejects.toThrow(/not valid/);
    expect((await approveCli(store, 'approver', 'remove', 'carol')).code).toBe(0);
    expect(await approvalsOf(store).checkCode('carol', totp(secret!))).toMatchObject({ ok: false, reason: 'unknown_approver' });
    expect((await approveCli(store, 'yes', 'approval_nope')).code).toBe(1);
    await expect(approveCli(store, 'frobnicate')).rejects.toThrow(/unknown command/);
  });
});

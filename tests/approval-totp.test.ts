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
import { approvalsOf, sourceKey, globalCeiling, lockMs, maxFailures, maxWaitMs, slowStepMs } from '../lib/approval/store.ts';
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

  /** A fake clock and a sleep that moves it, so waits are measured, not slept. */
  function fakeTime() {
    const clock = { t: Date.now(), waits: [] as number[] };
    return {
      clock,
      options: (source: string) => ({ source, now: () => clock.t, sleep: async (ms: number) => void (clock.waits.push(ms), (clock.t += ms)) }),
    };
  }

  it(`locks one ADDRESS out of an approver after ${maxFailures} wrong codes, longer each time; other addresses still get in (no lock for everyone)`, async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('guessed');
    const secret = new URL(uri).searchParams.get('secret')!;
    const { clock, options } = fakeTime();
    const wrongFor = (t: number) => (totp(secret, t) === '000000' ? '000001' : '000000');
    for (let i = 0; i < maxFailures; i++) expect((await approvals.checkCode('guessed', wrongFor(clock.t), options('10.0.0.66'))).ok).toBe(false);
    const locked = await approvals.checkCode('guessed', totp(secret, clock.t), options('10.0.0.66'));
    expect(locked).toMatchObject({ ok: false, reason: 'locked' });
    if (!locked.ok) expect(locked.message).toMatch(/from this address.*host CLI are not affected/);
    expect(approvals.sourceState('guessed', '10.0.0.66').lockedUntil - clock.t).toBeGreaterThan(lockMs - 5_000);
    // The approver from their own address is not locked.
    expect((await approvals.checkCode('guessed', totp(secret, clock.t), options('10.0.0.5'))).ok).toBe(true);
    // Later, five more wrong codes from the guessing address lock it for twice as long.
    clock.t = approvals.sourceState('guessed', '10.0.0.66').lockedUntil + 1;
    for (let i = 0; i < maxFailures; i++) await approvals.checkCode('guessed', wrongFor(clock.t), options('10.0.0.66'));
    expect(approvals.sourceState('guessed', '10.0.0.66').lockedUntil - clock.t).toBeGreaterThan(2 * lockMs - 5_000);
    // The IPv4-mapped form of the locked address is the same address; another is not locked.
    expect(await approvals.checkCode('guessed', totp(secret, clock.t), options('::ffff:10.0.0.66'))).toMatchObject({ reason: 'locked' });
    expect((await approvals.checkCode('guessed', totp(secret, clock.t + 30_000), options('::ffff:10.0.0.5'))).ok).toBe(true);
  });

  it('counts IPv6 by its /64 (one attacker holds a whole /64), IPv4 and its mapped form as one address', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::FFFF:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('unknown')).toBe('unknown');
  });

  it(`after ${globalCeiling} wrong codes from anywhere, every try of that approver waits its slot (slower, never locked); a right code ends it`, async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('spread');
    const secret = new URL(uri).searchParams.get('secret')!;
    const { clock, options } = fakeTime();
    const wrong = () => (totp(secret, clock.t) === '000000' ? '000001' : '000000');
    // Many addresses, a few wrong codes each (under the per-address lock).
    for (let i = 0; i < globalCeiling; i++) expect(await approvals.checkCode('spread', wrong(), options(`192.0.2.${i}`))).toMatchObject({ reason: 'wrong_code' });
    expect(clock.waits).toEqual([]);
    // Now each try claims the next slot: the first starts now, the next waits for it to pass.
    const start = clock.t;
    expect((await approvals.checkCode('spread', wrong(), options('192.0.2.200'))).ok).toBe(false);
    expect(clock.waits).toEqual([0].filter(Boolean));
    clock.t = start; // a second try arriving at the same moment from elsewhere
    expect((await approvals.checkCode('spread', wrong(), options('192.0.2.201'))).ok).toBe(false);
    expect(clock.waits).toEqual([slowStepMs]);
    // The real approver, from their own address, still gets in: after a wait, with the right code.
    clock.t = start;
    const right = totp(secret, start + 30_000);
    const ok = await approvals.checkCode('spread', right, options('198.51.100.7'));
    expect(ok.ok).toBe(true);
    expect(clock.waits[1]).toBeGreaterThan(slowStepMs);
    expect(clock.waits[1]).toBeLessThanOrEqual(maxWaitMs);
    // The right code ended the slow pace.
    expect((await approvals.approver('spread'))!.failures).toBe(0);
    clock.waits.length = 0;
    await approvals.checkCode('spread', wrong(), options('192.0.2.202'));
    expect(clock.waits).toEqual([]);
  });

  it('a queue further off than the longest wait is refused as busy (nothing checked); the host CLI resets the approver', async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('flooded');
    const secret = new URL(uri).searchParams.get('secret')!;
    const { clock, options } = fakeTime();
    const wrong = () => (totp(secret, clock.t) === '000000' ? '000001' : '000000');
    for (let i = 0; i < globalCeiling + 20; i++) await approvals.checkCode('flooded', wrong(), { ...options(`203.0.113.${i}`), sleep: async () => undefined });
    // Many tries queued at this moment (their waits not slept): the slot clock runs ahead of now.
    let busy;
    for (let i = 0; i < 10 && !busy; i++) {
      const answer = await approvals.checkCode('flooded', totp(secret, clock.t), { ...options(`203.0.113.${100 + i}`), sleep: async () => undefined });
      if (!answer.ok && answer.reason === 'busy') busy = answer;
    }
    expect(busy?.message).toMatch(/slowed down.*npm run approve -- yes/);
    const listed = await approveCli(store, 'approver', 'list');
    expect(listed.out).toMatch(/flooded .*wrong code\(s\) in a row \(page tries slowed down/);
    expect((await approveCli(store, 'approver', 'reset', 'flooded')).code).toBe(0);
    clock.waits.length = 0;
    clock.t += 31_000;
    expect((await approvals.checkCode('flooded', totp(secret, clock.t), options('203.0.113.250'))).ok).toBe(true);
    expect(clock.waits).toEqual([]);
    expect((await approveCli(store, 'approver', 'reset', 'nobody')).code).toBe(1);
    // The host's history has the reset on record (and no secret).
    const history = await approveCli(store, 'history');
    expect(history.out).toMatch(/approver .*host:test-admin \(host-cli\) reset the wrong-code count of flooded/);
    expect(history.out).not.toContain(secret);
  });

  it('one try per approver and address at a time: a second, sent while the first waits, is refused as busy', async () => {
    const approvals = approvalsOf(store);
    const { uri } = await approvals.addApprover('parallel');
    const secret = new URL(uri).searchParams.get('secret')!;
    const { clock, options } = fakeTime();
    const wrong = () => (totp(secret, clock.t) === '000000' ? '000001' : '000000');
    for (let i = 0; i < globalCeiling + 1; i++) await approvals.checkCode('parallel', wrong(), options(`192.0.2.${i}`));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Claim a slot that starts later, so the first try is waiting.
    await approvals.checkCode('parallel', wrong(), { ...options('192.0.2.99'), sleep: async () => undefined });
    const first = approvals.checkCode('parallel', wrong(), { ...options('198.51.100.1'), sleep: () => held });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await approvals.checkCode('parallel', totp(secret, clock.t), options('198.51.100.1'))).toMatchObject({ ok: false, reason: 'busy' });
    release();
    expect((await first).ok).toBe(false);
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

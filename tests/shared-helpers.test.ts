/**
 * The small pieces several modules share since the clean-up: the seeded PRNG, the abortable sleep, the
 * dot-segment resolver, and full percent-decoding as the last of a value's decodings.
 */
import { describe, expect, it } from 'vitest';
import { sleep } from '../lib/abort.ts';
import { decodeFully, decodings, resolveDotSegments } from '../lib/policy/normalize.ts';
import { prng } from '../lib/random.ts';

describe('prng (mulberry32)', () => {
  it('gives the same sequence for the same seed, another for another seed, always in [0, 1)', () => {
    const a = prng(12);
    const b = prng(12);
    const c = prng(13);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    // the published mulberry32 sequence for seed 1
    expect(prng(1)()).toBeCloseTo(0.6270739405881613, 15);
  });
});

describe('sleep', () => {
  it('waits, and rejects with the reason as soon as the signal aborts (or at once when it already has)', async () => {
    const started = Date.now();
    await sleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    const waiting = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(new Error('stop')), 10);
    await expect(waiting).rejects.toThrow('stop');
    await expect(sleep(10_000, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});

describe('resolveDotSegments', () => {
  it.each([
    ['/a/./b//../c', '/a/c'],
    ['a/b/', '/a/b'],
    ['/../../etc/pve', '/etc/pve'],
    ['//', '/'],
    ['', '/'],
    ['/access/users/x/../root@pam', '/access/users/root@pam'],
    ['/a/.../b', '/a/.../b'],
  ])('%j is %j', (path, resolved) => {
    expect(resolveDotSegments(path)).toBe(resolved);
  });
});

describe('decodeFully', () => {
  it('decodes until nothing changes, a malformed sequence byte by byte, at most 8 rounds', () => {
    expect(decodeFully('root%2540pam')).toBe('root@pam');
    expect(decodings('root%2540pam')).toEqual(['root%2540pam', 'root%40pam', 'root@pam']);
    expect(decodeFully('%252e%252e%252f')).toBe('../');
    expect(decodeFully('%zz%41')).toBe('%zzA');
    expect(decodeFully('plain')).toBe('plain');
    // each round takes one "25" off: 9 of them need 10 rounds to reach A, so after 8 "%2541" is left
    expect(decodeFully(`x%${'25'.repeat(9)}41`)).toBe('x%2541');
    expect(decodeFully(`x%${'25'.repeat(7)}41`)).toBe('xA');
  });
});

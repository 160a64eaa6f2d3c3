/**
 * An oracle for the read allow-list: seeded random lines built from read-only programs and from the
 * arguments that make programs run or write (sed e/w, awk system/print >, find -exec/-fprint, sort -o,
 * redirections, substitutions...), all aimed at marker files in a scratch directory. Every line the
 * classifier calls a plain read (level read, no feature) is then really run by bash there, and no marker
 * may appear. A line it refuses is never run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCommandLine } from '../lib/exec/classify.ts';
import { prng } from '../lib/random.ts';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pmcp-oracle-'));
  writeFileSync(join(scratch, 'in.txt'), 'alpha 1\nbeta 2\ngamma 3\n');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('oracle: a line classified as a plain read creates no file when bash runs it', () => {
  it('holds for 600 seeded random lines', () => {
    const random = prng(Number(process.env.ORACLE_SEED ?? 12));
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    const marker = () => `M${Math.floor(random() * 1e9)}`;
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const programs = ['cat', 'head', 'tail', 'sort', 'uniq', 'cut', 'tr', 'grep', 'sed', 'awk', 'find', 'ls', 'stat', 'wc', 'echo', 'printf', 'date', 'od', 'base64', 'md5sum', 'comm', 'nl', 'readlink', 'realpath', 'diff', 'paste', 'fold', 'tac', 'rev', 'column', 'strings', 'du', 'df'];
    const nasty = (m: string): string[] => [
      quote(`1e touch ${m}`),
      quote(`s/a/b/w ${m}`),
      quote(`w ${m}`),
      quote(`s/.*/touch ${m}/e`),
      '-e', quote(`1e touch ${m}`),
      `--expression=${quote(`1e touch ${m}`)}`,
      quote(`BEGIN{system("touch ${m}")}`),
      quote(`{print > "${m}"}`),
      quote(`{print | "touch ${m}"}`),
      quote(`BEGIN{printf "x" >> "${m}"}`),
      '-exec', 'touch', m, '\\;',
      '-fprint', m,
      '-o', m,
      `--output=${m}`,
      `--compress-program=touch`,
      '-T', '.',
      `> ${m}`,
      `>> ${m}`,
      `2> ${m}`,
      `&> ${m}`,
      `| tee ${m}`,
      `; touch ${m}`,
      `$(touch ${m})`,
      `\`touch ${m}\``,
      `<(touch ${m})`,
      m,
      'in.txt',
      'in.txt',
      '-n',
      '-i',
      '--in-place',
      '-f', m,
      '-d', m,
      'p',
      quote('1p'),
      quote('{print $1}'),
      '-name', quote('*.txt'),
      '-print',
      '--',
    ];
    let ran = 0;
    const problems: string[] = [];
    for (let i = 0; i < 600; i++) {
      const m = marker();
      const words = [pick(programs)];
      const count = 1 + Math.floor(random() * 4);
      const pool = nasty(m);
      for (let k = 0; k < count; k++) words.push(pick(pool));
      if (random() < 0.5) words.push('in.txt');
      const line = words.join(' ');
      const c = classifyCommandLine(line, { mainNode: 'pve1' });
      if (c.parseError || c.level !== 'read' || c.features.length > 0) continue;
      ran++;
      spawnSync('bash', ['-c', line], { cwd: scratch, timeout: 3000, input: '', stdio: ['pipe', 'ignore', 'ignore'] });
      if (existsSync(join(scratch, m))) problems.push(line);
      // nothing else either: the scratch directory holds only the input file
      const extra = readdirSync(scratch).filter((name) => name !== 'in.txt');
      if (extra.length > 0) {
        problems.push(`${line} (created ${extra.join(', ')})`);
        for (const name of extra) rmSync(join(scratch, name), { recursive: true, force: true });
      }
    }
    if (process.env.ORACLE_SEED) console.log('ran', ran);
    expect(problems).toEqual([]);
    // the generator must actually exercise the read side, not only refusals
    expect(ran).toBeGreaterThan(50);
  }, 120_000);
});

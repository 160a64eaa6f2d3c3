/**
 * Keep the benchmarks working: compile the project (bench/ included) into a private folder and run
 * every scenario at tiny sizes. No timing is judged here (numbers from a smoke run mean nothing, and
 * timing targets live in bench/, never in unit tests): only that each scenario runs and reports numbers.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../lib/paths.ts';
import { run } from './helpers/processes.ts';

// Inside the project (so the compiled code finds package.json, knowledge/ and node_modules), but not
// dist/, which other work may be using.
const outDir = join(projectRoot, 'node_modules', '.cache', 'proxmox-mcp-bench-smoke');
const reportDir = mkdtempSync(join(tmpdir(), 'pmcp-bench-smoke-'));

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(reportDir, { recursive: true, force: true });
});

interface Report {
  smoke: boolean;
  results: Record<string, { rows: { what: string; measured: string }[] }>;
  failures: Record<string, string>;
}

describe('bench smoke run', () => {
  it('every scenario runs at tiny sizes and reports numbers', async () => {
    rmSync(outDir, { recursive: true, force: true });
    const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    // Type errors are the typecheck's business; tsc still emits, and the bench is what is tested here.
    const build = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { timeoutMs: 240_000 });
    expect(existsSync(join(outDir, 'bench', 'run.js')), build.stdout + build.stderr).toBe(true);

    const listed = await run(process.execPath, [join(outDir, 'bench', 'run.js'), '--list'], { timeoutMs: 60_000 });
    const names = listed.stdout.split('\n').filter(Boolean).map((line) => line.split(/\s+/)[0]);
    expect(names.length).toBeGreaterThanOrEqual(9);

    const reportFile = join(reportDir, 'report.json');
    const bench = await run(process.execPath, [join(outDir, 'bench', 'run.js'), '--smoke', '--json', reportFile], { timeoutMs: 420_000 });
    expect(existsSync(reportFile), bench.stdout + bench.stderr).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    expect(report.smoke).toBe(true);
    expect(report.failures).toEqual({});
    expect(Object.keys(report.results).sort()).toEqual([...names].sort());
    for (const [name, result] of Object.entries(report.results)) {
      expect(result.rows.length, name).toBeGreaterThan(0);
      for (const row of result.rows) expect(row.measured, `${name}: ${row.what}`).toMatch(/\d/);
    }
    expect(bench.code, bench.stderr.slice(-2000)).toBe(0);
  }, 720_000);
});

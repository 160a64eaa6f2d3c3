/**
 * The benchmarks: `npm run bench` runs every scenario; `npm run bench -- overhead throughput` runs those;
 * `--smoke` uses tiny sizes (CI keeps the harness working with it; its numbers mean nothing);
 * `--json <file>` writes every number and the machine to a file. See bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { cliFail, parseCli, type CliSpec } from '../lib/cli.ts';
import { machine, loadNow } from './lib/machine.ts';
import type { Row, Scenario, ScenarioResult } from './lib/scenario.ts';
import { productionNodeFlags } from './lib/server.ts';
import { overhead } from './scenarios/overhead.ts';
import { requests } from './scenarios/requests.ts';
import { latency20 } from './scenarios/latency20.ts';
import { scale } from './scenarios/scale.ts';
import { throughput } from './scenarios/throughput.ts';
import { coldStart } from './scenarios/coldstart.ts';
import { memory } from './scenarios/memory.ts';
import { historyScenario } from './scenarios/history.ts';
import { sustained } from './scenarios/sustained.ts';
import { context } from './scenarios/context.ts';

export const scenarios: Scenario[] = [overhead, throughput, requests, latency20, scale, coldStart, memory, historyScenario, sustained, context];

export interface BenchReport {
  machine: ReturnType<typeof machine>;
  smoke: boolean;
  /** The node flags every spawned server ran with. */
  serverNodeFlags: string[];
  results: Record<string, ScenarioResult & { seconds: number; loadBefore: string; loadAfter: string }>;
  failures: Record<string, string>;
}

function table(rows: Row[]): string {
  const lines = ['| what | target | measured | met |', '|---|---|---|---|'];
  for (const row of rows) lines.push(`| ${row.what} | ${row.target} | ${row.measured}${row.note ? ` (${row.note})` : ''} | ${row.met === null ? '-' : row.met ? 'yes' : '**no**'} |`);
  return lines.join('\n');
}

export async function runBench(names: string[], options: { smoke: boolean; log?: (line: string) => void }): Promise<BenchReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const unknown = names.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length) throw new Error(`No scenario ${unknown.join(', ')}. There are: ${scenarios.map((s) => s.name).join(', ')}`);
  const chosen = names.length ? scenarios.filter((s) => names.includes(s.name)) : scenarios;
  const report: BenchReport = { machine: machine(), smoke: options.smoke, serverNodeFlags: productionNodeFlags(), results: {}, failures: {} };
  for (const scenario of chosen) {
    const loadBefore = loadNow();
    log(`\n== ${scenario.name}: ${scenario.description} (load ${loadBefore})`);
    const started = performance.now();
    try {
      const result = await scenario.run({ smoke: options.smoke, log: (line) => log(`   ${line}`) });
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      report.results[scenario.name] = { ...result, seconds, loadBefore, loadAfter: loadNow() };
      log(table(result.rows));
    } catch (error) {
      report.failures[scenario.name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`   FAILED: ${report.failures[scenario.name]}`);
    }
  }
  return report;
}

async function main(): Promise<void> {
  const spec = {
    command: 'npm run bench --',
    summary: 'Run the benchmarks (all scenarios, or the ones named) against a real server process and print a table per scenario. Build and method: bench/README.md.',
    positionals: '[SCENARIO...]',
    options: {
      smoke: { type: 'boolean', default: false, description: 'tiny sizes, seconds instead of minutes (keeps the harness working; its numbers mean nothing)' },
      json: { type: 'string', value: 'FILE', description: 'also write every number and the machine to FILE' },
      list: { type: 'boolean', default: false, description: 'list the scenarios and exit' },
    },
    details: [`scenarios: ${scenarios.map((s) => s.name).join(', ')}`],
    examples: ['npm run bench', 'npm run bench -- overhead throughput --json /tmp/bench.json', 'npm run bench -- --smoke'],
  } satisfies CliSpec;
  const { values, positionals } = parseCli(spec);
  const unknown = positionals.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length) cliFail(spec, `no scenario ${unknown.join(', ')}`);
  if (values.list) {
    for (const s of scenarios) console.log(`${s.name.padEnd(12)} ${s.description}`);
    return;
  }
  const report = await runBench(positionals, { smoke: values.smoke });
  const m = report.machine;
  console.log(`\n## Results (${report.smoke ? 'SMOKE: tiny sizes, not comparable' : 'full'})`);
  console.log(`${m.date}, ${m.cpuModel}, ${m.nproc} cores, ${m.memTotalGiB} GiB, Node ${m.node}, load before ${m.load.join(' ')}; server: node ${report.serverNodeFlags.join(' ')} dist/server.js\n`);
  console.log(table(Object.values(report.results).flatMap((r) => r.rows)));
  for (const [name, failure] of Object.entries(report.failures)) console.log(`\n${name} FAILED: ${failure.split('\n')[0]}`);
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
  if (Object.keys(report.failures).length) process.exitCode = 1;
}

await main();

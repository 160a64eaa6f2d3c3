/** Cold start: from spawning `node dist/server.js` to the first 200 from /health (<= 1 s). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim } from '../lib/sim.ts';
import { startServer } from '../lib/server.ts';
import { median, round } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

export const coldStart: Scenario = {
  name: 'coldstart',
  description: 'cold start to a served /health (<= 1 s)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const repeats = ctx.smoke ? 1 : 7;
    const sim = await startSim({ nodes: 3, guests: 12 });
    const cases: Record<string, number[]> = { 'demo mode, new data dir': [], 'demo mode, existing data dir': [], 'standalone simulator, new data dir': [] };
    const reused = mkdtempSync(join(tmpdir(), 'pmcp-bench-cold-'));
    try {
      for (let i = 0; i < repeats; i++) {
        for (const [label, samples] of Object.entries(cases)) {
          const server = await startServer({
            proxmoxUrl: label.startsWith('standalone') ? sim.url : undefined,
            dataDir: label.includes('existing') ? reused : undefined,
            pollMs: 2,
          });
          samples.push(server.startupMs);
          await server.stop();
        }
      }
    } finally {
      rmSync(reused, { recursive: true, force: true });
      await sim.stop();
    }
    const rows = Object.entries(cases).map(([label, samples]) => {
      ctx.log(`${label}: ${samples.map((s) => round(s, 0)).join(', ')} ms`);
      return {
        what: `cold start to /health, ${label}`,
        target: '<= 1 s',
        measured: `median ${fmtMs(median(samples))}, max ${fmtMs(Math.max(...samples))} (${samples.length} starts)`,
        met: median(samples) <= 1000,
      };
    });
    return { rows, details: { samples: cases } };
  },
};

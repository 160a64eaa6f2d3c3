/**
 * Memory: idle RSS of the server (after start and a short warm-up, then idle), and RSS over 100,000
 * calls from 16 clients: it must level off, not keep growing. The trend is the least-squares slope of
 * RSS over the second half of the run (after warm-up, caches and JIT have settled).
 */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runLoad } from '../lib/load.ts';
import { available, servedTools } from '../lib/tools.ts';
import { linearFit, round, sleep } from '../lib/stats.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/scenario.ts';

export const memory: Scenario = {
  name: 'memory',
  description: 'idle RSS (<= 120 MB) and RSS over 100,000 calls (no growth trend)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const total = ctx.smoke ? 400 : 100_000;
    const step = ctx.smoke ? 100 : 5_000;
    const idleWaitMs = ctx.smoke ? 200 : 3_000;
    const sim = await startSim({ nodes: 3, guests: 12 });
    const idle: Record<string, number> = {};
    try {
      // Demo mode (the built-in simulated cluster lives in the same process).
      const demo = await startServer();
      try {
        const demoClient = createLoadClient(demo.mcpUrl, benchAdminToken);
        const { tools } = available(await servedTools(demoClient));
        await runLoad(demoClient, tools, { concurrency: 1, calls: 50, durationMs: 10_000 });
        demoClient.close();
        await sleep(idleWaitMs);
        idle['demo mode (simulator in process)'] = demo.rssMb();
      } finally {
        await demo.stop();
      }

      const server = await startServer({ proxmoxUrl: sim.url });
      const client = createLoadClient(server.mcpUrl, benchAdminToken, { connections: 16 });
      try {
        idle['just started'] = server.rssMb();
        const { tools } = available(await servedTools(client));
        await runLoad(client, tools, { concurrency: 1, calls: 50, durationMs: 10_000 });
        await sleep(idleWaitMs);
        idle['after a warm-up, idle'] = server.rssMb();

        const samples: { calls: number; rssMb: number }[] = [];
        let done = 0;
        let errors = 0;
        const started = performance.now();
        while (done < total && performance.now() - started < 600_000) {
          const load = await runLoad(client, tools, { concurrency: 16, calls: step, durationMs: 120_000 });
          done += load.calls;
          errors += load.errors;
          samples.push({ calls: done, rssMb: round(server.rssMb(), 1) });
        }
        await sleep(idleWaitMs);
        const afterIdle = server.rssMb();
        const half = samples.slice(Math.floor(samples.length / 2));
        const fit = linearFit(half.map((s) => s.calls), half.map((s) => s.rssMb));
        const growthPer100k = fit.slope * 100_000;
        const peak = Math.max(...samples.map((s) => s.rssMb));
        ctx.log(`RSS every ${step} calls: ${samples.map((s) => s.rssMb).join(' ')} MB; idle after: ${round(afterIdle, 1)} MB`);
        const idleWorst = Math.max(...Object.values(idle));
        return {
          rows: [
            {
              what: 'idle RSS',
              target: '<= 120 MB',
              measured: Object.entries(idle).map(([label, mb]) => `${round(mb, 1)} MB ${label}`).join('; '),
              met: idleWorst <= 120,
            },
            {
              what: `RSS over ${done.toLocaleString('en')} calls (16 clients)`,
              target: 'flat (no growth trend)',
              measured: `first ${samples[0]?.rssMb} MB, peak ${peak} MB, last ${samples[samples.length - 1]?.rssMb} MB, idle after ${round(afterIdle, 1)} MB; trend over the 2nd half ${round(growthPer100k, 1)} MB per 100k calls; ${errors} errors`,
              // Flat: the second half grows by less than 5 MB per 100k calls (RSS noise from GC is a few MB).
              met: errors === 0 && growthPer100k < 5,
            },
          ],
          details: { idle, samples, growthPer100k, afterIdle },
        };
      } finally {
        client.close();
        await server.stop();
      }
    } finally {
      await sim.stop();
    }
  },
};

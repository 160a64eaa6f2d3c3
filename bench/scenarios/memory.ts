/**
 * Memory: idle RSS of the server (just started; after a short warm-up and 3 s idle), and memory over
 * 100,000 calls from 16 clients. RSS alone cannot tell a leak from V8 letting garbage pile up before a
 * full collection (it does, under load: the committed heap grows to ~190 MB while what survives a full
 * GC stays ~40 MB), so the server runs with --trace-gc and "flat" is judged on the live heap after each
 * Mark-Compact: its least-squares trend over the second half of the run. RSS is reported beside it.
 */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer, type ServerProcess } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runLoad } from '../lib/load.ts';
import { available, servedTools } from '../lib/tools.ts';
import { linearFit, round, sleep } from '../lib/stats.ts';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/scenario.ts';

/** `[pid:0x..]  1234 ms: Mark-Compact 152.6 (184.7) -> 39.1 (184.9) MB, ...` -> [ms, live MB after]. */
export function liveHeapAfterFullGc(output: string): { atMs: number; liveMb: number }[] {
  const out: { atMs: number; liveMb: number }[] = [];
  for (const match of output.matchAll(/(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)) {
    out.push({ atMs: Number(match[1]), liveMb: Number(match[2]) });
  }
  return out;
}

export const memory: Scenario = {
  name: 'memory',
  description: 'idle RSS (<= 120 MB) and memory over 100,000 calls (flat: no growth trend)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const total = ctx.smoke ? 400 : 100_000;
    const step = ctx.smoke ? 100 : 5_000;
    const idleWaitMs = ctx.smoke ? 200 : 3_000;
    const sim = await startSim({ nodes: 3, guests: 12 });
    const idle: Record<string, number> = {};
    const warmIdle = async (server: ServerProcess) => {
      const client = createLoadClient(server.mcpUrl, benchAdminToken);
      const { tools } = available(await servedTools(client));
      await runLoad(client, tools, { concurrency: 1, calls: 50, durationMs: 10_000 });
      client.close();
      await sleep(idleWaitMs);
      return server.rssMb();
    };
    try {
      // Demo mode: the built-in simulated cluster lives in the same process.
      const demo = await startServer();
      try {
        idle['demo mode, warmed up'] = await warmIdle(demo);
      } finally {
        await demo.stop();
      }

      const server = await startServer({ proxmoxUrl: sim.url, nodeArgs: ['--trace-gc'] });
      const client = createLoadClient(server.mcpUrl, benchAdminToken, { connections: 16 });
      try {
        idle['standalone simulator, just started'] = server.rssMb();
        idle['standalone simulator, warmed up'] = await warmIdle(server);
        const { tools } = available(await servedTools(client));
        const samples: { calls: number; rssMb: number; atMs: number }[] = [];
        const t0 = performance.now();
        // The GC log counts ms from the server's start, which is about when it was spawned.
        const startedAtServerMs = t0 - server.spawnedAt;
        let done = 0;
        let errors = 0;
        const errorSamples = new Set<string>();
        while (done < total && performance.now() - t0 < 600_000) {
          const load = await runLoad(client, tools, { concurrency: 16, calls: step, durationMs: 120_000 });
          done += load.calls;
          errors += load.errors;
          for (const e of load.errorSamples) if (errorSamples.size < 3) errorSamples.add(e);
          samples.push({ calls: done, rssMb: round(server.rssMb(), 1), atMs: performance.now() - t0 });
        }
        const loadMs = performance.now() - t0;
        await sleep(idleWaitMs);
        const afterIdle = server.rssMb();
        await sleep(ctx.smoke ? 0 : 10_000);
        const afterLongIdle = server.rssMb();

        const gcs = liveHeapAfterFullGc(server.output()).filter((g) => g.atMs >= startedAtServerMs);
        // Second half of the load, by time (the GC log is stamped in ms since the server started).
        const secondHalf = gcs.filter((g) => g.atMs >= startedAtServerMs + loadMs / 2 && g.atMs <= startedAtServerMs + loadMs);
        const heapFit = linearFit(secondHalf.map((g) => ((g.atMs - startedAtServerMs) / loadMs) * done), secondHalf.map((g) => g.liveMb));
        const heapPer100k = heapFit.slope * 100_000;
        const half = samples.slice(Math.floor(samples.length / 2));
        const rssPer100k = linearFit(half.map((s) => s.calls), half.map((s) => s.rssMb)).slope * 100_000;
        const live = gcs.map((g) => g.liveMb);
        ctx.log(`RSS every ${step} calls: ${samples.map((s) => s.rssMb).join(' ')} MB; idle after 3 s ${round(afterIdle, 1)} MB, after 13 s ${round(afterLongIdle, 1)} MB`);
        ctx.log(`live heap after each full GC (${gcs.length}): ${live.map((v) => round(v, 1)).join(' ')} MB`);
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
              what: `memory over ${done.toLocaleString('en')} calls (16 clients)`,
              target: 'flat (no growth trend)',
              measured:
                `live heap after full GC: ${live.length ? `${round(Math.min(...live), 1)}-${round(Math.max(...live), 1)} MB, trend ${round(heapPer100k, 2)} MB per 100k calls (2nd half, ${secondHalf.length} GCs)` : 'no full GC seen'}; ` +
                `RSS first ${samples[0]?.rssMb} MB, peak ${Math.max(...samples.map((s) => s.rssMb))} MB, last ${samples[samples.length - 1]?.rssMb} MB (trend ${round(rssPer100k, 1)} MB per 100k), ${round(afterLongIdle, 1)} MB after 13 s idle; ${errors} errors`,
              // Flat: what survives a full GC grows by less than 2 MB per 100k calls.
              met: errors === 0 && secondHalf.length >= 2 && heapPer100k < 2,
              note: errorSamples.size ? [...errorSamples].join('; ') : undefined,
            },
          ],
          details: { idle, samples, gcs, heapPer100k, rssPer100k, afterIdle, afterLongIdle },
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

/** Throughput: 16 concurrent MCP clients calling read tools in a closed loop (>= 1,500 calls/s). */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runLoad } from '../lib/load.ts';
import { available, servedTools } from '../lib/tools.ts';
import { median, round, summarize } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

export const throughput: Scenario = {
  name: 'throughput',
  description: '16 concurrent MCP clients, read tools, zero-latency standalone simulator (>= 1,500 calls/s)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const concurrency = ctx.smoke ? 4 : 16;
    const seconds = ctx.smoke ? 1 : 10;
    const rounds = ctx.smoke ? 1 : 3;
    const sim = await startSim({ nodes: 3, guests: 12 });
    const server = await startServer({ proxmoxUrl: sim.url });
    const client = createLoadClient(server.mcpUrl, benchAdminToken, { connections: concurrency });
    try {
      const { tools, primary } = available(await servedTools(client));
      const mixes = [
        { label: primary.tool, specs: [primary] },
        ...(tools.length > 1 ? [{ label: `mix of ${tools.map((t) => t.tool).join(', ')}`, specs: tools }] : []),
      ];
      await runLoad(client, mixes.flatMap((m) => m.specs), { concurrency, calls: 1_000_000, durationMs: ctx.smoke ? 300 : 3_000 });
      const rows = [];
      const details: Record<string, unknown> = {};
      for (const mix of mixes) {
        const runs = [];
        for (let i = 0; i < rounds; i++) {
          const load = await runLoad(client, mix.specs, { concurrency, calls: 1_000_000, durationMs: seconds * 1000 });
          if (load.errors) throw new Error(`${load.errors} errors: ${load.errorSamples.join('; ')}`);
          runs.push({ callsPerSec: round(load.callsPerSec, 0), calls: load.calls, latency: summarize(load.latencies) });
          ctx.log(`${mix.label}: ${round(load.callsPerSec, 0)} calls/s (p50 ${fmtMs(runs[i].latency.p50)}, p99 ${fmtMs(runs[i].latency.p99)})`);
        }
        const rate = median(runs.map((r) => r.callsPerSec));
        details[mix.label] = runs;
        rows.push({
          what: `throughput, ${concurrency} concurrent clients, ${mix.label}`,
          target: '>= 1,500 calls/s',
          measured: `${rate} calls/s (median of ${rounds} x ${seconds} s; runs ${runs.map((r) => r.callsPerSec).join(', ')})`,
          met: rate >= 1500,
          note: mix.label === primary.tool && primary.tool !== 'list_vms' ? `${primary.tool} stands in for list_vms` : undefined,
        });
      }
      return { rows, details };
    } finally {
      client.close();
      await server.stop();
      await sim.stop();
    }
  },
};

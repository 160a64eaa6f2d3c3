/** With 20 ms simulated Proxmox latency a call should cost its round trips and no more (list_vms <= 30 ms). */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runSequential } from '../lib/load.ts';
import { available, servedTools } from '../lib/tools.ts';
import { summarize } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Row, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

export const latency20: Scenario = {
  name: 'latency20',
  description: 'read tools with 20 ms simulated Proxmox latency (list_vms <= 30 ms)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const latencyMs = 20;
    const calls = ctx.smoke ? 3 : 150;
    const sim = await startSim({ nodes: 3, guests: 12, latencyMs });
    const server = await startServer({ proxmoxUrl: sim.url });
    const client = createLoadClient(server.mcpUrl, benchAdminToken);
    try {
      const { tools, primary } = available(await servedTools(client));
      const measured = [...new Map([primary, ...tools].map((tool) => [tool.tool, tool])).values()];
      const rows: Row[] = [];
      const details: Record<string, unknown> = {};
      for (const tool of measured) {
        await runSequential(client, tool, { calls: ctx.smoke ? 1 : 10, durationMs: 10_000 });
        await sim.reset();
        const load = await runSequential(client, tool, { calls, durationMs: 60_000 });
        if (load.errors) throw new Error(`${tool.tool}: ${load.errorSamples.join('; ')}`);
        const stats = await sim.stats();
        const s = summarize(load.latencies);
        const perCall = stats.requests / load.calls;
        details[tool.tool] = { summary: s, requestsPerCall: perCall, byEndpoint: stats.byEndpoint };
        ctx.log(`${tool.tool}: p50 ${fmtMs(s.p50)} p99 ${fmtMs(s.p99)}, ${perCall} Proxmox requests/call`);
        const isList = tool.tool === primary.tool;
        rows.push({
          what: `${tool.tool} with ${latencyMs} ms Proxmox latency`,
          target: isList ? 'p50 <= 30 ms' : `its round trips (${perCall} requests/call) + a few ms`,
          measured: `p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}, ${perCall} requests/call`,
          met: isList ? s.p50 <= 30 : null,
          note: isList && tool.tool !== 'list_vms' ? `${tool.tool} stands in for list_vms` : undefined,
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

/** 32 nodes and 2,000 guests: list_vms overhead (end to end minus a direct request for the same listing) p50 <= 15 ms. */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runSequential } from '../lib/load.ts';
import { timeDirect } from '../lib/direct.ts';
import { available, servedTools, type ReadTool } from '../lib/tools.ts';
import { median, round, summarize, type Summary } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

export const scale: Scenario = {
  name: 'scale',
  description: 'list_vms on 32 nodes / 2,000 guests (p50 <= 15 ms overhead)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const size = ctx.smoke ? { nodes: 4, guests: 60 } : { nodes: 32, guests: 2000 };
    const rounds = ctx.smoke ? 1 : 3;
    const calls = ctx.smoke ? 5 : 150;
    const sim = await startSim(size);
    const server = await startServer({ proxmoxUrl: sim.url });
    const client = createLoadClient(server.mcpUrl, benchAdminToken);
    try {
      const { primary, tools } = available(await servedTools(client));
      // The default page (500 rows) and the whole list in one answer.
      const all = primary.tool === 'list_vms' ? [{ ...primary, label: 'list_vms limit=10000', args: { ...primary.args, limit: 10000 } }] : [];
      const measured: (ReadTool & { label?: string })[] = [primary, ...all, ...tools.filter((t) => t.tool === 'list_containers')];
      const rows = [];
      const details: Record<string, unknown> = { size };
      for (const tool of measured) {
        const name = tool.label ?? tool.tool;
        await runSequential(client, tool, { calls: ctx.smoke ? 2 : 30, durationMs: 20_000 });
        const e2e: Summary[] = [];
        const direct: Summary[] = [];
        let items = 0;
        let requests = 0;
        let done = 0;
        for (let round = 0; round < rounds; round++) {
          await sim.reset();
          const load = await runSequential(client, tool, { calls, durationMs: 60_000 });
          if (load.errors) throw new Error(`${tool.tool}: ${load.errorSamples.join('; ')}`);
          requests += (await sim.stats()).requests;
          done += load.calls;
          e2e.push(summarize(load.latencies));
          direct.push(summarize(await timeDirect(sim.url, tool.direct ?? '/cluster/resources?type=vm', calls, 60_000)));
        }
        const sample = await client.call(tool.tool, tool.args, true);
        const data = sample.structured?.data as Record<string, unknown> | unknown[] | undefined;
        const arrays = Array.isArray(data) ? [data] : data ? Object.values(data).filter(Array.isArray) : [];
        items = arrays.length ? Math.max(...arrays.map((a) => a.length)) : Number.NaN;
        const e2eP50 = median(e2e.map((s) => s.p50));
        const directP50 = median(direct.map((s) => s.p50));
        // The shared 2 s /cluster/resources cache means most calls send no request at all.
        const requestsPerCall = requests / done;
        const overheadP50 = e2eP50 - requestsPerCall * directP50;
        details[name] = { e2e, direct, overheadP50, items, requestsPerCall };
        ctx.log(`${name}: ${items} items, e2e p50 ${fmtMs(e2eP50)} p99 ${fmtMs(median(e2e.map((s) => s.p99)))}, direct p50 ${fmtMs(directP50)}`);
        rows.push({
          what: `${name} overhead at ${size.nodes} nodes / ${size.guests} guests`,
          target: 'p50 <= 15 ms',
          measured: `p50 ${fmtMs(overheadP50)} (end to end p50 ${fmtMs(e2eP50)}, p99 ${fmtMs(median(e2e.map((s) => s.p99)))}; direct simulator request ${fmtMs(directP50)} x ${round(requestsPerCall, 3)} requests/call; ${items} items)`,
          met: tool === primary ? overheadP50 <= 15 : null,
          note: tool === primary && tool.tool !== 'list_vms' ? `${tool.tool} stands in for list_vms` : undefined,
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

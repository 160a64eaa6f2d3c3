/**
 * Proxmox requests per call, counted by the simulator, at a small and a large cluster size: "cold" (the
 * server's 2 s shared cache of /cluster/resources has expired, so the call pays everything) and "warm"
 * (back-to-back calls). For tools allowed several requests: whether they are issued in parallel (the
 * most requests the simulator had in flight at once during a cold call with 50 ms latency per request,
 * and that call's time).
 */
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { available, servedTools, type ReadTool } from '../lib/tools.ts';
import { sleep } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Row, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

const probeLatencyMs = 50;
/** Longer than the Proxmox client's shared /cluster/resources cache (2 s). */
const cacheExpiryMs = 2_200;

interface Count {
  cold: number;
  warm: number;
  byEndpointCold: Record<string, number>;
  inFlight?: number;
  probeMs?: number;
}

export const requests: Scenario = {
  name: 'requests',
  description: 'Proxmox requests per call (list_* 1 at any size; vm_status <= 3; get_system_info <= 4, in parallel)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke ? [{ nodes: 2, guests: 6 }] : [{ nodes: 3, guests: 12 }, { nodes: 32, guests: 2000 }];
    const warmCalls = ctx.smoke ? 2 : 10;
    const counts: Record<string, Record<string, Count>> = {};
    let toolsSeen: ReadTool[] = [];
    let missing: string[] = [];
    for (const size of sizes) {
      const label = `${size.nodes} nodes/${size.guests} guests`;
      const sim = await startSim(size);
      const server = await startServer({ proxmoxUrl: sim.url });
      const client = createLoadClient(server.mcpUrl, benchAdminToken);
      const call = async (tool: ReadTool) => {
        const outcome = await client.call(tool.tool, tool.args);
        if (!outcome.ok) throw new Error(`${tool.tool}: ${outcome.error}`);
        return outcome;
      };
      try {
        const found = available(await servedTools(client));
        toolsSeen = found.tools;
        missing = found.missing;
        counts[label] = {};
        // The very first call also fetches the token's permissions (cached 30 s on purpose): not counted.
        for (const tool of found.tools) await call(tool);
        for (const tool of found.tools) {
          await sleep(ctx.smoke ? 0 : cacheExpiryMs);
          await sim.reset();
          await call(tool);
          const cold = await sim.stats();
          await sim.reset();
          for (let i = 0; i < warmCalls; i++) await call(tool);
          const warm = await sim.stats();
          const entry: Count = { cold: cold.requests, warm: warm.requests / warmCalls, byEndpointCold: cold.byEndpoint };
          if (tool.parallel) {
            await sleep(ctx.smoke ? 0 : cacheExpiryMs);
            await sim.latency(probeLatencyMs);
            await sim.reset();
            entry.probeMs = (await call(tool)).ms;
            entry.inFlight = (await sim.stats()).maxInFlight;
            await sim.latency(0);
          }
          counts[label][tool.tool] = entry;
          ctx.log(`${label}: ${tool.tool} cold ${entry.cold} ${JSON.stringify(cold.byEndpoint)}, warm ${entry.warm}/call` +
            (entry.inFlight !== undefined ? `; at ${probeLatencyMs} ms/request: ${entry.inFlight} in flight at once, call ${fmtMs(entry.probeMs ?? 0)}` : ''));
        }
      } finally {
        client.close();
        await server.stop();
        await sim.stop();
      }
    }
    const rows: Row[] = toolsSeen.map((tool) => {
      const entries = Object.entries(counts).map(([label, byTool]) => [label, byTool[tool.tool]] as const);
      const worst = Math.max(...entries.map(([, e]) => e.cold));
      let measured = entries.map(([label, e]) => `${label}: ${e.cold} cold, ${e.warm} warm`).join('; ');
      let met = tool.maxRequests === undefined ? null : worst <= tool.maxRequests;
      if (tool.parallel) {
        const inFlight = Math.min(...entries.map(([, e]) => e.inFlight ?? 0));
        const slowest = Math.max(...entries.map(([, e]) => e.probeMs ?? 0));
        // Parallel: all of a cold call's requests were in flight together, and the call took well under
        // one round trip per request.
        const parallel = inFlight >= worst && slowest < (worst - 1) * probeLatencyMs;
        measured += `; at ${probeLatencyMs} ms per request: ${inFlight} in flight at once, call ${fmtMs(slowest)}`;
        met = met !== null && met && parallel;
      }
      return {
        what: `Proxmox requests per ${tool.tool} call`,
        target: tool.maxRequests === 1 ? '1 at any cluster size' : `<= ${tool.maxRequests}${tool.parallel ? ', in parallel' : ''}`,
        measured,
        met,
      };
    });
    for (const name of missing) rows.push({ what: `Proxmox requests per ${name} call`, target: 'see the issue', measured: 'tool not served yet', met: null });
    return { rows, details: { counts, missing } };
  },
};

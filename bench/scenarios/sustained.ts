/**
 * Sustained load: 200 concurrent clients for 60 s. No call may fail, and every call must be in the
 * history afterwards (counted in the database file once the server has stopped and flushed).
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createClient } from '@libsql/client';
import { startSim } from '../lib/sim.ts';
import { benchAdminToken, startServer } from '../lib/server.ts';
import { createLoadClient } from '../lib/mcp.ts';
import { runLoad } from '../lib/load.ts';
import { available, servedTools } from '../lib/tools.ts';
import { round, summarize } from '../lib/stats.ts';
import { fmtMs, type BenchContext, type Scenario, type ScenarioResult } from '../lib/scenario.ts';

export async function countHistory(dataDir: string): Promise<number> {
  const db = createClient({ url: `file:${join(dataDir, 'proxmox-mcp.db')}` });
  try {
    const result = await db.execute("SELECT count(*) AS n FROM history WHERE door = 'mcp'");
    return Number(result.rows[0].n);
  } finally {
    db.close();
  }
}

export const sustained: Scenario = {
  name: 'sustained',
  description: '200 concurrent clients for 60 s: no errors, no dropped history rows',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const concurrency = ctx.smoke ? 10 : 200;
    const seconds = ctx.smoke ? 1 : 60;
    const sim = await startSim({ nodes: 3, guests: 12 });
    const server = await startServer({ proxmoxUrl: sim.url });
    const client = createLoadClient(server.mcpUrl, benchAdminToken, { connections: concurrency, timeoutMs: 30_000 });
    let keep = true;
    try {
      const { tools } = available(await servedTools(client));
      const rssBefore = server.rssMb();
      const load = await runLoad(client, tools, { concurrency, calls: 5_000_000, durationMs: seconds * 1000 });
      const rssAfter = server.rssMb();
      client.close();
      await server.stop({ keepData: true });
      const rows = await countHistory(server.dataDir);
      const latency = summarize(load.latencies);
      ctx.log(`${load.calls} calls in ${round(load.elapsedMs / 1000, 1)} s (${round(load.callsPerSec, 0)}/s), ${load.errors} errors, ${rows} history rows; p50 ${fmtMs(latency.p50)} p99 ${fmtMs(latency.p99)} max ${fmtMs(latency.max)}`);
      keep = false;
      return {
        rows: [
          {
            what: `sustained: ${concurrency} concurrent clients for ${seconds} s`,
            target: 'no errors, no dropped history rows',
            measured: `${load.calls.toLocaleString('en')} calls (${round(load.callsPerSec, 0)}/s), ${load.errors} errors, ${rows.toLocaleString('en')} history rows (${load.calls - rows} missing); p50 ${fmtMs(latency.p50)}, p99 ${fmtMs(latency.p99)}, max ${fmtMs(latency.max)}; RSS ${round(rssBefore, 0)} -> ${round(rssAfter, 0)} MB`,
            met: load.errors === 0 && rows === load.calls,
            note: load.errorSamples.length ? load.errorSamples.join('; ') : undefined,
          },
        ],
        details: { calls: load.calls, errors: load.errors, errorSamples: load.errorSamples, historyRows: rows, latency, callsPerSec: load.callsPerSec, rssBefore, rssAfter },
      };
    } finally {
      client.close();
      await server.stop();
      if (!keep) rmSync(server.dataDir, { recursive: true, force: true });
      await sim.stop();
    }
  },
};

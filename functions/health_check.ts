import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { healthReport, type HealthReport } from '../lib/runtime/health.ts';
import { identity } from '../lib/self/context.ts';

const check = z.object({
  name: z.string(),
  status: z.enum(['ok', 'warn', 'fail', 'skipped']),
  detail: z.string(),
  latency_ms: z.number().optional(),
  action: z.string().optional(),
});

export default defineTool({
  name: 'health_check',
  title: 'Health of this server',
  description: 'Health of proxmox-mcp and its dependencies (Proxmox API and token, privileges, database, SSH, backup space), each problem with a fix.',
  input: z.object({}),
  output: z.object({
    status: z.enum(['ok', 'degraded', 'down']),
    name: z.string(),
    version: z.string(),
    uptime_s: z.number(),
    simulated: z.boolean(),
    notice: z.string().optional(),
    checks: z.array(check),
    checked_at: z.string(),
  }),
  effect: 'read',
  async run(_input, ctx) {
    const runtime = ctx.services.runtime;
    let report: HealthReport;
    if (runtime) {
      report = (await runtime.health()) as HealthReport;
    } else {
      const me = await identity(ctx);
      report = await healthReport({ name: me.name, version: me.version, startedAt: new Date(), config: ctx.config, store: ctx.services.store, pve: ctx.pve, exec: ctx.services.exec, simulated: !ctx.config.proxmox.url, log: ctx.log });
    }
    const bad = report.checks.filter((item) => item.status === 'fail' || item.status === 'warn');
    return {
      data: report,
      summary: bad.length === 0 ? `${report.name} ${report.version}: ${report.status}, all ${report.checks.length} checks fine` : `${report.status}: ${bad.map((item) => `${item.name} ${item.status}`).join(', ')}`,
      warnings: [...bad.map((item) => `${item.name}: ${item.detail}`), ...(report.notice ? [report.notice] : [])],
      suggestions: bad.map((item) => item.action).filter((action): action is string => Boolean(action)),
    };
  },
});

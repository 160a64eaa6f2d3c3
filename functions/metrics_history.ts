import { z } from 'zod';
import { defineTool, type PrivilegeNeed } from '../lib/tool.ts';
import { nodeName } from '../lib/schemas.ts';
import { ToolError } from '../lib/errors.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';
import { daysUntilFull, iso, metricNames, metricsOf, summarize, seriesOf, timeframes, type RrdRow } from '../lib/metrics/history.ts';
import { chartPng, comparisonPng, describe, metricSummaries, onlineNodes, readRrd, resolveTarget } from '../lib/metrics/report.ts';
import { metricsChartUri } from '../lib/metrics/resource.ts';
import { toBase64 } from '../lib/self/crypto.ts';

const seriesSummary = z.object({ avg: z.number(), min: z.number(), peak: z.number(), peak_at: z.string(), trend: z.enum(['rising', 'falling', 'flat']), change_percent: z.number() });
const nodeColumns = ['node', 'cpu_avg', 'cpu_peak', 'cpu_peak_at', 'mem_avg', 'mem_peak', 'net_in_avg', 'net_out_avg'];

function privileges(input: { node?: string; vmid?: number; storage?: string }): PrivilegeNeed[] {
  if (input.storage !== undefined) return [{ path: `/storage/${input.storage}`, privileges: ['Datastore.Audit'] }];
  if (input.vmid !== undefined) return [{ path: `/vms/${input.vmid}`, privileges: ['VM.Audit'] }];
  return [{ path: input.node ? `/nodes/${input.node}` : '/nodes', privileges: ['Sys.Audit'] }];
}

export default defineTool({
  name: 'metrics_history',
  title: 'Metrics history and charts',
  description:
    'CPU, memory, disk I/O and network of a node or guest over an hour, day, week, month or year (Proxmox RRD), summed up: average, peak and when, trend, what stands out; ' +
    'chart: a PNG line chart of one metric. storage with node: a storage\'s use and when it fills. Without node and vmid: every node side by side, busiest first. Times are UTC.',
  toolset: 'metrics',
  input: z.object({
    vmid: z.coerce.number().int().min(100).max(999999999).optional().describe('A guest (its node is found for you)'),
    node: nodeName.optional().describe('A node; without node and vmid every node is compared'),
    storage: z.string().regex(/^[A-Za-z][A-Za-z0-9\-_.]*[A-Za-z0-9]$/).max(64).optional().describe('A storage on node: its use over time (metric disk) and when it fills'),
    timeframe: z.enum(timeframes).default('day').describe('hour (1-minute points), day (30 min), week (3 h), month (12 h), year (1 week)'),
    cf: z.enum(['AVERAGE', 'MAX']).default('AVERAGE').describe('AVERAGE (default) or MAX of each step'),
    metrics: z.array(z.enum(metricNames)).min(1).max(4).optional().describe('cpu, memory, disk, network (default all)'),
    chart: z.enum(['none', ...metricNames]).default('none').describe('Add a PNG chart of this metric (an image; also readable as a resource)'),
    ...pageShape({ defaultLimit: 50, maxLimit: 500, sortable: ['node', 'cpu_avg', 'cpu_peak', 'mem_avg', 'mem_peak', 'net_in_avg', 'net_out_avg'], defaultSort: '-cpu_avg' }),
  }),
  output: z.object({
    target: z.string().describe('node pve1, VM 101 (db01), or all nodes'),
    timeframe: z.enum(timeframes),
    cf: z.enum(['AVERAGE', 'MAX']),
    from: z.string().nullable(),
    to: z.string().nullable(),
    points: z.number(),
    metrics: z.record(z.string(), z.object({ unit: z.enum(['%', 'B/s']), series: z.record(z.string(), seriesSummary) })).optional(),
    node_at_peak: z.object({ node: z.string(), at: z.string(), cpu_percent: z.number().optional(), mem_percent: z.number().optional() }).optional().describe('The guest\'s node at the guest\'s CPU peak: was the node busy too?'),
    stands_out: z.array(z.string()),
    nodes: z.array(z.record(z.string(), z.unknown())).optional().describe('All nodes: one row each, busiest (cpu_avg) first'),
    total: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
    offline_nodes: z.array(z.string()).optional(),
    chart: z.object({ metric: z.string(), uri: z.string(), width: z.number(), height: z.number(), bytes: z.number(), png_base64: z.string().optional().describe('REST only; MCP gets an image block') }).optional(),
  }),
  effect: 'read',
  privileges: (input) => privileges(input),
  explain: (input) => ({
    summary: input.storage !== undefined ? `Read the ${input.timeframe} use history of storage ${input.storage} on ${input.node ?? '?'}` : input.vmid !== undefined ? `Read the ${input.timeframe} metrics history of guest ${input.vmid}` : input.node ? `Read the ${input.timeframe} metrics history of node ${input.node}` : `Compare every node over the ${input.timeframe}`,
    apiCalls: input.storage !== undefined
      ? [`GET /nodes/${input.node ?? '{node}'}/storage/${input.storage}/rrddata?timeframe=${input.timeframe}&cf=${input.cf}`]
      : input.vmid !== undefined
      ? [`GET /nodes/{node}/{qemu|lxc}/${input.vmid}/rrddata?timeframe=${input.timeframe}&cf=${input.cf}`, `GET /nodes/{node}/rrddata?timeframe=${input.timeframe}&cf=${input.cf}`]
      : [`GET /nodes/${input.node ?? '{each node}'}/rrddata?timeframe=${input.timeframe}&cf=${input.cf}`],
    cliEquivalent: `pvesh get /nodes/${input.node ?? '{node}'}${input.storage !== undefined ? `/storage/${input.storage}` : input.vmid !== undefined ? `/qemu/${input.vmid}` : ''}/rrddata --timeframe ${input.timeframe} --cf ${input.cf}`,
    privileges: privileges(input),
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    const metrics = input.metrics ?? (input.storage !== undefined ? metricsOf('storage') : [...metricNames]);
    if (input.chart !== 'none' && !metrics.includes(input.chart)) metrics.push(input.chart);
    if (input.storage !== undefined && metrics.some((m) => m !== 'disk')) throw new ToolError('invalid_input', `A storage's history holds its use only: metrics disk (chart disk), not ${metrics.filter((m) => m !== 'disk').join(', ')}.`);
    const rest = ctx.caller.door === 'rest';
    const chartOf = (png: Uint8Array, uri: string) => ({
      data: { metric: input.chart, uri, width: 720, height: 300, bytes: png.length, ...(rest ? { png_base64: toBase64(png) } : {}) },
      images: [{ mimeType: 'image/png' as const, data: toBase64(png) }],
    });

    if (input.vmid === undefined && input.node === undefined && input.storage === undefined) {
      const { online, offline } = await onlineNodes(ctx.pve, ctx.signal);
      if (!online.length) throw new ToolError('unavailable', `No node is online to read metrics from (offline: ${offline.join(', ') || 'none'}).`);
      const byNode = new Map<string, RrdRow[]>();
      await Promise.all(online.map(async (node) => byNode.set(node, await readRrd(ctx.pve, { kind: 'node', node }, input.timeframe, input.cf, ctx.signal))));
      const rows = online.map((node) => {
        const data = byNode.get(node)!;
        const cpu = summarize(data, seriesOf('node', 'cpu')[0].read);
        const mem = summarize(data, seriesOf('node', 'memory')[0].read);
        const [netIn, netOut] = seriesOf('node', 'network').map((s) => summarize(data, s.read));
        return { node, cpu_avg: cpu?.avg, cpu_peak: cpu?.peak, cpu_peak_at: cpu?.peak_at, mem_avg: mem?.avg, mem_peak: mem?.peak, net_in_avg: netIn?.avg, net_out_avg: netOut?.avg };
      });
      const page = paginate(rows, { ...input, sort: input.sort ?? '-cpu_avg' }, { sortable: ['node', 'cpu_avg', 'cpu_peak', 'mem_avg', 'mem_peak', 'net_in_avg', 'net_out_avg'], tieBreak: ['node'], columns: nodeColumns, key: ['node'] });
      const times = [...byNode.values()].flat().map((row) => row.time);
      const busiest = [...rows].sort((a, b) => (b.cpu_avg ?? 0) - (a.cpu_avg ?? 0))[0];
      const chart = input.chart !== 'none' ? chartOf(comparisonPng(byNode, input.chart, input.timeframe), '') : undefined;
      return {
        data: {
          target: 'all nodes', timeframe: input.timeframe, cf: input.cf,
          from: times.length ? iso(Math.min(...times)) : null, to: times.length ? iso(Math.max(...times)) : null,
          points: Math.max(0, ...[...byNode.values()].map((r) => r.length)),
          stands_out: busiest ? [`busiest: ${busiest.node}, CPU ${busiest.cpu_avg}% on average, peak ${busiest.cpu_peak}% at ${busiest.cpu_peak_at}`] : [],
          nodes: page.rows, total: page.total, next_cursor: page.next_cursor, offline_nodes: offline,
          ...(chart ? { chart: { ...chart.data, uri: 'metrics_history (no resource for the comparison)' } } : {}),
        },
        summary: `Nodes over the ${input.timeframe} (${input.cf}): ${busiest ? `busiest ${busiest.node} (CPU avg ${busiest.cpu_avg}%, peak ${busiest.cpu_peak}% at ${busiest.cpu_peak_at})` : 'no data'}; ${pageLine(page, input.cursor, input.sort ?? '-cpu_avg', 'nodes')}`,
        warnings: offline.length ? [`Offline, not compared: ${offline.join(', ')}`] : [],
        ...(chart ? { images: chart.images } : {}),
      };
    }

    const target = await resolveTarget(ctx.pve, input, ctx.signal);
    const rows = await readRrd(ctx.pve, target, input.timeframe, input.cf, ctx.signal);
    const { summaries, notes } = metricSummaries(target.kind, rows, metrics);
    if (target.kind === 'storage') {
      const days = daysUntilFull(rows);
      const last = rows[rows.length - 1];
      if (days !== undefined) notes.unshift(`at the pace of this ${input.timeframe}, ${target.storage} on ${target.node} is full in about ${days} days`);
      if (last && typeof last.used === 'number' && typeof last.total === 'number' && last.total > 0 && last.used / last.total >= 0.85) notes.unshift(`${target.storage} is ${Math.round((100 * last.used) / last.total)}% full now`);
    }
    let nodeAtPeak: { node: string; at: string; cpu_percent?: number; mem_percent?: number } | undefined;
    const cpu = summaries.cpu?.series.cpu;
    if ((target.kind === 'qemu' || target.kind === 'lxc') && cpu) {
      // Was the node busy when the guest peaked? (contention from neighbours vs. the guest's own load)
      const nodeRows = await readRrd(ctx.pve, { kind: 'node', node: target.node }, input.timeframe, input.cf, ctx.signal).catch(() => [] as RrdRow[]);
      const at = nodeRows.find((row) => iso(row.time) === cpu.peak_at);
      if (at) {
        const nodeCpu = seriesOf('node', 'cpu')[0].read(at);
        const nodeMem = seriesOf('node', 'memory')[0].read(at);
        nodeAtPeak = { node: target.node, at: cpu.peak_at, ...(nodeCpu !== undefined ? { cpu_percent: Math.round(nodeCpu * 10) / 10 } : {}), ...(nodeMem !== undefined ? { mem_percent: Math.round(nodeMem * 10) / 10 } : {}) };
      }
    }
    const chart = input.chart !== 'none' && rows.length ? chartOf(chartPng(target.kind, rows, input.chart, input.timeframe), metricsChartUri(target, input.timeframe, input.chart)) : undefined;
    const who = describe(target);
    const line = (name: string, unit: string, s: { avg: number; peak: number; peak_at: string; trend: string }) => `${name} avg ${s.avg}${unit === '%' ? '%' : ' B/s'}, peak ${s.peak}${unit === '%' ? '%' : ' B/s'} at ${s.peak_at} (${s.trend})`;
    const parts = Object.values(summaries).flatMap((m) => Object.entries(m!.series).map(([name, s]) => line(name, m!.unit, s)));
    return {
      data: {
        target: who, timeframe: input.timeframe, cf: input.cf,
        from: rows.length ? iso(rows[0].time) : null, to: rows.length ? iso(rows[rows.length - 1].time) : null,
        points: rows.length, metrics: summaries, ...(nodeAtPeak ? { node_at_peak: nodeAtPeak } : {}), stands_out: notes,
        ...(chart ? { chart: chart.data } : {}),
      },
      summary: rows.length ? `${who} over the ${input.timeframe} (${input.cf}, UTC): ${parts.slice(0, 3).join('; ')}${notes.length ? `. Stands out: ${notes.slice(0, 2).join('; ')}` : ''}` : `${who}: no metrics history for the ${input.timeframe}`,
      ...(nodeAtPeak?.cpu_percent !== undefined ? { suggestions: [nodeAtPeak.cpu_percent >= 80 ? `Node ${target.node} was busy too at that time (CPU ${nodeAtPeak.cpu_percent}%): neighbours may have competed; compare with metrics_history node ${target.node}.` : `Node ${target.node} had CPU ${nodeAtPeak.cpu_percent}% at that time: the load was the guest's own (see its tasks and backups at that hour).`] } : {}),
      ...(chart ? { images: chart.images } : {}),
      node: target.node,
      ...(target.vmid ? { vmid: target.vmid } : {}),
    };
  },
});

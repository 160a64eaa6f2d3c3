/**
 * One metrics answer: the target resolved (a node, a guest by id, or every node), its RRD rows read once,
 * each metric summed up, what stands out, and on request a PNG chart of one metric. Shared by the
 * metrics_history tool and the proxmox://metrics/... chart resource.
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';
import { renderLineChart } from './chart.ts';
import { describe, formatValue, readRrd, seriesOf, standouts, summarize, timeLabel, type MetricName, type MetricSummary, type RrdRow, type Target, type Timeframe } from './history.ts';

export async function resolveTarget(pve: PveClient, input: { node?: string; vmid?: number; storage?: string }, signal?: AbortSignal): Promise<Target> {
  if (input.storage !== undefined) {
    if (input.vmid !== undefined) throw new ToolError('invalid_input', 'storage and vmid are two targets: name one.');
    if (!input.node) throw new ToolError('invalid_input', `storage ${input.storage} needs node: its use is recorded per node (a shared storage looks the same from each).`);
    const rows = await pve.clusterResources('storage', { signal });
    const here = rows.filter((row) => row.type === 'storage' && row.node === input.node);
    if (!here.length && !(await pve.clusterResources('node', { signal })).some((row) => row.type === 'node' && row.node === input.node)) {
      throw new ToolError('not_found', `Node '${input.node}' is not in this cluster.`);
    }
    if (!here.some((row) => row.storage === input.storage)) throw new ToolError('not_found', `Storage '${input.storage}' is not on node ${input.node}. Storages there: ${here.map((row) => String(row.storage)).sort().join(', ') || 'none'}.`);
    return { kind: 'storage', node: input.node, storage: input.storage };
  }
  if (input.vmid !== undefined) {
    const where = await pve.locateGuest(input.vmid, { signal });
    if (input.node && input.node !== where.node) throw new ToolError('invalid_input', `Guest ${input.vmid} is on ${where.node}, not ${input.node}: leave node out or name ${where.node}.`);
    return { kind: where.type, node: where.node, vmid: input.vmid, ...(where.name ? { name: where.name } : {}) };
  }
  const nodes = (await pve.clusterResources('node', { signal })).filter((row) => row.type === 'node').map((row) => String(row.node));
  if (!input.node || !nodes.includes(input.node)) {
    throw new ToolError('not_found', `Node '${input.node}' is not in this cluster. Nodes: ${nodes.sort().join(', ')}.`);
  }
  return { kind: 'node', node: input.node };
}

export async function onlineNodes(pve: PveClient, signal?: AbortSignal): Promise<{ online: string[]; offline: string[] }> {
  const rows = (await pve.clusterResources('node', { signal })).filter((row) => row.type === 'node');
  const name = (row: (typeof rows)[number]) => String(row.node);
  return { online: rows.filter((row) => row.status === 'online').map(name).sort(), offline: rows.filter((row) => row.status !== 'online').map(name).sort() };
}

export function metricSummaries(kind: Target['kind'], rows: RrdRow[], metrics: readonly MetricName[]): { summaries: Partial<Record<MetricName, MetricSummary>>; notes: string[] } {
  const summaries: Partial<Record<MetricName, MetricSummary>> = {};
  const notes: string[] = [];
  for (const metric of metrics) {
    const series = seriesOf(kind, metric);
    const out: MetricSummary = { unit: series[0].unit, series: {} };
    for (const s of series) {
      const summary = summarize(rows, s.read);
      if (summary) out.series[s.name] = summary;
      notes.push(...standouts(rows, s.name, s.unit, s.read, formatValue(s.unit)));
    }
    if (Object.keys(out.series).length) summaries[metric] = out;
  }
  return { summaries, notes };
}

export function chartPng(kind: Target['kind'], rows: RrdRow[], metric: MetricName, timeframe: Timeframe): Uint8Array {
  const series = seriesOf(kind, metric);
  return renderLineChart({
    times: rows.map((row) => row.time),
    series: series.map((s) => ({ name: s.name, values: rows.map((row) => s.read(row) ?? null) })),
    format: formatValue(series[0].unit),
    ...(series[0].unit === '%' ? { yMax: 100 } : {}),
    timeLabel: timeLabel(timeframe),
  });
}

/** Every node's series of one metric on one chart. */
export function comparisonPng(byNode: Map<string, RrdRow[]>, metric: MetricName, timeframe: Timeframe): Uint8Array {
  const entries = [...byNode.entries()].slice(0, 8);
  const longest = entries.reduce((best, [, rows]) => (rows.length > best.length ? rows : best), [] as RrdRow[]);
  const read = seriesOf('node', metric)[0];
  return renderLineChart({
    times: longest.map((row) => row.time),
    series: entries.map(([node, rows]) => {
      const byTime = new Map(rows.map((row) => [row.time, row]));
      return { name: node, values: longest.map((row) => (byTime.has(row.time) ? read.read(byTime.get(row.time)!) ?? null : null)) };
    }),
    format: formatValue(read.unit),
    ...(read.unit === '%' ? { yMax: 100 } : {}),
    timeLabel: timeLabel(timeframe),
  });
}

export { describe, readRrd };

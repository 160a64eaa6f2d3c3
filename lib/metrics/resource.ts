/**
 * proxmox://metrics/{kind}/{id}/{timeframe}/{metric}: a metrics chart as a PNG resource (blob), e.g.
 * proxmox://metrics/guest/101/day/cpu or proxmox://metrics/node/pve1/week/memory. `cf` is AVERAGE; MAX
 * charts come from the tool. Not listed (there would be one per guest, timeframe and metric).
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';
import { metricNames, timeframes, type MetricName, type Target, type Timeframe } from './history.ts';
import { chartPng, readRrd, resolveTarget } from './report.ts';
import { toBase64 } from '../self/crypto.ts';

export const metricsChartTemplate = 'proxmox://metrics/{kind}/{id}/{timeframe}/{metric}';

export function metricsChartUri(target: Target, timeframe: Timeframe, metric: MetricName): string {
  const base = target.kind === 'node'
    ? `proxmox://metrics/node/${encodeURIComponent(target.node)}`
    : target.kind === 'storage'
      ? `proxmox://metrics/storage/${encodeURIComponent(`${target.node}:${target.storage}`)}`
      : `proxmox://metrics/guest/${target.vmid}`;
  return `${base}/${timeframe}/${metric}`;
}

export async function readMetricsChart(pve: PveClient, uri: string, vars: { kind: string; id: string; timeframe: string; metric: string }): Promise<{ contents: { uri: string; mimeType: string; blob: string }[] }> {
  const { kind, id, timeframe, metric } = vars;
  if (kind !== 'node' && kind !== 'guest' && kind !== 'storage') throw new ToolError('not_found', `No metrics of '${kind}': use proxmox://metrics/node/{node}/..., proxmox://metrics/guest/{vmid}/... or proxmox://metrics/storage/{node}:{storage}/disk`);
  if (!(timeframes as readonly string[]).includes(timeframe)) throw new ToolError('not_found', `Timeframe '${timeframe}' does not exist: ${timeframes.join(', ')}.`);
  if (!(metricNames as readonly string[]).includes(metric)) throw new ToolError('not_found', `Metric '${metric}' does not exist: ${metricNames.join(', ')}.`);
  if (kind === 'guest' && !/^[1-9]\d{2,8}$/.test(id)) throw new ToolError('not_found', `'${id}' is no guest id.`);
  if (kind === 'storage' && (metric !== 'disk' || !/^[^:]+:[^:]+$/.test(decodeURIComponent(id)))) throw new ToolError('not_found', `A storage chart is proxmox://metrics/storage/{node}:{storage}/{timeframe}/disk.`);
  const [storageNode, storage] = decodeURIComponent(id).split(':');
  const target = await resolveTarget(pve, kind === 'guest' ? { vmid: Number(id) } : kind === 'storage' ? { node: storageNode, storage } : { node: decodeURIComponent(id) });
  const rows = await readRrd(pve, target, timeframe as Timeframe, 'AVERAGE');
  return { contents: [{ uri, mimeType: 'image/png', blob: toBase64(chartPng(target.kind, rows, metric as MetricName, timeframe as Timeframe)) }] };
}

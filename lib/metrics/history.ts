/**
 * Metrics history from the RRD endpoints (GET /nodes/{node}/rrddata, .../qemu|lxc/{vmid}/rrddata), summed
 * up for an agent: per series the average, the peak and when, the low, the trend (last third against the
 * first), and what stands out (windows well above normal, near-full use). One node or guest per call, or
 * every node side by side ("which node is the busiest this week").
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';

export const timeframes = ['hour', 'day', 'week', 'month', 'year'] as const;
export type Timeframe = (typeof timeframes)[number];
export const metricNames = ['cpu', 'memory', 'disk', 'network'] as const;
export type MetricName = (typeof metricNames)[number];

export type RrdRow = Record<string, number | undefined> & { time: number };

export interface SeriesSummary {
  avg: number;
  min: number;
  peak: number;
  peak_at: string;
  /** last third's average against the first third's: rising, falling or flat */
  trend: 'rising' | 'falling' | 'flat';
  change_percent: number;
}

export interface MetricSummary {
  unit: '%' | 'B/s';
  series: Record<string, SeriesSummary>;
}

export interface Target {
  kind: 'node' | 'qemu' | 'lxc' | 'storage';
  node: string;
  vmid?: number;
  name?: string;
  /** kind storage: the storage id (its RRD as seen from `node`) */
  storage?: string;
}

/** The metrics each kind of target has (a storage's RRD holds only its use: metric disk). */
export function metricsOf(kind: Target['kind']): MetricName[] {
  return kind === 'storage' ? ['disk'] : [...metricNames];
}

/** Which series make up each metric, and how to read them from a row. */
export function seriesOf(kind: Target['kind'], metric: MetricName): { name: string; unit: '%' | 'B/s'; read: (row: RrdRow) => number | undefined }[] {
  const ratio = (used: string, total: string) => (row: RrdRow) => (typeof row[used] === 'number' && typeof row[total] === 'number' && row[total]! > 0 ? (100 * row[used]!) / row[total]! : undefined);
  const field = (name: string, scale = 1) => (row: RrdRow) => (typeof row[name] === 'number' ? row[name]! * scale : undefined);
  if (kind === 'storage') return metric === 'disk' ? [{ name: 'used', unit: '%', read: ratio('used', 'total') }] : [];
  switch (metric) {
    case 'cpu':
      return [{ name: 'cpu', unit: '%', read: field('cpu', 100) }];
    case 'memory':
      return [{ name: 'mem', unit: '%', read: kind === 'node' ? ratio('memused', 'memtotal') : ratio('mem', 'maxmem') }];
    case 'disk':
      return kind === 'node'
        ? [{ name: 'iowait', unit: '%', read: field('iowait', 100) }]
        : [{ name: 'read', unit: 'B/s', read: field('diskread') }, { name: 'write', unit: 'B/s', read: field('diskwrite') }];
    case 'network':
      return [{ name: 'in', unit: 'B/s', read: field('netin') }, { name: 'out', unit: 'B/s', read: field('netout') }];
  }
}

export async function readRrd(pve: PveClient, target: Target, timeframe: Timeframe, cf: 'AVERAGE' | 'MAX', signal?: AbortSignal): Promise<RrdRow[]> {
  const node = encodeURIComponent(target.node);
  const path = target.kind === 'node' ? `/nodes/${node}/rrddata` : target.kind === 'storage' ? `/nodes/${node}/storage/${encodeURIComponent(target.storage ?? '')}/rrddata` : `/nodes/${node}/${target.kind}/${target.vmid}/rrddata`;
  const rows = await pve.get<RrdRow[]>(path, { timeframe, cf }, { signal });
  if (!Array.isArray(rows)) throw new ToolError('unavailable', `Proxmox gave no metrics history for ${describe(target)}.`);
  return rows.filter((row) => typeof row?.time === 'number').sort((a, b) => a.time - b.time);
}

export function describe(target: Target): string {
  if (target.kind === 'node') return `node ${target.node}`;
  if (target.kind === 'storage') return `storage ${target.storage} on ${target.node}`;
  return `${target.kind === 'qemu' ? 'VM' : 'CT'} ${target.vmid}${target.name ? ` (${target.name})` : ''}`;
}

const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z');
}

export function summarize(rows: RrdRow[], read: (row: RrdRow) => number | undefined): SeriesSummary | undefined {
  const points = rows.map((row) => ({ time: row.time, value: read(row) })).filter((p): p is { time: number; value: number } => typeof p.value === 'number' && Number.isFinite(p.value));
  if (!points.length) return undefined;
  const values = points.map((p) => p.value);
  const peak = points.reduce((best, p) => (p.value > best.value ? p : best), points[0]);
  const third = Math.max(1, Math.floor(points.length / 3));
  const first = mean(values.slice(0, third));
  const last = mean(values.slice(-third));
  const change = first === 0 ? (last === 0 ? 0 : 100) : ((last - first) / first) * 100;
  return {
    avg: round(mean(values), 2),
    min: round(Math.min(...values), 2),
    peak: round(peak.value, 2),
    peak_at: iso(peak.time),
    trend: Math.abs(change) < 15 ? 'flat' : change > 0 ? 'rising' : 'falling',
    change_percent: round(change, 0),
  };
}

/** Windows where a series runs well above its normal (and, for percentages, above 80 %). */
export function standouts(rows: RrdRow[], name: string, unit: '%' | 'B/s', read: (row: RrdRow) => number | undefined, format: (v: number) => string): string[] {
  const values = rows.map(read);
  const known = values.filter((v): v is number => typeof v === 'number');
  if (known.length < 3) return [];
  const avg = mean(known);
  const sd = Math.sqrt(mean(known.map((v) => (v - avg) ** 2)));
  const threshold = unit === '%' ? Math.max(80, Math.min(avg + 2 * sd, 95)) : Math.max(avg + 2 * sd, avg * 2);
  const out: string[] = [];
  let start = -1;
  let peak = 0;
  const close = (end: number) => {
    const from = iso(rows[start].time);
    const to = iso(rows[end].time);
    out.push(`${name} ${format(peak)} peak ${from === to ? `at ${from}` : `from ${from} to ${to}`} (normal ${format(avg)})`);
  };
  values.forEach((value, i) => {
    const high = typeof value === 'number' && value >= threshold && (unit !== '%' || value >= 80 || value > avg + 2 * sd);
    if (high) {
      if (start < 0) {
        start = i;
        peak = value!;
      } else peak = Math.max(peak, value!);
    } else if (start >= 0) {
      close(i - 1);
      start = -1;
    }
  });
  if (start >= 0) close(values.length - 1);
  return out.slice(0, 4);
}

/**
 * When a storage fills at the pace of the timeframe (a straight line through its used bytes), or undefined
 * when its use is flat or falling. Days from the last point.
 */
export function daysUntilFull(rows: RrdRow[]): number | undefined {
  const points = rows.filter((row) => typeof row.used === 'number' && typeof row.total === 'number' && row.total! > 0);
  if (points.length < 3) return undefined;
  const n = points.length;
  const mx = mean(points.map((p) => p.time));
  const my = mean(points.map((p) => p.used!));
  const slope = points.reduce((sum, p) => sum + (p.time - mx) * (p.used! - my), 0) / points.reduce((sum, p) => sum + (p.time - mx) ** 2, 0);
  const last = points[n - 1];
  if (!(slope > 0)) return undefined;
  return round((last.total! - last.used!) / slope / 86400, 1);
}

export function formatValue(unit: '%' | 'B/s'): (value: number) => string {
  if (unit === '%') return (value) => `${round(value, value < 10 ? 1 : 0)}%`;
  return (value) => {
    const units = ['B/s', 'KB/s', 'MB/s', 'GB/s', 'TB/s'];
    let v = value;
    let i = 0;
    while (v >= 1000 && i < units.length - 1) {
      v /= 1000;
      i++;
    }
    return `${round(v, v < 10 && i > 0 ? 1 : 0)}${units[i]}`;
  };
}

/** Time labels: clock time for an hour or a day, month-day for a week or a month, year-month for a year (UTC). */
export function timeLabel(timeframe: Timeframe): (seconds: number) => string {
  return (seconds) => {
    const text = new Date(seconds * 1000).toISOString();
    if (timeframe === 'hour' || timeframe === 'day') return text.slice(11, 16);
    if (timeframe === 'year') return text.slice(0, 7);
    return text.slice(5, 10);
  };
}

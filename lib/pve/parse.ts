/**
 * Lenient parsing of what Proxmox returns. Perl's JSON encoder sometimes sends numbers as strings
 * ("100" from /cluster/nextid, "0.02" for cpu), and booleans as 0/1; these helpers accept both.
 */
import type { ClusterResource } from './types.ts';

/** A number from a number or a numeric string; `fallback` (or undefined) for anything else. */
export function num(value: unknown): number | undefined;
export function num(value: unknown, fallback: number): number;
export function num(value: unknown, fallback?: number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : fallback;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) {
      const parsed = Number(trimmed);
      if (Number.isFinite(parsed)) return parsed;
    }
  }
  return fallback;
}

/** A boolean from true/false, 1/0, "1"/"0" (and "true"/"false", "yes"/"no" to be forgiving). */
export function bool(value: unknown): boolean | undefined;
export function bool(value: unknown, fallback: boolean): boolean;
export function bool(value: unknown, fallback?: boolean): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === '1' || lower === 'true' || lower === 'yes' || lower === 'on') return true;
    if (lower === '0' || lower === 'false' || lower === 'no' || lower === 'off' || lower === '') return false;
  }
  return fallback;
}

const numericResourceFields = [
  'vmid',
  'uptime',
  'cpu',
  'maxcpu',
  'mem',
  'maxmem',
  'disk',
  'maxdisk',
  'netin',
  'netout',
  'diskread',
  'diskwrite',
  'maxswap',
  'swap',
] as const;

const booleanResourceFields = ['template', 'shared'] as const;

/** One row of GET /cluster/resources with its numbers and flags parsed; unknown fields are kept. */
export function parseClusterResource(raw: unknown): ClusterResource | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const row: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const field of numericResourceFields) {
    if (field in row) {
      const parsed = num(row[field]);
      if (parsed === undefined) delete row[field];
      else row[field] = parsed;
    }
  }
  for (const field of booleanResourceFields) {
    if (field in row) {
      const parsed = bool(row[field]);
      if (parsed === undefined) delete row[field];
      else row[field] = parsed;
    }
  }
  if (typeof row.id !== 'string') {
    if (row.type === 'qemu' || row.type === 'lxc') row.id = `${String(row.type)}/${String(row.vmid)}`;
    else if (row.type === 'node' && typeof row.node === 'string') row.id = `node/${row.node}`;
    else return undefined;
  }
  if (typeof row.type !== 'string') row.type = String(row.id).split('/')[0] ?? 'unknown';
  return row as ClusterResource;
}

export function parseClusterResources(raw: unknown): ClusterResource[] {
  if (!Array.isArray(raw)) return [];
  const rows: ClusterResource[] = [];
  for (const item of raw) {
    const row = parseClusterResource(item);
    if (row) rows.push(row);
  }
  return rows;
}

/** Does this response text look like an HTML page (a proxy's error page, a login form...)? */
export function looksLikeHtml(text: string, contentType?: string | null): boolean {
  if (contentType && /\btext\/html\b/i.test(contentType)) return true;
  const start = text.trimStart().slice(0, 64).toLowerCase();
  return start.startsWith('<!doctype html') || start.startsWith('<html') || start.startsWith('<head') || start.startsWith('<body');
}

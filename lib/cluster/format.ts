/**
 * Small, pure formatting helpers the cluster tools share: sizes, percentages, ages and epoch times, so
 * every tool words them the same way ("12.4 GiB", "87.5", "3d 4h").
 */

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 13314398618 -> "12.4 GiB". */
export function humanBytes(bytes: number | undefined): string | undefined {
  if (bytes === undefined || !Number.isFinite(bytes)) return undefined;
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(Math.round(value)) : value.toFixed(value >= 100 ? 0 : 1);
  return `${bytes < 0 ? '-' : ''}${text} ${units[unit]}`;
}

/** Used share of total in percent, one decimal; undefined when the total is unknown or zero. */
export function percent(used: number | undefined, total: number | undefined): number | undefined {
  if (used === undefined || total === undefined || !Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return undefined;
  return Math.round((used / total) * 1000) / 10;
}

/** A 0..1 fraction as a percentage with one decimal. */
export function fractionPercent(fraction: number | undefined): number | undefined {
  if (fraction === undefined || !Number.isFinite(fraction)) return undefined;
  return Math.round(fraction * 1000) / 10;
}

/** 273600 -> "3d 4h"; 3720 -> "1h 2m"; 42 -> "42s". */
export function durationText(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return undefined;
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m`;
  return `${s}s`;
}

export function nowEpoch(): number {
  return Math.floor(Date.now() / 1000);
}

/** Epoch seconds -> ISO 8601, or undefined. */
export function isoFromEpoch(epoch: number | undefined): string | undefined {
  if (epoch === undefined || !Number.isFinite(epoch) || epoch <= 0) return undefined;
  return new Date(epoch * 1000).toISOString();
}

/** How long ago an epoch time was, in seconds (never negative). */
export function ageSeconds(epoch: number | undefined, now = nowEpoch()): number | undefined {
  if (epoch === undefined || !Number.isFinite(epoch) || epoch <= 0) return undefined;
  return Math.max(0, now - epoch);
}

/** Parameters without undefined values (Proxmox rejects nothing for them, but plans read better). */
export function defined<T extends Record<string, unknown>>(params: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(params)) if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  return out;
}

/** `a=1 b=x` for plans (values already safe to show). */
export function paramText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`)
    .join(' ');
}

/** Proxmox booleans in answers: 1/0, "1"/"0", true/false. */
export function flag(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value === '1' || value.toLowerCase() === 'true' || value.toLowerCase() === 'yes';
  return undefined;
}

export function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Proxmox property strings (`virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20`), sizes (`32G`), tag lists and
 * memory amounts, parsed and written the way qemu-server and pve-container do.
 */

export type PropertyMap = Record<string, string>;

/**
 * `local-lvm:vm-100-disk-0,size=32G` -> { _: 'local-lvm:vm-100-disk-0', size: '32G' }. The first part
 * without `=` is the default key (the volume, or a NIC model for QEMU's `virtio=MAC`, which has `=`).
 */
export function parseProps(text: string): PropertyMap {
  const out: PropertyMap = {};
  for (const part of String(text).split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq === -1) out._ = part;
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The inverse of parseProps; `_` first, then the keys in their order. */
export function formatProps(map: PropertyMap): string {
  const parts: string[] = [];
  if (map._ !== undefined) parts.push(map._);
  for (const [key, value] of Object.entries(map)) if (key !== '_' && value !== undefined && value !== '') parts.push(`${key}=${value}`);
  return parts.join(',');
}

const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `32G` -> bytes; a bare number is bytes (as in a disk's size=). */
export function sizeToBytes(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * units[match[2].toUpperCase()]);
}

/** bytes -> `32G`, `1.5T`, `512M` (for people). */
export function formatBytes(bytes: number | undefined): string | undefined {
  if (bytes === undefined || !Number.isFinite(bytes)) return undefined;
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const size = units[unit];
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1).replace(/\.0$/, '')}${unit}`;
    }
  }
  return `${bytes}B`;
}

/** Tags as Proxmox stores them (`prod;web`, sometimes with commas or spaces) -> ['prod', 'web']. */
export function splitTags(text: unknown): string[] {
  if (typeof text !== 'string' || text.trim() === '') return [];
  return text.split(/[;,\s]+/).filter(Boolean);
}

/** Memory as given by a person: a number is MiB, `4G`/`512M` are converted; undefined when unusable. */
export function memoryMiB(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const bytes = sizeToBytes(text);
  if (bytes === undefined || !/[KMGT]$/i.test(text)) return undefined;
  const mib = bytes / 1024 ** 2;
  return Number.isInteger(mib) && mib > 0 ? mib : undefined;
}

/** `memory` from a config: a number, or 9.x's property string `current=4096` -> 4096 (MiB). */
export function configMemoryMiB(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  const current = /^(?:current=)?(\d+)/.exec(text);
  return current ? Number(current[1]) : undefined;
}

/** A glob (`web*`, `db-?`) as an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Name matching for filters: a glob when it has * or ?, otherwise a case-insensitive substring. */
export function textMatcher(pattern: string): (value: string | undefined) => boolean {
  if (/[*?]/.test(pattern)) {
    const regex = globToRegExp(pattern);
    return (value) => value !== undefined && regex.test(value);
  }
  const needle = pattern.toLowerCase();
  return (value) => value !== undefined && value.toLowerCase().includes(needle);
}

/** Tag matching: a glob, or an exact (case-insensitive) tag. */
export function tagMatcher(pattern: string): (tags: string[]) => boolean {
  const regex = globToRegExp(pattern);
  return (tags) => tags.some((tag) => regex.test(tag));
}

/**
 * The newest vzdump backup of a guest across every storage that holds backups: the storage list from the
 * (cached) /cluster/resources?type=storage, then one content listing per backup storage, in parallel.
 * A storage that does not answer is a note, not a failure.
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import { num } from '../pve/parse.ts';
import type { ClusterResource, PveClient } from '../pve/types.ts';

export const backupSchema = z.object({
  volid: z.string(),
  storage: z.string(),
  ctime: z.number().describe('Unix epoch seconds'),
  created: z.string().describe('ISO time'),
  age_hours: z.number(),
  size: z.number().optional().describe('bytes'),
  notes: z.string().optional(),
  protected: z.boolean().optional(),
});

export type BackupInfo = z.output<typeof backupSchema>;

export interface BackupLookup {
  last: BackupInfo | null;
  /** Backup storages looked at. */
  storages: string[];
  /** Storages that could not be read, with why. */
  problems: string[];
}

/** Storages with backup content reachable from `node`: node-local ones on that node, shared ones once. */
export function backupStorages(resources: ClusterResource[], node: string): { storage: string; node: string }[] {
  const chosen = new Map<string, { storage: string; node: string }>();
  for (const row of resources) {
    if (row.type !== 'storage' || typeof row.storage !== 'string' || typeof row.node !== 'string') continue;
    if (!String(row.content ?? '').split(',').includes('backup')) continue;
    if (row.status !== undefined && row.status !== 'available') continue;
    if (row.shared) {
      const current = chosen.get(row.storage);
      if (!current || row.node === node) chosen.set(row.storage, { storage: row.storage, node: row.node });
    } else if (row.node === node) {
      chosen.set(row.storage, { storage: row.storage, node });
    }
  }
  return [...chosen.values()].sort((a, b) => a.storage.localeCompare(b.storage));
}

export async function findLastBackup(pve: PveClient, vmid: number, node: string, signal?: AbortSignal): Promise<BackupLookup> {
  const resources = await pve.clusterResources('storage', { signal });
  const storages = backupStorages(resources, node);
  const problems: string[] = [];
  const lists = await Promise.all(
    storages.map(async (target) => {
      try {
        const rows = await pve.get<unknown[]>(`/nodes/${encodeURIComponent(target.node)}/storage/${encodeURIComponent(target.storage)}/content`, { content: 'backup', vmid }, { signal });
        return (Array.isArray(rows) ? rows : []).map((row) => ({ row: row as Record<string, unknown>, storage: target.storage }));
      } catch (error) {
        problems.push(`${target.storage}: ${error instanceof ToolError ? error.message : String(error)}`);
        return [];
      }
    }),
  );
  let newest: BackupInfo | null = null;
  const nowSec = Date.now() / 1000;
  for (const { row, storage } of lists.flat()) {
    const ctime = num(row.ctime);
    if (typeof row.volid !== 'string' || ctime === undefined) continue;
    if (row.vmid !== undefined && num(row.vmid) !== vmid) continue;
    if (newest && newest.ctime >= ctime) continue;
    newest = {
      volid: row.volid,
      storage,
      ctime,
      created: new Date(ctime * 1000).toISOString(),
      age_hours: Math.round(((nowSec - ctime) / 3600) * 10) / 10,
      ...(num(row.size) !== undefined ? { size: num(row.size) } : {}),
      ...(typeof row.notes === 'string' && row.notes ? { notes: row.notes } : {}),
      ...(row.protected !== undefined ? { protected: row.protected === 1 || row.protected === '1' || row.protected === true } : {}),
    };
  }
  return { last: newest, storages: storages.map((s) => s.storage), problems };
}

/** "no backup in the last 7 days" check, for warnings before a delete. */
export function backupAgeWarning(label: string, vmid: number, lookup: BackupLookup, days = 7): string | undefined {
  if (lookup.last && lookup.last.age_hours <= days * 24) return undefined;
  if (lookup.last) return `${label} ${vmid} has no backup in the last ${days} days (newest: ${lookup.last.volid}, ${Math.round(lookup.last.age_hours / 24)} days old).`;
  if (lookup.problems.length && !lookup.storages.length) return `${label} ${vmid}: backups could not be checked (${lookup.problems.join('; ')}).`;
  return `${label} ${vmid} has no backup in the last ${days} days (none found on ${lookup.storages.length ? lookup.storages.join(', ') : 'any backup storage'}).`;
}

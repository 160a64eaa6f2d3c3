/**
 * Backups as guest_backup_list shows them (and guest_backup's restore finds them): every backup storage
 * read once (shared storages from one node), newest first, with each guest's backup state.
 */
import { z } from 'zod';
import { toToolError } from '../errors.ts';
import { num } from '../pve/parse.ts';
import type { ToolContext } from '../tool.ts';
import { ageSeconds, durationText, flag, humanBytes, isoFromEpoch, text } from './format.ts';
import type { StorageEntry } from './storage.ts';
import { parseBackupName } from './volumes.ts';

export const backupInfo = z.object({
  volid: z.string(),
  storage: z.string(),
  node: z.string().describe('a node that sees it (any node, for shared storage)'),
  shared: z.boolean(),
  vmid: z.number().optional(),
  guest_type: z.enum(['qemu', 'lxc']).optional(),
  created: z.string().optional(),
  age_seconds: z.number().optional(),
  age: z.string().optional(),
  size: z.number().optional(),
  size_text: z.string().optional(),
  notes: z.string().optional(),
  protected: z.boolean(),
  verification: z.enum(['ok', 'failed', 'none']).optional().describe('Proxmox Backup Server: the last verify job (none: never verified)'),
  encrypted: z.boolean().optional().describe('Proxmox Backup Server: encrypted on the client side'),
});

export type BackupInfo = z.infer<typeof backupInfo>;

export const guestBackupState = z.object({
  vmid: z.number(),
  name: z.string().optional(),
  type: z.enum(['qemu', 'lxc']),
  node: z.string().optional(),
  backups: z.number(),
  last_backup: z.string().optional(),
  last_backup_age_days: z.number().optional(),
  stale: z.boolean().describe('no backup within stale_days'),
});

export function toBackup(row: Record<string, unknown>, entry: StorageEntry): BackupInfo {
  const volid = String(row.volid);
  const fromName = parseBackupName(volid);
  const ctime = num(row.ctime) ?? fromName?.time;
  const age = ageSeconds(ctime);
  const subtype = text(row.subtype);
  const size = num(row.size);
  return {
    volid,
    storage: entry.storage,
    node: entry.node,
    shared: entry.shared,
    vmid: num(row.vmid) ?? fromName?.vmid,
    guest_type: subtype === 'qemu' || subtype === 'lxc' ? subtype : fromName?.guestType,
    created: isoFromEpoch(ctime),
    age_seconds: age,
    age: durationText(age),
    size,
    size_text: humanBytes(size),
    notes: text(row.notes)?.trim() || undefined,
    protected: flag(row.protected) === true,
    // PBS snapshots (format pbs-vm / pbs-ct) say whether a verify job checked them and whether they are encrypted
    ...(String(row.format ?? '').startsWith('pbs-')
      ? { verification: (row.verification as { state?: string } | undefined)?.state === 'ok' ? 'ok' as const : (row.verification as { state?: string } | undefined)?.state === 'failed' ? 'failed' as const : 'none' as const, encrypted: Boolean(row.encrypted) }
      : {}),
  };
}

/** Backup storages to read: shared ones once (from any online node), local ones on every online node. */
export function backupSources(entries: StorageEntry[], onlyStorage?: string): StorageEntry[] {
  const out: StorageEntry[] = [];
  const sharedDone = new Set<string>();
  for (const entry of entries) {
    if (!entry.content.includes('backup') || entry.status !== 'available') continue;
    if (onlyStorage && entry.storage !== onlyStorage) continue;
    if (entry.shared) {
      if (sharedDone.has(entry.storage)) continue;
      sharedDone.add(entry.storage);
    }
    out.push(entry);
  }
  return out;
}

export async function readBackups(ctx: ToolContext, sources: StorageEntry[], vmid?: number): Promise<{ backups: BackupInfo[]; errors: string[] }> {
  const results = await Promise.allSettled(
    sources.map(async (entry) => {
      const rows = await ctx.pve.get<Record<string, unknown>[]>(
        `/nodes/${encodeURIComponent(entry.node)}/storage/${encodeURIComponent(entry.storage)}/content`,
        { content: 'backup', ...(vmid !== undefined ? { vmid } : {}) },
        { signal: ctx.signal },
      );
      return (Array.isArray(rows) ? rows : []).map((row) => toBackup(row, entry));
    }),
  );
  const backups: BackupInfo[] = [];
  const errors: string[] = [];
  results.forEach((result, index) => {
    if (result.status === 'fulfilled') backups.push(...result.value);
    else errors.push(`${sources[index].storage} on ${sources[index].node}: ${toToolError(result.reason).message}`);
  });
  backups.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  return { backups, errors };
}


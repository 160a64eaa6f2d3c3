import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../lib/tool.ts';
import { ToolError, toToolError } from '../lib/errors.ts';
import { nodeName, storageId, timeoutSeconds, vmid as vmidSchema, waitForTask } from '../lib/schemas.ts';
import { finishTask, taskResultSchema, type TaskOutcome } from '../lib/task-result.ts';
import { num } from '../lib/pve/parse.ts';
import type { ClusterResource, GuestType } from '../lib/pve/types.ts';
import { ageSeconds, durationText, flag, humanBytes, isoFromEpoch, text } from '../lib/cluster/format.ts';
import { clusterNodes, requireNode } from '../lib/cluster/nodes.ts';
import { assertContent, requireStorage, storageEntries, type StorageEntry } from '../lib/cluster/storage.ts';
import { parseBackupName, parseVolid } from '../lib/cluster/volumes.ts';
import { guestLabel } from '../lib/cluster/guests.ts';

const actions = ['create', 'list', 'restore'] as const;
type Action = (typeof actions)[number];

const backupInfo = z.object({
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
});

type BackupInfo = z.infer<typeof backupInfo>;

const guestBackupState = z.object({
  vmid: z.number(),
  name: z.string().optional(),
  type: z.enum(['qemu', 'lxc']),
  node: z.string().optional(),
  backups: z.number(),
  last_backup: z.string().optional(),
  last_backup_age_days: z.number().optional(),
  stale: z.boolean().describe('no backup within stale_days'),
});

const input = z.object({
  action: z.enum(actions).describe('create | list | restore'),
  vmid: vmidSchema.optional().describe('create/list: the guest; restore: the NEW id to restore to (default: the next free id)'),
  vmids: z.array(vmidSchema).max(500).optional().describe('create: several guests at once'),
  storage: storageId.optional().describe('create: backup storage (must allow backup content; default: a shared backup storage); list: only this storage; restore: where the archive is (taken from volume)'),
  mode: z.enum(['snapshot', 'suspend', 'stop']).default('snapshot').describe('create: snapshot (no downtime, default), suspend, or stop (consistent, downtime)'),
  compress: z.enum(['zstd', 'gzip', 'lzo', '0']).default('zstd').describe('create: compression (zstd default; 0 = none)'),
  notes: z.string().max(1024).optional().describe('create: notes for the backup; {{guestname}}, {{vmid}}, {{node}} are filled in'),
  protected: z.boolean().optional().describe('create: protect the backup from pruning and deletion'),
  stale_days: z.coerce.number().int().min(1).max(3650).default(7).describe('list: flag guests without a backup in this many days'),
  volume: z.string().min(3).optional().describe('restore: the backup volume id, e.g. nfs-backup:backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst'),
  node: nodeName.optional().describe('restore: node to restore on (default: where the original guest is, or the node holding the archive)'),
  target_storage: storageId.optional().describe('restore: storage for the restored disks (default: as in the backup)'),
  start: z.boolean().optional().describe('restore: start the guest afterwards'),
  unique: z.boolean().optional().describe('restore: new MAC addresses (default: true when restoring to a new id next to the original)'),
  force: z.boolean().default(false).describe('restore: overwrite an EXISTING guest with this vmid (destructive)'),
  wait: waitForTask,
  timeout: timeoutSeconds.default(1800),
});

type Input = z.output<typeof input>;

function effectOf(args: Input): Effect {
  if (args.action === 'list') return 'read';
  if (args.action === 'restore' && args.force) return 'destructive';
  return 'write';
}

function guestIds(args: Input): number[] {
  return [...new Set([...(args.vmid !== undefined ? [args.vmid] : []), ...(args.vmids ?? [])])];
}

function needs(args: Input): PrivilegeNeed[] {
  if (args.action === 'list') return [];
  if (args.action === 'create') {
    return [
      ...guestIds(args).map((id) => ({ path: `/vms/${id}`, privileges: ['VM.Backup'] })),
      ...(args.storage ? [{ path: `/storage/${args.storage}`, privileges: ['Datastore.AllocateSpace'] }] : []),
    ];
  }
  const target = args.vmid !== undefined ? `/vms/${args.vmid}` : '/vms';
  return [
    args.force ? { path: target, privileges: ['VM.Allocate', 'VM.Backup'], any: true } : { path: target, privileges: ['VM.Allocate'] },
    ...(args.target_storage ? [{ path: `/storage/${args.target_storage}`, privileges: ['Datastore.AllocateSpace'] }] : []),
  ];
}

function toBackup(row: Record<string, unknown>, entry: StorageEntry): BackupInfo {
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
  };
}

/** Backup storages to read: shared ones once (from any online node), local ones on every online node. */
function backupSources(entries: StorageEntry[], onlyStorage?: string): StorageEntry[] {
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

async function readBackups(ctx: ToolContext, sources: StorageEntry[], vmid?: number): Promise<{ backups: BackupInfo[]; errors: string[] }> {
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

async function chooseBackupStorage(ctx: ToolContext, requested: string | undefined, nodes: string[]): Promise<string> {
  if (requested) {
    for (const node of nodes) assertContent(await requireStorage(ctx, requested, node), 'backup', 'backups');
    if (nodes.length === 0) assertContent(await requireStorage(ctx, requested), 'backup', 'backups');
    return requested;
  }
  const entries = (await storageEntries(ctx)).filter((entry) => entry.content.includes('backup') && entry.status === 'available');
  const shared = entries.find((entry) => entry.shared);
  if (shared) return shared.storage;
  const everywhere = [...new Set(entries.map((entry) => entry.storage))].find((storage) => nodes.every((node) => entries.some((entry) => entry.storage === storage && entry.node === node)));
  if (everywhere) return everywhere;
  throw new ToolError('invalid_input', 'No storage that takes backups is available on the guests\' nodes; name one with storage (storage_operations action list shows content types).');
}

export default defineTool({
  name: 'guest_backup',
  title: 'Backups (vzdump): create, list, restore',
  description: 'vzdump backups: create (back up guests to a backup storage), list (archives with age, and guests with no backup in stale_days; sort and page), restore (to a new vmid; overwriting needs force).',
  input,
  output: z.object({
    action: z.enum(actions),
    backups: z.array(backupInfo).optional(),
    guests: z.array(guestBackupState).optional(),
    findings: z.array(z.string()).optional(),
    storage: z.string().optional(),
    tasks: z.array(taskResultSchema).optional(),
    restored: z.object({ vmid: z.number(), node: z.string(), type: z.enum(['qemu', 'lxc']), from: z.string(), overwrote: z.boolean() }).optional(),
  }),
  effect: 'destructive',
  effectOf,
  idempotent: false,
  changeRoles: ['admin', 'operator'],
  privileges: (args, ctx) => {
    return needs(args);
  },
  explain(args): Plan {
    const privileges = needs(args);
    if (args.action === 'list') {
      return { summary: 'List backups on every backup storage', apiCalls: ['GET /cluster/resources?type=storage', 'GET /nodes/{node}/storage/{storage}/content?content=backup'], cliEquivalent: 'pvesm list <storage> --content backup', privileges, risk: 'none', reversible: true };
    }
    if (args.action === 'create') {
      const ids = guestIds(args);
      return {
        summary: `Back up ${ids.length === 1 ? `guest ${ids[0]}` : `guests ${ids.join(', ')}`} to ${args.storage ?? 'a shared backup storage'} (mode ${args.mode}, ${args.compress === '0' ? 'uncompressed' : args.compress})`,
        apiCalls: ['POST /nodes/{node}/vzdump (one per node that holds the guests)'],
        cliEquivalent: `vzdump ${ids.join(' ')} --storage ${args.storage ?? '<storage>'} --mode ${args.mode} --compress ${args.compress}`,
        privileges,
        risk: args.mode === 'stop' ? 'medium' : 'low',
        reversible: true,
        undo: 'Delete the new archive with storage_change action delete_volume.',
        warnings: args.mode === 'stop' ? ['Mode stop shuts the guests down for the backup and starts them again afterwards: downtime.'] : args.mode === 'suspend' ? ['Mode suspend pauses the guests during the backup.'] : [],
      };
    }
    const kind = args.volume ? parseBackupName(args.volume)?.guestType : undefined;
    return {
      summary: args.force
        ? `Restore ${args.volume ?? '<volume>'} OVER the existing guest ${args.vmid ?? '<vmid>'}`
        : `Restore ${args.volume ?? '<volume>'} to ${args.vmid !== undefined ? `new guest ${args.vmid}` : 'the next free vmid'}`,
      apiCalls: [kind === 'lxc' ? 'POST /nodes/{node}/lxc (restore=1, ostemplate=<volume>)' : 'POST /nodes/{node}/qemu (archive=<volume>)'],
      cliEquivalent: kind === 'lxc' ? `pct restore ${args.vmid ?? '<vmid>'} ${args.volume ?? '<volume>'}${args.force ? ' --force 1' : ''}` : `qmrestore ${args.volume ?? '<volume>'} ${args.vmid ?? '<vmid>'}${args.force ? ' --force 1' : ''}`,
      privileges,
      risk: args.force ? 'high' : 'low',
      reversible: !args.force,
      undo: args.force ? undefined : 'Delete the restored guest (it is a new id; the original is untouched).',
      warnings: args.force ? [`Guest ${args.vmid}'s current disks and config are replaced by the backup; anything newer than the backup is lost.`] : [],
    };
  },
  async run(args, ctx) {
    if (args.action === 'list') return list(args, ctx);
    if (args.action === 'create') return create(args, ctx);
    return restore(args, ctx);
  },
});

async function list(args: Input, ctx: ToolContext) {
  if (args.storage) assertContent(await requireStorage(ctx, args.storage), 'backup', 'backups');
  const [entries, guests] = await Promise.all([storageEntries(ctx), ctx.pve.clusterResources('vm', { signal: ctx.signal })]);
  const { backups, errors } = await readBackups(ctx, backupSources(entries, args.storage), args.vmid);
  const relevant = guests.filter((guest: ClusterResource) => (guest.type === 'qemu' || guest.type === 'lxc') && !guest.template && (args.vmid === undefined || guest.vmid === args.vmid));
  const states = relevant
    .map((guest) => {
      const mine = backups.filter((backup) => backup.vmid === guest.vmid);
      const newest = mine[0];
      const ageDays = newest?.age_seconds !== undefined ? Math.floor(newest.age_seconds / 86400) : undefined;
      return {
        vmid: guest.vmid as number,
        name: typeof guest.name === 'string' && guest.name ? guest.name : undefined,
        type: guest.type as GuestType,
        node: guest.node,
        backups: mine.length,
        last_backup: newest?.created,
        last_backup_age_days: ageDays,
        stale: !newest || (newest.age_seconds ?? Infinity) > args.stale_days * 86400,
      };
    })
    .sort((a, b) => a.vmid - b.vmid);
  const findings: string[] = [];
  for (const state of states.filter((entry) => entry.stale)) {
    const label = guestLabel(state);
    findings.push(state.backups === 0 ? `${label} has no backup on any backup storage.` : `${label} has no backup in ${args.stale_days} days (last: ${state.last_backup_age_days} days ago).`);
  }
  if (args.vmid !== undefined && relevant.length === 0 && backups.length === 0) {
    throw new ToolError('not_found', `Guest ${args.vmid} does not exist and no backup of it was found.`, { details: { vmid: args.vmid } });
  }
  return {
    data: { action: 'list' as const, backups, guests: states, findings },
    summary: `${backups.length} backup${backups.length === 1 ? '' : 's'}${args.vmid !== undefined ? ` of guest ${args.vmid}` : ''}; ${findings.length ? `${findings.length} guest${findings.length === 1 ? '' : 's'} without a recent backup` : 'every guest has a recent backup'}`,
    warnings: [...findings.slice(0, 20), ...errors.map((error) => `Could not read backups from ${error}`)],
    suggestions: findings.length ? ['guest_backup action create backs a guest up now.'] : [],
    ...(args.vmid !== undefined ? { vmid: args.vmid } : {}),
  };
}

async function create(args: Input, ctx: ToolContext) {
  const ids = guestIds(args);
  if (ids.length === 0) throw new ToolError('invalid_input', 'Action create needs vmid (or vmids) of the guests to back up.');
  const located = await Promise.all(ids.map((id) => ctx.pve.locateGuest(id, { signal: ctx.signal })));
  const byNode = new Map<string, number[]>();
  for (const guest of located) {
    byNode.set(guest.node, [...(byNode.get(guest.node) ?? []), guest.vmid]);
  }
  for (const node of byNode.keys()) await requireNode(ctx, node, { online: true });
  const storage = await chooseBackupStorage(ctx, args.storage, [...byNode.keys()]);
  const upids: string[] = [];
  for (const [node, vmids] of byNode) {
    const upid = await ctx.pve.post<string>(
      `/nodes/${encodeURIComponent(node)}/vzdump`,
      {
        vmid: vmids.join(','),
        storage,
        mode: args.mode,
        compress: args.compress,
        ...(args.notes !== undefined ? { 'notes-template': args.notes } : {}),
        ...(args.protected !== undefined ? { protected: args.protected } : {}),
      },
      { signal: ctx.signal },
    );
    upids.push(upid);
  }
  const tasks: TaskOutcome[] = await Promise.all(upids.map((upid) => finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `backup to ${storage}` })));
  const warnings: string[] = [];
  if (tasks.some((task) => task.exitstatus?.startsWith('WARNINGS'))) warnings.push('A backup task finished with warnings; read its log with task_status action log.');
  if (args.mode === 'stop') warnings.push('Mode stop: the guests were shut down for the backup.');
  return {
    data: { action: 'create' as const, storage, tasks },
    summary: args.wait
      ? `Backed up ${ids.length === 1 ? `guest ${ids[0]}` : `${ids.length} guests`} to ${storage}`
      : `Backup of ${ids.length === 1 ? `guest ${ids[0]}` : `${ids.length} guests`} to ${storage} started (${upids.length} task${upids.length === 1 ? '' : 's'})`,
    warnings,
    suggestions: ['guest_backup action list shows the new archive; restore it to a new id to test it.'],
    upids,
    ...(ids.length === 1 ? { vmid: ids[0], node: located[0].node } : {}),
  };
}

async function restore(args: Input, ctx: ToolContext) {
  if (!args.volume) throw new ToolError('invalid_input', 'Action restore needs volume: the backup archive id (guest_backup action list shows them).');
  const volid = parseVolid(args.volume);
  if (!volid) throw new ToolError('invalid_input', `"${args.volume}" is not a volume id; it looks like storage:backup/vzdump-qemu-100-....vma.zst.`);
  const archive = parseBackupName(args.volume);
  const entry = await requireStorage(ctx, volid.storage, args.node);
  assertContent(entry, 'backup', 'backups');

  // Where the archive is: any online node for shared storage, otherwise the node that lists it.
  const nodes = (await clusterNodes(ctx)).filter((node) => node.status === 'online').map((node) => node.node);
  const candidates = args.node ? [args.node] : nodes;
  const sources = (await storageEntries(ctx)).filter((source) => source.storage === volid.storage && candidates.includes(source.node) && source.status === 'available');
  const { backups } = await readBackups(ctx, entry?.shared ? sources.slice(0, 1) : sources, archive?.vmid);
  const found = backups.find((backup) => backup.volid === args.volume);
  if (!found) {
    throw new ToolError('not_found', `Backup ${args.volume} was not found on storage ${volid.storage}${args.node ? ` on node ${args.node}` : ''}. guest_backup action list shows the archives.`, {
      details: { volume: args.volume },
    });
  }
  const type: GuestType = found.guest_type ?? archive?.guestType ?? 'qemu';

  let target = args.vmid;
  let existing: Awaited<ReturnType<typeof ctx.pve.locateGuest>> | undefined;
  if (target === undefined) {
    if (args.force) throw new ToolError('invalid_input', 'force overwrites an existing guest, so name it with vmid.');
    target = num(await ctx.pve.get<unknown>('/cluster/nextid', undefined, { signal: ctx.signal }));
    if (target === undefined) throw new ToolError('upstream', 'Proxmox did not return a free vmid; give vmid.');
  } else {
    existing = await ctx.pve.locateGuest(target, { signal: ctx.signal }).catch((error: unknown) => {
      if (error instanceof ToolError && error.code === 'not_found') return undefined;
      throw error;
    });
    if (existing && !args.force) {
      throw new ToolError('conflict', `${guestLabel(existing)} already exists on ${existing.node}. Restore to a new vmid (leave vmid out for the next free one), or pass force: true to overwrite it (destructive).`, {
        details: { vmid: target, node: existing.node },
      });
    }
    if (existing && existing.type !== type) {
      throw new ToolError('invalid_input', `${args.volume} is a ${type === 'lxc' ? 'container' : 'VM'} backup, but guest ${target} is a ${existing.type === 'lxc' ? 'container' : 'VM'}; restore it to another vmid.`);
    }
    if (existing && existing.status === 'running') {
      throw new ToolError('conflict', `${guestLabel(existing)} is running; stop it before restoring over it.`, { details: { vmid: target, node: existing.node } });
    }
  }

  const sourceGuest = archive ? await ctx.pve.locateGuest(archive.vmid, { signal: ctx.signal }).catch(() => undefined) : undefined;
  const node = existing?.node ?? args.node ?? (found.shared ? (sourceGuest && nodes.includes(sourceGuest.node) ? sourceGuest.node : found.node) : found.node);
  await requireNode(ctx, node, { online: true });
  if (args.target_storage) await requireStorage(ctx, args.target_storage, node);
  const unique = args.unique ?? (!existing && sourceGuest !== undefined);
  const params =
    type === 'lxc'
      ? { vmid: target, ostemplate: args.volume, restore: true, ...(args.target_storage ? { storage: args.target_storage } : {}), ...(existing ? { force: true } : {}), ...(unique ? { unique: true } : {}), ...(args.start ? { start: true } : {}) }
      : { vmid: target, archive: args.volume, ...(args.target_storage ? { storage: args.target_storage } : {}), ...(existing ? { force: true } : {}), ...(unique ? { unique: true } : {}), ...(args.start ? { start: true } : {}) };
  const upid = await ctx.pve.post<string>(`/nodes/${encodeURIComponent(node)}/${type}`, params, { signal: ctx.signal });
  const task = await finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `restore of ${args.volume}` });
  const warnings: string[] = [];
  if (existing) warnings.push(`${guestLabel(existing)} was overwritten with the backup from ${found.created ?? 'the archive'}.`);
  if (!existing && sourceGuest && !unique) warnings.push(`The restored guest keeps the MAC addresses of ${guestLabel(sourceGuest)}; do not run both on the same network.`);
  if (!existing && sourceGuest) warnings.push(`The restored guest ${target} has the same IP configuration as ${guestLabel(sourceGuest)}; check it before starting both.`);
  return {
    data: { action: 'restore' as const, tasks: [task], restored: { vmid: target, node, type, from: args.volume, overwrote: existing !== undefined } },
    summary: args.wait ? `Restored ${args.volume} to ${type === 'lxc' ? 'CT' : 'VM'} ${target} on ${node}` : `Restore of ${args.volume} to ${target} on ${node} started (${upid})`,
    warnings,
    upids: [upid],
    node,
    vmid: target,
  };
}

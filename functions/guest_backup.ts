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
import { backupSources, readBackups } from '../lib/cluster/backup-list.ts';
import { splitTags, tagMatcher } from '../lib/guests/props.ts';

const actions = ['create', 'restore'] as const;
type Action = (typeof actions)[number];

const input = z.object({
  action: z.enum(actions, { error: (issue) => (issue.input === 'list' ? 'list is its own tool: guest_backup_list' : undefined) }).describe('create | restore'),
  vmid: vmidSchema.optional().describe('restore: the NEW id (default next free)'),
  vmids: z.array(vmidSchema).max(500).optional().describe('create'),
  select_node: nodeName.optional().describe('create: all on this node'),
  select_tag: z.string().min(1).max(128).optional().describe('create: all with this tag or glob'),
  not_backed_up_days: z.coerce.number().int().min(1).max(3650).optional().describe('create: only those without a backup in N days'),
  storage: storageId.optional().describe('create'),
  mode: z.enum(['snapshot', 'suspend', 'stop']).default('snapshot').describe('create'),
  compress: z.enum(['zstd', 'gzip', 'lzo', '0']).default('zstd').describe('create'),
  notes: z.string().max(1024).optional().describe('create; {{guestname}} filled in'),
  protected: z.boolean().optional().describe('create'),
  volume: z.string().min(3).optional().describe('restore: backup volume id'),
  node: nodeName.optional().describe('restore'),
  target_storage: storageId.optional().describe('restore'),
  start: z.boolean().optional().describe('restore'),
  unique: z.boolean().optional().describe('restore: new MACs'),
  force: z.boolean().default(false).describe('restore: overwrite an EXISTING guest'),
  wait: waitForTask,
  timeout: timeoutSeconds.default(1800),
});

type Input = z.output<typeof input>;

function effectOf(args: Input): Effect {
  if (args.action === 'restore' && args.force) return 'destructive';
  return 'write';
}

function guestIds(args: Input): number[] {
  return [...new Set([...(args.vmid !== undefined ? [args.vmid] : []), ...(args.vmids ?? [])])];
}

const selects = (args: Input) => args.select_node !== undefined || args.select_tag !== undefined || args.not_backed_up_days !== undefined;

/**
 * The guests one create backs up: the ids given, plus the selection (every guest on a node, with a
 * tag, or not backed up in N days; templates never). Resolved for the plan, so the human sees every
 * guest, and an empty selection is refused before anyone is asked.
 */
async function targets(args: Input, ctx: ToolContext): Promise<number[]> {
  const ids = new Set(guestIds(args));
  if (selects(args)) {
    if (args.select_node) await requireNode(ctx, args.select_node);
    const matchesTag = args.select_tag ? tagMatcher(args.select_tag) : undefined;
    let chosen = (await ctx.pve.clusterResources('vm', { signal: ctx.signal }))
      .filter((row) => (row.type === 'qemu' || row.type === 'lxc') && typeof row.vmid === 'number' && !row.template)
      .filter((row) => !args.select_node || row.node === args.select_node)
      .filter((row) => !matchesTag || matchesTag(splitTags(row.tags)))
      .map((row) => row.vmid as number);
    if (args.not_backed_up_days !== undefined) {
      const { backups } = await readBackups(ctx, backupSources(await storageEntries(ctx)));
      const fresh = new Set(backups.filter((backup) => backup.vmid !== undefined && (backup.age_seconds ?? Infinity) <= args.not_backed_up_days! * 86400).map((backup) => backup.vmid));
      chosen = chosen.filter((vmid) => !fresh.has(vmid));
    }
    for (const vmid of chosen) ids.add(vmid);
  }
  if (ids.size === 0) {
    const what = [args.select_node ? `on node ${args.select_node}` : '', args.select_tag ? `tagged ${args.select_tag}` : '', args.not_backed_up_days !== undefined ? `without a backup in ${args.not_backed_up_days} days` : ''].filter(Boolean).join(', ');
    throw new ToolError('invalid_input', selects(args) ? `No guest ${what}: nothing to back up.` : 'Action create needs the guests to back up: vmid, vmids, or a selection (select_node, select_tag, not_backed_up_days).');
  }
  if (ids.size > 500) throw new ToolError('invalid_input', `The selection holds ${ids.size} guests; back up at most 500 in one call (narrow it with select_node or select_tag).`);
  return [...ids].sort((a, b) => a - b);
}

function needs(args: Input): PrivilegeNeed[] {
  if (args.action === 'create') {
    return [
      ...(selects(args) ? [{ path: '/vms', privileges: ['VM.Backup'] }] : guestIds(args).map((id) => ({ path: `/vms/${id}`, privileges: ['VM.Backup'] }))),
      ...(args.storage ? [{ path: `/storage/${args.storage}`, privileges: ['Datastore.AllocateSpace'] }] : []),
    ];
  }
  const target = args.vmid !== undefined ? `/vms/${args.vmid}` : '/vms';
  return [
    args.force ? { path: target, privileges: ['VM.Allocate', 'VM.Backup'], any: true } : { path: target, privileges: ['VM.Allocate'] },
    ...(args.target_storage ? [{ path: `/storage/${args.target_storage}`, privileges: ['Datastore.AllocateSpace'] }] : []),
  ];
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
  title: 'Backups (vzdump): create, restore',
  description: 'Back up guests (by id, node, tag or age) or restore an archive (to a new vmid; force overwrites). Listing: guest_backup_list.',
  input,
  output: z.object({
    action: z.enum(actions),
    storage: z.string().optional(),
    tasks: z.array(taskResultSchema).optional(),
    restored: z.object({ vmid: z.number(), node: z.string(), type: z.enum(['qemu', 'lxc']), from: z.string(), overwrote: z.boolean() }).optional(),
  }),
  effect: 'destructive',
  effectOf,
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (args, ctx) => {
    return needs(args);
  },
  async explain(args, ctx): Promise<Plan> {
    const privileges = needs(args);
    if (args.action === 'create') {
      const ids = await targets(args, ctx);
      return {
        summary: `Back up ${ids.length === 1 ? `guest ${ids[0]}` : `${ids.length} guests: ${ids.slice(0, 60).join(', ')}${ids.length > 60 ? ` and ${ids.length - 60} more` : ''}`} to ${args.storage ?? 'a shared backup storage'} (mode ${args.mode}, ${args.compress === '0' ? 'uncompressed' : args.compress})`,
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
      // A forced restore is judged before anyone is asked (over a protected guest it is refused); the
      // policy judges it by the vmid, whichever node it is sent to.
      ...(args.force && args.vmid !== undefined && args.volume
        ? { requests: [{ method: 'POST' as const, path: `/nodes/{node}/${kind ?? 'qemu'}`, params: kind === 'lxc' ? { vmid: args.vmid, ostemplate: args.volume, restore: 1, force: 1 } : { vmid: args.vmid, archive: args.volume, force: 1 } }] }
        : {}),
      cliEquivalent: kind === 'lxc' ? `pct restore ${args.vmid ?? '<vmid>'} ${args.volume ?? '<volume>'}${args.force ? ' --force 1' : ''}` : `qmrestore ${args.volume ?? '<volume>'} ${args.vmid ?? '<vmid>'}${args.force ? ' --force 1' : ''}`,
      privileges,
      risk: args.force ? 'high' : 'low',
      reversible: !args.force,
      undo: args.force ? undefined : 'Delete the restored guest (it is a new id; the original is untouched).',
      warnings: args.force ? [`Guest ${args.vmid}'s current disks and config are replaced by the backup; anything newer than the backup is lost.`] : [],
    };
  },
  async run(args, ctx) {
    if (args.action === 'create') return create(args, ctx);
    return restore(args, ctx);
  },
});

async function create(args: Input, ctx: ToolContext) {
  const ids = await targets(args, ctx);
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
    suggestions: ['guest_backup_list shows the new archive; restore it to a new id to test it.'],
    upids,
    ...(ids.length === 1 ? { vmid: ids[0], node: located[0].node } : {}),
  };
}

async function restore(args: Input, ctx: ToolContext) {
  if (!args.volume) throw new ToolError('invalid_input', 'Action restore needs volume: the backup archive id (guest_backup_list shows them).');
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
    throw new ToolError('not_found', `Backup ${args.volume} was not found on storage ${volid.storage}${args.node ? ` on node ${args.node}` : ''}. guest_backup_list shows the archives.`, {
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

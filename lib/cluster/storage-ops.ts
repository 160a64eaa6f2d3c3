/**
 * The storage tools' shared parts: storage_operations reads (list, status, content), storage_change
 * changes (download, delete_volume). One input shape for both, so the helpers take either's arguments.
 */
import { z } from 'zod';
import type { Effect, PrivilegeNeed, ToolContext } from '../tool.ts';
import { ToolError } from '../errors.ts';
import { nodeName, storageId, timeoutSeconds, vmid as vmidSchema, waitForTask } from '../schemas.ts';
import { finishTask } from '../task-result.ts';
import { num } from '../pve/parse.ts';
import { ageSeconds, durationText, flag, humanBytes, isoFromEpoch, percent, text } from './format.ts';
import { clusterNodes, requireNode } from './nodes.ts';
import { assertContent, requireStorage, storageEntries, type StorageEntry } from './storage.ts';
import { configVolids, fullVolid, parseBackupName, parseVolid } from './volumes.ts';
import { guestBase, guestLabel } from './guests.ts';
import { pageShape, pageLine, paginate, type PageInput } from './paging.ts';

export const actions = ['list', 'status', 'content', 'download', 'delete_volume'] as const;
export type Action = (typeof actions)[number];
export const contentTypes = ['iso', 'vztmpl', 'backup', 'images', 'rootdir', 'snippets', 'import'] as const;

export const effectByAction: Record<Action, Effect> = { list: 'read', status: 'read', content: 'read', download: 'write', delete_volume: 'destructive' };

export const storageInfo = z.object({
  storage: z.string(),
  type: z.string().optional(),
  content: z.array(z.string()),
  shared: z.boolean(),
  nodes: z.array(
    z.object({
      node: z.string(),
      status: z.string(),
      used: z.number().optional(),
      total: z.number().optional(),
      percent: z.number().optional(),
    }),
  ),
});

export const volumeInfo = z.object({
  volid: z.string(),
  content: z.string().optional(),
  format: z.string().optional(),
  size: z.number().optional(),
  size_text: z.string().optional(),
  used: z.number().optional(),
  vmid: z.number().optional(),
  created: z.string().optional(),
  age: z.string().optional(),
  notes: z.string().optional(),
  protected: z.boolean(),
});

export type VolumeInfo = z.infer<typeof volumeInfo>;

export const input = z.object({
  action: z.enum(actions).describe('list | status | content | download | delete_volume'),
  node: nodeName.optional().describe('For node-local storage'),
  storage: storageId.optional().describe('Storage id'),
  content: z.enum(contentTypes).optional().describe('Content type'),
  vmid: vmidSchema.optional().describe('content'),
  url: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'url must be an http:// or https:// address')
    .optional()
    .describe('download'),
  filename: z
    .string()
    .regex(/^[\w][\w.+-]*$/, 'filename may use letters, digits, ".", "-", "_" and "+", no slashes')
    .max(255)
    .optional()
    .describe('download'),
  checksum: z.string().regex(/^[0-9a-fA-F]{32,128}$/, 'checksum is a hex digest').optional().describe('download: hex'),
  checksum_algorithm: z.enum(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']).optional().describe('download'),
  verify_certificates: z.boolean().default(true).describe('download'),
  volume: z.string().min(1).optional().describe('delete_volume: e.g. local:iso/old.iso'),
  wait: waitForTask,
  timeout: timeoutSeconds.default(900),
});

/** Volumes: sorted and paged (a backup storage can hold thousands of archives). */
export const volumePaging = pageShape({ defaultLimit: 100, maxLimit: 5000, sortable: ['volid', 'vmid', 'size', 'created', 'content'], defaultSort: 'volid' });

export type Input = z.output<typeof input> & Partial<PageInput>;

export function needs(args: Input): PrivilegeNeed[] {
  const path = args.storage ? `/storage/${args.storage}` : '/storage';
  switch (args.action) {
    case 'list':
      return []; // Proxmox lists only the storages the token may see
    case 'status':
    case 'content':
      return [{ path, privileges: ['Datastore.Audit', 'Datastore.AllocateSpace'], any: true }];
    case 'download':
      return [{ path, privileges: ['Datastore.AllocateTemplate'] }];
    case 'delete_volume':
      // Datastore.Allocate, or Datastore.AllocateSpace plus VM.Backup for a backup archive (Proxmox checks which).
      return [{ path, privileges: ['Datastore.Allocate', 'Datastore.AllocateSpace'], any: true }];
  }
}

export function needStorage(args: Input): string {
  if (!args.storage) throw new ToolError('invalid_input', `Action ${args.action} needs storage (storage_operations action list shows them).`);
  return args.storage;
}

/** The node to ask about a storage: the one given, else any online node for shared storage or storage on one node only. */
export async function storageNode(ctx: ToolContext, storage: string, node: string | undefined): Promise<{ node: string; entry?: StorageEntry }> {
  if (node) {
    await requireNode(ctx, node, { online: true });
    return { node, entry: await requireStorage(ctx, storage, node) };
  }
  const first = await requireStorage(ctx, storage);
  if (!first) return { node: (await clusterNodes(ctx)).find((entry) => entry.status === 'online')?.node ?? 'localhost' };
  const online = new Set((await clusterNodes(ctx)).filter((entry) => entry.status === 'online').map((entry) => entry.node));
  const here = (await storageEntries(ctx)).filter((entry) => entry.storage === storage && online.has(entry.node));
  if (here.length === 0) throw new ToolError('unavailable', `Storage '${storage}' is on no online node.`, { details: { storage } });
  if (first.shared || here.length === 1) return { node: here[0].node, entry: here[0] };
  throw new ToolError('invalid_input', `Storage '${storage}' is local to each node (${here.map((entry) => entry.node).join(', ')}); name the node.`, {
    details: { storage, nodes: here.map((entry) => entry.node) },
  });
}

export function toVolume(row: Record<string, unknown>): VolumeInfo {
  const ctime = num(row.ctime);
  const size = num(row.size);
  return {
    volid: String(row.volid),
    content: text(row.content),
    format: text(row.format),
    size,
    size_text: humanBytes(size),
    used: num(row.used),
    vmid: num(row.vmid),
    created: isoFromEpoch(ctime),
    age: durationText(ageSeconds(ctime)),
    notes: text(row.notes)?.trim() || undefined,
    protected: flag(row.protected) === true,
  };
}

export function contentPath(node: string, storage: string): string {
  return `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/content`;
}

export interface VolumeCheck {
  volume: VolumeInfo;
  warnings: string[];
}

/** Find the volume and what deleting it would mean: the newest backup of a guest, a disk a guest uses. */
export async function inspectVolume(ctx: ToolContext, node: string, storage: string, volid: string): Promise<VolumeCheck> {
  const rows = await ctx.pve.get<Record<string, unknown>[]>(contentPath(node, storage), undefined, { signal: ctx.signal });
  const volumes = (Array.isArray(rows) ? rows : []).map(toVolume);
  const volume = volumes.find((entry) => entry.volid === volid);
  if (!volume) {
    throw new ToolError('not_found', `Volume '${volid}' does not exist on storage ${storage} (node ${node}). storage_operations action content lists what is there.`, {
      details: { volume: volid, storage, node },
    });
  }
  if (volume.protected) {
    throw new ToolError('conflict', `Volume '${volid}' is protected; Proxmox will not delete it. Remove the protection first (\`pvesh set /nodes/${node}/storage/${storage}/content/${volid} --protected 0\`) if it really must go.`, {
      details: { volume: volid },
    });
  }
  const warnings: string[] = [];
  const backup = volume.content === 'backup' ? parseBackupName(volid) : undefined;
  const owner = volume.vmid ?? backup?.vmid;
  if (volume.content === 'backup' && owner !== undefined) {
    const siblings = volumes.filter((entry) => entry.content === 'backup' && (entry.vmid ?? parseBackupName(entry.volid)?.vmid) === owner);
    const newest = siblings.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''))[0];
    if (siblings.length === 1) warnings.push(`This is the ONLY backup of guest ${owner} on ${storage}; after deleting it, guest ${owner} has no backup here.`);
    else if (newest?.volid === volid) warnings.push(`This is the NEWEST backup of guest ${owner} on ${storage}; the next newest is from ${siblings[1].created ?? 'earlier'}.`);
  }
  if ((volume.content === 'images' || volume.content === 'rootdir') && owner !== undefined) {
    const guest = await ctx.pve.locateGuest(owner, { signal: ctx.signal }).catch(() => undefined);
    if (guest) {
      const config = await ctx.pve.get<Record<string, unknown>>(`${guestBase(guest)}/config`, undefined, { signal: ctx.signal }).catch(() => undefined);
      const key = config ? configVolids(config).get(volid) : undefined;
      if (key && !key.startsWith('unused')) {
        throw new ToolError('conflict', `Volume '${volid}' is disk ${key} of ${guestLabel(guest)} on ${guest.node}; deleting it would destroy that disk. Detach it from the guest first (it then shows as unused).`, {
          details: { volume: volid, vmid: guest.vmid, key },
        });
      }
      if (key) warnings.push(`Volume '${volid}' is ${key} (an unused disk) of ${guestLabel(guest)}; its data is lost for good.`);
      else warnings.push(`Volume '${volid}' is named after ${guestLabel(guest)} but not in its config (an orphaned disk).`);
    }
  }
  return { volume, warnings };
}

export function relativeVolume(volid: string): string {
  return parseVolid(volid)?.name ?? volid;
}

export function defaultFilename(url: string): string | undefined {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '');
    return /^[\w][\w.+-]*$/.test(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

export function guessContent(filename: string): 'iso' | 'vztmpl' | undefined {
  if (/\.(iso|img)$/i.test(filename)) return 'iso';
  if (/\.tar(\.(gz|xz|zst|bz2))?$|\.t[gx]z$|\.tzst$/i.test(filename)) return 'vztmpl';
  return undefined;
}

export async function listStorages(args: Input, ctx: ToolContext) {
  let storages: z.infer<typeof storageInfo>[];
  if (args.node) {
    await requireNode(ctx, args.node, { online: true });
    const rows = await ctx.pve.get<Record<string, unknown>[]>(`/nodes/${encodeURIComponent(args.node)}/storage`, args.content ? { content: args.content } : undefined, { signal: ctx.signal });
    storages = (Array.isArray(rows) ? rows : []).map((row) => {
      const used = num(row.used);
      const total = num(row.total);
      return {
        storage: String(row.storage),
        type: text(row.type),
        content: (text(row.content) ?? '').split(',').filter(Boolean),
        shared: flag(row.shared) === true,
        nodes: [{ node: args.node!, status: flag(row.active) === false ? 'inactive' : 'available', used, total, percent: percent(used, total) }],
      };
    });
  } else {
    const byStorage = new Map<string, z.infer<typeof storageInfo>>();
    for (const entry of await storageEntries(ctx)) {
      if (args.content && !entry.content.includes(args.content)) continue;
      const info = byStorage.get(entry.storage) ?? { storage: entry.storage, type: entry.type, content: entry.content, shared: entry.shared, nodes: [] };
      info.nodes.push({ node: entry.node, status: entry.status, used: entry.used, total: entry.total, percent: percent(entry.used, entry.total) });
      byStorage.set(entry.storage, info);
    }
    storages = [...byStorage.values()];
  }
  storages.sort((a, b) => a.storage.localeCompare(b.storage));
  for (const storage of storages) storage.nodes.sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
  const full = storages.flatMap((storage) => storage.nodes.filter((node) => (node.percent ?? 0) >= 85).map((node) => `${storage.storage}${storage.shared ? '' : ` on ${node.node}`} is ${node.percent}% full`));
  return {
    data: { action: args.action, storages },
    summary: `${storages.length} storage${storages.length === 1 ? '' : 's'}${args.node ? ` on ${args.node}` : ''}: ${storages.map((storage) => `${storage.storage} (${storage.type ?? '?'}${storage.shared ? ', shared' : ''})`).join(', ')}`,
    warnings: [...new Set(full)].map((line) => `Storage ${line}.`),
    ...(args.node ? { node: args.node } : {}),
  };
}

export async function download(args: Input, ctx: ToolContext) {
  const storage = needStorage(args);
  if (!args.url) throw new ToolError('invalid_input', 'Action download needs url (http:// or https://).');
  const filename = args.filename ?? defaultFilename(args.url);
  if (!filename) throw new ToolError('invalid_input', `Cannot take a file name from ${args.url}; give filename (e.g. debian-12.iso).`);
  const content = args.content ?? guessContent(filename);
  if (content !== 'iso' && content !== 'vztmpl') {
    throw new ToolError('invalid_input', `download takes content iso or vztmpl${args.content ? `, not ${args.content}` : ` (could not tell from "${filename}")`}; set content.`);
  }
  if ((args.checksum === undefined) !== (args.checksum_algorithm === undefined)) {
    throw new ToolError('invalid_input', 'Give checksum and checksum_algorithm together (e.g. sha256 and its hex digest).');
  }
  const { node, entry } = await storageNode(ctx, storage, args.node);
  assertContent(entry, content, content === 'iso' ? 'ISO images' : 'container templates');
  const volid = `${storage}:${content}/${filename}`;
  const existing = await ctx.pve.get<Record<string, unknown>[]>(contentPath(node, storage), { content }, { signal: ctx.signal });
  if ((Array.isArray(existing) ? existing : []).some((row) => row.volid === volid)) {
    throw new ToolError('conflict', `${volid} already exists on ${node}. Delete it first (storage_change action delete_volume) or choose another filename.`, { details: { volume: volid } });
  }
  const upid = await ctx.pve.post<string>(
    `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/download-url`,
    {
      url: args.url,
      filename,
      content,
      ...(args.checksum ? { checksum: args.checksum.toLowerCase(), 'checksum-algorithm': args.checksum_algorithm } : {}),
      ...(args.verify_certificates ? {} : { 'verify-certificates': false }),
    },
    { signal: ctx.signal },
  );
  const task = await finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `download of ${filename}` });
  return {
    data: { action: args.action, volume: volid, task },
    summary: args.wait ? `Downloaded ${filename} to ${storage} on ${node} (${volid})` : `Download of ${filename} to ${storage} on ${node} started (${upid})`,
    warnings: args.checksum ? [] : ['The download was not verified with a checksum.'],
    suggestions: [content === 'iso' ? `Attach it to a VM as a CD-ROM: ${volid},media=cdrom.` : `Create a container from it with ostemplate ${volid}.`],
    upids: [upid],
    node,
  };
}

export async function deleteVolume(args: Input, ctx: ToolContext) {
  const storage = needStorage(args);
  if (!args.volume) throw new ToolError('invalid_input', 'Action delete_volume needs volume (storage_operations action content lists them).');
  const volid = fullVolid(storage, args.volume);
  if (parseVolid(volid)?.storage !== storage) {
    throw new ToolError('invalid_input', `Volume ${volid} is not on storage ${storage}; give the storage it is on.`);
  }
  const { node } = await storageNode(ctx, storage, args.node);
  const { volume, warnings } = await inspectVolume(ctx, node, storage, volid);
  const result = await ctx.pve.delete<unknown>(`${contentPath(node, storage)}/${encodeURIComponent(volid)}`, undefined, { signal: ctx.signal });
  const upid = typeof result === 'string' && result.startsWith('UPID:') ? result : undefined;
  const task = upid ? await finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `deleting ${relativeVolume(volid)}` }) : undefined;
  ctx.pve.invalidate();
  return {
    data: { action: args.action, volume: volid, ...(task ? { task } : {}) },
    summary: upid && !args.wait ? `Deleting ${volid} on ${node} (${upid})` : `Deleted ${volid} (${volume.size_text ?? 'unknown size'}) from ${storage} on ${node}`,
    warnings,
    ...(upid ? { upids: [upid] } : {}),
    node,
    ...(volume.vmid !== undefined ? { vmid: volume.vmid } : {}),
  };
}

/** action content: the volumes of one storage, sorted and paged. */
export async function listContent(args: Input, ctx: ToolContext) {
  const storage = needStorage(args);
  const { node } = await storageNode(ctx, storage, args.node);
  const rows = await ctx.pve.get<Record<string, unknown>[]>(contentPath(node, storage), { ...(args.content ? { content: args.content } : {}), ...(args.vmid !== undefined ? { vmid: args.vmid } : {}) }, { signal: ctx.signal });
  const all = (Array.isArray(rows) ? rows : []).map(toVolume);
  const page = paginate(all, { limit: args.limit ?? 100, cursor: args.cursor, sort: args.sort, fields: args.fields }, {
    sortable: ['volid', 'vmid', 'size', 'created', 'content', 'format'],
    tieBreak: ['volid'],
    columns: Object.keys(volumeInfo.shape),
    key: ['volid'],
    aliases: { age: 'created', date: 'created', id: 'vmid' },
  });
  const total = all.reduce((sum, volume) => sum + (volume.size ?? 0), 0);
  return {
    data: { action: 'content' as const, total: page.total, returned: page.returned, next_cursor: page.next_cursor, volumes: page.rows as VolumeInfo[] },
    summary: `${page.total} volume${page.total === 1 ? '' : 's'} on ${storage} (${node}), ${humanBytes(total)} in all; ${pageLine(page, args.cursor, args.sort, 'volumes')}`,
    node,
    ...(args.vmid !== undefined ? { vmid: args.vmid } : {}),
  };
}

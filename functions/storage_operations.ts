import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../lib/tool.ts';
import { ToolError, toToolError } from '../lib/errors.ts';
import { nodeName, storageId, timeoutSeconds, vmid as vmidSchema, waitForTask } from '../lib/schemas.ts';
import { finishTask, taskResultSchema } from '../lib/task-result.ts';
import { num } from '../lib/pve/parse.ts';
import { ageSeconds, durationText, flag, humanBytes, isoFromEpoch, percent, text } from '../lib/cluster/format.ts';
import { clusterNodes, requireNode } from '../lib/cluster/nodes.ts';
import { assertContent, requireStorage, storageEntries, type StorageEntry } from '../lib/cluster/storage.ts';
import { configVolids, fullVolid, parseBackupName, parseVolid } from '../lib/cluster/volumes.ts';
import { guestBase, guestLabel } from '../lib/cluster/guests.ts';

const actions = ['list', 'status', 'content', 'download', 'delete_volume'] as const;
type Action = (typeof actions)[number];
const contentTypes = ['iso', 'vztmpl', 'backup', 'images', 'rootdir', 'snippets', 'import'] as const;

const effectByAction: Record<Action, Effect> = { list: 'read', status: 'read', content: 'read', download: 'write', delete_volume: 'destructive' };

const storageInfo = z.object({
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

const volumeInfo = z.object({
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

type VolumeInfo = z.infer<typeof volumeInfo>;

const input = z.object({
  action: z.enum(actions).describe('list | status | content | download | delete_volume'),
  node: nodeName.optional().describe('Node; needed for storage that is local to each node (e.g. local, local-lvm) when more than one node has it'),
  storage: storageId.optional().describe('Storage id (status, content, download, delete_volume)'),
  content: z.enum(contentTypes).optional().describe('content: only this type; download: iso or vztmpl (default from the file name)'),
  vmid: vmidSchema.optional().describe('content: only volumes of this guest'),
  url: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'url must be an http:// or https:// address')
    .optional()
    .describe('download: where to fetch the ISO or container template from'),
  filename: z
    .string()
    .regex(/^[\w][\w.+-]*$/, 'filename may use letters, digits, ".", "-", "_" and "+", no slashes')
    .max(255)
    .optional()
    .describe('download: file name on the storage (default: the last part of the URL)'),
  checksum: z.string().regex(/^[0-9a-fA-F]{32,128}$/, 'checksum is a hex digest').optional().describe('download: expected checksum (hex)'),
  checksum_algorithm: z.enum(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']).optional().describe('download: algorithm of checksum'),
  verify_certificates: z.boolean().default(true).describe('download: verify the server\'s TLS certificate'),
  volume: z.string().min(1).optional().describe('delete_volume: volume id, e.g. local:iso/old.iso or nfs-backup:backup/vzdump-qemu-100-....vma.zst'),
  wait: waitForTask,
  timeout: timeoutSeconds.default(900),
});

type Input = z.output<typeof input>;

function needs(args: Input): PrivilegeNeed[] {
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

function needStorage(args: Input): string {
  if (!args.storage) throw new ToolError('invalid_input', `Action ${args.action} needs storage (storage_operations action list shows them).`);
  return args.storage;
}

/** The node to ask about a storage: the one given, else any online node for shared storage or storage on one node only. */
async function storageNode(ctx: ToolContext, storage: string, node: string | undefined): Promise<{ node: string; entry?: StorageEntry }> {
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

function toVolume(row: Record<string, unknown>): VolumeInfo {
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

function contentPath(node: string, storage: string): string {
  return `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/content`;
}

interface VolumeCheck {
  volume: VolumeInfo;
  warnings: string[];
}

/** Find the volume and what deleting it would mean: the newest backup of a guest, a disk a guest uses. */
async function inspectVolume(ctx: ToolContext, node: string, storage: string, volid: string): Promise<VolumeCheck> {
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

function relativeVolume(volid: string): string {
  return parseVolid(volid)?.name ?? volid;
}

export default defineTool({
  name: 'storage_operations',
  title: 'Storage: list, status, content, download, delete volume',
  description: 'Storage: list (storages and use), status, content (volumes; sort and page), download (ISO or template by URL) and delete_volume (destructive; refuses a disk in use).',
  input,
  output: z.object({
    action: z.enum(actions),
    storages: z.array(storageInfo).optional(),
    status: z
      .object({
        storage: z.string(),
        node: z.string(),
        type: z.string().optional(),
        content: z.array(z.string()),
        active: z.boolean().optional(),
        enabled: z.boolean().optional(),
        shared: z.boolean().optional(),
        used: z.number().optional(),
        total: z.number().optional(),
        available: z.number().optional(),
        percent: z.number().optional(),
      })
      .optional(),
    volumes: z.array(volumeInfo).optional(),
    volume: z.string().optional(),
    task: taskResultSchema.optional(),
  }),
  effect: 'destructive',
  effectOf: (args) => effectByAction[args.action],
  idempotent: false,
  changeRoles: ['admin', 'operator'],
  openWorld: true,
  privileges: (args, ctx) => {
    return needs(args);
  },
  async explain(args, ctx): Promise<Plan> {
    const privileges = needs(args);
    const storage = args.storage ?? '<storage>';
    const node = args.node ?? '{node}';
    switch (args.action) {
      case 'list':
        return { summary: 'List storages', apiCalls: [args.node ? `GET /nodes/${args.node}/storage` : 'GET /cluster/resources?type=storage'], cliEquivalent: 'pvesm status', privileges, risk: 'none', reversible: true };
      case 'status':
        return { summary: `Status of storage ${storage}`, apiCalls: [`GET /nodes/${node}/storage/${storage}/status`], cliEquivalent: `pvesm status --storage ${storage}`, privileges, risk: 'none', reversible: true };
      case 'content':
        return { summary: `List the content of storage ${storage}`, apiCalls: [`GET /nodes/${node}/storage/${storage}/content`], cliEquivalent: `pvesm list ${storage}${args.content ? ` --content ${args.content}` : ''}`, privileges, risk: 'none', reversible: true };
      case 'download': {
        const filename = args.filename ?? (args.url ? defaultFilename(args.url) : undefined) ?? '<filename>';
        return {
          summary: `Download ${args.url ?? '<url>'} to ${storage} as ${filename}`,
          apiCalls: [`POST /nodes/${node}/storage/${storage}/download-url`],
          cliEquivalent: `pvesh create /nodes/${node}/storage/${storage}/download-url --url '${args.url ?? '<url>'}' --filename ${filename} --content ${args.content ?? guessContent(filename) ?? 'iso'}`,
          privileges,
          risk: 'low',
          reversible: true,
          undo: `storage_operations action delete_volume storage ${storage} volume ${storage}:${args.content ?? guessContent(filename) ?? 'iso'}/${filename}`,
          warnings: [
            'The node fetches the URL from the internet (or your network); only use sources you trust.',
            ...(args.checksum ? [] : ['No checksum given: the download is not verified. Pass checksum and checksum_algorithm from the publisher.']),
            ...(args.verify_certificates ? [] : ['TLS certificates are NOT verified for this download.']),
          ],
        };
      }
      case 'delete_volume': {
        const warnings: string[] = [];
        if (args.storage && args.volume) {
          try {
            const { node: where } = await storageNode(ctx, args.storage, args.node);
            warnings.push(...(await inspectVolume(ctx, where, args.storage, fullVolid(args.storage, args.volume))).warnings);
          } catch (error) {
            warnings.push(`Could not check the volume first: ${toToolError(error).message}`);
          }
        }
        return {
          summary: `Delete volume ${args.volume ?? '<volume>'} from storage ${storage}`,
          apiCalls: [`GET /nodes/${node}/storage/${storage}/content`, `DELETE /nodes/${node}/storage/${storage}/content/${args.volume ?? '{volume}'}`],
          cliEquivalent: `pvesm free ${args.storage && args.volume ? fullVolid(args.storage, args.volume) : '<volid>'}`,
          privileges,
          risk: 'high',
          reversible: false,
          warnings: ['The volume and its data are removed for good.', ...warnings],
        };
      }
    }
  },
  async run(args, ctx) {
    switch (args.action) {
      case 'list':
        return listStorages(args, ctx);
      case 'status': {
        const storage = needStorage(args);
        const { node } = await storageNode(ctx, storage, args.node);
        const row = await ctx.pve.get<Record<string, unknown>>(`/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}/status`, undefined, { signal: ctx.signal });
        const used = num(row?.used);
        const total = num(row?.total);
        const status = {
          storage,
          node,
          type: text(row?.type),
          content: (text(row?.content) ?? '').split(',').filter(Boolean),
          active: flag(row?.active),
          enabled: flag(row?.enabled),
          shared: flag(row?.shared),
          used,
          total,
          available: num(row?.avail),
          percent: percent(used, total),
        };
        return {
          data: { action: args.action, status },
          summary: `${storage} on ${node}: ${status.percent !== undefined ? `${status.percent}% used (${humanBytes(used)} of ${humanBytes(total)})` : 'no usage reported'}${status.active === false ? ', NOT active' : ''}`,
          warnings: [
            ...(status.percent !== undefined && status.percent >= 85 ? [`Storage ${storage} on ${node} is ${status.percent}% full.`] : []),
            ...(status.active === false ? [`Storage ${storage} is not active on ${node} (unmounted or unreachable?).`] : []),
          ],
          node,
        };
      }
      case 'content': {
        const storage = needStorage(args);
        const { node } = await storageNode(ctx, storage, args.node);
        const rows = await ctx.pve.get<Record<string, unknown>[]>(contentPath(node, storage), { ...(args.content ? { content: args.content } : {}), ...(args.vmid !== undefined ? { vmid: args.vmid } : {}) }, { signal: ctx.signal });
        const volumes = (Array.isArray(rows) ? rows : []).map(toVolume).sort((a, b) => a.volid.localeCompare(b.volid));
        const total = volumes.reduce((sum, volume) => sum + (volume.size ?? 0), 0);
        return {
          data: { action: args.action, volumes },
          summary: `${volumes.length} volume${volumes.length === 1 ? '' : 's'} on ${storage} (${node}), ${humanBytes(total)} in all`,
          node,
          ...(args.vmid !== undefined ? { vmid: args.vmid } : {}),
        };
      }
      case 'download':
        return download(args, ctx);
      case 'delete_volume':
        return deleteVolume(args, ctx);
    }
  },
});

function defaultFilename(url: string): string | undefined {
  try {
    const last = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '');
    return /^[\w][\w.+-]*$/.test(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

function guessContent(filename: string): 'iso' | 'vztmpl' | undefined {
  if (/\.(iso|img)$/i.test(filename)) return 'iso';
  if (/\.tar(\.(gz|xz|zst|bz2))?$|\.t[gx]z$|\.tzst$/i.test(filename)) return 'vztmpl';
  return undefined;
}

async function listStorages(args: Input, ctx: ToolContext) {
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

async function download(args: Input, ctx: ToolContext) {
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
    throw new ToolError('conflict', `${volid} already exists on ${node}. Delete it first (action delete_volume) or choose another filename.`, { details: { volume: volid } });
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

async function deleteVolume(args: Input, ctx: ToolContext) {
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

/**
 * A guest's config, shared by guest_config_get (reads, with the digest) and guest_config (changes).
 */
import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../tool.ts';
import { ToolError } from '../errors.ts';
import { nodeName, sizeText, timeoutSeconds, vmid } from '../schemas.ts';
import { finishTask, taskResultSchema, type TaskOutcome } from '../task-result.ts';
import { isUpid } from '../pve/upid.ts';
import type { PveParams } from '../pve/types.ts';
import { guestPath, isMissingConfig, kindOf, locateAny, wrongNodeError, type Located } from './kinds.ts';
import { configSummarySchema, maskConfig, summarizeConfig, type GuestConfig } from './summary.ts';
import { configParams, isDiskKey, maskSecretParams, nicInput, privilegeForKey, settableShape, showParams, touchedKeys, checkKindFields } from './config-params.ts';
import { parseProps, sizeToBytes, formatBytes } from './props.ts';

export const input = z.object({
  vmid,
  type: z.enum(['qemu', 'lxc']).optional().describe('Found from the vmid'),
  node: nodeName.optional(),
  digest: z.string().regex(/^[0-9a-f]{40}$/i, 'digest is the 40-hex value a previous read returned').optional().describe('From guest_config_get: refuse if changed since'),
  name: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'name must be a DNS name such as web01').max(63).optional().describe('Or hostname'),
  ...settableShape,
  boot: z.array(z.string().regex(/^(ide|sata|scsi|virtio|net)\d+$/, 'boot entries are devices such as scsi0, ide2, net0')).optional().describe('VMs: ["scsi0","net0"]'),
  agent: z.boolean().optional().describe('VMs: guest agent option (needs a power cycle)'),
  nets: z.array(nicInput).optional().describe('[{"index":1,"bridge":"vmbr1","vlan":20}]'),
  resize: z
    .array(z.object({ disk: z.string().regex(/^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$|^rootfs$|^mp\d+$/, 'disk must be a disk key such as scsi0, rootfs or mp0'), size: sizeText.describe('+10G to grow by 10 GiB, or 50G for the new total (disks only grow)') }))
    .optional()
    .describe('[{"disk":"scsi0","size":"+10G"}]'),
  delete: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'delete takes config keys such as net1 or unused0')).optional().describe('Keys to remove, e.g. ["net1"]; a disk key detaches it, unusedN destroys it'),
  timeout: timeoutSeconds,
});

export type Input = z.output<typeof input>;

const changeFields = ['name', 'cores', 'sockets', 'memory', 'balloon', 'swap', 'description', 'tags', 'onboot', 'ciuser', 'cipassword', 'sshkeys', 'ipconfig', 'nameserver', 'searchdomain', 'boot', 'agent', 'nets', 'resize', 'delete'] as const;

export function isRead(value: Input): boolean {
  return changeFields.every((key) => value[key] === undefined || (Array.isArray(value[key]) && (value[key] as unknown[]).length === 0));
}

function effectOf(value: Input): Effect {
  if (isRead(value)) return 'read';
  const type = value.type;
  // without the type, a disk-looking key counts as a disk for both kinds
  const deletesDisk = (value.delete ?? []).some((key) => (type ? isDiskKey(type, key) : isDiskKey('qemu', key) || isDiskKey('lxc', key)));
  return deletesDisk ? 'destructive' : 'write';
}

function keysOf(type: 'qemu' | 'lxc', value: Input): string[] {
  return [...touchedKeys(type, value), ...(value.delete ?? []), ...(value.resize ?? []).map((entry) => entry.disk)];
}

function privilegesFor(value: Input): PrivilegeNeed[] {
  const path = `/vms/${value.vmid}`;
  if (isRead(value)) return [{ path, privileges: ['VM.Audit'] }];
  if (!value.type) {
    // The exact privilege depends on the kind; any VM.Config.* is the floor Proxmox checks first.
    return [{ path, privileges: ['VM.Config.Disk', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Config.Cloudinit'], any: true }];
  }
  const needed = new Set(keysOf(value.type, value).map((key) => privilegeForKey(value.type!, key)));
  return [{ path, privileges: [...needed].sort() }];
}

const resizeResult = z.object({ disk: z.string(), from: z.string().optional(), to: z.string().optional(), task: taskResultSchema.optional() });

const output = z.object({
  vmid: z.number(),
  type: z.enum(['qemu', 'lxc']),
  node: z.string(),
  mode: z.enum(['read', 'update']),
  digest: z.string().optional().describe('Pass it back as digest with your next change'),
  summary: configSummarySchema,
  config: z.record(z.string(), z.unknown()).describe('The raw option map (secrets masked)'),
  changed: z.array(z.string()).optional(),
  deleted: z.array(z.string()).optional(),
  resized: z.array(resizeResult).optional(),
  pending_restart: z.array(z.string()).optional().describe('Changes saved but applied only after the guest restarts'),
});

function conflictFrom(error: unknown, label: string, digest: string | undefined): never {
  if (error instanceof ToolError && /detected modified configuration|file changed by other user/i.test(error.message)) {
    throw new ToolError('conflict', `The config of ${label} changed since ${digest ? `digest ${digest.slice(0, 12)}…` : 'it was read'} (someone else edited it). Nothing was changed: read it again with guest_config and re-apply your change.`, {
      details: { digest },
    });
  }
  throw error;
}

async function readConfig(ctx: ToolContext, where: Located, given?: string): Promise<GuestConfig> {
  try {
    return await ctx.pve.get<GuestConfig>(guestPath(where.node, where.type, where.vmid, '/config'), undefined, { signal: ctx.signal });
  } catch (error) {
    if (given && isMissingConfig(error)) throw wrongNodeError(kindOf(where.type), where.vmid, given);
    throw error;
  }
}

interface PlannedChange {
  params: PveParams;
  deletes: string[];
  resizes: { disk: string; size: string; from?: string; toBytes?: number }[];
}

/** Validate against the current config and build the requests. */
function planChange(where: Located, value: Input, current: GuestConfig): PlannedChange {
  const kind = kindOf(where.type);
  checkKindFields(where.type, value);
  const params = configParams(where.type, value, current);
  const deletes = value.delete ?? [];
  for (const key of deletes) {
    if (key in params) throw new ToolError('invalid_input', `${key} is both set and deleted; do one or the other.`);
    if (current[key] === undefined) throw new ToolError('invalid_input', `${kind.label} ${where.vmid} has no ${key} to delete (keys: ${Object.keys(current).filter((k) => k !== 'digest').sort().join(', ')}).`);
    if (where.type === 'lxc' && key === 'rootfs') throw new ToolError('invalid_input', 'rootfs cannot be deleted; it is the container itself.');
  }
  const resizes: PlannedChange['resizes'] = [];
  for (const entry of value.resize ?? []) {
    const diskValue = current[entry.disk];
    if (diskValue === undefined) {
      const disks = Object.keys(current).filter((key) => isDiskKey(where.type, key) && !/^unused/.test(key) && parseProps(String(current[key])).media !== 'cdrom');
      throw new ToolError('invalid_input', `${kind.label} ${where.vmid} has no disk ${entry.disk} (disks: ${disks.join(', ') || 'none'}).`);
    }
    const props = parseProps(String(diskValue));
    if (props.media === 'cdrom') throw new ToolError('invalid_input', `${entry.disk} is a CD-ROM drive; it cannot be resized.`);
    const fromBytes = sizeToBytes(props.size);
    const grow = entry.size.startsWith('+');
    const amount = sizeToBytes(entry.size.replace(/^\+/, '').replace(/^(\d+(?:\.\d+)?)$/, '$1G'));
    const toBytes = grow ? (fromBytes ?? 0) + (amount ?? 0) : amount;
    if (!grow && fromBytes !== undefined && toBytes !== undefined && toBytes < fromBytes) {
      throw new ToolError('invalid_input', `${entry.disk} is ${props.size}; disks can only grow, not shrink to ${entry.size}. Give a larger size or +N.`);
    }
    resizes.push({ disk: entry.disk, size: /^[+]?\d+(\.\d+)?$/.test(entry.size) ? `${entry.size}G` : entry.size.toUpperCase(), from: props.size, toBytes });
  }
  return { params, deletes, resizes };
}

/** Both config tools in one: guest_config_get reads, guest_config changes. */
export const configTool = defineTool({
  name: 'guest_config',
  title: 'Read or change a guest\'s config',
  description: 'Read a VM\'s or container\'s config with its digest, or change it (cores, memory, NICs via nets, disk resize, cloud-init, tags, boot...). No change fields: a read. Pass digest to refuse a change if someone else edited it.',
  input,
  output,
  effect: 'destructive',
  effectOf,
  idempotent: false,
  privileges: (value) => privilegesFor(value),
  async explain(value, ctx): Promise<Plan> {
    const where = await locateAny(ctx.pve, value.vmid, { node: value.node, type: value.type, signal: ctx.signal });
    const kind = kindOf(where.type);
    const base = guestPath(where.node, where.type, value.vmid);
    if (isRead(value)) {
      return { summary: `Read the config of ${kind.label} ${value.vmid}`, apiCalls: [`GET ${base}/config`], cliEquivalent: `${kind.cli} config ${value.vmid}`, risk: 'none', reversible: true };
    }
    const current = await readConfig(ctx, where, value.node);
    const planned = planChange(where, value, current);
    const shown = showParams(planned.params);
    const warnings: string[] = [];
    for (const key of planned.deletes) {
      if (/^unused\d+$/.test(key)) warnings.push(`Deleting ${key} destroys the volume ${String(current[key])}; its data is gone.`);
      else if (isDiskKey(where.type, key)) warnings.push(`Deleting ${key} detaches ${String(current[key]).split(',')[0]} (it becomes an unused disk, data kept until you delete that too).`);
    }
    const cli = [
      ...(shown || planned.deletes.length ? [`${kind.cli} set ${value.vmid}${shown ? ' ' + shown.split(' ').map((pair) => `--${pair.replace('=', ' ')}`).join(' ') : ''}${planned.deletes.length ? ` --delete ${planned.deletes.join(',')}` : ''}`] : []),
      ...planned.resizes.map((entry) => `${kind.cli} resize ${value.vmid} ${entry.disk} ${entry.size}`),
    ];
    return {
      summary: `Change ${kind.label} ${value.vmid}: ${[shown, planned.deletes.length ? `delete ${planned.deletes.join(',')}` : '', ...planned.resizes.map((entry) => `resize ${entry.disk} ${entry.size}`)].filter(Boolean).join('; ')}`,
      apiCalls: [
        `GET ${base}/config`,
        ...(shown || planned.deletes.length ? [`PUT ${base}/config ${shown}${planned.deletes.length ? ` delete=${planned.deletes.join(',')}` : ''} digest=${value.digest ?? String(current.digest)}`] : []),
        ...planned.resizes.map((entry) => `PUT ${base}/resize disk=${entry.disk} size=${entry.size}`),
      ],
      requests: [
        // The plan is shown to people and kept with the confirmation: the cloud-init password (any secret) never is.
        ...(shown || planned.deletes.length ? [{ method: 'PUT' as const, path: `${base}/config`, params: { ...maskSecretParams(planned.params), ...(planned.deletes.length ? { delete: planned.deletes.join(',') } : {}) } }] : []),
        ...planned.resizes.map((entry) => ({ method: 'PUT' as const, path: `${base}/resize`, params: { disk: entry.disk, size: entry.size } })),
      ],
      cliEquivalent: cli.join(' && '),
      privileges: privilegesFor({ ...value, type: where.type }),
      risk: planned.deletes.some((key) => isDiskKey(where.type, key)) ? 'high' : planned.resizes.length ? 'medium' : 'low',
      reversible: !planned.deletes.some((key) => /^unused\d+$/.test(key)) && planned.resizes.length === 0,
      undo: planned.resizes.length ? 'Disks cannot shrink again; the rest can be set back with guest_config.' : 'Set the previous values again with guest_config (read them first).',
      warnings,
    };
  },
  async run(value, ctx) {
    const where = await locateAny(ctx.pve, value.vmid, { node: value.node, type: value.type, signal: ctx.signal });
    const kind = kindOf(where.type);
    const label = `${kind.label} ${value.vmid}`;
    const current = await readConfig(ctx, where, value.node);
    const currentDigest = typeof current.digest === 'string' ? current.digest : undefined;
    const common = { vmid: value.vmid, type: where.type, node: where.node };
    if (isRead(value)) {
      const { digest, ...config } = current;
      return {
        data: { ...common, mode: 'read' as const, digest: typeof digest === 'string' ? digest : undefined, summary: summarizeConfig(config, where.type), config: maskConfig(config) },
        summary: `${label} config read (digest ${String(digest ?? '').slice(0, 12)})`,
        node: where.node,
        vmid: value.vmid,
        cliEquivalent: `${kind.cli} config ${value.vmid}`,
      };
    }
    if (value.digest && currentDigest && value.digest.toLowerCase() !== currentDigest) {
      conflictFrom(new ToolError('upstream', 'detected modified configuration'), label, value.digest);
    }
    const planned = planChange(where, value, current);
    const base = guestPath(where.node, where.type, value.vmid);
    const changed = Object.keys(planned.params);
    if (changed.length || planned.deletes.length) {
      const params: PveParams = { ...planned.params, digest: value.digest ?? currentDigest };
      if (planned.deletes.length) params.delete = planned.deletes.join(',');
      try {
        await ctx.pve.put(`${base}/config`, params, { signal: ctx.signal });
      } catch (error) {
        conflictFrom(error, label, value.digest ?? currentDigest);
      }
    }
    const resized: z.output<typeof resizeResult>[] = [];
    const upids: string[] = [];
    for (const entry of planned.resizes) {
      const answer = await ctx.pve.put<unknown>(`${base}/resize`, { disk: entry.disk, size: entry.size }, { signal: ctx.signal });
      let task: TaskOutcome | undefined;
      if (isUpid(answer)) {
        upids.push(answer);
        task = await finishTask(ctx, answer, { wait: true, timeoutSeconds: value.timeout, what: `resize ${entry.disk} of ${label}` });
      }
      resized.push({ disk: entry.disk, from: entry.from, to: formatBytes(entry.toBytes), ...(task ? { task } : {}) });
    }
    const [after, pending] = await Promise.all([
      readConfig(ctx, where),
      ctx.pve.get<Record<string, unknown>[]>(`${base}/pending`, undefined, { signal: ctx.signal }).catch(() => [] as Record<string, unknown>[]),
    ]);
    const pendingKeys = (Array.isArray(pending) ? pending : []).filter((row) => row.pending !== undefined || row.delete !== undefined).map((row) => String(row.key));
    const { digest, ...config } = after;
    const warnings: string[] = [];
    if (pendingKeys.length) {
      warnings.push(`${label} is running: ${pendingKeys.join(', ')} ${pendingKeys.length === 1 ? 'takes' : 'take'} effect after it restarts (${kind.type === 'qemu' ? 'vm_action' : 'container_action'} reboot, or shutdown + start).`);
    }
    if (value.agent === true && where.type === 'qemu') warnings.push(`The agent option needs a full power cycle of ${label} (shutdown + start, not a reboot inside) and qemu-guest-agent installed in the guest.`);
    const what = [...changed.map((key) => (key === 'cipassword' ? 'cipassword (set)' : key)), ...planned.deletes.map((key) => `-${key}`), ...resized.map((entry) => `${entry.disk} ${entry.from ?? '?'}→${entry.to ?? '?'}`)];
    return {
      data: {
        ...common,
        mode: 'update' as const,
        digest: typeof digest === 'string' ? digest : undefined,
        summary: summarizeConfig(config, where.type),
        config: maskConfig(config),
        changed,
        deleted: planned.deletes,
        resized,
        pending_restart: pendingKeys,
      },
      summary: `${label} updated: ${what.join(', ')}`,
      warnings,
      upids,
      node: where.node,
      vmid: value.vmid,
    };
  },
});

import { z } from 'zod';
import { defineTool, type Plan, type PrivilegeNeed, type ToolContext } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { nodeName, sizeText, storageId, timeoutSeconds, waitForTask } from '../lib/schemas.ts';
import { finishTask, taskResultSchema, type TaskOutcome } from '../lib/task-result.ts';
import { num } from '../lib/pve/parse.ts';
import { isUpid } from '../lib/pve/upid.ts';
import type { GuestType, PveParams } from '../lib/pve/types.ts';
import { guestPath, kindOf, locateAny, type Located } from '../lib/guests/kinds.ts';
import { requireNode } from '../lib/cluster/nodes.ts';
import { assertContent, requireStorage } from '../lib/cluster/storage.ts';
import { configParams, lxcNicValue, nicInput, privilegeForKey, settableShape, showParams, touchedKeys, checkKindFields, type Settable } from '../lib/guests/config-params.ts';
import { parseBootOrder, QEMU_DISK_KEY, type GuestConfig } from '../lib/guests/summary.ts';
import { parseProps, sizeToBytes } from '../lib/guests/props.ts';

const dnsName = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, 'name must be a DNS name such as web02').max(63);

const input = z
  .object({
    template: z.coerce.number().int().min(100).max(999_999_999).optional().describe('Template vmid to clone'),
    ostemplate: z
      .string()
      .regex(/^[a-z][a-z0-9\-_.]*[a-z0-9]:vztmpl\/.+$/i, 'ostemplate is a template volume such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst')
      .optional()
      .describe('Or a container from this OS template volume'),
    newid: z.coerce.number().int().min(100).max(999_999_999).optional().describe('Default: next free'),
    name: dnsName.optional().describe('Or hostname'),
    node: nodeName.optional().describe('Default: the template\'s; needed with ostemplate'),
    storage: storageId.optional().describe('For its disks'),
    full: z.boolean().default(true).describe('false: linked clone'),
    pool: z.string().min(1).max(64).optional(),
    disk_size: sizeText.optional().describe('Boot disk or rootfs total, e.g. 32G'),
    ...settableShape,
    nets: z.array(nicInput).optional().describe('[{"index":0,"bridge":"vmbr0","vlan":20}]'),
    password: z.string().min(5).max(256).optional().describe('ostemplate: root'),
    ssh_public_keys: z.union([z.array(z.string().min(1)), z.string().min(1)]).optional().describe('ostemplate: root'),
    unprivileged: z.boolean().default(true).describe('ostemplate'),
    nesting: z.boolean().optional().describe('ostemplate'),
    start: z.boolean().default(false),
    wait: waitForTask,
    timeout: timeoutSeconds,
  })
  .superRefine((value, ctx) => {
    if ((value.template === undefined) === (value.ostemplate === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: 'give exactly one source: template (a template vmid to clone) or ostemplate (a vztmpl volume for a new container)' });
    }
    if (value.ostemplate && !value.node) ctx.addIssue({ code: 'custom', path: ['node'], message: 'node is required with ostemplate (the template volume lives on a node\'s storage), e.g. pve1' });
    if (value.template !== undefined && (value.password || value.ssh_public_keys)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'password and ssh_public_keys are for new containers from an ostemplate; for VM clones use cipassword and sshkeys (cloud-init)' });
    }
  });

type Input = z.output<typeof input>;

const output = z.object({
  vmid: z.number().describe('The new guest\'s id'),
  type: z.enum(['qemu', 'lxc']),
  node: z.string(),
  name: z.string().optional(),
  source: z.string().describe('What it was made from'),
  result: z.enum(['done', 'started']).describe('started: wait=false, the create task still runs'),
  status: z.string().optional().describe('Its state at the end (running or stopped)'),
  configured: z.array(z.string()).describe('Config keys set after the clone'),
  tasks: z.array(taskResultSchema),
});

function settableOf(value: Input): Settable {
  return { ...value, name: undefined };
}

function hasFollowUps(value: Input): boolean {
  return touchedKeys('qemu', { ...settableOf(value), description: undefined }).length > 0 || !!value.disk_size || value.start;
}

function privilegesFor(value: Input): PrivilegeNeed[] {
  const target = value.pool ? `/pool/${value.pool}` : value.newid ? `/vms/${value.newid}` : '/vms';
  const newPath = value.newid ? `/vms/${value.newid}` : '/vms';
  const needs: PrivilegeNeed[] = [];
  if (value.template !== undefined) {
    needs.push({ path: `/vms/${value.template}`, privileges: ['VM.Clone'] }, { path: target, privileges: ['VM.Allocate'] });
    if (value.storage) needs.push({ path: `/storage/${value.storage}`, privileges: ['Datastore.AllocateSpace'] });
    const keys = [...touchedKeys('qemu', settableOf(value)), ...(value.disk_size ? ['scsi0'] : [])];
    const config = [...new Set(keys.map((key) => privilegeForKey('qemu', key)))].sort();
    if (config.length) needs.push({ path: newPath, privileges: config });
  } else {
    const templateStorage = value.ostemplate!.split(':')[0];
    needs.push(
      { path: target, privileges: ['VM.Allocate'] },
      { path: `/storage/${value.storage ?? 'local-lvm'}`, privileges: ['Datastore.AllocateSpace'] },
      { path: `/storage/${templateStorage}`, privileges: ['Datastore.Audit', 'Datastore.AllocateSpace'], any: true },
    );
    if (!value.unprivileged) needs.push({ path: '/', privileges: ['Sys.Modify'] });
  }
  if (value.start) needs.push({ path: newPath, privileges: ['VM.PowerMgmt'] });
  return needs;
}

/** pct create parameters for a container from an OS template. */
function lxcCreateParams(value: Input, newid: number): PveParams {
  const settable = settableOf(value);
  checkKindFields('lxc', settable);
  const sizeBytes = sizeToBytes(value.disk_size ? value.disk_size.replace(/^(\d+(?:\.\d+)?)$/, '$1G').toUpperCase() : '8G') ?? 8 * 1024 ** 3;
  const gib = Math.max(1, Math.ceil(sizeBytes / 1024 ** 3));
  const params: PveParams = { vmid: newid, ostemplate: value.ostemplate, rootfs: `${value.storage ?? 'local-lvm'}:${gib}`, unprivileged: value.unprivileged };
  Object.assign(params, configParams('lxc', { ...settable, nets: undefined }, {}));
  if (value.name) params.hostname = value.name;
  const nets = value.nets?.length ? value.nets : [{ index: 0 }];
  for (const nic of nets) params[`net${nic.index}`] = lxcNicValue(undefined, { ...nic, bridge: nic.bridge ?? 'vmbr0' });
  if (value.nesting ?? value.unprivileged) params.features = 'nesting=1';
  if (value.password) params.password = value.password;
  if (value.ssh_public_keys) params['ssh-public-keys'] = (Array.isArray(value.ssh_public_keys) ? value.ssh_public_keys : value.ssh_public_keys.split(/\r?\n/)).map((k) => k.trim()).filter(Boolean).join('\n');
  if (value.pool) params.pool = value.pool;
  if (value.start) params.start = true;
  return params;
}

/** The disk to grow after a clone: the first disk in the boot order, else the first disk. */
function bootDisk(config: GuestConfig, type: GuestType): string | undefined {
  if (type === 'lxc') return 'rootfs';
  const isDisk = (key: string) => QEMU_DISK_KEY.test(key) && config[key] !== undefined && parseProps(String(config[key])).media !== 'cdrom';
  const fromBoot = (parseBootOrder(config.boot) ?? []).find(isDisk);
  return fromBoot ?? Object.keys(config).filter(isDisk).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))[0];
}

async function nextId(ctx: ToolContext, given?: number): Promise<number> {
  if (given !== undefined) return given;
  const id = num(await ctx.pve.get<unknown>('/cluster/nextid', undefined, { signal: ctx.signal }));
  if (id === undefined) throw new ToolError('upstream', 'Proxmox did not return a free VMID from /cluster/nextid; give newid yourself.');
  return id;
}

async function sourceOf(value: Input, ctx: ToolContext): Promise<Located | undefined> {
  if (value.template === undefined) return undefined;
  const where = await locateAny(ctx.pve, value.template, { signal: ctx.signal });
  if (!where.template) {
    const kind = kindOf(where.type);
    throw new ToolError('invalid_input', `${kind.label} ${value.template}${where.name ? ` (${where.name})` : ''} is not a template. Clone an ordinary guest with ${where.type === 'qemu' ? 'vm_action' : 'container_action'} action=clone, or list templates with list_vms templates=only.`, {
      details: { vmid: value.template },
    });
  }
  return where;
}

/**
 * Everything that can be checked before anyone is asked (issue 15): the node answers, the storage is
 * there and takes disks, the pool and every NIC's bridge exist, the new id is free, wait: false has
 * nothing to do after the clone. A clone that sets cloud-init options from a template without a
 * cloud-init drive gets a warning: the options would do nothing.
 */
async function preflight(value: Input, source: Located | undefined, ctx: ToolContext): Promise<string[]> {
  const warnings: string[] = [];
  if (!value.wait && source && hasFollowUps(value)) {
    throw new ToolError('invalid_input', 'wait: false only works for a plain clone; config changes, disk_size and start need the clone to finish first. Leave wait at true, or drop those and apply them later with guest_config.');
  }
  const node = value.node ?? source?.node;
  if (node) await requireNode(ctx, node, { online: true });
  if (value.storage) assertContent(await requireStorage(ctx, value.storage, node), source?.type === 'qemu' ? 'images' : 'rootdir', source?.type === 'qemu' ? 'VM disks' : 'container volumes');
  if (value.newid !== undefined) {
    const taken = (await ctx.pve.clusterResources('vm', { signal: ctx.signal })).find((row) => row.vmid === value.newid);
    if (taken) throw new ToolError('conflict', `Id ${value.newid} is taken (${taken.type === 'lxc' ? 'CT' : 'VM'} ${value.newid}${taken.name ? ` ${String(taken.name)}` : ''}); leave newid out for the next free id.`, { details: { newid: value.newid } });
  }
  if (value.pool) {
    const pools = await ctx.pve.get<{ poolid: string }[]>('/pools', undefined, { signal: ctx.signal }).catch(() => undefined);
    if (pools && !pools.some((pool) => pool.poolid === value.pool)) {
      throw new ToolError('not_found', `Pool '${value.pool}' does not exist. Pools: ${pools.map((pool) => pool.poolid).sort().join(', ') || 'none'}.`, { details: { pool: value.pool } });
    }
  }
  const bridges = [...new Set((value.nets ?? []).map((nic) => nic.bridge).filter((bridge): bridge is string => Boolean(bridge)))];
  if (node && bridges.length) {
    const rows = await ctx.pve.get<{ iface: string; type?: string }[]>(`/nodes/${encodeURIComponent(node)}/network`, undefined, { signal: ctx.signal }).catch(() => undefined);
    if (rows) {
      const known = rows.filter((row) => row.type === 'bridge' || row.type === 'OVSBridge').map((row) => row.iface).sort();
      const missing = bridges.filter((bridge) => !known.includes(bridge));
      if (missing.length) throw new ToolError('not_found', `Bridge ${missing.join(', ')} does not exist on ${node}. Bridges there: ${known.join(', ') || 'none'}.`, { details: { node, missing, bridges: known } });
    }
  }
  const cloudInit = value.ciuser || value.cipassword || value.sshkeys || value.ipconfig?.length || value.nameserver || value.searchdomain;
  if (source?.type === 'qemu' && cloudInit) {
    const config = await ctx.pve.get<Record<string, unknown>>(guestPath(source.node, 'qemu', source.vmid, '/config'), undefined, { signal: ctx.signal }).catch(() => undefined);
    if (config && !Object.values(config).some((entry) => typeof entry === 'string' && /cloudinit/.test(entry))) {
      warnings.push(`Template ${source.vmid} has no cloud-init drive, so ciuser, sshkeys, ipconfig and the like will do nothing. Add one to the template first (qm set ${source.vmid} --ide2 <storage>:cloudinit).`);
    }
  }
  return warnings;
}

export default defineTool({
  name: 'guest_create',
  title: 'Create a VM or container',
  description: 'Create a VM or container from a template (clone) or a container from an OS template volume, with resources, NICs, disk size and cloud-init.',
  input,
  output,
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (value) => privilegesFor(value),
  async explain(value, ctx): Promise<Plan> {
    const source = await sourceOf(value, ctx);
    const checked = await preflight(value, source, ctx);
    const id = value.newid ?? '<nextid>';
    const apiCalls: string[] = value.newid ? [] : ['GET /cluster/nextid'];
    let cli: string[];
    let summary: string;
    if (source) {
      const kind = kindOf(source.type);
      const node = value.node ?? source.node;
      const settable = settableOf(value);
      const keys = touchedKeys(source.type, settable);
      apiCalls.push(`POST ${guestPath(source.node, source.type, source.vmid, '/clone')}`);
      if (keys.length) apiCalls.push(`PUT /nodes/${node}/${source.type}/${id}/config (${keys.join(', ')})`);
      if (value.disk_size) apiCalls.push(`PUT /nodes/${node}/${source.type}/${id}/resize`);
      if (value.start) apiCalls.push(`POST /nodes/${node}/${source.type}/${id}/status/start`);
      cli = [`${kind.cli} clone ${source.vmid} ${id}${value.name ? ` --${source.type === 'qemu' ? 'name' : 'hostname'} ${value.name}` : ''} --full ${value.full ? 1 : 0}${value.node && value.node !== source.node ? ` --target ${value.node}` : ''}${value.storage ? ` --storage ${value.storage}` : ''}`];
      if (keys.length) cli.push(`${kind.cli} set ${id} ${keys.map((key) => `--${key} ${key === 'cipassword' ? '[secret]' : '…'}`).join(' ')}`);
      if (value.disk_size) cli.push(`${kind.cli} resize ${id} <boot disk> ${value.disk_size}`);
      if (value.start) cli.push(`${kind.cli} start ${id}`);
      summary = `Create ${kind.noun} ${id}${value.name ? ` (${value.name})` : ''} on ${node} as a ${value.full ? 'full' : 'linked'} clone of template ${source.vmid}${source.name ? ` (${source.name})` : ''}${keys.length ? `, set ${keys.join(', ')}` : ''}${value.start ? ', start it' : ''}`;
    } else {
      const params = lxcCreateParams(value, typeof id === 'number' ? id : 0);
      apiCalls.push(`POST /nodes/${value.node}/lxc ${showParams({ ...params, vmid: id as never })}`);
      cli = [`pct create ${id} ${value.ostemplate} ${showParams({ ...params, vmid: undefined, ostemplate: undefined }).split(' ').map((pair) => `--${pair.replace('=', ' ')}`).join(' ')}`];
      summary = `Create container ${id}${value.name ? ` (${value.name})` : ''} on ${value.node} from ${value.ostemplate}${value.unprivileged ? ' (unprivileged)' : ' (PRIVILEGED)'}${value.start ? ', start it' : ''}`;
    }
    return {
      summary,
      apiCalls,
      cliEquivalent: cli.join(' && '),
      privileges: privilegesFor(value),
      risk: 'low',
      reversible: true,
      undo: `Delete the new guest (${source?.type === 'qemu' ? 'vm_action' : 'container_action'} action=delete).`,
      warnings: [...checked, ...(value.template === undefined && !value.unprivileged ? ['A privileged container shares the host\'s root user mapping: root in it is close to root on the host. Prefer unprivileged.'] : [])],
    };
  },
  async run(value, ctx) {
    const source = await sourceOf(value, ctx);
    if (!value.wait && (source ? hasFollowUps(value) : false)) {
      throw new ToolError('invalid_input', 'wait: false only works for a plain clone; config changes, disk_size and start need the clone to finish first. Leave wait at true, or drop those and apply them later with guest_config.');
    }
    const newid = await nextId(ctx, value.newid);
    const tasks: TaskOutcome[] = [];
    const upids: string[] = [];
    const track = async (upid: unknown, what: string, wait = value.wait) => {
      if (!isUpid(upid)) return;
      upids.push(upid);
      tasks.push(await finishTask(ctx, upid, { wait, timeoutSeconds: value.timeout, what }));
    };

    if (!source) {
      const params = lxcCreateParams(value, newid);
      await track(await ctx.pve.post<string>(`/nodes/${encodeURIComponent(value.node!)}/lxc`, params, { signal: ctx.signal }), `create CT ${newid}`);
      const status = value.wait ? String((await ctx.pve.get<Record<string, unknown>>(guestPath(value.node!, 'lxc', newid, '/status/current'), undefined, { signal: ctx.signal })).status ?? 'unknown') : undefined;
      return {
        data: { vmid: newid, type: 'lxc' as const, node: value.node!, name: value.name, source: value.ostemplate!, result: value.wait ? ('done' as const) : ('started' as const), ...(status ? { status } : {}), configured: [], tasks },
        summary: `Container ${newid}${value.name ? ` (${value.name})` : ''} ${value.wait ? `created on ${value.node}${status ? `, ${status}` : ''}` : 'is being created'}`,
        suggestions: [`See it with container_status vmid=${newid}.`],
        upids,
        node: value.node,
        vmid: newid,
      };
    }

    const kind = kindOf(source.type);
    const node = value.node ?? source.node;
    const cloneParams: PveParams = { newid, full: value.full };
    if (value.name) cloneParams[source.type === 'qemu' ? 'name' : 'hostname'] = value.name;
    if (node !== source.node) cloneParams.target = node;
    if (value.storage) cloneParams.storage = value.storage;
    if (value.pool) cloneParams.pool = value.pool;
    if (value.description) cloneParams.description = value.description;
    await track(await ctx.pve.post<string>(guestPath(source.node, source.type, source.vmid, '/clone'), cloneParams, { signal: ctx.signal }), `clone template ${source.vmid} to ${newid}`);
    const base = guestPath(node, source.type, newid);
    const configured: string[] = [];
    let status: string | undefined;
    if (value.wait) {
      // The clone exists from here on: a failure below must say so, and how to clean up.
      try {
        const settable = { ...settableOf(value), description: undefined };
        if (touchedKeys(source.type, settable).length) {
          const current = await ctx.pve.get<GuestConfig>(`${base}/config`, undefined, { signal: ctx.signal });
          const params = configParams(source.type, settable, current);
          await ctx.pve.put(`${base}/config`, { ...params, digest: typeof current.digest === 'string' ? current.digest : undefined }, { signal: ctx.signal });
          configured.push(...Object.keys(params));
        }
        if (value.disk_size) {
          const current = await ctx.pve.get<GuestConfig>(`${base}/config`, undefined, { signal: ctx.signal });
          const disk = bootDisk(current, source.type);
          if (!disk) throw new ToolError('invalid_input', `${kind.label} ${newid} has no disk to grow.`);
          const from = sizeToBytes(parseProps(String(current[disk])).size);
          const size = value.disk_size.replace(/^\+/, '').replace(/^(\d+(?:\.\d+)?)$/, '$1G').toUpperCase();
          const to = sizeToBytes(size);
          if (from !== undefined && to !== undefined && to < from) throw new ToolError('invalid_input', `disk_size ${value.disk_size} is smaller than the template's ${disk} (${parseProps(String(current[disk])).size}); disks only grow.`);
          if (from === undefined || to === undefined || to > from) {
            await track(await ctx.pve.put<unknown>(`${base}/resize`, { disk, size }, { signal: ctx.signal }), `resize ${disk} of ${newid}`, true);
            configured.push(`${disk} size=${size}`);
          }
        }
        if (value.start) await track(await ctx.pve.post<string>(`${base}/status/start`, {}, { signal: ctx.signal }), `start ${kind.label} ${newid}`, true);
        status = String((await ctx.pve.get<Record<string, unknown>>(`${base}/status/current`, undefined, { signal: ctx.signal })).status ?? 'unknown');
      } catch (error) {
        const inner = error instanceof ToolError ? error : new ToolError('internal', String(error));
        throw new ToolError(inner.code, `${kind.label} ${newid} was cloned from template ${source.vmid}, but finishing it failed: ${inner.message} Fix it with guest_config (vmid ${newid}), or remove it with ${source.type === 'qemu' ? 'vm_action' : 'container_action'} vmid=${newid} action=delete.`, {
          details: { ...inner.details, vmid: newid, node, created: true },
          suggestions: inner.suggestions,
        });
      }
    }
    return {
      data: { vmid: newid, type: source.type, node, name: value.name, source: `template ${source.vmid}${source.name ? ` (${source.name})` : ''}`, result: value.wait ? ('done' as const) : ('started' as const), ...(status ? { status } : {}), configured, tasks },
      summary: `${kind.label} ${newid}${value.name ? ` (${value.name})` : ''} ${value.wait ? `created on ${node} from template ${source.vmid}${status ? `, ${status}` : ''}` : 'is being cloned'}`,
      suggestions: [`See it with ${source.type === 'qemu' ? 'vm_status' : 'container_status'} vmid=${newid}${value.start && source.type === 'qemu' ? ' include=["ips"] once it has booted' : ''}.`],
      upids,
      node,
      vmid: newid,
    };
  },
});

/**
 * The node network tools' shared implementation: network_config reads (list, get, pending) and
 * network_change stages, applies and reverts changes. Split so each tool's annotations are true.
 */
import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../tool.ts';
import { ToolError, toToolError } from '../errors.ts';
import { nodeName, timeoutSeconds, waitForTask } from '../schemas.ts';
import { finishTask, taskResultSchema } from '../task-result.ts';
import { flag, text } from './format.ts';
import { num } from '../pve/parse.ts';
import { requireNode } from './nodes.ts';
import { splitList } from '../policy/split-list.ts';

export const actions = ['list', 'get', 'create', 'update', 'delete', 'pending', 'apply', 'revert'] as const;
export const readActions = ['list', 'get', 'pending'] as const;
export const changeActions = ['create', 'update', 'delete', 'apply', 'revert'] as const;
type Action = (typeof actions)[number];

const effectByAction: Record<Action, Effect> = {
  list: 'read',
  get: 'read',
  pending: 'read',
  create: 'write',
  update: 'write',
  apply: 'write',
  revert: 'write',
  delete: 'destructive',
};

/** pve-common pve_verify_iface: a letter, then letters/digits/_, optionally .VLAN or :alias. */
const ifaceName = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/, 'iface must be an interface name such as vmbr1, bond1 or vmbr0.50')
  .describe('e.g. vmbr1, bond1, vmbr0.50');
const ifaceList = z
  .string()
  .regex(/^[a-zA-Z0-9_.:]+([ ,;]+[a-zA-Z0-9_.:]+)*$/, 'a space- or comma-separated list of interface names, e.g. "eno1 eno2"');
const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const cidr4 = z.string().refine((value) => {
  const [address, bits, extra] = value.split('/');
  return extra === undefined && ipv4.test(address ?? '') && bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= 32;
}, 'cidr must look like 192.168.10.2/24');
const gateway4 = z.string().regex(ipv4, 'gateway must be an IPv4 address such as 192.168.10.1');

const ifaceInfo = z.object({
  iface: z.string(),
  type: z.string(),
  active: z.boolean().optional().describe('exists in the running system'),
  autostart: z.boolean().optional(),
  method: z.string().optional(),
  cidr: z.string().optional(),
  gateway: z.string().optional(),
  cidr6: z.string().optional(),
  gateway6: z.string().optional(),
  bridge_ports: z.string().optional(),
  bridge_vlan_aware: z.boolean().optional(),
  bridge_vids: z.string().optional(),
  bond_mode: z.string().optional(),
  slaves: z.string().optional(),
  vlan_id: z.number().optional(),
  vlan_raw_device: z.string().optional(),
  mtu: z.number().optional(),
  comments: z.string().optional(),
  management: z.boolean().describe('carries the node\'s cluster address (or lies under the interface that does)'),
});

type IfaceInfo = z.infer<typeof ifaceInfo>;

export const input = z.object({
  action: z.enum(actions).describe('list | get | create | update | delete | pending | apply | revert'),
  node: nodeName,
  iface: ifaceName.optional(),
  type: z.enum(['bridge', 'bond', 'vlan', 'eth']).optional().describe('create'),
  bridge_ports: ifaceList.optional().describe('e.g. "eno2"'),
  bridge_vlan_aware: z.boolean().optional(),
  bridge_vids: z.string().regex(/^\d+(-\d+)?([ ,;]+\d+(-\d+)?)*$/, 'bridge_vids is a VLAN list such as 2-4094 or "10 20 30-40"').optional(),
  bond_mode: z.enum(['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb']).optional(),
  bond_xmit_hash_policy: z.enum(['layer2', 'layer2+3', 'layer3+4']).optional(),
  slaves: ifaceList.optional().describe('bond: e.g. "ens1f0 ens1f1"'),
  vlan_raw_device: ifaceName.optional().describe('vlan, unless named like vmbr0.50'),
  vlan_id: z.coerce.number().int().min(1).max(4094).optional().describe('vlan, unless named like vmbr0.50'),
  cidr: cidr4.optional().describe('e.g. 10.10.10.2/24'),
  gateway: gateway4.optional(),
  mtu: z.coerce.number().int().min(1280).max(65520).optional(),
  autostart: z.boolean().optional(),
  comments: z.string().max(4096).optional(),
  remove: z.array(z.string().regex(/^[a-z][a-z0-9_-]*$/i)).optional().describe('update: e.g. ["mtu"]'),
  force: z.boolean().default(false).describe('delete the node\'s own interface'),
  wait: waitForTask,
  timeout: timeoutSeconds,
});

export type Input = z.output<typeof input>;

function needs(args: Input): PrivilegeNeed[] {
  const path = `/nodes/${args.node}`;
  if (args.action === 'list' || args.action === 'pending') return []; // any user may list
  if (args.action === 'get') return [{ path, privileges: ['Sys.Audit'] }];
  return [{ path, privileges: ['Sys.Modify'] }];
}

function needIface(args: Input): string {
  if (!args.iface) throw new ToolError('invalid_input', `Action ${args.action} needs iface (network_config action list shows the interfaces).`);
  return args.iface;
}

const networkPath = (node: string, iface?: string) => `/nodes/${encodeURIComponent(node)}/network${iface ? `/${encodeURIComponent(iface)}` : ''}`;

const split = (value: string | undefined) => splitList(value ?? '');

function toIface(row: Record<string, unknown>, management: Set<string>): IfaceInfo {
  const comments = text(row.comments)?.trim();
  return {
    iface: String(row.iface),
    type: String(row.type ?? 'unknown'),
    active: flag(row.active),
    autostart: flag(row.autostart),
    method: text(row.method),
    cidr: text(row.cidr) ?? (row.address && row.netmask ? `${text(row.address)}/${text(row.netmask)}` : undefined),
    gateway: text(row.gateway),
    cidr6: text(row.cidr6),
    gateway6: text(row.gateway6),
    bridge_ports: text(row.bridge_ports),
    bridge_vlan_aware: flag(row.bridge_vlan_aware),
    bridge_vids: text(row.bridge_vids),
    bond_mode: text(row.bond_mode),
    slaves: text(row.slaves),
    vlan_id: num(row['vlan-id']),
    vlan_raw_device: text(row['vlan-raw-device']),
    mtu: num(row.mtu),
    comments: comments || undefined,
    management: management.has(String(row.iface)),
  };
}

interface NetworkView {
  rows: Record<string, unknown>[];
  /** The node's cluster address (from /cluster/status), when known. */
  address?: string;
  /** The interfaces the node's address depends on: the one holding it and what lies under it. */
  management: Set<string>;
  /** The staged diff, when the client can read it (Proxmox sends it beside data as `changes`). */
  changes?: string;
  warnings: string[];
}

/** Proxmox puts the staged diff beside `data` (`changes`), so this read takes the whole envelope. */
async function readNetwork(ctx: ToolContext, node: string): Promise<{ rows: Record<string, unknown>[]; changes?: string }> {
  const envelope = await ctx.pve.getEnvelope<Record<string, unknown>[]>(networkPath(node), undefined, { signal: ctx.signal });
  return { rows: Array.isArray(envelope.data) ? envelope.data : [], changes: envelope.changes };
}

async function networkView(ctx: ToolContext, node: string): Promise<NetworkView> {
  const [network, status] = await Promise.all([
    readNetwork(ctx, node),
    ctx.pve.get<Record<string, unknown>[]>('/cluster/status', undefined, { signal: ctx.signal }).catch((error: unknown) => toToolError(error)),
  ]);
  const warnings: string[] = [];
  let address: string | undefined;
  if (status instanceof ToolError) warnings.push(`Could not read the node's cluster address (${status.message}), so the management interface is not marked.`);
  else address = text((Array.isArray(status) ? status : []).find((row) => row.type === 'node' && row.name === node)?.ip);
  const management = new Set<string>();
  const byName = new Map(network.rows.map((row) => [String(row.iface), row]));
  const holder = address ? network.rows.find((row) => text(row.address) === address || text(row.cidr)?.split('/')[0] === address) : undefined;
  const visit = (name: string) => {
    if (management.has(name)) return;
    management.add(name);
    const row = byName.get(name);
    if (!row) return;
    for (const child of [...split(text(row.bridge_ports)), ...split(text(row.slaves)), ...split(text(row['vlan-raw-device']))]) visit(child);
    const dot = /^(.+)\.\d+$/.exec(name);
    if (dot) visit(dot[1]);
  };
  if (holder) visit(String(holder.iface));
  return { rows: network.rows, address, management, changes: network.changes, warnings };
}

function managementWarning(iface: string, view: NetworkView, node: string): string | undefined {
  if (!view.management.has(iface)) return undefined;
  return `DANGER: ${iface} carries node ${node}'s own address${view.address ? ` (${view.address})` : ''}. A mistake here, once applied, cuts the node off from the cluster and from this server; keep console (IPMI/iKVM) access ready.`;
}

/** The API parameters for create/update, in Proxmox's names. */
function ifaceParams(args: Input, type: string): Record<string, string | number | boolean> {
  const params: Record<string, string | number | boolean | undefined> = {
    type,
    bridge_ports: args.bridge_ports !== undefined ? split(args.bridge_ports).join(' ') : undefined,
    bridge_vlan_aware: args.bridge_vlan_aware,
    bridge_vids: args.bridge_vids !== undefined ? split(args.bridge_vids).join(' ') : undefined,
    bond_mode: args.bond_mode,
    bond_xmit_hash_policy: args.bond_xmit_hash_policy,
    slaves: args.slaves !== undefined ? split(args.slaves).join(' ') : undefined,
    'vlan-raw-device': args.vlan_raw_device,
    'vlan-id': args.vlan_id,
    cidr: args.cidr,
    gateway: args.gateway,
    mtu: args.mtu,
    autostart: args.autostart,
    comments: args.comments,
    delete: args.remove?.length ? args.remove.map((key) => key.replace(/^vlan_/, 'vlan-')).join(',') : undefined,
  };
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined)) as Record<string, string | number | boolean>;
}

function validateCreate(args: Input, iface: string, existing: Set<string>): string {
  const type = args.type;
  if (!type || type === 'eth') throw new ToolError('invalid_input', 'create needs type bridge, bond or vlan (physical eth interfaces are found, not created).');
  if (existing.has(iface)) throw new ToolError('conflict', `Interface ${iface} already exists on ${args.node}; use action update to change it.`);
  const missing = (names: string) => split(names).filter((name) => !existing.has(name));
  if (type === 'bridge' && args.bridge_ports && missing(args.bridge_ports).length) {
    throw new ToolError('invalid_input', `Bridge port(s) ${missing(args.bridge_ports).join(', ')} do not exist on ${args.node}.`);
  }
  if (type === 'bond') {
    if (!args.slaves) throw new ToolError('invalid_input', 'A bond needs slaves (its member interfaces, e.g. "ens1f0 ens1f1").');
    if (missing(args.slaves).length) throw new ToolError('invalid_input', `Bond member(s) ${missing(args.slaves).join(', ')} do not exist on ${args.node}.`);
  }
  if (type === 'vlan') {
    const dotted = /^(.+)\.(\d+)$/.exec(iface);
    if (!dotted && (args.vlan_raw_device === undefined || args.vlan_id === undefined)) {
      throw new ToolError('invalid_input', `A VLAN named ${iface} needs vlan_raw_device and vlan_id (or name it <parent>.<tag>, e.g. vmbr0.50).`);
    }
    const parent = dotted ? dotted[1] : args.vlan_raw_device!;
    if (!existing.has(parent)) throw new ToolError('invalid_input', `VLAN parent ${parent} does not exist on ${args.node}.`);
  }
  return type;
}

const applyWarnings = (node: string, address?: string) => [
  `Applying reloads the network of ${node} (ifreload -a). A wrong setting can cut the node${address ? ` (${address})` : ''} off: from the cluster, from its guests' networks and from this server.`,
  'Rollback if it stops answering: on its console (IPMI/iKVM or a screen), put back the previous /etc/network/interfaces (saved as listed by network_config list before applying) and run `ifreload -a`.',
];

/** Both network tools in one: network_config serves its reads, network_change its changes. */
export const networkTool = defineTool({
  name: 'network_config',
  title: 'Node network: interfaces, bridges, bonds, VLANs',
  description: 'Network of one node: list/get interfaces (bridges, bonds, VLANs, NICs); create/update/delete stage a change, pending shows it, apply activates it (can cut the node off: read the warnings), revert drops it.',
  input,
  output: z.object({
    action: z.enum(actions),
    node: z.string(),
    interfaces: z.array(ifaceInfo).optional(),
    interface: ifaceInfo.optional(),
    management: z.object({ address: z.string().optional(), interfaces: z.array(z.string()) }).optional(),
    pending: z
      .object({
        changes: z.string().optional().describe('the diff between /etc/network/interfaces and the staged interfaces.new'),
        new_interfaces: z.array(z.string()).describe('staged interfaces that do not exist in the running system yet'),
        complete: z.boolean().describe('false when only new interfaces could be detected (the diff was not available)'),
      })
      .optional(),
    task: taskResultSchema.optional(),
  }),
  effect: 'destructive',
  effectOf: (args) => effectByAction[args.action],
  idempotent: false,
  changeRoles: ['admin', 'operator'],
  privileges: (args, ctx) => {
    return needs(args);
  },
  async explain(args, ctx): Promise<Plan> {
    const privileges = needs(args);
    const base = `/nodes/${args.node}/network`;
    const warnings: string[] = [];
    let address: string | undefined;
    // The change as a request, judged by the API policy before anyone is asked (lib/runtime/invoke.ts).
    let requests: Plan['requests'];
    if (['create', 'update', 'delete', 'apply'].includes(args.action)) {
      // Checked before anyone is asked: the node answers, the interface exists (or is free), its ports exist.
      await requireNode(ctx, args.node, { online: true });
      const view = await networkView(ctx, args.node);
      address = view.address;
      const names = new Set(view.rows.map((row) => String(row.iface)));
      if (args.action === 'create') validateCreate(args, needIface(args), names);
      if ((args.action === 'update' || args.action === 'delete') && !names.has(needIface(args))) {
        throw new ToolError('not_found', `Interface ${args.iface} does not exist on ${args.node}. Interfaces: ${[...names].sort().join(', ')}.`, { details: { node: args.node, iface: args.iface } });
      }
      const danger = args.iface ? managementWarning(args.iface, view, args.node) : undefined;
      if (danger && args.action === 'delete' && !args.force) {
        throw new ToolError('protected', `${args.iface} carries node ${args.node}'s own address${view.address ? ` (${view.address})` : ''}; removing it would cut the node off once applied. If that is really meant, call again with force: true.`, {
          details: { node: args.node, iface: args.iface, address: view.address },
        });
      }
      if (danger) warnings.push(danger);
      const row = view.rows.find((entry) => String(entry.iface) === args.iface);
      if (args.action === 'delete' && args.iface) requests = [{ method: 'DELETE', path: `${base}/${args.iface}` }];
      if (args.action === 'update' && args.iface && row) requests = [{ method: 'PUT', path: `${base}/${args.iface}`, params: ifaceParams(args, String(row.type)) }];
    }
    switch (args.action) {
      case 'list':
      case 'pending':
        return { summary: `${args.action === 'list' ? 'List the interfaces' : 'Show the staged network changes'} of ${args.node}`, apiCalls: [`GET ${base}`, 'GET /cluster/status'], cliEquivalent: `pvesh get ${base}`, privileges, risk: 'none', reversible: true };
      case 'get':
        return { summary: `Read interface ${args.iface} of ${args.node}`, apiCalls: [`GET ${base}`], cliEquivalent: `pvesh get ${base}/${args.iface}`, privileges, risk: 'none', reversible: true };
      case 'create':
        return {
          summary: `Stage a new ${args.type ?? 'interface'} ${args.iface} on ${args.node} (not active until applied)`,
          apiCalls: [`GET ${base}`, `POST ${base}`],
          cliEquivalent: `pvesh create ${base} --iface ${args.iface} --type ${args.type}`,
          privileges,
          risk: 'low',
          reversible: true,
          undo: `network_change action revert node ${args.node} (drops all staged changes)`,
        };
      case 'update':
        return {
          summary: `Stage changes to ${args.iface} on ${args.node} (not active until applied)`,
          apiCalls: [`GET ${base}`, `PUT ${base}/${args.iface}`],
          requests,
          cliEquivalent: `pvesh set ${base}/${args.iface} --type <type> ...`,
          privileges,
          risk: warnings.length ? 'high' : 'low',
          reversible: true,
          undo: `network_change action revert node ${args.node} (drops all staged changes)`,
          warnings,
        };
      case 'delete':
        return {
          summary: `Stage the removal of ${args.iface} on ${args.node} (takes effect when applied)`,
          apiCalls: [`GET ${base}`, `DELETE ${base}/${args.iface}`],
          requests,
          cliEquivalent: `pvesh delete ${base}/${args.iface}`,
          privileges,
          risk: 'high',
          reversible: true,
          undo: `network_change action revert node ${args.node}, before applying`,
          warnings: [...warnings, 'Guests attached to this interface lose their network once the removal is applied.'],
        };
      case 'apply':
        return {
          summary: `Apply the staged network changes on ${args.node}`,
          apiCalls: [`GET ${base}`, `PUT ${base}`],
          cliEquivalent: 'ifreload -a',
          privileges,
          risk: 'high',
          reversible: false,
          warnings: applyWarnings(args.node, address),
        };
      case 'revert':
        return { summary: `Drop the staged network changes on ${args.node}`, apiCalls: [`DELETE ${base}`], cliEquivalent: 'rm /etc/network/interfaces.new', privileges, risk: 'low', reversible: false };
    }
  },
  async run(args, ctx) {
    const node = (await requireNode(ctx, args.node, { online: true })).node;
    const target = { node };
    const view = await networkView(ctx, node);
    const interfaces = view.rows.map((row) => toIface(row, view.management)).sort((a, b) => a.iface.localeCompare(b.iface, undefined, { numeric: true }));
    const names = new Set(interfaces.map((entry) => entry.iface));
    const management = { address: view.address, interfaces: [...view.management].filter((name) => names.has(name)) };
    const newOnes = interfaces.filter((entry) => entry.active === false && entry.type !== 'eth' && entry.type !== 'unknown').map((entry) => entry.iface);
    const pending = { changes: view.changes, new_interfaces: newOnes, complete: view.changes !== undefined };
    const hasPending = view.changes !== undefined ? view.changes.length > 0 : newOnes.length > 0;
    const pendingNote = hasPending ? [`${node} has staged network changes that are not applied yet (network_config action pending).`] : [];

    const find = (iface: string) => {
      const found = interfaces.find((entry) => entry.iface === iface);
      if (!found) throw new ToolError('not_found', `Interface ${iface} does not exist on ${node}. Interfaces: ${interfaces.map((entry) => entry.iface).join(', ')}.`, { details: { node, iface } });
      return found;
    };

    switch (args.action) {
      case 'list':
        return {
          data: { action: args.action, node, interfaces, management, pending },
          summary: `${interfaces.length} interfaces on ${node}${management.interfaces.length ? `; node address ${view.address} on ${management.interfaces[0]}` : ''}${hasPending ? '; staged changes pending' : ''}`,
          warnings: [...view.warnings, ...pendingNote],
          ...target,
        };
      case 'get': {
        const found = find(needIface(args));
        return { data: { action: args.action, node, interface: found, management }, summary: `${found.iface} (${found.type}) on ${node}${found.cidr ? `: ${found.cidr}` : ''}`, warnings: view.warnings, ...target };
      }
      case 'pending':
        return {
          data: { action: args.action, node, pending, management },
          summary: hasPending ? `${node} has staged network changes${newOnes.length ? ` (new: ${newOnes.join(', ')})` : ''}` : `No staged network changes on ${node}${pending.complete ? '' : ' that can be detected'}`,
          warnings: [...view.warnings, ...(pending.complete ? [] : ['Only new interfaces can be detected as pending: this server\'s Proxmox client does not pass on the staged diff (`changes`), so changed or removed interfaces do not show here.'])],
          suggestions: hasPending ? ['Apply with network_change action apply (read its warnings), or drop them with action revert.'] : [],
          ...target,
        };
      case 'create': {
        const iface = needIface(args);
        const type = validateCreate(args, iface, names);
        await ctx.pve.post(networkPath(node), { iface, ...ifaceParams(args, type) }, { signal: ctx.signal });
        const after = await readNetwork(ctx, node);
        const created = after.rows.find((row) => row.iface === iface);
        return {
          data: { action: args.action, node, ...(created ? { interface: toIface(created, view.management) } : {}) },
          summary: `Staged new ${type} ${iface} on ${node}; not active until applied`,
          warnings: args.gateway && interfaces.some((entry) => entry.gateway) ? ['Another interface already has a default gateway; two gateways usually fail to apply.'] : [],
          suggestions: ['Review with network_config action pending, then network_change action apply (or revert).'],
          ...target,
        };
      }
      case 'update': {
        const current = find(needIface(args));
        if (args.type && args.type !== current.type) throw new ToolError('invalid_input', `${current.iface} is a ${current.type}; the type of an interface cannot be changed (delete it and create a new one).`);
        const params = ifaceParams(args, current.type);
        if (Object.keys(params).length === 1) throw new ToolError('invalid_input', 'Nothing to change: give at least one setting (cidr, gateway, bridge_ports, mtu, comments, remove...).');
        await ctx.pve.put(networkPath(node, current.iface), params, { signal: ctx.signal });
        const after = await readNetwork(ctx, node);
        const updated = after.rows.find((row) => row.iface === current.iface);
        const danger = managementWarning(current.iface, view, node);
        return {
          data: { action: args.action, node, ...(updated ? { interface: toIface(updated, view.management) } : {}) },
          summary: `Staged changes to ${current.iface} on ${node}; not active until applied`,
          warnings: danger ? [danger] : [],
          suggestions: ['Review with network_config action pending, then network_change action apply (or revert).'],
          ...target,
        };
      }
      case 'delete': {
        const current = find(needIface(args));
        const danger = managementWarning(current.iface, view, node);
        if (danger && !args.force) {
          throw new ToolError('protected', `${current.iface} carries node ${node}'s own address${view.address ? ` (${view.address})` : ''}; removing it would cut the node off once applied. If that is really meant, call again with force: true.`, {
            details: { node, iface: current.iface, address: view.address },
          });
        }
        const users = interfaces.filter((entry) => [...split(entry.bridge_ports), ...split(entry.slaves), entry.vlan_raw_device].includes(current.iface)).map((entry) => entry.iface);
        await ctx.pve.delete(networkPath(node, current.iface), undefined, { signal: ctx.signal });
        return {
          data: { action: args.action, node, interface: current },
          summary: `Staged the removal of ${current.iface} on ${node}; takes effect when applied`,
          warnings: [...(danger ? [danger] : []), ...(users.length ? [`${users.join(', ')} use${users.length === 1 ? 's' : ''} ${current.iface}; fix them before applying.`] : [])],
          suggestions: ['network_change action revert undoes staged changes before they are applied.'],
          ...target,
        };
      }
      case 'apply': {
        const upid = await ctx.pve.put<string>(networkPath(node), undefined, { signal: ctx.signal });
        const task = await finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `network reload on ${node}` });
        return {
          data: { action: args.action, node, task, management },
          summary: args.wait ? `Applied the network changes on ${node}` : `Applying the network changes on ${node} (${upid})`,
          warnings: [...(hasPending ? [] : [`No staged changes were detected on ${node}; the reload ran anyway.`]), ...applyWarnings(node, view.address).slice(1)],
          suggestions: [`Check the node still answers: node_status node ${node}.`],
          upids: [upid],
          ...target,
        };
      }
      case 'revert': {
        await ctx.pve.delete(networkPath(node), undefined, { signal: ctx.signal });
        return {
          data: { action: args.action, node },
          summary: hasPending ? `Dropped the staged network changes on ${node}` : `No staged network changes on ${node}; nothing to drop`,
          ...target,
        };
      }
    }
  },
});

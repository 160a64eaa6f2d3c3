/**
 * Strict input: an argument name a tool does not know is an error that names the closest real one,
 * never silently dropped (zod strips unknown keys, so `{"vmid":100,"memroy":4096}` used to run as a
 * read). Checked at every depth (a NIC's `tag` is `vlan`). The Proxmox-style names people type from
 * `qm`/`pct` habits are taken with their Proxmox meaning where the tool has that meaning
 * (`net0: "virtio,bridge=vmbr0,tag=20"` -> nets, `ipconfig0: "ip=dhcp"` -> ipconfig), and refused
 * with the right name otherwise (`scsi0`, `rootfs`).
 */
import type { z } from 'zod';
import { ToolError } from '../errors.ts';
import { parseProps } from '../guests/props.ts';

/**
 * Arguments the runtime itself takes on any call, beside a tool's own; none reaches a handler. Keep
 * every runtime-level argument here, so the unknown-name check lets it through.
 */
export const runtimeArguments: readonly string[] = ['confirmation_id', 'wait_seconds'];

/** Names people use for our arguments (Proxmox API, qm/pct, other MCP servers), and ours. */
const aliases: Record<string, string[]> = {
  node: ['nodes', 'nodename', 'node_name', 'host', 'target_node'],
  vmid: ['id', 'vm_id', 'vmId', 'vm', 'ctid', 'ct_id', 'guest', 'guest_id'],
  vmids: ['ids', 'vm_ids', 'guests', 'vms'],
  memory: ['mem', 'ram', 'memory_mb', 'memory_mib'],
  cores: ['cpu', 'cpus', 'vcpus', 'cpu_cores'],
  name: ['hostname', 'vmname', 'vm_name'],
  vlan: ['tag', 'vlan_id', 'vlanid'],
  sshkeys: ['ssh_keys', 'sshkey', 'ssh_key'],
  snapname: ['snapshot', 'snapshot_name', 'snap'],
  storage: ['datastore', 'store'],
  limit: ['max', 'count', 'size', 'page_size', 'per_page', 'top'],
  sort: ['order', 'order_by', 'orderby', 'sort_by', 'sortby'],
  fields: ['columns', 'select', 'properties'],
  cursor: ['offset', 'page', 'next', 'next_cursor', 'start'],
  upid: ['task', 'task_id', 'taskid'],
  iface: ['interface', 'ifname'],
  template: ['clone', 'source', 'template_id'],
  newid: ['new_id', 'new_vmid', 'target_vmid'],
  force_stop: ['forcestop'],
  bridge: ['vmbr'],
  description: ['notes', 'comment'],
};

/** Edit distance where swapping two neighbours counts as one edit (memroy -> memory). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const squash = (name: string) => name.toLowerCase().replace(/[-_\s]/g, '');

/** The real argument names closest to an unknown one, best first (at most 3). */
export function closestNames(unknown: string, known: string[]): string[] {
  const wanted = squash(unknown);
  const scored: { name: string; score: number }[] = [];
  for (const name of known) {
    let score = Number.POSITIVE_INFINITY;
    if (squash(name) === wanted) score = 0;
    else if ((aliases[name] ?? []).some((alias) => squash(alias) === wanted)) score = 0.5;
    else {
      const distance = editDistance(wanted, squash(name));
      if (distance <= Math.max(1, Math.floor(Math.min(wanted.length, name.length) / 3))) score = distance;
      else if (wanted.length >= 4 && name.length >= 4 && (squash(name).startsWith(wanted) || wanted.startsWith(squash(name)))) score = 3;
    }
    if (Number.isFinite(score)) scored.push({ name, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name)).slice(0, 3).map((entry) => entry.name);
}

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
}

function defOf(schema: z.ZodType): ZodDef {
  return (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
}

/** The object schemas a value of this schema may be (through optional, default, pipe, union...). */
function objectShapes(schema: z.ZodType, depth = 0): { shape: Record<string, z.ZodType>; open: boolean }[] {
  if (depth > 8) return [];
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return [{ shape: def.shape ?? {}, open: Boolean(def.catchall && defOf(def.catchall).type !== 'never') }];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return def.innerType ? objectShapes(def.innerType, depth + 1) : [];
    case 'pipe':
      return def.in ? objectShapes(def.in, depth + 1) : [];
    case 'union':
      return (def.options ?? []).flatMap((option) => objectShapes(option, depth + 1));
    default:
      return [];
  }
}

function arrayElement(schema: z.ZodType, depth = 0): z.ZodType | undefined {
  if (depth > 8) return undefined;
  const def = defOf(schema);
  if (def.type === 'array') return def.element;
  if (def.innerType) return arrayElement(def.innerType, depth + 1);
  if (def.type === 'pipe' && def.in) return arrayElement(def.in, depth + 1);
  if (def.type === 'union') {
    for (const option of def.options ?? []) {
      const element = arrayElement(option, depth + 1);
      if (element) return element;
    }
  }
  return undefined;
}

export interface UnknownArgument {
  path: string;
  name: string;
  known: string[];
  suggestions: string[];
}

function walk(schema: z.ZodType, value: unknown, path: string, found: UnknownArgument[], ignore: readonly string[]): void {
  if (Array.isArray(value)) {
    const element = arrayElement(schema);
    if (element) value.forEach((item, index) => walk(element, item, `${path}[${index}]`, found, []));
    return;
  }
  if (!value || typeof value !== 'object') return;
  const shapes = objectShapes(schema);
  if (shapes.length === 0 || shapes.some((entry) => entry.open)) return;
  const keys = Object.keys(value as Record<string, unknown>);
  // A union of objects: judge by the option that knows the most of the keys given.
  const knows = (shape: Record<string, z.ZodType>, key: string) => Object.hasOwn(shape, key);
  const best = shapes.reduce((a, b) => (keys.filter((key) => knows(b.shape, key)).length > keys.filter((key) => knows(a.shape, key)).length ? b : a));
  const known = Object.keys(best.shape);
  for (const key of keys) {
    if (ignore.includes(key)) continue;
    const child = knows(best.shape, key) ? best.shape[key] : undefined;
    if (!child) {
      found.push({ path: path ? `${path}.${key}` : key, name: key, known, suggestions: closestNames(key, known) });
      continue;
    }
    walk(child, (value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, found, []);
  }
}

/** Every argument name, at any depth, that the schema does not know. */
export function unknownArguments(schema: z.ZodObject, args: Record<string, unknown>, ignore: readonly string[] = runtimeArguments): UnknownArgument[] {
  const found: UnknownArgument[] = [];
  walk(schema, args, '', found, ignore);
  return found;
}

/** Proxmox's disk keys: qm/pct take them, our tools take disks by what is done to them. */
const diskKey = /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused|mp)\d+$|^rootfs$/;

/** Where a Proxmox-style key is refused, what to use instead (for the tools that have it). */
function proxmoxHint(key: string, given: Record<string, unknown>): string | undefined {
  const shape = Object.fromEntries(Object.keys(given).map((name) => [name, true]));
  if (diskKey.test(key)) {
    const ways = [
      'resize' in shape ? 'resize (grow a disk, e.g. {"disk":"scsi0","size":"+10G"})' : '',
      'disk_size' in shape ? 'disk_size (the boot disk\'s size, e.g. "32G")' : '',
      'storage' in shape ? 'storage (where the disks go)' : '',
      'delete' in shape ? 'delete (remove a setting)' : '',
    ].filter(Boolean);
    return ways.length
      ? `${key} is a Proxmox disk key; this tool takes disks as ${ways.join(', or ')}. For anything else use proxmox_api.`
      : `${key} is a Proxmox disk key, which this tool does not set; use proxmox_api for it.`;
  }
  if (/^net\d+$/.test(key) && !('nets' in shape)) return `${key} is a Proxmox NIC key, which this tool does not set; guest_config sets NICs (nets).`;
  if (/^ipconfig\d+$/.test(key) && !('ipconfig' in shape)) return `${key} is a Proxmox cloud-init key, which this tool does not set; guest_config sets it (ipconfig).`;
  return undefined;
}

const nicKeys: Record<string, string> = { tag: 'vlan', link_down: 'link_down', firewall: 'firewall', rate: 'rate', name: 'name', ip: 'ip', gw: 'gw', ip6: 'ip6', gw6: 'gw6', bridge: 'bridge', hwaddr: 'mac' };
const nicModels = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3'];

/** `virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20,firewall=1` as one of our NIC objects. */
function nicFromProxmox(index: number, text: string): Record<string, unknown> {
  const props = parseProps(text);
  const nic: Record<string, unknown> = { index };
  for (const [key, value] of Object.entries(props)) {
    if (nicModels.includes(key)) {
      nic.model = key;
      if (value) nic.mac = value;
    } else if (key === '_' && nicModels.includes(value)) nic.model = value;
    else if (key === 'tag') nic.vlan = Number(value);
    else if (key === 'firewall' || key === 'link_down') nic[key] = value === '1' || value === 'true';
    else if (key === 'rate') nic.rate = Number(value);
    else if (nicKeys[key]) nic[nicKeys[key]] = value;
    else nic[key] = value; // unknown: the strict check names it
  }
  return nic;
}

function ipconfigFromProxmox(index: number, text: string): Record<string, unknown> {
  return { index, ...parseProps(text) };
}

/**
 * Takes the Proxmox-style keys with their Proxmox meaning where the tool has it: `netN` (a NIC
 * string or object) into `nets`, `ipconfigN` into `ipconfig`. Returns the arguments to validate.
 */
export function acceptProxmoxNames(given: Record<string, unknown>, args: Record<string, unknown>): Record<string, unknown> {
  const shape = Object.fromEntries(Object.keys(given).map((name) => [name, true]));
  const out: Record<string, unknown> = { ...args };
  for (const [key, value] of Object.entries(args)) {
    const net = /^net(\d+)$/.exec(key);
    const ip = /^ipconfig(\d+)$/.exec(key);
    const target = net && 'nets' in shape ? 'nets' : ip && 'ipconfig' in shape ? 'ipconfig' : undefined;
    if (!target || (typeof value !== 'string' && (typeof value !== 'object' || value === null || Array.isArray(value)))) continue;
    const index = Number((net ?? ip)![1]);
    const entry = typeof value === 'string' ? (net ? nicFromProxmox(index, value) : ipconfigFromProxmox(index, value)) : { index, ...(value as Record<string, unknown>) };
    const list = Array.isArray(out[target]) ? [...(out[target] as unknown[])] : [];
    list.push(entry);
    out[target] = list;
    delete out[key];
  }
  return out;
}

/** Refuses arguments the tool does not know, naming the closest real ones. */
export function refuseUnknownArguments(toolName: string, schema: z.ZodObject, args: Record<string, unknown>): void {
  const unknown = unknownArguments(schema, args);
  if (unknown.length === 0) return;
  const shape = schema.shape as Record<string, unknown>;
  const lines = unknown.map((entry) => {
    const hint = entry.path === entry.name ? proxmoxHint(entry.name, shape) : undefined;
    if (hint) return hint;
    const where = entry.path === entry.name ? '' : ` (at ${entry.path})`;
    return entry.suggestions.length
      ? `unknown argument '${entry.name}'${where}: did you mean ${entry.suggestions.map((name) => `'${name}'`).join(' or ')}?`
      : `unknown argument '${entry.name}'${where}; ${entry.path === entry.name ? toolName : 'it'} takes ${entry.known.join(', ')}`;
  });
  const said = lines.join('; ');
  throw new ToolError('invalid_input', `Invalid arguments for ${toolName}: ${said}${/[.?]$/.test(said) ? '' : '.'} Nothing was done.`, {
    details: { unknown: unknown.map((entry) => ({ path: entry.path, did_you_mean: entry.suggestions })) },
    suggestions: [`help_llm or the tool's input schema lists its arguments.`],
  });
}

/**
 * Turning what a caller asks for (cores, memory, NICs, cloud-init, ...) into the parameters of
 * PUT .../config, the way qemu-server and pve-container want them, and the privileges each key needs
 * (qemu-server check_vm_modify_config_perm, pve-container check_ct_modify_config_perm).
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import { isSecretName } from '../policy/secret-params.ts';
import type { GuestType, PveParams } from '../pve/types.ts';
import { formatProps, memoryMiB, parseProps } from './props.ts';
import { LXC_DISK_KEY, QEMU_DISK_KEY, type GuestConfig } from './summary.ts';

const macPattern = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const bridgePattern = /^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/;
const cidrOrDhcp4 = /^(dhcp|manual|\d{1,3}(\.\d{1,3}){3}\/\d{1,2})$/;
const cidrOrAuto6 = /^(dhcp|auto|manual|[0-9a-fA-F:]+\/\d{1,3})$/;
const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export const memoryInput = z
  .union([z.number().int().min(16), z.string().min(1)])
  .describe('MiB (4096) or 4G');

export const nicInput = z.object({
  index: z.coerce.number().int().min(0).max(31).describe('NIC number: 0 for net0'),
  model: z.enum(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3']).optional().describe('VMs: NIC model (default virtio for a new NIC)'),
  bridge: z.string().regex(bridgePattern, 'bridge must be a bridge name such as vmbr0').optional().describe('Bridge, e.g. vmbr0 (needed for a new NIC)'),
  vlan: z.union([z.coerce.number().int().min(1).max(4094), z.null()]).optional().describe('VLAN tag 1-4094; null removes the tag'),
  firewall: z.boolean().optional(),
  mac: z.string().regex(macPattern, 'mac must look like BC:24:11:AA:BB:CC').optional().describe('Keep empty to keep the current MAC (or get a new one)'),
  link_down: z.boolean().optional(),
  rate: z.number().positive().optional().describe('Rate limit in MB/s'),
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/).optional().describe('Containers: interface name inside (default eth<index>)'),
  ip: z.string().regex(cidrOrDhcp4, 'ip must be dhcp, manual or a CIDR such as 10.0.0.5/24').optional().describe('Containers: dhcp or a CIDR such as 10.0.0.5/24'),
  gw: z.string().regex(ipv4, 'gw must be an IPv4 address').optional(),
  ip6: z.string().regex(cidrOrAuto6, 'ip6 must be dhcp, auto, manual or a CIDR').optional(),
  gw6: z.string().optional(),
});

export const ipconfigInput = z.object({
  index: z.coerce.number().int().min(0).max(31).describe('Matches the NIC: 0 for net0'),
  ip: z.string().regex(/^(dhcp|\d{1,3}(\.\d{1,3}){3}\/\d{1,2})$/, 'ip must be dhcp or a CIDR such as 10.0.0.5/24').optional(),
  gw: z.string().regex(ipv4, 'gw must be an IPv4 address').optional(),
  ip6: z.string().regex(/^(dhcp|auto|[0-9a-fA-F:]+\/\d{1,3})$/, 'ip6 must be dhcp, auto or a CIDR').optional(),
  gw6: z.string().optional(),
});

/** The settable fields guest_config and guest_create share. */
export const settableShape = {
  cores: z.coerce.number().int().min(1).max(1024).optional().describe('Per socket for VMs'),
  sockets: z.coerce.number().int().min(1).max(16).optional().describe('VMs'),
  memory: memoryInput.optional(),
  balloon: z.coerce.number().int().min(0).optional().describe('VMs: min MiB; 0 = off'),
  swap: z.coerce.number().int().min(0).optional().describe('Containers: MiB'),
  description: z.string().max(8192).optional().describe('Notes'),
  tags: z.array(z.string().regex(/^[a-z0-9_][a-z0-9_+.-]*$/i, 'tags use letters, digits, _ + . -')).optional().describe('Replaces the tags'),
  onboot: z.boolean().optional(),
  ciuser: z.string().min(1).max(64).optional().describe('VMs, cloud-init'),
  cipassword: z.string().min(1).max(256).optional().describe('VMs, cloud-init'),
  sshkeys: z.union([z.array(z.string().min(1)), z.string().min(1)]).optional().describe('VMs, cloud-init: public keys'),
  ipconfig: z.array(ipconfigInput).optional().describe('VMs, cloud-init: [{"index":0,"ip":"dhcp"}]'),
  nameserver: z.string().max(256).optional().describe('Space-separated'),
  searchdomain: z.string().max(256).optional(),
};

export type Settable = {
  cores?: number;
  sockets?: number;
  memory?: number | string;
  balloon?: number;
  swap?: number;
  description?: string;
  tags?: string[];
  onboot?: boolean;
  ciuser?: string;
  cipassword?: string;
  sshkeys?: string[] | string;
  ipconfig?: z.output<typeof ipconfigInput>[];
  nameserver?: string;
  searchdomain?: string;
  name?: string;
  boot?: string[];
  agent?: boolean;
  nets?: z.output<typeof nicInput>[];
};

const QEMU_ONLY: (keyof Settable)[] = ['sockets', 'balloon', 'ciuser', 'cipassword', 'sshkeys', 'ipconfig', 'boot', 'agent'];
const LXC_ONLY: (keyof Settable)[] = ['swap'];

/** Refuse fields that do not exist for this kind of guest, naming them. */
export function checkKindFields(type: GuestType, input: Settable): void {
  const wrong = (type === 'qemu' ? LXC_ONLY : QEMU_ONLY).filter((key) => input[key] !== undefined);
  if (wrong.length === 0) return;
  const what = type === 'qemu' ? 'containers' : 'VMs';
  const hint = type === 'lxc' && wrong.some((key) => key === 'ipconfig' || key.startsWith('ci') || key === 'sshkeys') ? ' Containers take their IP settings in nets (ip, gw).' : '';
  throw new ToolError('invalid_input', `${wrong.join(', ')} ${wrong.length === 1 ? 'applies' : 'apply'} only to ${what}.${hint}`);
}

/** SSH keys as qemu-server wants them: one string, URL-encoded (format `urlencoded`). */
export function encodeSshKeys(keys: string[] | string): string {
  const text = (Array.isArray(keys) ? keys : keys.split(/\r?\n/)).map((key) => key.trim()).filter(Boolean).join('\n');
  return encodeURIComponent(text);
}

export function ipconfigValue(entry: z.output<typeof ipconfigInput>): string {
  return formatProps({ ip: entry.ip ?? '', gw: entry.gw ?? '', ip6: entry.ip6 ?? '', gw6: entry.gw6 ?? '' });
}

const QEMU_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3'];

/** net[n] for a VM: merge the change into the current value (MAC kept unless a new one is given). */
export function qemuNicValue(current: string | undefined, change: z.output<typeof nicInput>): string {
  const props: Record<string, string> = current ? parseProps(current) : {};
  const oldModel = Object.keys(props).find((key) => QEMU_MODELS.includes(key) || key.startsWith('e1000'));
  const mac = change.mac ?? (oldModel ? props[oldModel] : undefined);
  const model = change.model ?? oldModel ?? 'virtio';
  if (oldModel) delete props[oldModel];
  delete props._;
  const ordered: Record<string, string> = {};
  // model[=MAC] first, as qemu-server writes it; a model without MAC gets one generated by Proxmox
  const first = mac ? `${model}=${mac}` : model;
  for (const [key, value] of Object.entries(props)) ordered[key] = value;
  if (change.bridge !== undefined) ordered.bridge = change.bridge;
  if (change.vlan === null) delete ordered.tag;
  else if (change.vlan !== undefined) ordered.tag = String(change.vlan);
  if (change.firewall !== undefined) ordered.firewall = change.firewall ? '1' : '0';
  if (change.link_down !== undefined) ordered.link_down = change.link_down ? '1' : '0';
  if (change.rate !== undefined) ordered.rate = String(change.rate);
  if (!ordered.bridge) throw new ToolError('invalid_input', `net${change.index} needs a bridge (e.g. vmbr0).`);
  return [first, formatProps(ordered)].filter(Boolean).join(',');
}

/** net[n] for a container. */
export function lxcNicValue(current: string | undefined, change: z.output<typeof nicInput>): string {
  const props: Record<string, string> = current ? parseProps(current) : { name: `eth${change.index}`, type: 'veth' };
  if (change.name !== undefined) props.name = change.name;
  if (change.bridge !== undefined) props.bridge = change.bridge;
  if (change.mac !== undefined) props.hwaddr = change.mac.toUpperCase();
  if (change.ip !== undefined) props.ip = change.ip;
  if (change.gw !== undefined) props.gw = change.gw;
  if (change.ip6 !== undefined) props.ip6 = change.ip6;
  if (change.gw6 !== undefined) props.gw6 = change.gw6;
  if (change.vlan === null) delete props.tag;
  else if (change.vlan !== undefined) props.tag = String(change.vlan);
  if (change.firewall !== undefined) props.firewall = change.firewall ? '1' : '0';
  if (change.link_down !== undefined) props.link_down = change.link_down ? '1' : '0';
  if (change.rate !== undefined) props.rate = String(change.rate);
  if (!current && !props.ip) props.ip = 'dhcp';
  if (!props.bridge) throw new ToolError('invalid_input', `net${change.index} needs a bridge (e.g. vmbr0).`);
  if (!props.name) props.name = `eth${change.index}`;
  return formatProps(props);
}

/** PUT .../config parameters for the requested changes (no delete, no digest). */
export function configParams(type: GuestType, input: Settable, current: GuestConfig): PveParams {
  checkKindFields(type, input);
  const params: PveParams = {};
  if (input.cores !== undefined) params.cores = input.cores;
  if (input.sockets !== undefined) params.sockets = input.sockets;
  if (input.memory !== undefined) {
    const mib = memoryMiB(input.memory);
    if (mib === undefined || mib < 16) throw new ToolError('invalid_input', `memory "${String(input.memory)}" is not a usable amount: give MiB (4096) or a size such as 4G or 512M.`);
    params.memory = mib;
  }
  if (input.balloon !== undefined) params.balloon = input.balloon;
  if (input.swap !== undefined) params.swap = input.swap;
  if (input.name !== undefined) params[type === 'qemu' ? 'name' : 'hostname'] = input.name;
  if (input.description !== undefined) params.description = input.description;
  if (input.tags !== undefined) params.tags = input.tags.join(';');
  if (input.onboot !== undefined) params.onboot = input.onboot;
  if (input.boot !== undefined) params.boot = `order=${input.boot.join(';')}`;
  if (input.agent !== undefined) {
    const props = current.agent !== undefined ? parseProps(String(current.agent)) : {};
    delete props._;
    params.agent = formatProps({ enabled: input.agent ? '1' : '0', ...Object.fromEntries(Object.entries(props).filter(([key]) => key !== 'enabled')) });
  }
  for (const nic of input.nets ?? []) {
    const key = `net${nic.index}`;
    const existing = current[key] === undefined ? undefined : String(current[key]);
    params[key] = type === 'qemu' ? qemuNicValue(existing, nic) : lxcNicValue(existing, nic);
  }
  if (input.ciuser !== undefined) params.ciuser = input.ciuser;
  if (input.cipassword !== undefined) params.cipassword = input.cipassword;
  if (input.sshkeys !== undefined) params.sshkeys = encodeSshKeys(input.sshkeys);
  for (const entry of input.ipconfig ?? []) params[`ipconfig${entry.index}`] = ipconfigValue(entry);
  if (input.nameserver !== undefined) params.nameserver = input.nameserver;
  if (input.searchdomain !== undefined) params.searchdomain = input.searchdomain;
  return params;
}

/** Config keys whose removal loses data: disks (detached to unusedN, or destroyed when unused). */
export function isDiskKey(type: GuestType, key: string): boolean {
  return /^unused\d+$/.test(key) || (type === 'qemu' ? QEMU_DISK_KEY : LXC_DISK_KEY).test(key);
}

const qemuGroups: Array<[RegExp, string]> = [
  [/^(cores|sockets|cpu|cpulimit|cpuunits|numa\d*|smp|vcpus|affinity)$/, 'VM.Config.CPU'],
  [/^(memory|balloon|shares)$/, 'VM.Config.Memory'],
  [/^(ciuser|cipassword|sshkeys|citype|cicustom|ciupgrade|nameserver|searchdomain|ipconfig\d+)$/, 'VM.Config.Cloudinit'],
  [/^net\d+$/, 'VM.Config.Network'],
  [/^(boot|bootdisk|vmstatestorage|unused\d+|(ide|sata|scsi|virtio|efidisk|tpmstate)\d+)$/, 'VM.Config.Disk'],
];
const lxcGroups: Array<[RegExp, string]> = [
  [/^(cores|cpulimit|cpuunits)$/, 'VM.Config.CPU'],
  [/^(memory|swap)$/, 'VM.Config.Memory'],
  [/^(net\d+|nameserver|searchdomain)$/, 'VM.Config.Network'],
  [/^(rootfs|mp\d+|unused\d+)$/, 'VM.Config.Disk'],
];

/** The privilege one config key needs; everything else is VM.Config.Options. */
export function privilegeForKey(type: GuestType, key: string): string {
  for (const [pattern, privilege] of type === 'qemu' ? qemuGroups : lxcGroups) if (pattern.test(key)) return privilege;
  return 'VM.Config.Options';
}

/** The config keys a Settable touches (before values are built), for privileges and plans. */
export function touchedKeys(type: GuestType, input: Settable): string[] {
  const keys: string[] = [];
  const simple: (keyof Settable)[] = ['cores', 'sockets', 'memory', 'balloon', 'swap', 'description', 'tags', 'onboot', 'boot', 'agent', 'ciuser', 'cipassword', 'sshkeys', 'nameserver', 'searchdomain'];
  for (const key of simple) if (input[key] !== undefined) keys.push(key);
  if (input.name !== undefined) keys.push(type === 'qemu' ? 'name' : 'hostname');
  for (const nic of input.nets ?? []) keys.push(`net${nic.index}`);
  for (const entry of input.ipconfig ?? []) keys.push(`ipconfig${entry.index}`);
  return keys;
}

/** The parameters with each secret's value (by the one secret-name list) replaced by `[secret]`, for a plan's requests. */
export function maskSecretParams(params: PveParams): PveParams {
  return Object.fromEntries(Object.entries(params).map(([key, value]) => [key, value !== undefined && isSecretName(key) ? '[secret]' : value]));
}

/** Parameters as they may be shown (plans, answers): secrets (by the one secret-name list) and SSH keys replaced. */
export function showParams(params: PveParams): string {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${key === 'sshkeys' || key === 'ssh-public-keys' ? '[keys]' : isSecretName(key) ? '[secret]' : String(value)}`)
    .join(' ');
}

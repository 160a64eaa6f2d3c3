/**
 * A guest's config (the option map from GET .../config) summarised for people and agents: CPU, memory,
 * disks with storage and size, NICs with bridge/VLAN/MAC, boot order, agent, cloud-init. Secrets in the
 * config (cipassword) are never passed on, only whether one is set.
 */
import { z } from 'zod';
import { bool, num } from '../pve/parse.ts';
import type { GuestType } from '../pve/types.ts';
import { configMemoryMiB, parseProps, sizeToBytes, splitTags } from './props.ts';

export const diskSchema = z.object({
  key: z.string().describe('Config key, e.g. scsi0, rootfs, mp0'),
  volume: z.string(),
  storage: z.string().optional(),
  size: z.string().optional().describe('As Proxmox writes it, e.g. 32G'),
  size_bytes: z.number().optional(),
  mountpoint: z.string().optional().describe('Containers: where it is mounted'),
  cloudinit: z.boolean().optional(),
});

export const nicSchema = z.object({
  key: z.string().describe('net0, net1, ...'),
  model: z.string().optional().describe('VMs: virtio, e1000, ...; containers: veth'),
  name: z.string().optional().describe('Containers: the interface name inside, e.g. eth0'),
  mac: z.string().optional(),
  bridge: z.string().optional(),
  vlan: z.number().optional(),
  firewall: z.boolean().optional(),
  link_down: z.boolean().optional(),
  ip: z.string().optional().describe('Containers: ip= (dhcp, manual or CIDR)'),
  ip6: z.string().optional(),
  gw: z.string().optional(),
});

export const configSummarySchema = z.object({
  name: z.string().optional().describe('VM name or container hostname'),
  description: z.string().optional(),
  tags: z.array(z.string()),
  ostype: z.string().optional(),
  cores: z.number().optional(),
  sockets: z.number().optional(),
  vcpus_total: z.number().optional(),
  cpu_type: z.string().optional(),
  memory_mib: z.number().optional(),
  balloon_mib: z.number().optional(),
  swap_mib: z.number().optional(),
  disks: z.array(diskSchema),
  cdroms: z.array(z.object({ key: z.string(), media: z.string() })).optional(),
  unused: z.array(z.object({ key: z.string(), volume: z.string() })),
  nics: z.array(nicSchema),
  boot_order: z.array(z.string()).optional(),
  agent: z.boolean().optional().describe('VMs: QEMU guest agent enabled in the config'),
  onboot: z.boolean(),
  protection: z.boolean(),
  template: z.boolean(),
  lock: z.string().optional(),
  unprivileged: z.boolean().optional(),
  features: z.string().optional(),
  cloudinit: z
    .object({
      drive: z.string().optional(),
      user: z.string().optional(),
      password_set: z.boolean(),
      ssh_keys: z.number().describe('How many SSH public keys are set'),
      ipconfig: z.record(z.string(), z.string()),
      nameserver: z.string().optional(),
      searchdomain: z.string().optional(),
    })
    .optional(),
  nameserver: z.string().optional(),
  searchdomain: z.string().optional(),
});

export type ConfigSummary = z.output<typeof configSummarySchema>;
export type GuestConfig = Record<string, unknown>;

export const QEMU_DISK_KEY = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;
export const LXC_DISK_KEY = /^(rootfs|mp\d+)$/;
const NIC_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'e1000-82540em', 'e1000-82544gc', 'e1000-82545em', 'i82551', 'i82557b', 'i82559er', 'ne2k_isa', 'ne2k_pci', 'pcnet'];

const str = (value: unknown): string | undefined => (value === undefined || value === null || value === '' ? undefined : String(value));

/** Keys sorted as a person reads them: scsi0 before scsi1 before scsi10. */
function sortedKeys(config: GuestConfig, pattern: RegExp): string[] {
  return Object.keys(config)
    .filter((key) => pattern.test(key))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function parseDiskValue(key: string, value: string): z.output<typeof diskSchema> {
  const props = parseProps(value);
  const volume = props._ ?? props.volume ?? value.split(',')[0];
  const storage = volume.includes(':') ? volume.slice(0, volume.indexOf(':')) : undefined;
  return {
    key,
    volume,
    ...(storage ? { storage } : {}),
    ...(props.size ? { size: props.size, size_bytes: sizeToBytes(props.size) } : {}),
    ...(props.mp ? { mountpoint: props.mp } : key === 'rootfs' ? { mountpoint: '/' } : {}),
    ...(/cloudinit/.test(volume) ? { cloudinit: true } : {}),
  };
}

export function parseNicValue(key: string, value: string, type: GuestType): z.output<typeof nicSchema> {
  const props = parseProps(value);
  const nic: z.output<typeof nicSchema> = { key };
  if (type === 'qemu') {
    const model = NIC_MODELS.find((candidate) => candidate in props) ?? props.model;
    if (model) {
      nic.model = model;
      const mac = props[model] ?? props.macaddr;
      if (mac && mac.includes(':')) nic.mac = mac.toUpperCase();
    }
  } else {
    nic.model = props.type ?? 'veth';
    if (props.name) nic.name = props.name;
    if (props.hwaddr) nic.mac = props.hwaddr.toUpperCase();
    if (props.ip) nic.ip = props.ip;
    if (props.ip6) nic.ip6 = props.ip6;
    if (props.gw) nic.gw = props.gw;
  }
  if (props.bridge) nic.bridge = props.bridge;
  if (props.tag !== undefined) nic.vlan = num(props.tag);
  if (props.firewall !== undefined) nic.firewall = bool(props.firewall, false);
  if (props.link_down !== undefined) nic.link_down = bool(props.link_down, false);
  return nic;
}

/** `order=scsi0;ide2;net0` -> ['scsi0', 'ide2', 'net0']; the legacy `cdn` letters are returned as they are. */
export function parseBootOrder(value: unknown): string[] | undefined {
  const text = str(value);
  if (!text) return undefined;
  const order = parseProps(text).order;
  if (order) return order.split(/[;,]/).filter(Boolean);
  return [text];
}

export function agentEnabled(value: unknown): boolean {
  const text = str(value);
  if (!text) return false;
  const props = parseProps(text);
  return bool(props.enabled ?? props._, false);
}

export function summarizeConfig(config: GuestConfig, type: GuestType): ConfigSummary {
  const diskPattern = type === 'qemu' ? QEMU_DISK_KEY : LXC_DISK_KEY;
  const disks: ConfigSummary['disks'] = [];
  const cdroms: NonNullable<ConfigSummary['cdroms']> = [];
  for (const key of sortedKeys(config, diskPattern)) {
    const value = String(config[key]);
    const props = parseProps(value);
    if (type === 'qemu' && props.media === 'cdrom') {
      cdroms.push({ key, media: props._ ?? 'none' });
      continue;
    }
    disks.push(parseDiskValue(key, value));
  }
  const unused = sortedKeys(config, /^unused\d+$/).map((key) => ({ key, volume: String(config[key]) }));
  const nics = sortedKeys(config, /^net\d+$/).map((key) => parseNicValue(key, String(config[key]), type));
  const cores = num(config.cores);
  const sockets = type === 'qemu' ? num(config.sockets, 1) : undefined;

  const summary: ConfigSummary = {
    name: str(type === 'qemu' ? config.name : config.hostname),
    description: str(config.description),
    tags: splitTags(config.tags),
    ostype: str(config.ostype),
    cores: cores ?? (type === 'qemu' ? 1 : undefined),
    disks,
    unused,
    nics,
    onboot: bool(config.onboot, false),
    protection: bool(config.protection, false),
    template: bool(config.template, false),
  };
  if (type === 'qemu') {
    summary.sockets = sockets;
    summary.vcpus_total = (cores ?? 1) * (sockets ?? 1);
    summary.cpu_type = str(config.cpu) ?? 'kvm64 (default)';
    summary.memory_mib = configMemoryMiB(config.memory) ?? 512;
    if (config.balloon !== undefined) summary.balloon_mib = num(config.balloon);
    summary.cdroms = cdroms;
    summary.boot_order = parseBootOrder(config.boot);
    summary.agent = agentEnabled(config.agent);
    const ciDrive = disks.find((disk) => disk.cloudinit) ?? (cdroms.find((cd) => /cloudinit/.test(cd.media)) ? { key: cdroms.find((cd) => /cloudinit/.test(cd.media))!.key } : undefined);
    const ipconfig: Record<string, string> = {};
    for (const key of sortedKeys(config, /^ipconfig\d+$/)) ipconfig[key] = String(config[key]);
    const hasCi = ciDrive || config.ciuser !== undefined || config.cipassword !== undefined || config.sshkeys !== undefined || Object.keys(ipconfig).length > 0;
    if (hasCi) {
      summary.cloudinit = {
        ...(ciDrive ? { drive: ciDrive.key } : {}),
        ...(str(config.ciuser) ? { user: str(config.ciuser) } : {}),
        password_set: str(config.cipassword) !== undefined,
        ssh_keys: countSshKeys(config.sshkeys),
        ipconfig,
        ...(str(config.nameserver) ? { nameserver: str(config.nameserver) } : {}),
        ...(str(config.searchdomain) ? { searchdomain: str(config.searchdomain) } : {}),
      };
    }
  } else {
    summary.memory_mib = num(config.memory) ?? 512;
    summary.swap_mib = num(config.swap) ?? 512;
    summary.unprivileged = bool(config.unprivileged, false);
    summary.features = str(config.features);
    summary.nameserver = str(config.nameserver);
    summary.searchdomain = str(config.searchdomain);
  }
  if (str(config.lock)) summary.lock = str(config.lock);
  return summary;
}

/** sshkeys is URL-encoded in the config: count the non-empty lines. */
function countSshKeys(value: unknown): number {
  const text = str(value);
  if (!text) return 0;
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // not encoded after all
  }
  return decoded.split(/\r?\n/).filter((line) => line.trim() !== '').length;
}

const SECRET_KEYS = new Set(['cipassword', 'password']);

/** The raw config with secrets masked (Proxmox masks cipassword too; we do not rely on it). */
export function maskConfig(config: GuestConfig): GuestConfig {
  const out: GuestConfig = {};
  for (const [key, value] of Object.entries(config)) out[key] = SECRET_KEYS.has(key) && value !== undefined && value !== '' ? '**********' : value;
  return out;
}

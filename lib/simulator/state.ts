/**
 * The simulated cluster's state and its deterministic generation from a seed. Indexes by vmid and by node
 * keep every lookup O(1) and every listing O(n), so a 32-node, 2000-guest cluster stays fast.
 */
import { createHash } from 'node:crypto';
import type { PveVersion } from './contract.ts';
import { builtinRoles } from './privileges.ts';
import { TaskStore } from './tasks.ts';
import { prng } from '../random.ts';

export type ConfigValue = string | number;
export type GuestConfig = Record<string, ConfigValue>;
export type GuestType = 'qemu' | 'lxc';

export interface SimNode {
  name: string;
  nodeid: number;
  ip: string;
  online: boolean;
  cpus: number;
  sockets: number;
  cpuModel: string;
  memTotal: number;
  memUsedFraction: number;
  rootTotal: number;
  rootUsed: number;
  bootTime: number;
  load: number;
  sslFingerprint: string;
  /** The running network config (/etc/network/interfaces). */
  network: Map<string, NetIface>;
  /** Staged changes (/etc/network/interfaces.new); null when nothing is staged. */
  stagedNetwork: Map<string, NetIface> | null;
  aptUpdates: AptPackage[];
}

export type NetIface = Record<string, string | number | string[]> & { iface: string; type: string };

export interface AptPackage {
  Package: string;
  Title: string;
  Description: string;
  Version: string;
  OldVersion: string;
  Arch: string;
  Origin: string;
  Priority: string;
  Section: string;
}

export interface Snapshot {
  name: string;
  snaptime: number;
  description: string;
  parent?: string;
  vmstate?: number;
  config: GuestConfig;
}

export interface ExecRun {
  finishAt: number;
  exitcode: number;
  out: string;
  err: string;
}

export interface SimGuest {
  vmid: number;
  type: GuestType;
  node: string;
  status: 'running' | 'stopped';
  /** QEMU run state when running: `running` or `paused` (suspended to RAM). */
  qmpstatus?: 'running' | 'paused';
  config: GuestConfig;
  pending: GuestConfig;
  pendingDelete: Set<string>;
  snapshots: Map<string, Snapshot>;
  /** The snapshot the current state descends from. */
  parent?: string;
  pool?: string;
  lock?: string;
  startedAt?: number;
  cpuLoad: number;
  memFraction: number;
  execs: Map<number, ExecRun>;
  nextExecPid: number;
}

export interface SimStorage {
  storage: string;
  type: 'dir' | 'lvmthin' | 'zfspool' | 'nfs' | 'pbs';
  content: string[];
  shared: 0 | 1;
  total: number;
  path?: string;
  vgname?: string;
  thinpool?: string;
  pool?: string;
  server?: string;
  export?: string;
  'prune-backups'?: string;
  /** pbs: the Proxmox Backup Server datastore and its address */
  datastore?: string;
  fingerprint?: string;
  username?: string;
}

export interface SimVolume {
  volid: string;
  content: 'iso' | 'vztmpl' | 'backup' | 'images' | 'rootdir' | 'snippets' | 'import';
  format: string;
  size: number;
  ctime: number;
  vmid?: number;
  notes?: string;
  protected?: 0 | 1;
  subtype?: GuestType;
  /** PBS snapshots: the last verify job's result, and the key fingerprint when encrypted. */
  verification?: { state: 'ok' | 'failed'; upid: string };
  encrypted?: string;
}

export interface SimToken {
  tokenid: string;
  secret: string;
  privsep: 0 | 1;
  expire: number;
  comment?: string;
}

export interface SimUser {
  userid: string;
  enable: 0 | 1;
  expire: number;
  firstname?: string;
  lastname?: string;
  email?: string;
  comment?: string;
  keys?: string;
  groups: Set<string>;
  tokens: Map<string, SimToken>;
}

export interface SimAcl {
  path: string;
  type: 'user' | 'group' | 'token';
  ugid: string;
  roleid: string;
  propagate: 0 | 1;
}

export interface SimRole {
  privs: Set<string>;
  special: 0 | 1;
}

export interface HaResource {
  sid: string;
  type: 'vm' | 'ct';
  state: 'started' | 'stopped' | 'disabled' | 'ignored';
  max_restart: number;
  max_relocate: number;
  comment?: string;
  /** PVE 8: the HA group the resource is bound to. */
  group?: string;
  /** PVE 9: whether it moves back to its preferred node (default 1; shown only when set). */
  failback?: 0 | 1;
}

/** PVE 8 HA group (/etc/pve/ha/groups.cfg). `nodes` is `node[:prio],...`. */
export interface HaGroup {
  group: string;
  nodes: string;
  restricted: 0 | 1;
  nofailback: 0 | 1;
  comment?: string;
}

/** PVE 9 HA rule (/etc/pve/ha/rules.cfg). */
export interface HaRule {
  rule: string;
  type: 'node-affinity' | 'resource-affinity';
  resources: string;
  nodes?: string;
  strict?: 0 | 1;
  affinity?: 'positive' | 'negative';
  disable?: 0 | 1;
  comment?: string;
}

export interface SimState {
  clusterName: string;
  seed: number;
  nodes: Map<string, SimNode>;
  guests: Map<number, SimGuest>;
  guestsByNode: Map<string, Set<number>>;
  storages: Map<string, SimStorage>;
  /** Non-disk volumes (iso, vztmpl, backup), by storage key: `<storage>` when shared, else `<node>/<storage>`. */
  volumes: Map<string, Map<string, SimVolume>>;
  /** Guest disk volids freed through the storage API while a config still names them (PVE allows that). */
  freedVolumes: Set<string>;
  users: Map<string, SimUser>;
  groups: Map<string, { comment?: string }>;
  roles: Map<string, SimRole>;
  acl: SimAcl[];
  pools: Map<string, { comment?: string }>;
  ha: Map<string, HaResource>;
  /** PVE 8.4 only (on 9.x groups have been migrated to rules). */
  haGroups: Map<string, HaGroup>;
  /** PVE 9.x only. */
  haRules: Map<string, HaRule>;
  backupJobs: Record<string, string | number>[];
  tasks: TaskStore;
  /** Which Proxmox VE the simulator speaks. */
  pveVersion: PveVersion;
  version: { version: string; release: string; repoid: string };
  /** The running kernel (GET /nodes/{node}/status). */
  kernel: { release: string; version: string };
}

/** GET /version per version: a real release of each line, with a plausible repoid. */
export const VERSION_INFO: Record<PveVersion, { version: string; release: string; repoid: string }> = {
  '8.4': { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' },
  '9.1': { version: '9.1.2', release: '9.1', repoid: 'a1b2c3d4e5f6a7b8' },
};

const KERNELS: Record<PveVersion, { release: string; version: string }> = {
  '8.4': { release: '6.8.12-9-pve', version: '#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9 (2025-03-16T19:18Z)' },
  '9.1': { release: '6.14.11-1-pve', version: '#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-1 (2025-08-26T16:06Z)' },
};

// ---------- helpers that keep the indexes right ----------

export function addGuest(state: SimState, guest: SimGuest): void {
  state.guests.set(guest.vmid, guest);
  let set = state.guestsByNode.get(guest.node);
  if (!set) state.guestsByNode.set(guest.node, (set = new Set()));
  set.add(guest.vmid);
}

export function removeGuest(state: SimState, vmid: number): void {
  const g = state.guests.get(vmid);
  if (!g) return;
  state.guests.delete(vmid);
  state.guestsByNode.get(g.node)?.delete(vmid);
}

export function moveGuest(state: SimState, guest: SimGuest, node: string): void {
  state.guestsByNode.get(guest.node)?.delete(guest.vmid);
  guest.node = node;
  let set = state.guestsByNode.get(node);
  if (!set) state.guestsByNode.set(node, (set = new Set()));
  set.add(guest.vmid);
}

export function storageKey(storage: SimStorage, node: string): string {
  return storage.shared ? storage.storage : `${node}/${storage.storage}`;
}

export function volumesOf(state: SimState, storage: SimStorage, node: string): Map<string, SimVolume> {
  const key = storageKey(storage, node);
  let map = state.volumes.get(key);
  if (!map) state.volumes.set(key, (map = new Map()));
  return map;
}

/** SHA1 over the config text, as Proxmox computes `digest`. */
export function configDigest(config: GuestConfig): string {
  const text = Object.keys(config)
    .sort()
    .map((k) => `${k}: ${config[k]}`)
    .join('\n');
  return createHash('sha1').update(text).digest('hex');
}

/**
 * AbstractConfig __snapshot_copy_config: what a snapshot saves of a config (and a rollback copies back):
 * everything except the guest description, unusedN, lock and digest.
 */
export function snapshotCopy(config: GuestConfig): GuestConfig {
  const out: GuestConfig = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'description' || k === 'lock' || k === 'digest' || /^unused\d+$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

export const DISK_KEY = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$|^(rootfs|mp\d+)$|^unused\d+$/;

/** Parses `local-lvm:vm-100-disk-0,size=32G` into volid and size in bytes. */
export function parseDisk(value: string): { volid: string; size: number; media?: string } | undefined {
  const [volid, ...opts] = String(value).split(',');
  if (!volid || volid === 'none' || !volid.includes(':')) return undefined;
  const map = Object.fromEntries(opts.map((o) => o.split('=') as [string, string]));
  if (map.media === 'cdrom') return undefined;
  return { volid, size: parseSize(map.size ?? '0') };
}

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s);
  if (!m) return 0;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes % mult === 0 && bytes >= mult) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}

export function guestDiskBytes(guest: SimGuest): number {
  let total = 0;
  for (const [k, v] of Object.entries(guest.config)) {
    if (/^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$|^rootfs$|^mp\d+$/.test(k)) total += parseDisk(String(v))?.size ?? 0;
  }
  return total;
}

export function guestMemoryBytes(guest: SimGuest): number {
  const mem = String(guest.config.memory ?? (guest.type === 'qemu' ? 2048 : 512));
  return parseInt(mem.replace(/^current=/, ''), 10) * 1024 * 1024;
}

export function guestCpus(guest: SimGuest): number {
  const cores = Number(guest.config.cores ?? 1);
  return guest.type === 'qemu' ? cores * Number(guest.config.sockets ?? 1) : cores;
}

// ---------- deterministic generation ----------

export interface GenerateOptions {
  nodes: number;
  guests: number;
  seed: number;
  tokenId: string;
  tokenSecret: string;
  now: number;
  pveVersion?: PveVersion;
}

export const AUDITOR_TOKEN = { tokenId: 'auditor@pve!ro', secret: 'sim-auditor-secret-not-for-production' } as const;

const GIB = 1024 ** 3;
const QEMU_NAMES = ['web', 'db', 'app', 'cache', 'mail', 'git', 'ci', 'mon', 'vpn', 'proxy', 'k8s', 'win', 'backup', 'files'];
const LXC_NAMES = ['dns', 'ntp', 'build', 'redis', 'nginx', 'pihole', 'syslog', 'ldap', 'minio', 'grafana'];
const TAGS = ['prod', 'dev', 'test', 'web', 'db', 'infra', 'k8s', 'legacy'];

export function generateState(opts: GenerateOptions): SimState {
  const rnd = prng(opts.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0').toUpperCase());
  const nowSec = Math.floor(opts.now / 1000);
  const pveVersion: PveVersion = opts.pveVersion ?? '9.1';

  const state: SimState = {
    clusterName: 'simcluster',
    seed: opts.seed,
    nodes: new Map(),
    guests: new Map(),
    guestsByNode: new Map(),
    storages: new Map(),
    volumes: new Map(),
    freedVolumes: new Set(),
    users: new Map(),
    groups: new Map(),
    roles: new Map(),
    acl: [],
    pools: new Map(),
    ha: new Map(),
    haGroups: new Map(),
    haRules: new Map(),
    backupJobs: [],
    tasks: new TaskStore(),
    pveVersion,
    version: { ...VERSION_INFO[pveVersion] },
    kernel: KERNELS[pveVersion],
  };

  const nodeCount = Math.max(1, opts.nodes);
  for (let i = 1; i <= nodeCount; i++) {
    const name = `pve${i}`;
    const cpus = pick([16, 24, 32, 48, 64]);
    state.nodes.set(name, {
      name,
      nodeid: i,
      ip: `192.168.100.${10 + i}`,
      online: true,
      cpus,
      sockets: cpus >= 48 ? 2 : 1,
      cpuModel: pick(['AMD EPYC 7313P 16-Core Processor', 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', 'AMD Ryzen 9 7950X 16-Core Processor']),
      memTotal: pick([64, 128, 256]) * GIB,
      memUsedFraction: 0.25 + rnd() * 0.5,
      rootTotal: 100 * GIB,
      rootUsed: Math.floor((8 + rnd() * 20) * GIB),
      bootTime: nowSec - Math.floor(86400 * (3 + rnd() * 60)),
      load: rnd() * 0.4,
      sslFingerprint: hex(32).join(':'),
      network: defaultNetwork(i, hex),
      stagedNetwork: null,
      aptUpdates: aptUpdates(pveVersion),
    });
    state.guestsByNode.set(name, new Set());
  }
  const nodeNames = [...state.nodes.keys()];
  const nodeAt = (i: number) => nodeNames[i % nodeNames.length];

  // storages (cluster-wide definitions)
  const storages: SimStorage[] = [
    { storage: 'local', type: 'dir', path: '/var/lib/vz', content: ['iso', 'vztmpl', 'backup'], shared: 0, total: 100 * GIB, 'prune-backups': 'keep-all=1' },
    { storage: 'local-lvm', type: 'lvmthin', vgname: 'pve', thinpool: 'data', content: ['images', 'rootdir'], shared: 0, total: 800 * GIB },
    { storage: 'tank', type: 'zfspool', pool: 'tank', content: ['images', 'rootdir'], shared: 0, total: 4000 * GIB },
    { storage: 'nfs-backup', type: 'nfs', server: '192.168.100.5', export: '/export/pve-backup', path: '/mnt/pve/nfs-backup', content: ['backup'], shared: 1, total: 8000 * GIB, 'prune-backups': 'keep-daily=7,keep-weekly=4' },
  ];
  for (const s of storages) state.storages.set(s.storage, s);

  // ISOs and templates on every node's local storage
  const local = state.storages.get('local')!;
  for (const node of nodeNames) {
    const vols = volumesOf(state, local, node);
    const add = (v: SimVolume) => vols.set(v.volid, v);
    add({ volid: 'local:iso/debian-12.7.0-amd64-netinst.iso', content: 'iso', format: 'iso', size: 661651456, ctime: nowSec - 90 * 86400 });
    add({ volid: 'local:iso/ubuntu-24.04.1-live-server-amd64.iso', content: 'iso', format: 'iso', size: 2773874688, ctime: nowSec - 60 * 86400 });
    add({ volid: 'local:iso/virtio-win-0.1.262.iso', content: 'iso', format: 'iso', size: 708872192, ctime: nowSec - 40 * 86400 });
    add({ volid: 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst', content: 'vztmpl', format: 'tzst', size: 126342264, ctime: nowSec - 80 * 86400 });
    add({ volid: 'local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst', content: 'vztmpl', format: 'tzst', size: 141187862, ctime: nowSec - 50 * 86400 });
    add({ volid: 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz', content: 'vztmpl', format: 'txz', size: 3095996, ctime: nowSec - 30 * 86400 });
  }

  // guests: the first six are fixed so tests and demos can rely on them; the rest come from the seed
  const total = Math.max(0, opts.guests);
  const mac = () => `BC:24:11:${hex(3).join(':')}`;
  for (let i = 0; i < total; i++) {
    const vmid = 100 + i;
    const fixed = FIXED_GUESTS[i];
    const type: GuestType = fixed?.type ?? (rnd() < 0.6 ? 'qemu' : 'lxc');
    const node = fixed ? nodeAt(fixed.nodeIndex) : nodeAt(i);
    const running = fixed ? fixed.running : rnd() < 0.6;
    const name = fixed?.name ?? `${pick(type === 'qemu' ? QEMU_NAMES : LXC_NAMES)}${String(i).padStart(2, '0')}`;
    const tags = fixed?.tags ?? (rnd() < 0.5 ? [...new Set([pick(TAGS), pick(TAGS)])].sort().join(';') : undefined);
    const disk = type === 'qemu' ? pick([16, 32, 64, 128]) : pick([4, 8, 16]);
    const store = rnd() < 0.75 ? 'local-lvm' : 'tank';
    // a template's disks are base volumes (qm template renames vm-N-disk-M to base-N-disk-M)
    const diskName = `${fixed?.template ? 'base' : 'vm'}-${vmid}-disk-0`;
    const config: GuestConfig =
      type === 'qemu'
        ? {
            name,
            memory: String(fixed?.memory ?? pick([1024, 2048, 4096, 8192])),
            cores: pick([1, 2, 4]),
            sockets: 1,
            cpu: 'x86-64-v2-AES',
            ostype: fixed?.ostype ?? 'l26',
            scsihw: 'virtio-scsi-single',
            boot: 'order=scsi0;ide2;net0',
            ide2: 'none,media=cdrom',
            scsi0: `${store}:${diskName},iothread=1,size=${disk}G`,
            net0: `virtio=${mac()},bridge=vmbr0,firewall=1`,
            numa: 0,
            onboot: running ? 1 : 0,
            smbios1: `uuid=${uuid(rnd)}`,
            vmgenid: uuid(rnd),
            meta: `creation-qemu=9.0.2,ctime=${nowSec - 86400 * (10 + i)}`,
          }
        : {
            hostname: name,
            arch: 'amd64',
            ostype: 'debian',
            memory: fixed?.memory ?? pick([256, 512, 1024, 2048]),
            swap: 512,
            cores: pick([1, 2]),
            rootfs: `${store}:${store === 'tank' ? `subvol-${vmid}-disk-0` : diskName},size=${disk}G`,
            net0: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=${mac()},ip=dhcp,type=veth`,
            unprivileged: 1,
            features: 'nesting=1',
            onboot: running ? 1 : 0,
          };
    if (type === 'qemu' && (fixed?.agent ?? rnd() < 0.5)) config.agent = '1';
    if (tags) config.tags = tags;
    if (fixed?.protection) config.protection = 1;
    if (fixed?.template) config.template = 1;
    const guest: SimGuest = {
      vmid,
      type,
      node,
      status: running && !fixed?.template ? 'running' : 'stopped',
      config,
      pending: {},
      pendingDelete: new Set(),
      snapshots: new Map(),
      pool: fixed?.pool,
      cpuLoad: rnd() * 0.3,
      memFraction: 0.3 + rnd() * 0.5,
      execs: new Map(),
      nextExecPid: 1000 + Math.floor(rnd() * 1000),
    };
    if (guest.status === 'running') {
      guest.qmpstatus = type === 'qemu' ? 'running' : undefined;
      guest.startedAt = opts.now - Math.floor(rnd() * 30 * 86400 * 1000);
    }
    if (fixed?.snapshots) {
      let parent: string | undefined;
      for (const [k, snap] of fixed.snapshots.entries()) {
        guest.snapshots.set(snap, {
          name: snap,
          snaptime: nowSec - (fixed.snapshots.length - k) * 7 * 86400,
          description: `snapshot ${snap}`,
          parent,
          config: snapshotCopy(config),
        });
        parent = snap;
      }
      guest.parent = parent;
    }
    addGuest(state, guest);
  }

  // pools
  state.pools.set('prod', { comment: 'Production guests' });
  state.pools.set('dev', { comment: 'Development and test' });

  // backups: a few on the shared NFS store and one local per node for the first guests
  const nfs = state.storages.get('nfs-backup')!;
  for (const g of [...state.guests.values()].slice(0, Math.min(6, state.guests.size))) {
    if (g.config.template) continue;
    for (let d = 1; d <= 2; d++) {
      const ctime = nowSec - d * 86400;
      addBackupVolume(state, nfs, g.node, g, ctime, `${g.config.name ?? g.config.hostname}`);
    }
  }

  // HA: the protected database VM is HA-managed when it exists
  // HA: the protected database VM is HA-managed when it exists, preferring the first two nodes: an HA
  // group on 8.4, the node-affinity rule that PVE 9 migrates such a group into on 9.x
  if (state.guests.has(101)) {
    const prefer = nodeNames.slice(0, 2).map((n, i) => `${n}:${2 - i}`).join(',');
    if (pveVersion === '8.4') {
      state.haGroups.set('prefer-fast', { group: 'prefer-fast', nodes: prefer, restricted: 0, nofailback: 0, comment: 'database nodes' });
      state.ha.set('vm:101', { sid: 'vm:101', type: 'vm', state: 'started', max_restart: 1, max_relocate: 1, group: 'prefer-fast' });
    } else {
      state.haRules.set('ha-group-prefer-fast', { rule: 'ha-group-prefer-fast', type: 'node-affinity', resources: 'vm:101', nodes: prefer, strict: 0, comment: 'database nodes' });
      state.ha.set('vm:101', { sid: 'vm:101', type: 'vm', state: 'started', max_restart: 1, max_relocate: 1 });
    }
  }
  state.backupJobs.push({
    id: 'backup-7f2c1a9e-0d1b',
    type: 'vzdump',
    schedule: '21:00',
    storage: 'nfs-backup',
    all: 1,
    mode: 'snapshot',
    compress: 'zstd',
    enabled: 1,
    'notes-template': '{{guestname}}',
    'prune-backups': 'keep-daily=7,keep-weekly=4',
  });

  // access control
  for (const [roleid, privs] of builtinRoles(pveVersion)) state.roles.set(roleid, { privs, special: 1 });
  state.roles.set('ProxmoxMCP', {
    privs: new Set([...state.roles.get('PVEAdmin')!.privs, 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Incoming']),
    special: 0,
  });
  const user = (u: Partial<SimUser> & { userid: string }): SimUser => ({ enable: 1, expire: 0, groups: new Set(), tokens: new Map(), ...u });
  const [mcpUser, mcpToken] = opts.tokenId.split('!');
  state.users.set('root@pam', user({ userid: 'root@pam', email: 'root@example.invalid', comment: 'Built-in superuser' }));
  state.users.set(mcpUser, user({ userid: mcpUser, comment: 'proxmox-mcp service user' }));
  state.users.get(mcpUser)!.tokens.set(mcpToken, { tokenid: mcpToken, secret: opts.tokenSecret, privsep: 1, expire: 0, comment: 'proxmox-mcp' });
  state.users.set('auditor@pve', user({ userid: 'auditor@pve', firstname: 'Audrey', lastname: 'Auditor', comment: 'read-only' }));
  state.users.get('auditor@pve')!.tokens.set('ro', { tokenid: 'ro', secret: AUDITOR_TOKEN.secret, privsep: 1, expire: 0, comment: 'read-only token' });
  state.users.set('alice@pve', user({ userid: 'alice@pve', firstname: 'Alice', email: 'alice@example.invalid', groups: new Set(['admins']) }));
  state.users.set('bob@pve', user({ userid: 'bob@pve', firstname: 'Bob', groups: new Set(['ops']) }));
  state.users.set('mallory@pve', user({ userid: 'mallory@pve', enable: 0, comment: 'disabled account' }));
  state.users.get('mallory@pve')!.tokens.set('old', { tokenid: 'old', secret: 'sim-disabled-user-token', privsep: 0, expire: 0 });
  state.groups.set('admins', { comment: 'Cluster administrators' });
  state.groups.set('ops', { comment: 'Operators' });
  state.acl.push(
    { path: '/', type: 'user', ugid: mcpUser, roleid: 'ProxmoxMCP', propagate: 1 },
    { path: '/', type: 'token', ugid: opts.tokenId, roleid: 'ProxmoxMCP', propagate: 1 },
    { path: '/', type: 'user', ugid: 'auditor@pve', roleid: 'PVEAuditor', propagate: 1 },
    { path: '/', type: 'token', ugid: AUDITOR_TOKEN.tokenId, roleid: 'PVEAuditor', propagate: 1 },
    { path: '/', type: 'group', ugid: 'admins', roleid: 'Administrator', propagate: 1 },
    { path: '/pool/dev', type: 'group', ugid: 'ops', roleid: 'PVEVMUser', propagate: 1 },
  );
  return state;
}

export function addBackupVolume(state: SimState, storage: SimStorage, node: string, guest: SimGuest, ctime: number, notes?: string): SimVolume {
  const d = new Date(ctime * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
  const kind = guest.type === 'qemu' ? 'qemu' : 'lxc';
  const ext = storage.type === 'pbs' ? (guest.type === 'qemu' ? 'pbs-vm' : 'pbs-ct') : guest.type === 'qemu' ? 'vma.zst' : 'tar.zst';
  // a PBS snapshot is `backup/<vm|ct>/<vmid>/<RFC 3339 time>` (PBSPlugin), a file storage's a vzdump archive
  const name = storage.type === 'pbs' ? `backup/${guest.type === 'qemu' ? 'vm' : 'ct'}/${guest.vmid}/${d.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : `backup/vzdump-${kind}-${guest.vmid}-${stamp}.${ext}`;
  const vol: SimVolume = {
    volid: `${storage.storage}:${name}`,
    content: 'backup',
    format: ext,
    size: Math.floor(guestDiskBytes(guest) * 0.2) + 1024 * 1024,
    ctime,
    vmid: guest.vmid,
    subtype: guest.type,
    ...(notes ? { notes } : {}),
  };
  volumesOf(state, storage, node).set(vol.volid, vol);
  return vol;
}

interface FixedGuest {
  type: GuestType;
  name: string;
  nodeIndex: number;
  running: boolean;
  tags?: string;
  agent?: boolean;
  protection?: boolean;
  template?: boolean;
  pool?: string;
  memory?: number;
  ostype?: string;
  snapshots?: string[];
}

const FIXED_GUESTS: FixedGuest[] = [
  { type: 'qemu', name: 'web01', nodeIndex: 0, running: true, tags: 'prod;web', agent: true, pool: 'prod', memory: 4096, snapshots: ['pre-upgrade', 'post-upgrade'] },
  { type: 'qemu', name: 'db01', nodeIndex: 1, running: true, tags: 'db;prod', agent: true, protection: true, pool: 'prod', memory: 8192 },
  { type: 'qemu', name: 'debian-12-template', nodeIndex: 0, running: false, tags: 'template', template: true, agent: true, memory: 2048 },
  { type: 'lxc', name: 'dns01', nodeIndex: 2, running: true, tags: 'infra', memory: 512, snapshots: ['clean'] },
  { type: 'lxc', name: 'build01', nodeIndex: 1, running: false, tags: 'dev', pool: 'dev', memory: 2048 },
  { type: 'qemu', name: 'win-test', nodeIndex: 0, running: false, tags: 'dev;test', pool: 'dev', memory: 8192, ostype: 'win11', agent: false },
];

function uuid(rnd: () => number): string {
  const h = Array.from({ length: 16 }, () => Math.floor(rnd() * 256).toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function defaultNetwork(i: number, hex: (n: number) => string[]): Map<string, NetIface> {
  const list: NetIface[] = [
    { iface: 'lo', type: 'loopback', method: 'loopback', method6: 'manual', autostart: 1, active: 1, families: ['inet'], priority: 1 },
    { iface: 'eno1', type: 'eth', method: 'manual', method6: 'manual', active: 1, exists: 1, families: ['inet'], priority: 2, 'altnames': [`enp${i}s0f0`] },
    { iface: 'eno2', type: 'eth', method: 'manual', method6: 'manual', active: 1, exists: 1, families: ['inet'], priority: 3 },
    { iface: 'ens1f0', type: 'eth', method: 'manual', method6: 'manual', active: 1, exists: 1, families: ['inet'], priority: 4 },
    { iface: 'ens1f1', type: 'eth', method: 'manual', method6: 'manual', active: 1, exists: 1, families: ['inet'], priority: 5 },
    { iface: 'bond0', type: 'bond', method: 'manual', method6: 'manual', autostart: 1, active: 1, slaves: 'ens1f0 ens1f1', bond_mode: '802.3ad', bond_xmit_hash_policy: 'layer3+4', 'bond-miimon': '100', families: ['inet'], priority: 6 },
    {
      iface: 'vmbr0', type: 'bridge', method: 'static', method6: 'manual', autostart: 1, active: 1, address: `192.168.100.${10 + i}`, netmask: '24',
      cidr: `192.168.100.${10 + i}/24`, gateway: '192.168.100.1', bridge_ports: 'eno1', bridge_stp: 'off', bridge_fd: '0', families: ['inet'], priority: 7,
    },
    { iface: 'vmbr1', type: 'bridge', method: 'manual', method6: 'manual', autostart: 1, active: 1, bridge_ports: 'bond0', bridge_stp: 'off', bridge_fd: '0', bridge_vlan_aware: 1, bridge_vids: '2-4094', families: ['inet'], priority: 8, comments: 'VM traffic (VLAN aware)\n' },
    { iface: 'vmbr1.50', type: 'vlan', method: 'static', method6: 'manual', autostart: 1, active: 1, address: `10.50.0.${10 + i}`, netmask: '24', cidr: `10.50.0.${10 + i}/24`, 'vlan-id': '50', 'vlan-raw-device': 'vmbr1', families: ['inet'], priority: 9, comments: 'storage VLAN\n' },
  ];
  void hex;
  return new Map(list.map((n) => [n.iface, n]));
}

function aptUpdates(version: PveVersion): AptPackage[] {
  const pkg = (Package: string, OldVersion: string, Version: string, Title: string, Section = 'admin'): AptPackage => ({
    Package, OldVersion, Version, Title, Description: Title, Arch: 'amd64', Origin: 'Proxmox', Priority: 'optional', Section,
  });
  if (version === '8.4') {
    return [
      pkg('pve-manager', '8.4.0', '8.4.1', 'Proxmox Virtual Environment Management Tools'),
      pkg('qemu-server', '8.3.12', '8.3.13', 'Qemu Server Tools'),
      pkg('proxmox-kernel-6.8', '6.8.12-8', '6.8.12-9', 'Proxmox Kernel Image', 'kernel'),
    ];
  }
  return [
    pkg('pve-manager', '9.1.1', '9.1.2', 'Proxmox Virtual Environment Management Tools'),
    pkg('qemu-server', '9.1.0', '9.1.1', 'Qemu Server Tools'),
    pkg('proxmox-kernel-6.14', '6.14.8-2', '6.14.11-1', 'Proxmox Kernel Image', 'kernel'),
  ];
}

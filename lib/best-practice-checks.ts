/**
 * The best-practice checks (the ids knowledge topics list in `checks`, defined in lib/knowledge.ts),
 * evaluated against the live cluster through the Proxmox API. Each says what it found in words a person
 * can act on ("3 of 12 guests have no backup in the last 7 days: 101, 104, 110") and lists the objects.
 *
 * Only endpoints in lib/pve/api-contract.json are called, and only GETs. A check whose facts live behind
 * an endpoint this server does not call (ZFS pools, disks, TFA, firewall, repositories, time,
 * notifications, metrics) says so and names the endpoint or command to look with, instead of guessing.
 * One run shares its reads: every path is fetched at most once, guest configs with bounded concurrency.
 */
import { CHECK_DEFINITIONS, type CheckId, type TopicCheck } from './knowledge.ts';
import type { ClusterResource, PveClient } from './pve/types.ts';
import { readCeph, type CephReport } from './cluster-extras/read.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'not_checked' | 'error';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** What was found, in one or two sentences. */
  summary: string;
  /** The objects concerned (guest ids, storages, nodes, tokens...). */
  items: string[];
  why?: string;
}

/** Guests whose configs a check reads at most (a large cluster is sampled, and the result says so). */
const MAX_GUEST_CONFIGS = 300;
const CONCURRENCY = 8;

interface Guest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name?: string;
  template: boolean;
  status?: string;
  pool?: string;
}

export class CheckContext {
  private readonly cache = new Map<string, Promise<unknown>>();
  readonly now: number;
  /** Snapshots of every guest, read once per run (two checks use them). */
  snapshots?: Promise<{ snapshots: Map<number, { name: string; snaptime?: number }[]>; sampled: boolean }>;

  constructor(
    readonly pve: PveClient,
    readonly signal?: AbortSignal,
    now = Date.now(),
  ) {
    this.now = now;
  }

  get<T>(path: string, params?: Record<string, string | number>): Promise<T> {
    const key = `${path}?${params ? new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString() : ''}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.pve.get<T>(path, params, { signal: this.signal });
      this.cache.set(key, hit);
    }
    return hit as Promise<T>;
  }

  async resources(type: 'vm' | 'node' | 'storage'): Promise<ClusterResource[]> {
    const key = `resources:${type}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.pve.clusterResources(type, { signal: this.signal });
      this.cache.set(key, hit);
    }
    return hit as Promise<ClusterResource[]>;
  }

  async onlineNodes(): Promise<string[]> {
    const nodes = await this.resources('node');
    return nodes.filter((row) => row.status === 'online').map((row) => String(row.node ?? row.id.replace(/^node\//, ''))).sort();
  }

  async guests(): Promise<Guest[]> {
    const rows = await this.resources('vm');
    return rows
      .filter((row) => (row.type === 'qemu' || row.type === 'lxc') && typeof row.vmid === 'number' && row.node)
      .map((row) => ({ vmid: row.vmid as number, type: row.type as 'qemu' | 'lxc', node: String(row.node), name: row.name, template: row.template === true, status: row.status, pool: typeof row.pool === 'string' ? row.pool : undefined }))
      .sort((a, b) => a.vmid - b.vmid);
  }

  config(guest: Guest): Promise<Record<string, unknown>> {
    return this.get<Record<string, unknown>>(`/nodes/${guest.node}/${guest.type}/${guest.vmid}/config`);
  }

  /** Configs of these guests (on online nodes), at most MAX_GUEST_CONFIGS, read CONCURRENCY at a time. */
  async configs(guests: Guest[]): Promise<{ configs: Map<number, Record<string, unknown>>; sampled: boolean; unreadable: number[] }> {
    const online = new Set(await this.onlineNodes());
    const reachable = guests.filter((guest) => online.has(guest.node));
    const chosen = reachable.slice(0, MAX_GUEST_CONFIGS);
    const configs = new Map<number, Record<string, unknown>>();
    const unreadable: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < chosen.length) {
        const guest = chosen[next++];
        try {
          configs.set(guest.vmid, await this.config(guest));
        } catch {
          unreadable.push(guest.vmid);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, chosen.length) }, worker));
    return { configs, sampled: reachable.length > chosen.length, unreadable };
  }
}

type Runner = (ctx: CheckContext, params: Record<string, unknown>) => Promise<Omit<CheckResult, 'id'>>;

const list = (ids: Array<string | number>, max = 20) => (ids.length > max ? `${ids.slice(0, max).join(', ')} and ${ids.length - max} more` : ids.join(', '));
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const pct = (used: number, total: number) => (total > 0 ? Math.round((used / total) * 1000) / 10 : 0);
const truthy = (value: unknown) => value === 1 || value === '1' || value === true;

const cephReads = new WeakMap<CheckContext, Promise<CephReport | undefined>>();

/** The Ceph report for this run (undefined when Ceph is not installed), read once. */
function cephOf(ctx: CheckContext): Promise<CephReport | undefined> {
  let hit = cephReads.get(ctx);
  if (!hit) {
    hit = ctx.onlineNodes().then(async (nodes) => {
      if (!nodes.length) throw new Error('no node is online to ask about Ceph');
      const report = await readCeph(ctx.pve, nodes[0], ctx.signal);
      return report.installed ? report : undefined;
    });
    cephReads.set(ctx, hit);
  }
  return hit;
}

function notChecked(endpoint: string): Runner {
  return async () => ({
    status: 'not_checked',
    summary: `Not checked automatically: it needs ${endpoint}, which this server does not call. Look there, or on the host.`,
    items: [],
  });
}

function sampledNote(sampled: boolean, unreadable: number[]): string {
  return `${sampled ? ` (checked the first ${MAX_GUEST_CONFIGS} guests)` : ''}${unreadable.length ? ` (could not read the config of ${list(unreadable)})` : ''}`;
}

/** Every backup volume on the cluster's backup storages: vmid -> newest ctime (seconds). */
async function newestBackups(ctx: CheckContext): Promise<{ newest: Map<number, number>; storages: string[]; problems: string[] }> {
  const newest = new Map<number, number>();
  const problems: string[] = [];
  const seenShared = new Set<string>();
  const storages = new Set<string>();
  for (const node of await ctx.onlineNodes()) {
    let nodeStorages: { storage: string; content?: string; shared?: number; active?: number; enabled?: number }[];
    try {
      nodeStorages = await ctx.get(`/nodes/${node}/storage`, { content: 'backup' });
    } catch (error) {
      problems.push(`storages of ${node}: ${(error as Error).message}`);
      continue;
    }
    for (const storage of nodeStorages) {
      if (storage.active === 0 || storage.enabled === 0) continue;
      if (storage.shared) {
        if (seenShared.has(storage.storage)) continue;
        seenShared.add(storage.storage);
      }
      storages.add(storage.storage);
      try {
        const volumes = await ctx.get<{ vmid?: number | string; ctime?: number | string; content?: string }[]>(`/nodes/${node}/storage/${storage.storage}/content`, { content: 'backup' });
        for (const volume of volumes) {
          const vmid = Number(volume.vmid);
          const ctime = Number(volume.ctime);
          if (!Number.isFinite(vmid) || !Number.isFinite(ctime)) continue;
          if ((newest.get(vmid) ?? 0) < ctime) newest.set(vmid, ctime);
        }
      } catch (error) {
        problems.push(`${storage.storage} on ${node}: ${(error as Error).message}`);
      }
    }
  }
  return { newest, storages: [...storages].sort(), problems };
}

interface BackupJob {
  id?: string;
  enabled?: number | string;
  all?: number | string;
  vmid?: string;
  pool?: string;
  exclude?: string;
  storage?: string;
  'prune-backups'?: string | Record<string, unknown>;
  maxfiles?: number;
}

const enabledJobs = async (ctx: CheckContext) => (await ctx.get<BackupJob[]>('/cluster/backup')).filter((job) => job.enabled === undefined || truthy(job.enabled));
const hasKeep = (value: unknown) => (typeof value === 'string' ? /keep-(last|hourly|daily|weekly|monthly|yearly)=\d*[1-9]/.test(value) : value !== null && typeof value === 'object' && Object.entries(value).some(([key, v]) => key.startsWith('keep-') && Number(v) > 0));

const runners: Record<CheckId, Runner> = {
  async guest_backup_age(ctx, params) {
    const maxDays = Number(params.maxDays ?? 7);
    const guests = (await ctx.guests()).filter((guest) => !guest.template);
    const { newest, storages, problems } = await newestBackups(ctx);
    const cutoff = ctx.now / 1000 - maxDays * 86400;
    const stale = guests.filter((guest) => (newest.get(guest.vmid) ?? 0) < cutoff).map((guest) => guest.vmid);
    const note = problems.length ? ` Some storages could not be read: ${problems.join('; ')}.` : '';
    if (guests.length === 0) return { status: 'pass', summary: 'There are no guests to back up.', items: [] };
    if (storages.length === 0) return { status: 'fail', summary: `No storage holds backups (content "backup"), so none of the ${guests.length} guests has one.${note}`, items: guests.map((g) => String(g.vmid)) };
    return stale.length === 0
      ? { status: problems.length ? 'warn' : 'pass', summary: `All ${plural(guests.length, 'guest')} have a backup from the last ${maxDays} days (storages: ${storages.join(', ')}).${note}`, items: [] }
      : { status: 'fail', summary: `${stale.length} of ${plural(guests.length, 'guest')} have no backup in the last ${maxDays} days: ${list(stale)}.${note}`, items: stale.map(String) };
  },

  async backup_job_exists(ctx) {
    const jobs = await enabledJobs(ctx);
    const guests = (await ctx.guests()).filter((guest) => !guest.template);
    if (jobs.length === 0) return { status: 'fail', summary: 'There is no enabled scheduled backup job (Datacenter > Backup).', items: [] };
    const covered = new Set<number>();
    for (const job of jobs) {
      const excluded = new Set(String(job.exclude ?? '').split(/[,\s]+/).filter(Boolean).map(Number));
      for (const guest of guests) {
        const listed = String(job.vmid ?? '').split(/[,\s]+/).filter(Boolean).map(Number).includes(guest.vmid);
        const inPool = job.pool !== undefined && guest.pool === job.pool;
        if ((truthy(job.all) && !excluded.has(guest.vmid)) || listed || inPool) covered.add(guest.vmid);
      }
    }
    const uncovered = guests.filter((guest) => !covered.has(guest.vmid)).map((guest) => guest.vmid);
    return uncovered.length === 0
      ? { status: 'pass', summary: `${plural(jobs.length, 'enabled backup job')} cover all ${plural(guests.length, 'guest')}.`, items: [] }
      : { status: 'warn', summary: `${plural(jobs.length, 'enabled backup job')}, but ${uncovered.length} of ${plural(guests.length, 'guest')} are in none: ${list(uncovered)}.`, items: uncovered.map(String) };
  },

  async backup_retention_set(ctx) {
    const jobs = await enabledJobs(ctx);
    if (jobs.length === 0) return { status: 'warn', summary: 'There is no enabled backup job, so no retention either.', items: [] };
    const without: string[] = [];
    for (const job of jobs) {
      if (hasKeep(job['prune-backups']) || Number(job.maxfiles) > 0) continue;
      let storageRetention = false;
      if (job.storage) {
        try {
          const storage = await ctx.get<{ 'prune-backups'?: string; maxfiles?: number }>(`/storage/${job.storage}`);
          storageRetention = hasKeep(storage['prune-backups']) || Number(storage.maxfiles) > 0;
        } catch {
          storageRetention = false;
        }
      }
      if (!storageRetention) without.push(job.id ?? job.storage ?? 'unnamed job');
    }
    return without.length === 0
      ? { status: 'pass', summary: `Every backup job (${jobs.length}) has a retention (keep-* values), on the job or its storage.`, items: [] }
      : { status: 'warn', summary: `${without.length} of ${plural(jobs.length, 'backup job')} keep every backup forever (no keep-* retention on the job or its storage): ${list(without)}.`, items: without };
  },

  async backup_offsite(ctx) {
    const jobs = await enabledJobs(ctx);
    if (jobs.length === 0) return { status: 'warn', summary: 'There is no enabled backup job.', items: [] };
    const storages = await ctx.get<{ storage: string; type: string; shared?: number }[]>('/storage');
    const byId = new Map(storages.map((storage) => [storage.storage, storage]));
    const local = [...new Set(jobs.map((job) => job.storage ?? 'local'))].filter((id) => {
      const storage = byId.get(id);
      return !storage || (storage.type !== 'pbs' && !truthy(storage.shared));
    });
    return local.length === 0
      ? { status: 'pass', summary: 'Every backup job writes to Proxmox Backup Server or shared storage.', items: [] }
      : { status: 'warn', summary: `Backups go to storage local to the node they back up: ${list(local)}. A lost node takes its backups with it; add a Proxmox Backup Server or a remote/shared target.`, items: local };
  },

  async storage_usage(ctx, params) {
    const maxPercent = Number(params.maxPercent ?? 85);
    const rows = await ctx.resources('storage');
    const seen = new Set<string>();
    const full: string[] = [];
    let checked = 0;
    for (const row of rows) {
      if (row.status !== 'available' || !row.maxdisk) continue;
      const key = row.shared ? String(row.storage) : `${row.node}/${row.storage}`;
      if (seen.has(key)) continue;
      seen.add(key);
      checked++;
      const used = pct(Number(row.disk ?? 0), Number(row.maxdisk));
      if (used > maxPercent) full.push(`${key} ${used}%`);
    }
    return full.length === 0
      ? { status: 'pass', summary: `No storage is fuller than ${maxPercent}% (${plural(checked, 'storage')} checked).`, items: [] }
      : { status: 'fail', summary: `${full.length} of ${plural(checked, 'storage')} are fuller than ${maxPercent}%: ${list(full)}.`, items: full };
  },

  async cluster_quorate(ctx) {
    const status = await ctx.get<{ type: string; name?: string; quorate?: number; online?: number }[]>('/cluster/status');
    const cluster = status.find((entry) => entry.type === 'cluster');
    const nodes = status.filter((entry) => entry.type === 'node');
    const offline = nodes.filter((node) => !truthy(node.online)).map((node) => String(node.name));
    if (cluster && !truthy(cluster.quorate)) return { status: 'fail', summary: `The cluster is NOT quorate (${nodes.length - offline.length} of ${nodes.length} nodes online): changes to /etc/pve are blocked.`, items: offline };
    if (offline.length) return { status: 'warn', summary: `The cluster is quorate, but ${offline.length} of ${plural(nodes.length, 'node')} are offline: ${list(offline)}.`, items: offline };
    return { status: 'pass', summary: cluster ? `The cluster is quorate and all ${plural(nodes.length, 'node')} are online.` : 'A single node without a cluster: no quorum to lose.', items: [] };
  },

  async node_count_quorum(ctx) {
    const status = await ctx.get<{ type: string; nodes?: number }[]>('/cluster/status');
    const cluster = status.find((entry) => entry.type === 'cluster');
    const nodes = status.filter((entry) => entry.type === 'node').length;
    if (!cluster) return { status: 'pass', summary: 'A single node, not a cluster: quorum does not apply (but there is no failover either).', items: [] };
    if (nodes >= 3) return { status: nodes % 2 === 0 ? 'warn' : 'pass', summary: nodes % 2 === 0 ? `${nodes} nodes: an even count; a QDevice (or one more node) breaks ties when the cluster splits in half.` : `${nodes} nodes: the cluster keeps quorum when one node fails.`, items: [] };
    return { status: 'warn', summary: `${plural(nodes, 'node')}: losing one loses quorum unless a QDevice gives a third vote (not checked here: see \`pvecm status\`).`, items: [] };
  },

  async corosync_redundant_links(ctx) {
    const nodes = await ctx.get<Record<string, unknown>[]>('/cluster/config/nodes').catch(() => []);
    if (nodes.length === 0) return { status: 'pass', summary: 'No cluster configuration (a single node): no corosync links to check.', items: [] };
    const single = nodes.filter((node) => !Object.keys(node).some((key) => /^(ring1_addr|link1)$/.test(key))).map((node) => String(node.name ?? node.node));
    return single.length === 0
      ? { status: 'pass', summary: `All ${plural(nodes.length, 'node')} have a second corosync link.`, items: [] }
      : { status: 'warn', summary: `${single.length} of ${plural(nodes.length, 'node')} have a single corosync link: ${list(single)}. One network fault then splits the cluster.`, items: single };
  },

  async ha_groups(ctx) {
    const resources = await ctx.get<{ sid: string; group?: string }[]>('/cluster/ha/resources');
    if (resources.length === 0) return { status: 'pass', summary: 'No HA resources are configured.', items: [] };
    // PVE 9 migrated HA groups into node-affinity rules (and every /cluster/ha/groups call fails there)
    if ((await ctx.pve.version({ signal: ctx.signal })).major >= 9) {
      const rules = await ctx.get<{ rule: string; type: string; resources?: string; disable?: number | boolean }[]>('/cluster/ha/rules');
      const placed = new Set(rules.filter((rule) => rule.type === 'node-affinity' && !truthy(rule.disable)).flatMap((rule) => String(rule.resources ?? '').split(',').filter(Boolean)));
      const unplaced = resources.filter((resource) => !placed.has(resource.sid)).map((resource) => resource.sid);
      return unplaced.length === 0
        ? { status: 'pass', summary: `All ${plural(resources.length, 'HA resource')} have an enabled node-affinity rule.`, items: [] }
        : { status: 'warn', summary: `${unplaced.length} of ${plural(resources.length, 'HA resource')} have no enabled node-affinity rule (PVE 9 replaced HA groups with rules): ${list(unplaced)}.`, items: unplaced };
    }
    const loose = resources.filter((resource) => !resource.group).map((resource) => resource.sid);
    return loose.length === 0
      ? { status: 'pass', summary: `All ${plural(resources.length, 'HA resource')} are bound to a group.`, items: [] }
      : { status: 'warn', summary: `${loose.length} of ${plural(resources.length, 'HA resource')} have no HA group: ${list(loose)}.`, items: loose };
  },

  async ha_fencing_ready(ctx) {
    const resources = await ctx.get<unknown[]>('/cluster/ha/resources');
    if (resources.length === 0) return { status: 'pass', summary: 'HA is not used.', items: [] };
    const status = await ctx.get<{ type: string; quorate?: number }[]>('/cluster/status');
    const nodes = status.filter((entry) => entry.type === 'node').length;
    const quorate = truthy(status.find((entry) => entry.type === 'cluster')?.quorate);
    if (!quorate || nodes < 3) return { status: 'fail', summary: `${plural(resources.length, 'HA resource')} on a cluster of ${plural(nodes, 'node')}${quorate ? '' : ' that is not quorate'}: fencing and recovery need a quorate cluster of at least 3 votes.`, items: [] };
    return { status: 'pass', summary: `${plural(resources.length, 'HA resource')} on a quorate cluster of ${nodes} nodes.`, items: [] };
  },

  async token_privsep(ctx) {
    const users = await ctx.get<{ userid: string; tokens?: { tokenid: string; privsep?: number }[] }[]>('/access/users', { full: 1 });
    const tokens = users.flatMap((user) => (user.tokens ?? []).map((token) => ({ id: `${user.userid}!${token.tokenid}`, privsep: token.privsep })));
    const shared = tokens.filter((token) => !truthy(token.privsep)).map((token) => token.id);
    return shared.length === 0
      ? { status: 'pass', summary: `All ${plural(tokens.length, 'API token')} use privilege separation.`, items: [] }
      : { status: 'fail', summary: `${shared.length} of ${plural(tokens.length, 'API token')} carry their user's full rights (privsep=0): ${list(shared)}.`, items: shared };
  },

  async no_root_tokens(ctx) {
    const tokens = await ctx.get<{ tokenid: string }[]>('/access/users/root@pam/token').catch(() => []);
    return tokens.length === 0
      ? { status: 'pass', summary: 'root@pam has no API tokens.', items: [] }
      : { status: 'fail', summary: `root@pam has ${plural(tokens.length, 'API token')}: ${list(tokens.map((token) => token.tokenid))}. Use tokens of a dedicated user with only the roles it needs.`, items: tokens.map((token) => `root@pam!${token.tokenid}`) };
  },

  async token_expiry(ctx, params) {
    const maxDays = Number(params.maxDays ?? 365);
    const users = await ctx.get<{ userid: string; tokens?: { tokenid: string; expire?: number }[] }[]>('/access/users', { full: 1 });
    const limit = ctx.now / 1000 + maxDays * 86400;
    const lasting = users.flatMap((user) => (user.tokens ?? []).filter((token) => !token.expire || Number(token.expire) > limit).map((token) => `${user.userid}!${token.tokenid}`));
    const total = users.reduce((n, user) => n + (user.tokens?.length ?? 0), 0);
    return lasting.length === 0
      ? { status: 'pass', summary: `All ${plural(total, 'API token')} expire within ${maxDays} days.`, items: [] }
      : { status: 'warn', summary: `${lasting.length} of ${plural(total, 'API token')} never expire or expire later than ${maxDays} days from now: ${list(lasting)}.`, items: lasting };
  },

  async admin_acl_scope(ctx, params) {
    const maxAdmins = Number(params.maxAdmins ?? 2);
    const acl = await ctx.get<{ ugid: string; roleid: string; type: string; path: string }[]>('/access/acl');
    const admins = [...new Set(acl.filter((entry) => entry.roleid === 'Administrator' && entry.ugid !== 'root@pam').map((entry) => `${entry.type} ${entry.ugid}`))];
    return admins.length <= maxAdmins
      ? { status: 'pass', summary: `${plural(admins.length, 'user, group or token')} besides root@pam hold the Administrator role (at most ${maxAdmins} advised).`, items: admins }
      : { status: 'warn', summary: `${admins.length} users, groups or tokens hold the Administrator role (at most ${maxAdmins} advised): ${list(admins)}.`, items: admins };
  },

  async updates_pending(ctx, params) {
    const maxCount = Number(params.maxCount ?? 0);
    const findings: string[] = [];
    const security: string[] = [];
    const problems: string[] = [];
    for (const node of await ctx.onlineNodes()) {
      try {
        const packages = await ctx.get<{ Package: string; Origin?: string; Section?: string; Title?: string }[]>(`/nodes/${node}/apt/update`);
        const secure = packages.filter((pkg) => /security/i.test(`${pkg.Origin ?? ''} ${pkg.Section ?? ''}`));
        if (packages.length > maxCount) findings.push(`${node}: ${packages.length}`);
        if (secure.length) security.push(`${node}: ${secure.length}`);
      } catch (error) {
        problems.push(`${node}: ${(error as Error).message}`);
      }
    }
    const note = problems.length ? ` Could not ask ${problems.join('; ')}.` : '';
    if (findings.length === 0 && security.length === 0) return { status: problems.length ? 'warn' : 'pass', summary: `No node has more than ${maxCount} pending updates (from the last apt update).${note}`, items: [] };
    return { status: 'warn', summary: `Pending package updates: ${list(findings)}${security.length ? `; security updates: ${list(security)}` : ''}.${note}`, items: [...findings, ...security] };
  },

  async node_versions_match(ctx) {
    const versions = new Map<string, string[]>();
    for (const node of await ctx.onlineNodes()) {
      const info = await ctx.get<{ version?: string; release?: string }>(`/nodes/${node}/version`).catch(() => undefined);
      const version = info?.version ?? 'unknown';
      versions.set(version, [...(versions.get(version) ?? []), node]);
    }
    if (versions.size <= 1) return { status: 'pass', summary: `All online nodes run pve-manager ${[...versions.keys()][0] ?? 'unknown'}.`, items: [] };
    const items = [...versions.entries()].map(([version, nodes]) => `${version}: ${nodes.join(', ')}`);
    return { status: 'warn', summary: `Nodes run different versions: ${items.join('; ')}. Upgrade them to the same version.`, items };
  },

  async node_resource_usage(ctx, params) {
    const maxCpu = Number(params.maxCpuPercent ?? 90);
    const maxMem = Number(params.maxMemoryPercent ?? 90);
    const nodes = (await ctx.resources('node')).filter((row) => row.status === 'online');
    const busy: string[] = [];
    for (const row of nodes) {
      const cpu = Math.round(Number(row.cpu ?? 0) * 1000) / 10;
      const mem = pct(Number(row.mem ?? 0), Number(row.maxmem ?? 0));
      if (cpu > maxCpu || mem > maxMem) busy.push(`${row.node} (CPU ${cpu}%, memory ${mem}%)`);
    }
    return busy.length === 0
      ? { status: 'pass', summary: `No node uses more than ${maxCpu}% CPU or ${maxMem}% memory.`, items: [] }
      : { status: 'warn', summary: `${busy.length} of ${plural(nodes.length, 'node')} are busy: ${list(busy)}.`, items: busy };
  },

  async guest_agent_enabled(ctx) {
    const vms = (await ctx.guests()).filter((guest) => guest.type === 'qemu' && !guest.template);
    const { configs, sampled, unreadable } = await ctx.configs(vms);
    const without = [...configs.entries()].filter(([, config]) => !/^(1|enabled=1)/.test(String(config.agent ?? '0'))).map(([vmid]) => vmid);
    return without.length === 0
      ? { status: 'pass', summary: `All ${plural(configs.size, 'VM')} have the QEMU guest agent enabled${sampledNote(sampled, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${without.length} of ${plural(configs.size, 'VM')} do not have the QEMU guest agent enabled: ${list(without)}${sampledNote(sampled, unreadable)}.`, items: without.map(String) };
  },

  async vm_scsi_controller(ctx) {
    const vms = (await ctx.guests()).filter((guest) => guest.type === 'qemu' && !guest.template);
    const { configs, sampled, unreadable } = await ctx.configs(vms);
    const other = [...configs.entries()].filter(([, config]) => !['virtio-scsi-single', 'virtio-scsi-pci'].includes(String(config.scsihw ?? 'lsi'))).map(([vmid, config]) => `${vmid} (${String(config.scsihw ?? 'lsi, the default')})`);
    return other.length === 0
      ? { status: 'pass', summary: `All ${plural(configs.size, 'VM')} use a VirtIO SCSI controller${sampledNote(sampled, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${other.length} of ${plural(configs.size, 'VM')} use another disk controller: ${list(other)}${sampledNote(sampled, unreadable)}.`, items: other };
  },

  async vm_cpu_type(ctx, params) {
    const disallow = ((params.disallow as string[] | undefined) ?? ['kvm64', 'qemu64']).map((type) => type.toLowerCase());
    const vms = (await ctx.guests()).filter((guest) => guest.type === 'qemu' && !guest.template);
    const { configs, sampled, unreadable } = await ctx.configs(vms);
    const old = [...configs.entries()]
      .map(([vmid, config]) => ({ vmid, type: String(config.cpu ?? 'kvm64').split(',')[0].replace(/^cputype=/, '').toLowerCase(), explicit: config.cpu !== undefined }))
      .filter((vm) => disallow.includes(vm.type))
      .map((vm) => `${vm.vmid} (${vm.type}${vm.explicit ? '' : ', the default'})`);
    return old.length === 0
      ? { status: 'pass', summary: `No VM uses ${disallow.join(' or ')}${sampledNote(sampled, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${old.length} of ${plural(configs.size, 'VM')} use an outdated CPU model: ${list(old)}${sampledNote(sampled, unreadable)}.`, items: old };
  },

  async vm_disk_discard(ctx) {
    const storages = await ctx.get<{ storage: string; type: string }[]>('/storage');
    const thin = new Set(storages.filter((storage) => ['zfspool', 'lvmthin', 'rbd', 'zfs'].includes(storage.type)).map((storage) => storage.storage));
    const vms = (await ctx.guests()).filter((guest) => guest.type === 'qemu' && !guest.template);
    const { configs, sampled, unreadable } = await ctx.configs(vms);
    const missing: string[] = [];
    for (const [vmid, config] of configs) {
      for (const [key, value] of Object.entries(config)) {
        if (!/^(scsi|virtio|sata|ide)\d+$/.test(key)) continue;
        const text = String(value);
        const storage = text.split(':')[0];
        if (!thin.has(storage) || /media=cdrom|cloudinit/.test(text)) continue;
        if (!/(^|,)discard=on(,|$)/.test(text)) missing.push(`${vmid} ${key}`);
      }
    }
    return missing.length === 0
      ? { status: 'pass', summary: `Every VM disk on thin-provisioned storage has discard=on${sampledNote(sampled, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${plural(missing.length, 'VM disk')} on thin-provisioned storage lack discard=on: ${list(missing)}${sampledNote(sampled, unreadable)}.`, items: missing };
  },

  async ct_unprivileged(ctx) {
    const cts = (await ctx.guests()).filter((guest) => guest.type === 'lxc' && !guest.template);
    const { configs, sampled, unreadable } = await ctx.configs(cts);
    const privileged = [...configs.entries()].filter(([, config]) => !truthy(config.unprivileged)).map(([vmid]) => vmid);
    return privileged.length === 0
      ? { status: 'pass', summary: `All ${plural(configs.size, 'container')} are unprivileged${sampledNote(sampled, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${privileged.length} of ${plural(configs.size, 'container')} are privileged: ${list(privileged)}${sampledNote(sampled, unreadable)}.`, items: privileged.map(String) };
  },

  async templates_have_cloudinit(ctx) {
    const templates = (await ctx.guests()).filter((guest) => guest.type === 'qemu' && guest.template);
    if (templates.length === 0) return { status: 'warn', summary: 'There are no VM templates; cloning from a cloud-init template is the quickest way to new VMs.', items: [] };
    const { configs, unreadable } = await ctx.configs(templates);
    const without = [...configs.entries()].filter(([, config]) => !Object.values(config).some((value) => /cloudinit/.test(String(value)))).map(([vmid]) => vmid);
    return without.length === 0
      ? { status: 'pass', summary: `All ${plural(configs.size, 'template')} have a cloud-init drive${sampledNote(false, unreadable)}.`, items: [] }
      : { status: 'warn', summary: `${without.length} of ${plural(configs.size, 'template')} have no cloud-init drive: ${list(without)}.`, items: without.map(String) };
  },

  async snapshots_age(ctx, params) {
    const maxDays = Number(params.maxDays ?? 14);
    const cutoff = ctx.now / 1000 - maxDays * 86400;
    const old: string[] = [];
    const { snapshots, sampled } = await allSnapshots(ctx);
    for (const [vmid, list_] of snapshots) for (const snap of list_) if (snap.snaptime && snap.snaptime < cutoff) old.push(`${vmid}/${snap.name} (${Math.floor((ctx.now / 1000 - snap.snaptime) / 86400)} days)`);
    return old.length === 0
      ? { status: 'pass', summary: `No snapshot is older than ${maxDays} days${sampled ? ` (first ${MAX_GUEST_CONFIGS} guests)` : ''}.`, items: [] }
      : { status: 'warn', summary: `${plural(old.length, 'snapshot')} older than ${maxDays} days: ${list(old)}. Old snapshots grow and slow the storage; delete the ones you no longer need.`, items: old };
  },

  async snapshots_count(ctx, params) {
    const max = Number(params.max ?? 5);
    const { snapshots } = await allSnapshots(ctx);
    const many = [...snapshots.entries()].filter(([, list_]) => list_.length > max).map(([vmid, list_]) => `${vmid} (${list_.length})`);
    return many.length === 0
      ? { status: 'pass', summary: `No guest has more than ${max} snapshots.`, items: [] }
      : { status: 'warn', summary: `${plural(many.length, 'guest')} have more than ${max} snapshots: ${list(many)}.`, items: many };
  },

  async bridge_vlan_aware(ctx) {
    const guests = (await ctx.guests()).filter((guest) => !guest.template);
    const { configs } = await ctx.configs(guests);
    const tagged = new Map<string, Set<string>>();
    const byVmid = new Map(guests.map((guest) => [guest.vmid, guest]));
    for (const [vmid, config] of configs) {
      for (const [key, value] of Object.entries(config)) {
        if (!/^net\d+$/.test(key)) continue;
        const text = String(value);
        const bridge = /(?:^|,)bridge=([^,]+)/.exec(text)?.[1];
        if (!bridge || !/(?:^|,)tag=\d+/.test(text)) continue;
        const node = byVmid.get(vmid)!.node;
        const keyName = `${node}/${bridge}`;
        tagged.set(keyName, new Set([...(tagged.get(keyName) ?? []), String(vmid)]));
      }
    }
    if (tagged.size === 0) return { status: 'pass', summary: 'No guest uses a VLAN tag.', items: [] };
    const notAware: string[] = [];
    for (const keyName of tagged.keys()) {
      const [node, bridge] = keyName.split('/');
      const ifaces = await ctx.get<{ iface: string; bridge_vlan_aware?: number }[]>(`/nodes/${node}/network`, { type: 'bridge' }).catch(() => []);
      const found = ifaces.find((iface) => iface.iface === bridge);
      if (found && !truthy(found.bridge_vlan_aware)) notAware.push(`${keyName} (guests ${[...tagged.get(keyName)!].join(', ')})`);
    }
    return notAware.length === 0
      ? { status: 'pass', summary: 'Every bridge that carries VLAN-tagged guests is VLAN-aware.', items: [] }
      : { status: 'warn', summary: `Guests use VLAN tags on bridges that are not VLAN-aware: ${list(notAware)}.`, items: notAware };
  },

  zfs_pool_health: notChecked('GET /nodes/{node}/disks/zfs (or `zpool status -x` on each node)'),
  zfs_pool_usage: notChecked('GET /nodes/{node}/disks/zfs (or `zpool list` on each node)'),
  disk_health: notChecked('GET /nodes/{node}/disks/list (or `smartctl -H` on each node)'),
  // Ceph (issue 17): read once per run through lib/cluster-extras/read.ts; a cluster without Ceph passes
  async ceph_health(ctx) {
    const ceph = await cephOf(ctx);
    if (!ceph) return { status: 'pass', summary: 'Ceph is not installed on this cluster.', items: [] };
    if (ceph.health === 'HEALTH_OK') return { status: 'pass', summary: `Ceph is HEALTH_OK (${ceph.osds?.up}/${ceph.osds?.total} OSDs up).`, items: [] };
    return { status: ceph.health === 'HEALTH_ERR' ? 'fail' : 'warn', summary: `Ceph is ${ceph.health}: ${(ceph.checks ?? []).map((c) => c.message).join('; ') || 'see ceph health detail'}.`, items: (ceph.osds?.list ?? []).filter((o) => o.status !== 'up' || !o.in).map((o) => `osd.${o.id}`) };
  },
  async ceph_pool_replication(ctx, params) {
    const ceph = await cephOf(ctx);
    if (!ceph) return { status: 'pass', summary: 'Ceph is not installed on this cluster.', items: [] };
    const size = Number(params?.size ?? 3);
    const minSize = Number(params?.minSize ?? 2);
    const weak = (ceph.pools ?? []).filter((p) => p.name !== '.mgr' && (p.size < size || p.min_size < minSize));
    return weak.length === 0
      ? { status: 'pass', summary: `All ${plural((ceph.pools ?? []).length, 'Ceph pool')} keep at least ${size} copies and need ${minSize} to write.`, items: [] }
      : { status: 'fail', summary: `${weak.length} Ceph pool(s) keep too few copies: ${weak.map((p) => `${p.name} (size ${p.size}, min_size ${p.min_size})`).join(', ')}; ${size}/${minSize} survives a failure without data loss.`, items: weak.map((p) => p.name) };
  },
  async ceph_mon_count(ctx, params) {
    const ceph = await cephOf(ctx);
    if (!ceph) return { status: 'pass', summary: 'Ceph is not installed on this cluster.', items: [] };
    const min = Number(params?.min ?? 3);
    const mons = ceph.monitors ?? 0;
    return mons >= min && mons % 2 === 1
      ? { status: 'pass', summary: `${plural(mons, 'Ceph monitor')} (quorum: ${(ceph.quorum ?? []).join(', ')}).`, items: [] }
      : { status: 'warn', summary: `${plural(mons, 'Ceph monitor')}: ${mons < min ? `fewer than ${min}` : 'an even number'}; an odd number of at least ${min} on different nodes keeps quorum through a failure.`, items: [] };
  },
  root_tfa: notChecked('GET /access/tfa/root@pam (or Datacenter > Permissions > Two Factor)'),
  firewall_enabled: notChecked('GET /cluster/firewall/options (or `pve-firewall status`)'),
  no_subscription_repo: notChecked('GET /nodes/{node}/apt/repositories and /nodes/{node}/subscription (or `pveversion -v` and /etc/apt/sources.list.d/)'),
  test_repo_disabled: notChecked('GET /nodes/{node}/apt/repositories (or /etc/apt/sources.list.d/ on each node)'),
  notification_target: notChecked('GET /cluster/notifications/targets and /matchers'),
  metric_server: notChecked('GET /cluster/metrics/server'),
  node_time_sync: notChecked('GET /nodes/{node}/time (or `chronyc tracking` on each node)'),
};

async function allSnapshots(ctx: CheckContext): Promise<{ snapshots: Map<number, { name: string; snaptime?: number }[]>; sampled: boolean }> {
  if (ctx.snapshots) return ctx.snapshots;
  const work = (async () => {
    const online = new Set(await ctx.onlineNodes());
    const guests = (await ctx.guests()).filter((guest) => online.has(guest.node) && !guest.template);
    const chosen = guests.slice(0, MAX_GUEST_CONFIGS);
    const snapshots = new Map<number, { name: string; snaptime?: number }[]>();
    let next = 0;
    const worker = async () => {
      while (next < chosen.length) {
        const guest = chosen[next++];
        const rows = await ctx.get<{ name: string; snaptime?: number }[]>(`/nodes/${guest.node}/${guest.type}/${guest.vmid}/snapshot`).catch(() => []);
        const real = rows.filter((row) => row.name !== 'current');
        if (real.length) snapshots.set(guest.vmid, real);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, chosen.length) }, worker));
    return { snapshots, sampled: guests.length > chosen.length };
  })();
  ctx.snapshots = work;
  return work;
}

/** Run the checks of one topic; one failing check is reported as an error, the others still run. */
export async function runChecks(checks: TopicCheck[], pve: PveClient, options: { signal?: AbortSignal; now?: number } = {}): Promise<CheckResult[]> {
  const ctx = new CheckContext(pve, options.signal, options.now);
  const results: CheckResult[] = [];
  for (const check of checks) {
    const runner = runners[check.id];
    try {
      const result = await runner(ctx, check.params);
      results.push({ id: check.id, ...result, ...(check.why ? { why: check.why } : {}) });
    } catch (error) {
      results.push({ id: check.id, status: 'error', summary: `Could not check: ${(error as Error).message}`, items: [], ...(check.why ? { why: check.why } : {}) });
    }
  }
  return results;
}

/** For tests: every check id has a runner. */
export const checkIdsWithRunners = Object.keys(runners) as CheckId[];
export const knownCheckIds = Object.keys(CHECK_DEFINITIONS) as CheckId[];

import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { num } from '../lib/pve/parse.ts';
import type { ClusterResource } from '../lib/pve/types.ts';
import { ToolError, toToolError } from '../lib/errors.ts';
import { flag, fractionPercent, humanBytes, percent, text } from '../lib/cluster/format.ts';

const storageFullPercent = 85;
const storageCriticalPercent = 95;

const guestCount = z.object({ total: z.number(), running: z.number(), stopped: z.number(), other: z.number(), templates: z.number() });

const problem = z.object({
  severity: z.enum(['critical', 'warning']),
  kind: z.string().describe('offline_node, no_quorum, storage_full, storage_unavailable, guest_locked, guest_unknown, ha_error, ha_lrm_dead, unreadable'),
  message: z.string(),
  node: z.string().optional(),
  vmid: z.number().optional(),
  storage: z.string().optional(),
});

type Problem = z.infer<typeof problem>;

const output = z.object({
  cluster: z.object({
    name: z.string().optional(),
    standalone: z.boolean().describe('a single node without a cluster configuration'),
    quorate: z.boolean().nullable().describe('null when the cluster status could not be read'),
    nodes_total: z.number(),
    nodes_online: z.number(),
    config_version: z.number().optional(),
  }),
  version: z.object({ version: z.string(), release: z.string().optional(), repoid: z.string().optional() }).nullable(),
  nodes: z.array(
    z.object({
      node: z.string(),
      status: z.string(),
      ip: z.string().optional(),
      local: z.boolean().optional().describe('the node this API answers from'),
      cpu_percent: z.number().optional(),
      memory_percent: z.number().optional(),
      uptime_seconds: z.number().optional(),
    }),
  ),
  totals: z.object({
    vms: guestCount,
    containers: guestCount,
    cpu: z.object({ cores: z.number(), used_cores: z.number(), percent: z.number().optional() }),
    memory: z.object({ used: z.number(), total: z.number(), percent: z.number().optional(), text: z.string().optional() }),
  }),
  ha: z.object({
    available: z.boolean(),
    quorum: z.string().optional(),
    master: z.string().optional(),
    services: z.array(z.object({ sid: z.string(), state: z.string().optional(), node: z.string().optional(), status: z.string().optional() })),
  }),
  storage: z.array(
    z.object({
      storage: z.string(),
      node: z.string().optional().describe('absent for shared storage (reported once)'),
      type: z.string().optional(),
      shared: z.boolean(),
      status: z.string(),
      used: z.number().optional(),
      total: z.number().optional(),
      percent: z.number().optional(),
    }),
  ),
  problems: z.array(problem).describe('what looks wrong, most serious first'),
});

type Output = z.infer<typeof output>;

function countGuests(rows: ClusterResource[]): z.infer<typeof guestCount> {
  const count = { total: 0, running: 0, stopped: 0, other: 0, templates: 0 };
  for (const row of rows) {
    if (row.template) {
      count.templates++;
      continue;
    }
    count.total++;
    if (row.status === 'running') count.running++;
    else if (row.status === 'stopped') count.stopped++;
    else count.other++;
  }
  return count;
}

function settledValue<T>(result: PromiseSettledResult<T>): T | undefined {
  return result.status === 'fulfilled' ? result.value : undefined;
}

function settledMessage(result: PromiseSettledResult<unknown>): string | undefined {
  return result.status === 'rejected' ? toToolError(result.reason).message : undefined;
}

export default defineTool({
  name: 'get_system_info',
  title: 'Cluster overview',
  description: 'The cluster at a glance: quorum, nodes, PVE version, guest totals, CPU, memory and storage use, HA, and what looks wrong. Start here.',
  input: z.object({}),
  output,
  effect: 'read',
  privileges: () => [{ path: '/', privileges: ['Sys.Audit'] }],
  explain(): Plan {
    return {
      summary: 'Read the cluster overview (4 requests in parallel)',
      apiCalls: ['GET /cluster/status', 'GET /cluster/resources', 'GET /cluster/ha/status/current', 'GET /version'],
      cliEquivalent: 'pvesh get /cluster/status && pvesh get /cluster/resources && ha-manager status && pveversion',
      privileges: [{ path: '/', privileges: ['Sys.Audit'] }],
      risk: 'none',
      reversible: true,
    };
  },
  async run(_input, ctx) {
    const options = { signal: ctx.signal };
    // At most 4 requests, all at once (bench/ counts them).
    const [statusResult, resourcesResult, haResult, versionResult] = await Promise.allSettled([
      ctx.pve.get<Record<string, unknown>[]>('/cluster/status', undefined, options),
      ctx.pve.clusterResources(undefined, options),
      ctx.pve.get<Record<string, unknown>[]>('/cluster/ha/status/current', undefined, options),
      ctx.pve.get<Record<string, unknown>>('/version', undefined, options),
    ]);
    const statusRows = settledValue(statusResult);
    const resources = settledValue(resourcesResult);
    if (!statusRows && !resources) {
      const reason = toToolError((resourcesResult as PromiseRejectedResult).reason);
      throw new ToolError(reason.code, `Could not read the cluster overview: ${reason.message}`, { details: reason.details, suggestions: reason.suggestions });
    }
    const problems: Problem[] = [];
    const warnings: string[] = [];
    for (const [what, result] of [
      ['cluster status', statusResult],
      ['cluster resources', resourcesResult],
      ['HA status', haResult],
      ['version', versionResult],
    ] as const) {
      const message = settledMessage(result);
      if (message) warnings.push(`Could not read the ${what}: ${message}`);
    }

    const rows = resources ?? [];
    const nodeRows = rows.filter((row) => row.type === 'node');
    const clusterEntry = (statusRows ?? []).find((row) => row.type === 'cluster');
    const statusNodes = (statusRows ?? []).filter((row) => row.type === 'node');

    // Nodes: /cluster/status knows membership and IPs; /cluster/resources knows load.
    const names = new Set<string>([...statusNodes.map((row) => String(row.name)), ...nodeRows.map((row) => String(row.node))]);
    const nodes: Output['nodes'] = [...names]
      .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
      .map((name) => {
        const member = statusNodes.find((row) => row.name === name);
        const load = nodeRows.find((row) => row.node === name);
        const online = member ? flag(member.online) === true : load?.status === 'online';
        const status = online ? 'online' : member ? 'offline' : String(load?.status ?? 'unknown');
        return {
          node: name,
          status,
          ip: text(member?.ip),
          local: member ? flag(member.local) === true : undefined,
          cpu_percent: online ? fractionPercent(load?.cpu) : undefined,
          memory_percent: online ? percent(load?.mem, load?.maxmem) : undefined,
          uptime_seconds: online ? load?.uptime : undefined,
        };
      });
    const nodesOnline = nodes.filter((node) => node.status === 'online').length;
    const standalone = statusRows !== undefined && !clusterEntry;
    const quorate = clusterEntry ? flag(clusterEntry.quorate) === true : standalone ? true : null;
    for (const node of nodes) {
      if (node.status !== 'online') problems.push({ severity: 'critical', kind: 'offline_node', node: node.node, message: `Node ${node.node} is ${node.status}.` });
    }
    if (quorate === false) {
      problems.push({ severity: 'critical', kind: 'no_quorum', message: `The cluster has no quorum (${nodesOnline} of ${nodes.length} nodes online): /etc/pve is read-only, guests cannot be started or changed.` });
    }

    // Guests and totals.
    const vms = rows.filter((row) => row.type === 'qemu');
    const cts = rows.filter((row) => row.type === 'lxc');
    for (const guest of [...vms, ...cts]) {
      const label = `${guest.type === 'lxc' ? 'CT' : 'VM'} ${guest.vmid}${guest.name ? ` (${guest.name})` : ''}`;
      if (guest.lock) problems.push({ severity: 'warning', kind: 'guest_locked', vmid: guest.vmid, node: guest.node, message: `${label} on ${guest.node} is locked (${guest.lock}).` });
      if (guest.status && !['running', 'stopped', 'paused'].includes(guest.status) && !guest.template) {
        problems.push({ severity: 'warning', kind: 'guest_unknown', vmid: guest.vmid, node: guest.node, message: `${label} on ${guest.node} has status ${guest.status}.` });
      }
      if (guest.hastate === 'error' || guest.hastate === 'fence') {
        problems.push({ severity: 'critical', kind: 'ha_error', vmid: guest.vmid, node: guest.node, message: `${label} is in HA state ${guest.hastate}.` });
      }
    }
    const onlineNodeRows = nodeRows.filter((row) => row.status === 'online');
    const cores = nodeRows.reduce((sum, row) => sum + (row.maxcpu ?? 0), 0);
    const usedCores = onlineNodeRows.reduce((sum, row) => sum + (row.cpu ?? 0) * (row.maxcpu ?? 0), 0);
    const memTotal = nodeRows.reduce((sum, row) => sum + (row.maxmem ?? 0), 0);
    const memUsed = onlineNodeRows.reduce((sum, row) => sum + (row.mem ?? 0), 0);

    // Storage: shared storages once, local ones per node.
    const storage: Output['storage'] = [];
    const sharedSeen = new Map<string, Output['storage'][number]>();
    for (const row of rows.filter((entry) => entry.type === 'storage')) {
      const entry = {
        storage: String(row.storage),
        node: row.shared ? undefined : row.node,
        type: text(row.plugintype),
        shared: row.shared === true,
        status: String(row.status ?? 'unknown'),
        used: num(row.disk),
        total: num(row.maxdisk),
        percent: percent(num(row.disk), num(row.maxdisk)),
      };
      if (entry.shared) {
        const seen = sharedSeen.get(entry.storage);
        if (seen && (seen.status === 'available' || entry.status !== 'available')) continue;
        if (seen) storage.splice(storage.indexOf(seen), 1);
        sharedSeen.set(entry.storage, entry);
      }
      storage.push(entry);
    }
    storage.sort((a, b) => a.storage.localeCompare(b.storage) || (a.node ?? '').localeCompare(b.node ?? ''));
    const onlineNames = new Set(nodes.filter((node) => node.status === 'online').map((node) => node.node));
    for (const entry of storage) {
      const where = entry.node ? ` on ${entry.node}` : ' (shared)';
      if (entry.percent !== undefined && entry.percent >= storageFullPercent) {
        problems.push({
          severity: entry.percent >= storageCriticalPercent ? 'critical' : 'warning',
          kind: 'storage_full',
          storage: entry.storage,
          node: entry.node,
          message: `Storage ${entry.storage}${where} is ${entry.percent}% full (${humanBytes(entry.used)} of ${humanBytes(entry.total)}).`,
        });
      }
      if (entry.status !== 'available' && (!entry.node || onlineNames.has(entry.node))) {
        problems.push({ severity: 'warning', kind: 'storage_unavailable', storage: entry.storage, node: entry.node, message: `Storage ${entry.storage}${where} is ${entry.status}.` });
      }
    }

    // HA.
    const haRows = settledValue(haResult) ?? [];
    const ha: Output['ha'] = { available: haResult.status === 'fulfilled', services: [] };
    const haInUse = haRows.some((row) => row.type === 'service');
    for (const row of haRows) {
      const type = text(row.type);
      if (type === 'quorum') ha.quorum = text(row.status);
      else if (type === 'master') ha.master = text(row.node);
      else if (type === 'service') {
        const sid = String(row.sid ?? String(row.id ?? '').replace(/^service:/, ''));
        const state = text(row.state) ?? text(row.crm_state);
        ha.services.push({ sid, state, node: text(row.node), status: text(row.status) });
        if (state === 'error' || state === 'fence' || state === 'recovery') {
          if (!problems.some((entry) => entry.kind === 'ha_error' && entry.vmid === Number(sid.split(':')[1]))) {
            problems.push({ severity: 'critical', kind: 'ha_error', vmid: num(sid.split(':')[1]), node: text(row.node), message: `HA resource ${sid} is in state ${state}.` });
          }
        }
      } else if (type === 'lrm') {
        const status = text(row.status) ?? '';
        const node = text(row.node);
        if (haInUse && /dead|old timestamp/i.test(status) && node && onlineNames.has(node)) {
          problems.push({ severity: 'warning', kind: 'ha_lrm_dead', node, message: `The HA local resource manager on ${node} does not report: ${status}.` });
        }
      }
    }
    if (ha.quorum && ha.quorum !== 'OK') problems.push({ severity: 'critical', kind: 'ha_error', message: `HA quorum: ${ha.quorum}.` });

    const versionRaw = settledValue(versionResult);
    const version = versionRaw && typeof versionRaw.version === 'string' ? { version: versionRaw.version, release: text(versionRaw.release), repoid: text(versionRaw.repoid) } : null;

    problems.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
    const data: Output = {
      cluster: {
        name: text(clusterEntry?.name),
        standalone,
        quorate,
        nodes_total: nodes.length,
        nodes_online: nodesOnline,
        config_version: num(clusterEntry?.version),
      },
      version,
      nodes,
      totals: {
        vms: countGuests(vms),
        containers: countGuests(cts),
        cpu: { cores, used_cores: Math.round(usedCores * 10) / 10, percent: percent(usedCores, cores) },
        memory: { used: memUsed, total: memTotal, percent: percent(memUsed, memTotal), text: `${humanBytes(memUsed)} of ${humanBytes(memTotal)}` },
      },
      ha,
      storage,
      problems,
    };
    const name = data.cluster.name ?? (standalone ? 'standalone node' : 'cluster');
    const critical = problems.filter((entry) => entry.severity === 'critical').length;
    return {
      data,
      summary:
        `${name}: ${nodesOnline}/${nodes.length} nodes online, quorum ${quorate === null ? 'unknown' : quorate ? 'ok' : 'LOST'}, ` +
        `${data.totals.vms.running}/${data.totals.vms.total} VMs and ${data.totals.containers.running}/${data.totals.containers.total} containers running` +
        `${version ? `, PVE ${version.version}` : ''}; ${problems.length ? `${problems.length} problem${problems.length === 1 ? '' : 's'} (${critical} critical)` : 'nothing looks wrong'}`,
      warnings,
      suggestions: [
        ...(problems.some((entry) => entry.kind === 'offline_node') ? ['node_status shows each node in detail.'] : []),
        ...(problems.some((entry) => entry.kind === 'storage_full') ? ['storage_operations action content lists what fills a storage (old backups, unused disks).'] : []),
        ...(problems.length === 0 ? ['node_status for per-node detail; guest_backup list for backup age.'] : []),
      ],
    };
  },
});

import { z } from 'zod';
import { defineTool, type Plan, type PrivilegeNeed, type ToolContext } from '../lib/tool.ts';
import { nodeName } from '../lib/schemas.ts';
import { num } from '../lib/pve/parse.ts';
import type { ClusterResource } from '../lib/pve/types.ts';
import { durationText, fractionPercent, humanBytes, percent, text } from '../lib/cluster/format.ts';
import { clusterNodes, requireNode } from '../lib/cluster/nodes.ts';
import { paginate } from '../lib/cluster/paging.ts';
import { toToolError } from '../lib/errors.ts';

const usage = z.object({ used: z.number(), total: z.number(), percent: z.number().optional(), text: z.string().optional() });

const storageUse = z.object({
  storage: z.string(),
  type: z.string().optional(),
  shared: z.boolean(),
  status: z.string(),
  content: z.string().optional(),
  used: z.number().optional(),
  total: z.number().optional(),
  percent: z.number().optional(),
});

const nodeReport = z.object({
  node: z.string(),
  status: z.string().describe('online, offline, unknown, or unreachable (listed online but its status call failed)'),
  cpu_percent: z.number().optional(),
  cores: z.number().optional().describe('logical CPUs'),
  sockets: z.number().optional(),
  cpu_model: z.string().optional(),
  memory: usage.optional(),
  swap: usage.optional(),
  loadavg: z.array(z.number()).optional().describe('1, 5 and 15 minute load averages'),
  uptime_seconds: z.number().optional(),
  uptime: z.string().optional(),
  kernel: z.string().optional(),
  pve_version: z.string().optional(),
  rootfs: usage.optional(),
  storage: z.array(storageUse).optional().describe('Its storages; in the all-nodes list only up to 4 nodes (ask for one node for the rest)'),
  error: z.string().optional().describe('why the detailed status could not be read'),
});

type NodeReport = z.infer<typeof nodeReport>;
type Usage = z.infer<typeof usage>;

function usageOf(used: unknown, total: unknown): Usage | undefined {
  const u = num(used);
  const t = num(total);
  if (u === undefined || t === undefined) return undefined;
  return { used: u, total: t, percent: percent(u, t), text: `${humanBytes(u)} of ${humanBytes(t)}` };
}

function storageRows(rows: ClusterResource[], node: string): z.infer<typeof storageUse>[] {
  return rows
    .filter((row) => row.type === 'storage' && row.node === node)
    .map((row) => ({
      storage: String(row.storage ?? row.id.split('/').pop()),
      type: text(row.plugintype),
      shared: row.shared === true,
      status: String(row.status ?? 'unknown'),
      content: text(row.content),
      used: num(row.disk),
      total: num(row.maxdisk),
      percent: percent(num(row.disk), num(row.maxdisk)),
    }))
    .sort((a, b) => a.storage.localeCompare(b.storage));
}

/** What /cluster/resources alone tells about a node (all we have when it is offline). */
function fromResources(row: ClusterResource | undefined, node: string, storage: ClusterResource[]): NodeReport {
  const status = String(row?.status ?? 'unknown');
  const report: NodeReport = { node, status, storage: storageRows(storage, node) };
  if (!row) return report;
  if (row.maxcpu !== undefined) report.cores = row.maxcpu;
  if (status === 'online') {
    report.cpu_percent = fractionPercent(row.cpu);
    report.memory = usageOf(row.mem, row.maxmem);
    report.rootfs = usageOf(row.disk, row.maxdisk);
    report.uptime_seconds = row.uptime;
    report.uptime = durationText(row.uptime);
  }
  return report;
}

function merge(report: NodeReport, status: Record<string, unknown>): NodeReport {
  const cpuinfo = (status.cpuinfo ?? {}) as Record<string, unknown>;
  const memory = (status.memory ?? {}) as Record<string, unknown>;
  const swap = (status.swap ?? {}) as Record<string, unknown>;
  const rootfs = (status.rootfs ?? {}) as Record<string, unknown>;
  const kernel = (status['current-kernel'] ?? {}) as Record<string, unknown>;
  const load = Array.isArray(status.loadavg) ? status.loadavg.map((value) => num(value)).filter((value): value is number => value !== undefined) : undefined;
  const uptime = num(status.uptime);
  return {
    ...report,
    cpu_percent: fractionPercent(num(status.cpu)) ?? report.cpu_percent,
    cores: num(cpuinfo.cpus) ?? report.cores,
    sockets: num(cpuinfo.sockets),
    cpu_model: text(cpuinfo.model),
    memory: usageOf(memory.used, memory.total) ?? report.memory,
    swap: usageOf(swap.used, swap.total),
    loadavg: load && load.length ? load : undefined,
    uptime_seconds: uptime ?? report.uptime_seconds,
    uptime: durationText(uptime ?? report.uptime_seconds),
    kernel: text(kernel.release) ?? text(status.kversion),
    pve_version: text(status.pveversion),
    rootfs: usageOf(rootfs.used, rootfs.total) ?? report.rootfs,
  };
}

function findings(report: NodeReport): string[] {
  const out: string[] = [];
  if (report.status !== 'online') out.push(`Node ${report.node} is ${report.status}: its guests and local storage cannot be reached.`);
  if (report.error) out.push(`Node ${report.node}: detailed status unavailable (${report.error}).`);
  if ((report.memory?.percent ?? 0) >= 90) out.push(`Node ${report.node} uses ${report.memory!.percent}% of its memory.`);
  if ((report.rootfs?.percent ?? 0) >= 85) out.push(`Node ${report.node}: root filesystem ${report.rootfs!.percent}% full.`);
  if (report.loadavg && report.cores && report.loadavg[0] > report.cores) out.push(`Node ${report.node}: load ${report.loadavg[0]} is above its ${report.cores} CPUs.`);
  for (const storage of report.storage ?? []) {
    if (storage.shared) continue;
    if ((storage.percent ?? 0) >= 85) out.push(`Storage ${storage.storage} on ${report.node} is ${storage.percent}% full.`);
  }
  return out;
}

async function detailed(ctx: ToolContext, report: NodeReport): Promise<NodeReport> {
  if (report.status !== 'online') return report;
  try {
    const status = await ctx.pve.get<Record<string, unknown>>(`/nodes/${encodeURIComponent(report.node)}/status`, undefined, { signal: ctx.signal });
    return merge(report, status ?? {});
  } catch (error) {
    const failure = toToolError(error);
    if (failure.code === 'timeout' && ctx.signal.aborted) throw failure;
    return { ...report, status: failure.code === 'unavailable' ? 'unreachable' : report.status, error: failure.message };
  }
}

export default defineTool({
  name: 'node_status',
  title: 'Node status',
  description: 'Health of one node or all (CPU, memory, load, uptime, versions, disks), sortable for the top N; an offline node is reported.',
  input: z.object({
    node: nodeName.optional().describe('None: all nodes'),
    sort: z.string().max(100).optional().describe('cpu, mem, disk, load, uptime, node; "-cpu": busiest first'),
    limit: z.coerce.number().int().min(1).max(1000).optional().describe('Top N after sort'),
  }),
  output: z.object({
    nodes: z.array(nodeReport),
    online: z.number(),
    offline: z.array(z.string()),
  }),
  effect: 'read',
  privileges: (input): PrivilegeNeed[] => [{ path: input.node ? `/nodes/${input.node}` : '/nodes', privileges: ['Sys.Audit'] }],
  explain(input): Plan {
    const target = input.node ? `/nodes/${input.node}/status` : '/nodes/{node}/status for each online node, in parallel';
    return {
      summary: input.node ? `Read the status of node ${input.node}` : 'Read the status of every node',
      apiCalls: ['GET /cluster/resources?type=node', 'GET /cluster/resources?type=storage', `GET ${target}`],
      cliEquivalent: input.node ? `pvesh get /nodes/${input.node}/status` : 'pvesh get /cluster/resources --type node',
      privileges: [{ path: input.node ? `/nodes/${input.node}` : '/nodes', privileges: ['Sys.Audit'] }],
      risk: 'none',
      reversible: true,
    };
  },
  async run(input, ctx) {
    if (input.node) await requireNode(ctx, input.node);
    const [nodeRows, storage] = await Promise.all([
      ctx.pve.clusterResources('node', { signal: ctx.signal }),
      ctx.pve.clusterResources('storage', { signal: ctx.signal }).catch(() => [] as ClusterResource[]),
    ]);
    const names = input.node ? [input.node] : (await clusterNodes(ctx)).map((entry) => entry.node);
    const base = names.map((name) => fromResources(nodeRows.find((row) => row.type === 'node' && row.node === name), name, storage));
    const reports = await Promise.all(base.map((report) => detailed(ctx, report)));
    const offline = reports.filter((report) => report.status !== 'online').map((report) => report.node);
    const online = reports.length - offline.length;
    const warnings = reports.flatMap(findings);
    let shown = reports;
    if (!input.node && (input.sort || input.limit)) {
      // Top-N by a measure: the nested figures as flat keys to sort on.
      const flat = reports.map((report, index) => ({
        index,
        node: report.node,
        cpu: report.cpu_percent,
        mem: report.memory?.percent,
        disk: report.rootfs?.percent,
        load: report.loadavg?.[0],
        uptime: report.uptime_seconds,
      }));
      const page = paginate(flat, { limit: input.limit ?? flat.length, sort: input.sort }, { sortable: ['node', 'cpu', 'mem', 'disk', 'load', 'uptime'], tieBreak: ['node'], columns: ['node'], key: ['node'], aliases: { cpu_percent: 'cpu', memory: 'mem', rootfs: 'disk', loadavg: 'load' } });
      const order = page.rows.map((row) => reports[row.index!]!);
      shown = order;
    }
    const one = input.node ? reports[0] : undefined;
    // A large cluster's list stays small: each node's storages only when asked about it, or for a few nodes.
    const brief = !input.node && shown.length > 4;
    return {
      data: { nodes: brief ? shown.map(({ storage: _storage, ...rest }) => rest) : shown, online, offline },
      summary: one
        ? `${one.node}: ${one.status}${one.cpu_percent !== undefined ? `, CPU ${one.cpu_percent}%` : ''}${one.memory?.percent !== undefined ? `, memory ${one.memory.percent}%` : ''}${one.uptime ? `, up ${one.uptime}` : ''}`
        : `${reports.length} node${reports.length === 1 ? '' : 's'}: ${online} online${offline.length ? `, offline: ${offline.join(', ')}` : ''}${shown !== reports ? `; showing ${shown.length}${input.sort ? ` sorted by ${input.sort}` : ''}` : ''}`,
      warnings,
      suggestions: [
        ...(offline.length ? ['get_system_info shows quorum and HA state; guests on an offline node show status unknown.'] : []),
        ...(brief ? ['node_status with node shows that node\'s storages; storage_operations action list shows every storage.'] : []),
      ],
      ...(input.node ? { node: input.node } : {}),
    };
  },
});

import { z } from 'zod';
import { defineTool, type Plan, type ToolContext } from '../lib/tool.ts';
import { ToolError, toToolError } from '../lib/errors.ts';
import { nodeName, timeoutSeconds } from '../lib/schemas.ts';
import { finishTask, taskResultSchema, type TaskOutcome } from '../lib/task-result.ts';
import type { ClusterResource, GuestType } from '../lib/pve/types.ts';
import { requireNode } from '../lib/cluster/nodes.ts';
import { guestPath } from '../lib/guests/kinds.ts';
import { LXC_DISK_KEY, QEMU_DISK_KEY, parseDiskValue } from '../lib/guests/summary.ts';
import { parseProps } from '../lib/guests/props.ts';

const move = z.object({
  vmid: z.number(),
  name: z.string().optional(),
  type: z.enum(['qemu', 'lxc']),
  status: z.string(),
  target: z.string(),
  mode: z.enum(['live', 'restart', 'offline']).describe('live: a running VM keeps running; restart: a running container is stopped, moved and started; offline: a stopped guest'),
  local_disks: z.array(z.string()),
  ha: z.string().optional().describe('HA state: Proxmox hands the move to the HA manager'),
});

type Move = z.output<typeof move>;

const input = z.object({
  node: nodeName,
  target: nodeName.optional().describe('Default: most free memory'),
  include_stopped: z.boolean().default(true).describe('And templates'),
  wait: z.boolean().default(true).describe('false: return the UPIDs at once'),
  timeout: timeoutSeconds.default(900).describe('Per migration'),
});

type Input = z.output<typeof input>;

function localDisks(type: GuestType, config: Record<string, unknown>, shared: Set<string>): string[] {
  const pattern = type === 'qemu' ? QEMU_DISK_KEY : LXC_DISK_KEY;
  const out: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!pattern.test(key) && !/^unused\d+$/.test(key)) continue;
    if (parseProps(String(value)).media === 'cdrom') continue;
    const disk = parseDiskValue(key, String(value));
    if (disk.storage && !shared.has(disk.storage)) out.push(key);
  }
  return out;
}

/**
 * The evacuation, worked out before anyone is asked: every guest on the node with where it goes and
 * how (live, restart, offline), refused when it cannot work (no other online node, a locked guest).
 */
async function planMoves(args: Input, ctx: ToolContext): Promise<{ moves: Move[]; skipped: string[] }> {
  await requireNode(ctx, args.node);
  const [resources, storages] = await Promise.all([ctx.pve.clusterResources(undefined, { signal: ctx.signal }), ctx.pve.clusterResources('storage', { signal: ctx.signal })]);
  const nodes = resources.filter((row) => row.type === 'node');
  const online = nodes.filter((row) => row.status === 'online' && row.node !== args.node);
  if (args.target) {
    if (args.target === args.node) throw new ToolError('invalid_input', `target is the node being emptied (${args.node}); pick another node or leave target out.`);
    const found = nodes.find((row) => row.node === args.target);
    if (!found) throw new ToolError('not_found', `There is no node ${args.target}. Nodes: ${nodes.map((row) => String(row.node)).sort().join(', ')}.`);
    if (found.status !== 'online') throw new ToolError('unavailable', `Target node ${args.target} is ${String(found.status)}; guests cannot go there.`);
  } else if (online.length === 0) {
    throw new ToolError('unavailable', `No other node of the cluster is online, so nothing can leave ${args.node}.`);
  }
  const shared = new Set(storages.filter((row) => row.type === 'storage' && row.shared === true).map((row) => String(row.storage)));
  const guests = resources
    .filter((row): row is ClusterResource & { vmid: number } => (row.type === 'qemu' || row.type === 'lxc') && row.node === args.node && typeof row.vmid === 'number')
    .sort((a, b) => a.vmid - b.vmid);
  // Free memory per candidate node, spent as guests are placed.
  const free = new Map(online.map((row) => [String(row.node), Number(row.maxmem ?? 0) - Number(row.mem ?? 0)]));
  const moves: Move[] = [];
  const skipped: string[] = [];
  const locked: string[] = [];
  for (const guest of guests) {
    const running = guest.status === 'running';
    if (!running && !args.include_stopped) {
      skipped.push(`${guest.type === 'lxc' ? 'CT' : 'VM'} ${guest.vmid} (${String(guest.status)})`);
      continue;
    }
    const type = guest.type as GuestType;
    const config = await ctx.pve.get<Record<string, unknown>>(guestPath(args.node, type, guest.vmid, '/config'), undefined, { signal: ctx.signal });
    if (typeof config.lock === 'string' && config.lock) locked.push(`${guest.vmid} (${config.lock})`);
    const need = Number(guest.maxmem ?? 0);
    const target = args.target ?? [...free.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    free.set(target, (free.get(target) ?? 0) - need);
    moves.push({
      vmid: guest.vmid,
      name: typeof guest.name === 'string' && guest.name ? guest.name : undefined,
      type,
      status: String(guest.status ?? 'unknown'),
      target,
      mode: running ? (type === 'qemu' ? 'live' : 'restart') : 'offline',
      local_disks: localDisks(type, config, shared),
      ...(typeof guest.hastate === 'string' && guest.hastate ? { ha: guest.hastate } : {}),
    });
  }
  if (locked.length) {
    throw new ToolError('conflict', `Guests on ${args.node} are locked by another operation: ${locked.join(', ')}. Wait for those tasks (task_status action list) or unlock them, then evacuate.`, { details: { locked } });
  }
  if (moves.length === 0) throw new ToolError('invalid_input', `Nothing to move: ${args.node} has no ${args.include_stopped ? '' : 'running '}guests.`);
  return { moves, skipped };
}

function describeMove(m: Move): string {
  const how = m.mode === 'live' ? 'live' : m.mode === 'restart' ? 'restart (downtime)' : 'offline';
  return `${m.type === 'lxc' ? 'CT' : 'VM'} ${m.vmid}${m.name ? ` ${m.name}` : ''} -> ${m.target} (${how}${m.local_disks.length ? `, copies local ${m.local_disks.join(' ')}` : ''}${m.ha ? ', through HA' : ''})`;
}

export default defineTool({
  name: 'node_evacuate',
  title: 'Evacuate a node for maintenance',
  description: 'Empty a node for maintenance in one plan and approval: VMs live, containers restarted, HA guests through HA, each to the freest node or to target.',
  input,
  output: z.object({
    node: z.string(),
    moves: z.array(move),
    results: z.array(z.object({ vmid: z.number(), ok: z.boolean(), task: taskResultSchema.optional(), error: z.string().optional() })),
    skipped: z.array(z.string()),
  }),
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (args) => [{ path: '/vms', privileges: ['VM.Migrate'] }, ...(args.target ? [{ path: `/nodes/${args.target}`, privileges: ['Sys.Audit'] }] : [])],
  async explain(args, ctx): Promise<Plan> {
    const { moves, skipped } = await planMoves(args, ctx);
    const downtime = moves.filter((m) => m.mode === 'restart');
    return {
      summary: `Evacuate ${args.node}: move ${moves.length} guest${moves.length === 1 ? '' : 's'}: ${moves.map(describeMove).join('; ')}`,
      apiCalls: moves.map((m) => `POST /nodes/${args.node}/${m.type}/${m.vmid}/migrate (target ${m.target}${m.mode === 'live' ? ', online' : m.mode === 'restart' ? ', restart' : ''})`),
      cliEquivalent: moves.map((m) => `${m.type === 'qemu' ? 'qm' : 'pct'} migrate ${m.vmid} ${m.target}${m.mode === 'live' ? ` --online${m.local_disks.length ? ' --with-local-disks' : ''}` : m.mode === 'restart' ? ' --restart' : ''}`).join(' && '),
      risk: downtime.length ? 'medium' : 'low',
      reversible: true,
      undo: `Migrate the guests back to ${args.node} after the maintenance.`,
      warnings: [
        ...(downtime.length ? [`Containers cannot live-migrate: ${downtime.map((m) => m.vmid).join(', ')} are stopped, moved and started again (short downtime each).`] : []),
        ...(moves.some((m) => m.local_disks.length) ? ['Local disks are copied over the network: this takes time and needs room on the target.'] : []),
        ...(moves.some((m) => m.ha) ? ['HA-managed guests are moved by the HA manager; put the node in maintenance mode (ha-manager crm-command node-maintenance enable <node>) so HA does not move them back.'] : []),
        ...(skipped.length ? [`Left on ${args.node} (stopped): ${skipped.join(', ')}.`] : []),
      ],
    };
  },
  async run(args, ctx) {
    const { moves, skipped } = await planMoves(args, ctx);
    const results: { vmid: number; ok: boolean; task?: TaskOutcome; error?: string }[] = [];
    const upids: string[] = [];
    let done = 0;
    // One at a time: migrations share the network and the target's disks.
    for (const m of moves) {
      ctx.progress({ progress: done, total: moves.length, message: describeMove(m) });
      try {
        const params: Record<string, string | number | boolean> = { target: m.target };
        if (m.mode === 'live') params.online = true;
        if (m.mode === 'live' && m.local_disks.length) params['with-local-disks'] = true;
        if (m.mode === 'restart') params.restart = true;
        const upid = await ctx.pve.post<string>(guestPath(args.node, m.type, m.vmid, '/migrate'), params, { signal: ctx.signal });
        upids.push(upid);
        const task = await finishTask(ctx, upid, { wait: args.wait, timeoutSeconds: args.timeout, what: `migration of ${m.vmid} to ${m.target}` });
        results.push({ vmid: m.vmid, ok: task.ok !== false, task });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        results.push({ vmid: m.vmid, ok: false, error: toToolError(error).message });
      }
      done++;
    }
    ctx.pve.invalidate();
    const failed = results.filter((result) => !result.ok);
    return {
      data: { node: args.node, moves, results, skipped },
      summary: args.wait
        ? `${args.node}: moved ${moves.length - failed.length} of ${moves.length} guests${failed.length ? `; failed: ${failed.map((f) => f.vmid).join(', ')}` : ''}`
        : `${args.node}: ${upids.length} migrations started`,
      warnings: failed.map((f) => `Guest ${f.vmid} did not move: ${f.error ?? f.task?.exitstatus ?? 'failed'}`),
      suggestions: failed.length ? ['Fix what stopped them (task_status action log), then call node_evacuate again: guests already moved are not on the node any more.'] : [`${args.node} holds no guests${skipped.length ? ' except the stopped ones left' : ''}: ready for maintenance.`],
      upids,
      node: args.node,
    };
  },
});

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
import { comesBack, haRoutesFor, type HaRoute } from '../lib/ha/evacuate.ts';

const move = z.object({
  vmid: z.number(),
  name: z.string().optional(),
  type: z.enum(['qemu', 'lxc']),
  status: z.string(),
  target: z.string(),
  mode: z.enum(['live', 'restart', 'offline']).describe('live: a running VM keeps running; restart: a running container is stopped, moved and started; offline: a stopped guest'),
  local_disks: z.array(z.string()),
  ha: z.string().optional().describe('HA state: Proxmox hands the move to the HA manager'),
  route: z.enum(['migrate', 'ha']).describe('migrate: the guest\'s own migration; ha: POST /cluster/ha/resources/{sid}/migrate, the HA manager moves it'),
  sid: z.string().optional(),
  comes_back: z.boolean().optional().describe('HA would move it back here at once (its group/rule prefers this node, failback on) unless the node is in HA maintenance mode'),
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
async function planMoves(args: Input, ctx: ToolContext): Promise<{ moves: Move[]; skipped: string[]; haNotes: string[] }> {
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
  // HA-managed guests move through HA, to a node their group/rule allows (lib/ha/evacuate.ts); when HA's
  // config cannot be read, the guests' hastate still routes them through HA, without placement.
  const haRoutes = await haRoutesFor(ctx.pve, guests.map((g) => g.vmid), ctx.signal).catch(() => new Map<number, HaRoute>());
  for (const guest of guests) {
    if (!haRoutes.has(guest.vmid) && typeof guest.hastate === 'string' && guest.hastate && guest.hastate !== 'ignored') {
      haRoutes.set(guest.vmid, { sid: `${guest.type === 'qemu' ? 'vm' : 'ct'}:${guest.vmid}`, request_state: guest.hastate, route: 'ha', priorities: new Map(), placement: [], failback: false });
    }
  }
  const moves: Move[] = [];
  const skipped: string[] = [];
  const haNotes: string[] = [];
  const locked: string[] = [];
  for (const guest of guests) {
    const running = guest.status === 'running';
    const label = `${guest.type === 'lxc' ? 'CT' : 'VM'} ${guest.vmid}`;
    if (!running && !args.include_stopped) {
      skipped.push(`${label} (${String(guest.status)})`);
      continue;
    }
    const ha = haRoutes.get(guest.vmid);
    if (ha?.route === 'blocked') {
      skipped.push(`${label} (${ha.why})`);
      continue;
    }
    const allowed = ha?.allowed?.filter((n) => free.has(n));
    if (ha?.allowed && args.target && !ha.allowed.includes(args.target)) {
      skipped.push(`${label} (${ha.sid}: HA ${ha.placement.join(', ')} allows only ${ha.allowed.join(', ')}, not ${args.target})`);
      continue;
    }
    if (allowed && !allowed.length) {
      skipped.push(`${label} (${ha!.sid}: HA ${ha!.placement.join(', ')} allows only ${ha!.allowed!.join(', ')}, none of them online besides ${args.node})`);
      continue;
    }
    const type = guest.type as GuestType;
    const config = await ctx.pve.get<Record<string, unknown>>(guestPath(args.node, type, guest.vmid, '/config'), undefined, { signal: ctx.signal });
    if (typeof config.lock === 'string' && config.lock) locked.push(`${guest.vmid} (${config.lock})`);
    const need = Number(guest.maxmem ?? 0);
    // HA guests: the node their placement ranks highest, then the freest (HA would move them there anyway)
    const rank = (name: string) => (ha?.route === 'ha' ? ha.priorities.get(name) ?? -1 : 0);
    const target = args.target ?? [...free.entries()].filter(([name]) => !allowed || allowed.includes(name)).sort((a, b) => rank(b[0]) - rank(a[0]) || b[1] - a[1])[0]![0];
    free.set(target, (free.get(target) ?? 0) - need);
    const back = ha?.route === 'ha' && comesBack(ha, args.node, target);
    if (ha?.route === 'ha') {
      haNotes.push(`${label} (${ha.sid}, requested ${ha.request_state}) moves through HA to ${target}${ha.placement.length ? ` (placed by ${ha.placement.join(', ')}${ha.allowed ? `, only ${ha.allowed.join(', ')}` : ''})` : ''}${back ? `; HA would bring it back to ${args.node} at once (failback, ${args.node} ranks highest) unless ${args.node} is in HA maintenance mode` : ''}.`);
    } else if (ha) haNotes.push(`${label} (${ha.sid}): ${ha.why}.`);
    moves.push({
      vmid: guest.vmid,
      name: typeof guest.name === 'string' && guest.name ? guest.name : undefined,
      type,
      status: String(guest.status ?? 'unknown'),
      target,
      mode: running ? (type === 'qemu' ? 'live' : 'restart') : 'offline',
      local_disks: localDisks(type, config, shared),
      ...(typeof guest.hastate === 'string' && guest.hastate ? { ha: guest.hastate } : {}),
      route: ha?.route === 'ha' ? 'ha' : 'migrate',
      ...(ha ? { sid: ha.sid } : {}),
      ...(back ? { comes_back: true } : {}),
    });
  }
  if (locked.length) {
    throw new ToolError('conflict', `Guests on ${args.node} are locked by another operation: ${locked.join(', ')}. Wait for those tasks (task_status action list) or unlock them, then evacuate.`, { details: { locked } });
  }
  if (moves.length === 0) throw new ToolError('invalid_input', `Nothing to move: ${args.node} has no ${args.include_stopped ? '' : 'running '}guests${skipped.length ? ` that can leave (${skipped.join('; ')})` : ''}.`);
  return { moves, skipped, haNotes };
}

/** Poll the cluster's guest list until `vmid` is on `node` (HA moves have no task of ours to wait for). */
async function arrivedOn(ctx: ToolContext, vmid: number, node: string, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout * 1000;
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    ctx.pve.invalidate();
    const row = (await ctx.pve.clusterResources('vm', { signal: ctx.signal })).find((r) => r.vmid === vmid);
    if (row?.node === node) return true;
    if (Date.now() + delay > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (ctx.signal.aborted) return false;
  }
}

function describeMove(m: Move): string {
  const how = m.mode === 'live' ? 'live' : m.mode === 'restart' ? 'restart (downtime)' : 'offline';
  return `${m.type === 'lxc' ? 'CT' : 'VM'} ${m.vmid}${m.name ? ` ${m.name}` : ''} -> ${m.target} (${how}${m.local_disks.length ? `, copies local ${m.local_disks.join(' ')}` : ''}${m.route === 'ha' ? `, through HA as ${m.sid}` : ''})`;
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
    const { moves, skipped, haNotes } = await planMoves(args, ctx);
    const downtime = moves.filter((m) => m.mode === 'restart');
    const viaHa = moves.filter((m) => m.route === 'ha');
    return {
      summary: `Evacuate ${args.node}: move ${moves.length} guest${moves.length === 1 ? '' : 's'}: ${moves.map(describeMove).join('; ')}`,
      apiCalls: moves.map((m) => (m.route === 'ha' ? `POST /cluster/ha/resources/${m.sid}/migrate (node ${m.target})` : `POST /nodes/${args.node}/${m.type}/${m.vmid}/migrate (target ${m.target}${m.mode === 'live' ? ', online' : m.mode === 'restart' ? ', restart' : ''})`)),
      cliEquivalent: moves.map((m) => (m.route === 'ha' ? `ha-manager migrate ${m.sid} ${m.target}` : `${m.type === 'qemu' ? 'qm' : 'pct'} migrate ${m.vmid} ${m.target}${m.mode === 'live' ? ` --online${m.local_disks.length ? ' --with-local-disks' : ''}` : m.mode === 'restart' ? ' --restart' : ''}`)).join(' && '),
      risk: downtime.length ? 'medium' : 'low',
      reversible: true,
      undo: `Migrate the guests back to ${args.node} after the maintenance.`,
      warnings: [
        ...(downtime.length ? [`Containers cannot live-migrate: ${downtime.map((m) => m.vmid).join(', ')} are stopped, moved and started again (short downtime each).`] : []),
        ...(moves.some((m) => m.local_disks.length) ? ['Local disks are copied over the network: this takes time and needs room on the target.'] : []),
        ...haNotes,
        ...(viaHa.length
          ? [`HA and maintenance: the HA manager moves ${viaHa.map((m) => m.sid).join(', ')} (POST /cluster/ha/resources/{sid}/migrate); the others migrate normally. The API has no call for HA node maintenance: on the host, ha-manager crm-command node-maintenance enable ${args.node} keeps HA from placing guests on ${args.node} (and from moving them back) until ...disable ${args.node}, when HA returns them.`]
          : []),
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
        if (m.route === 'ha') {
          // The HA manager queues the move (no task of ours): done when the guest is on the target.
          await ctx.pve.post<unknown>(`/cluster/ha/resources/${m.sid}/migrate`, { node: m.target }, { signal: ctx.signal });
          const arrived = args.wait ? await arrivedOn(ctx, m.vmid, m.target, args.timeout) : true;
          results.push(arrived ? { vmid: m.vmid, ok: true } : { vmid: m.vmid, ok: false, error: `HA was asked to move ${m.sid} to ${m.target}, and it is not there after ${args.timeout}s (ha_status shows why)` });
          done++;
          continue;
        }
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

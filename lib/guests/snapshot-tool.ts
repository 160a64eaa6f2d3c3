/**
 * Guest snapshots, shared by guest_snapshot_list (reads) and guest_snapshot (create, rollback, delete).
 */
import { z } from 'zod';
import { defineTool, type Effect, type Plan, type PrivilegeNeed, type ToolContext } from '../tool.ts';
import { ToolError } from '../errors.ts';
import { snapshotName, timeoutSeconds, vmid as vmidSchema, waitForTask } from '../schemas.ts';
import { finishTask, taskResultSchema } from '../task-result.ts';
import { num } from '../pve/parse.ts';
import type { GuestLocation } from '../pve/types.ts';
import { ageSeconds, durationText, flag, isoFromEpoch, text } from '../cluster/format.ts';
import { guestBase, guestCli, guestLabel, locateForPlan } from '../cluster/guests.ts';

export const actions = ['list', 'create', 'rollback', 'delete'] as const;
type Action = (typeof actions)[number];

const effectByAction: Record<Action, Effect> = { list: 'read', create: 'write', rollback: 'destructive', delete: 'destructive' };

export const snapshotInfo = z.object({
  name: z.string(),
  description: z.string().optional(),
  created: z.string().optional(),
  age_seconds: z.number().optional(),
  age: z.string().optional(),
  parent: z.string().optional(),
  vmstate: z.boolean().describe('includes the RAM state (a VM snapshot taken running with vmstate)'),
  current_parent: z.boolean().describe('the guest\'s current state descends directly from this snapshot'),
});

type SnapshotInfo = z.infer<typeof snapshotInfo>;

async function listSnapshots(ctx: ToolContext, guest: GuestLocation): Promise<{ snapshots: SnapshotInfo[]; running: boolean }> {
  const rows = await ctx.pve.get<Record<string, unknown>[]>(`${guestBase(guest)}/snapshot`, undefined, { signal: ctx.signal });
  const list = Array.isArray(rows) ? rows : [];
  const current = list.find((row) => row.name === 'current');
  const currentParent = text(current?.parent);
  const snapshots = list
    .filter((row) => row.name !== 'current')
    .map((row) => {
      const snaptime = num(row.snaptime);
      const age = ageSeconds(snaptime);
      return {
        name: String(row.name),
        description: text(row.description)?.trim() || undefined,
        created: isoFromEpoch(snaptime),
        age_seconds: age,
        age: durationText(age),
        parent: text(row.parent),
        vmstate: flag(row.vmstate) === true,
        current_parent: currentParent !== undefined && row.name === currentParent,
      };
    })
    .sort((a, b) => (a.created ?? '').localeCompare(b.created ?? ''));
  return { snapshots, running: flag(current?.running) === true || guest.status === 'running' };
}

/** From the endpoint contract: VM.Audit to list, VM.Snapshot to take/delete, either snapshot privilege to roll back. */
function needs(action: Action, vmid: number): PrivilegeNeed[] {
  const path = `/vms/${vmid}`;
  if (action === 'list') return [{ path, privileges: ['VM.Audit'] }];
  if (action === 'rollback') return [{ path, privileges: ['VM.Snapshot', 'VM.Snapshot.Rollback'], any: true }];
  return [{ path, privileges: ['VM.Snapshot'] }];
}

function needSnapname(snapname: string | undefined, action: string): string {
  if (!snapname) throw new ToolError('invalid_input', `Action ${action} needs snapname (guest_snapshot_list shows the guest's snapshots).`);
  return snapname;
}

function requireSnapshot(snapshots: SnapshotInfo[], name: string, guest: GuestLocation): SnapshotInfo {
  const found = snapshots.find((snapshot) => snapshot.name === name);
  if (!found) {
    throw new ToolError('not_found', `${guestLabel(guest)} has no snapshot '${name}'. ${snapshots.length ? `Its snapshots: ${snapshots.map((s) => s.name).join(', ')}.` : 'It has no snapshots.'}`, {
      details: { vmid: guest.vmid, snapshots: snapshots.map((s) => s.name) },
    });
  }
  return found;
}

/** Both snapshot tools in one: guest_snapshot_list serves list, guest_snapshot the changes. */
/**
 * What the server can check before a human is asked: the guest exists and is not locked, a new
 * snapshot's name is free (and RAM only for VMs), a snapshot to roll back or delete exists.
 */
async function checkBeforeAsking(input: { action: Action; vmid: number; snapname?: string; vmstate?: boolean }, ctx: ToolContext): Promise<void> {
  const guest = await ctx.pve.locateGuest(input.vmid, { signal: ctx.signal });
  const label = guestLabel(guest);
  const name = needSnapname(input.snapname, input.action);
  const config = await ctx.pve.get<Record<string, unknown>>(`${guestBase(guest)}/config`, undefined, { signal: ctx.signal }).catch(() => undefined);
  const lock = typeof config?.lock === 'string' ? config.lock : undefined;
  if (lock) {
    throw new ToolError('conflict', `${label} is locked (${lock}): another operation runs or was interrupted. Wait for it (task_status action list), or unlock it on the node (\`${guestCli(guest.type)} unlock ${guest.vmid}\`) if nothing runs.`, {
      details: { vmid: guest.vmid, lock },
    });
  }
  const { snapshots } = await listSnapshots(ctx, guest);
  if (input.action === 'create') {
    if (input.vmstate && guest.type === 'lxc') throw new ToolError('invalid_input', `vmstate is for VMs only; ${label} is a container, whose snapshots never include RAM.`);
    if (snapshots.some((snapshot) => snapshot.name === name)) {
      throw new ToolError('conflict', `${label} already has a snapshot named '${name}'. Pick another name, or delete the old one first.`, { details: { vmid: guest.vmid, snapshot: name } });
    }
  } else {
    requireSnapshot(snapshots, name, guest);
  }
}

export const snapshotTool = defineTool({
  name: 'guest_snapshot',
  title: 'Snapshots of a VM or container',
  description: 'Snapshots of a VM or container: list, create (vmstate keeps RAM), rollback (destructive: loses what changed since) and delete. Waits for the task.',
  input: z.object({
    action: z.enum(actions).describe('list | create | rollback | delete'),
    vmid: vmidSchema,
    snapname: snapshotName.optional().describe('e.g. before_upgrade'),
    description: z.string().max(8192).optional().describe('create'),
    vmstate: z.boolean().optional().describe('create, VMs: keep RAM'),
    start: z.boolean().optional().describe('rollback: start after'),
    force: z.boolean().optional().describe('delete: even if disk snapshots fail'),
    wait: waitForTask,
    timeout: timeoutSeconds,
  }),
  output: z.object({
    action: z.enum(actions),
    vmid: z.number(),
    node: z.string(),
    type: z.enum(['qemu', 'lxc']),
    snapshots: z.array(snapshotInfo).optional(),
    snapshot: z.string().optional(),
    task: taskResultSchema.optional(),
  }),
  effect: 'destructive',
  effectOf: (input) => effectByAction[input.action],
  idempotent: false,
  changeRoles: ['admin', 'operator'],
  privileges: (input, ctx) => {
    return needs(input.action, input.vmid);
  },
  async explain(input, ctx): Promise<Plan> {
    if (input.action !== 'list') await checkBeforeAsking(input, ctx);
    const guest = await locateForPlan(ctx, input.vmid);
    const base = guest ? guestBase(guest) : `/nodes/{node}/{qemu|lxc}/${input.vmid}`;
    const label = guest ? guestLabel(guest) : `guest ${input.vmid}`;
    const cli = guest ? guestCli(guest.type) : 'qm';
    const name = input.snapname ?? '<snapname>';
    const privileges = needs(input.action, input.vmid);
    switch (input.action) {
      case 'list':
        return { summary: `List the snapshots of ${label}`, apiCalls: [`GET ${base}/snapshot`], cliEquivalent: `${cli} listsnapshot ${input.vmid}`, privileges, risk: 'none', reversible: true };
      case 'create':
        return {
          summary: `Take snapshot '${name}' of ${label}${input.vmstate ? ' including RAM' : ''}`,
          apiCalls: [`GET ${base}/snapshot`, `POST ${base}/snapshot`],
          cliEquivalent: `${cli} snapshot ${input.vmid} ${name}${input.vmstate ? ' --vmstate 1' : ''}${input.description ? ' --description "…"' : ''}`,
          privileges,
          risk: 'low',
          reversible: true,
          undo: `guest_snapshot action delete vmid ${input.vmid} snapname ${name}`,
          warnings: ['A snapshot is not a backup: it lives on the same storage as the disks. Long-lived snapshots grow and slow writes on some storages.'],
        };
      case 'rollback':
        return {
          summary: `Roll ${label} back to snapshot '${name}'${input.start ? ' and start it' : ''}`,
          apiCalls: [`GET ${base}/snapshot`, `POST ${base}/snapshot/${name}/rollback`],
          ...(guest ? { requests: [{ method: 'POST' as const, path: `${base}/snapshot/${encodeURIComponent(name)}/rollback`, params: input.start !== undefined ? { start: input.start } : undefined }] } : {}),
          cliEquivalent: `${cli} rollback ${input.vmid} ${name}${input.start ? ' --start 1' : ''}`,
          privileges,
          risk: 'high',
          reversible: false,
          warnings: [
            `Everything that changed in ${label} since '${name}' (disks and config) is lost. Take a snapshot of the current state first if it may be needed.`,
            'A running guest is stopped for the rollback (unless the snapshot includes RAM).',
          ],
        };
      case 'delete':
        return {
          summary: `Delete snapshot '${name}' of ${label}`,
          apiCalls: [`GET ${base}/snapshot`, `DELETE ${base}/snapshot/${name}`],
          ...(guest ? { requests: [{ method: 'DELETE' as const, path: `${base}/snapshot/${encodeURIComponent(name)}`, params: input.force ? { force: true } : undefined }] } : {}),
          cliEquivalent: `${cli} delsnapshot ${input.vmid} ${name}${input.force ? ' --force' : ''}`,
          privileges,
          risk: 'medium',
          reversible: false,
          warnings: [`The snapshot '${name}' cannot be rolled back to afterwards; the guest's current state is not changed.`],
        };
    }
  },
  async run(input, ctx) {
    const guest = await ctx.pve.locateGuest(input.vmid, { signal: ctx.signal });
    const base = guestBase(guest);
    const label = guestLabel(guest);
    const common = { action: input.action, vmid: guest.vmid, node: guest.node, type: guest.type };
    const target = { node: guest.node, vmid: guest.vmid };
    const { snapshots, running } = await listSnapshots(ctx, guest);

    if (input.action === 'list') {
      const stale = snapshots.filter((snapshot) => (snapshot.age_seconds ?? 0) > 30 * 86400);
      return {
        data: { ...common, snapshots },
        summary: `${label}: ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'}${snapshots.length ? ` (newest: ${snapshots.at(-1)!.name}, ${snapshots.at(-1)!.age} old)` : ''}`,
        warnings: stale.length ? [`${stale.length} snapshot${stale.length === 1 ? ' is' : 's are'} older than 30 days (${stale.map((s) => s.name).join(', ')}); old snapshots cost space and write speed.`] : [],
        ...target,
      };
    }

    const name = needSnapname(input.snapname, input.action);
    if (input.action === 'create') {
      if (input.vmstate && guest.type === 'lxc') throw new ToolError('invalid_input', `vmstate is for VMs only; ${label} is a container, whose snapshots never include RAM.`);
      if (snapshots.some((snapshot) => snapshot.name === name)) {
        throw new ToolError('conflict', `${label} already has a snapshot named '${name}'. Pick another name, or delete the old one first.`, { details: { vmid: guest.vmid, snapshot: name } });
      }
      const upid = await ctx.pve.post<string>(`${base}/snapshot`, {
        snapname: name,
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.vmstate !== undefined && guest.type === 'qemu' ? { vmstate: input.vmstate } : {}),
      }, { signal: ctx.signal });
      const task = await finishTask(ctx, upid, { wait: input.wait, timeoutSeconds: input.timeout, what: `snapshot ${name} of ${label}` });
      return {
        data: { ...common, snapshot: name, task },
        summary: input.wait ? `Snapshot '${name}' of ${label} taken` : `Snapshot '${name}' of ${label} started (${upid})`,
        warnings: input.vmstate && !running ? [`${label} is not running, so the snapshot holds no RAM state.`] : [],
        suggestions: [`Roll back with guest_snapshot action rollback snapname ${name}; remove it when no longer needed.`],
        upids: [upid],
        ...target,
      };
    }

    const snapshot = requireSnapshot(snapshots, name, guest);
    if (input.action === 'rollback') {
      const newer = snapshots.filter((s) => (s.created ?? '') > (snapshot.created ?? ''));
      const upid = await ctx.pve.post<string>(`${base}/snapshot/${encodeURIComponent(name)}/rollback`, input.start !== undefined ? { start: input.start } : undefined, { signal: ctx.signal });
      const task = await finishTask(ctx, upid, { wait: input.wait, timeoutSeconds: input.timeout, what: `rollback of ${label} to ${name}` });
      return {
        data: { ...common, snapshot: name, task },
        summary: input.wait ? `${label} rolled back to '${name}'` : `Rollback of ${label} to '${name}' started (${upid})`,
        warnings: [
          `Changes made to ${label} after '${name}' are gone.`,
          ...(running && !snapshot.vmstate && !input.start ? [`${label} was running; after the rollback it is stopped. Start it with start: true next time, or with the power tools.`] : []),
          ...(newer.length ? [`Newer snapshots (${newer.map((s) => s.name).join(', ')}) remain; on ZFS and some other storages a rollback past them is refused by Proxmox.`] : []),
        ],
        upids: [upid],
        ...target,
      };
    }

    const upid = await ctx.pve.delete<string>(`${base}/snapshot/${encodeURIComponent(name)}`, input.force ? { force: true } : undefined, { signal: ctx.signal });
    const task = await finishTask(ctx, upid, { wait: input.wait, timeoutSeconds: input.timeout, what: `deleting snapshot ${name} of ${label}` });
    return {
      data: { ...common, snapshot: name, task },
      summary: input.wait ? `Snapshot '${name}' of ${label} deleted` : `Deleting snapshot '${name}' of ${label} (${upid})`,
      warnings: snapshot.current_parent ? [`'${name}' was the snapshot the current state descended from; its parent takes its place.`] : [],
      upids: [upid],
      ...target,
    };
  },
});

/**
 * vm_action and container_action: power actions, clone, migrate and delete for one guest, shared by both
 * kinds. Every change waits for its Proxmox task by default and reports the guest's final state.
 *
 * Choices (documented in the tool descriptions):
 * - A power action that finds the guest already where it was asked to go (start a running guest, stop
 *   or shut down a stopped one, suspend a paused VM, resume a running one) is not an error: nothing is
 *   sent and the answer says "already running". The desired state holds, and agents retry.
 * - An action the current state makes impossible (reboot, reset or suspend a stopped guest; delete a
 *   running one) is a `conflict` with the next step, before anything is sent.
 */
import { z } from 'zod';
import { guestLabel } from '../cluster/guests.ts';
import { ToolError } from '../errors.ts';
import { bool, num } from '../pve/parse.ts';
import { parseUpid } from '../pve/upid.ts';
import { nodeName, snapshotName, storageId, timeoutSeconds, vmid, waitForTask } from '../schemas.ts';
import { finishTask, taskResultSchema, type TaskOutcome } from '../task-result.ts';
import type { Effect, Plan, PrivilegeNeed, ToolContext, ToolOutcome } from '../tool.ts';
import type { PveClient, PveParams } from '../pve/types.ts';
import { backupAgeWarning, findLastBackup } from './backups.ts';
import { guestPath, isMissingConfig, locate, wrongNodeError, type GuestKind, type Located } from './kinds.ts';
import { QEMU_DISK_KEY, LXC_DISK_KEY, parseDiskValue, type GuestConfig } from './summary.ts';
import { parseProps } from './props.ts';

export const POWER_ACTIONS = ['start', 'stop', 'shutdown', 'reboot', 'reset', 'suspend', 'resume'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];
export type GuestAction = PowerAction | 'clone' | 'migrate' | 'delete';

const dnsName = (what: string, example: string) =>
  z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, `${what} must be a DNS name such as ${example}`).max(63);

function commonShape(actions: readonly [GuestAction, ...GuestAction[]]) {
  return {
    vmid,
    action: z.enum(actions).describe(`What to do: ${actions.join(', ')}`),
    node: nodeName.optional(),
    wait: waitForTask,
    timeout: timeoutSeconds,
    force_stop: z.boolean().optional().describe('shutdown: stop it after timeout'),
    newid: z.coerce.number().int().min(100).max(999_999_999).optional().describe('clone: new id (default next free)'),
    target: nodeName.optional().describe('clone/migrate: target node'),
    full: z.boolean().optional().describe('clone: false = linked (templates default)'),
    storage: storageId.optional().describe('clone: for full clones'),
    snapname: snapshotName.optional().describe('clone: from this snapshot'),
    pool: z.string().min(1).max(64).optional().describe('clone'),
    purge: z.boolean().default(true).describe('delete: also from backup jobs, replication, HA'),
    destroy_unreferenced_disks: z.boolean().default(true).describe('delete'),
  };
}

function checkAction(value: { action: string; target?: string; storage?: string; full?: boolean; newid?: number; vmid: number }, ctx: z.RefinementCtx): void {
  if (value.action === 'migrate' && !value.target) ctx.addIssue({ code: 'custom', path: ['target'], message: 'migrate needs target: the node to move to, e.g. pve2' });
  if (value.action === 'clone' && value.storage && value.full === false) ctx.addIssue({ code: 'custom', path: ['storage'], message: 'storage only applies to full clones; drop it or set full: true' });
  if (value.action === 'clone' && value.newid === value.vmid) ctx.addIssue({ code: 'custom', path: ['newid'], message: 'newid must differ from vmid' });
}

export const vmActionInput = z
  .object({
    ...commonShape([...POWER_ACTIONS, 'clone', 'migrate', 'delete']),
    todisk: z.boolean().optional().describe('suspend: hibernate'),
    name: dnsName('name', 'web02').optional().describe('clone'),
    online: z.boolean().optional().describe('migrate: live (default when running)'),
    with_local_disks: z.boolean().optional().describe('migrate'),
  })
  .superRefine(checkAction);

export const ctActionInput = z
  .object({
    ...commonShape(['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume', 'clone', 'migrate', 'delete']),
    hostname: dnsName('hostname', 'dns02').optional().describe('clone'),
    restart: z.boolean().optional().describe('migrate a running one: stop, move, start'),
  })
  .superRefine(checkAction);

/** What both tools' inputs have in common, every kind-specific field optional. */
export interface ActionInput {
  vmid: number;
  action: GuestAction;
  node?: string;
  wait: boolean;
  timeout: number;
  force_stop?: boolean;
  todisk?: boolean;
  newid?: number;
  name?: string;
  hostname?: string;
  target?: string;
  full?: boolean;
  storage?: string;
  snapname?: string;
  pool?: string;
  online?: boolean;
  with_local_disks?: boolean;
  restart?: boolean;
  purge: boolean;
  destroy_unreferenced_disks: boolean;
}

export const actionOutput = z.object({
  vmid: z.number(),
  type: z.enum(['qemu', 'lxc']),
  action: z.string(),
  node: z.string().describe('Where the guest was when the action ran'),
  result: z.enum(['done', 'unchanged', 'started']).describe('done: finished; unchanged: it already was in that state, nothing sent; started: wait=false, task still running'),
  message: z.string(),
  task: taskResultSchema.optional(),
  final: z
    .object({ vmid: z.number(), node: z.string(), status: z.string(), qmpstatus: z.string().optional(), uptime: z.number().optional(), lock: z.string().optional() })
    .optional()
    .describe('The state after the action (for clone: the new guest; for migrate: on the target node)'),
  newid: z.number().optional(),
  target: z.string().optional(),
  deleted: z.boolean().optional(),
});

export type ActionOutput = z.output<typeof actionOutput>;

export function actionEffect(input: { action: string }): Effect {
  return input.action === 'delete' ? 'destructive' : 'write';
}

export function actionPrivileges(input: ActionInput): PrivilegeNeed[] {
  const vms = `/vms/${input.vmid}`;
  switch (input.action) {
    case 'clone':
      return [
        { path: vms, privileges: ['VM.Clone'] },
        input.pool ? { path: `/pool/${input.pool}`, privileges: ['VM.Allocate'] } : { path: input.newid ? `/vms/${input.newid}` : '/vms', privileges: ['VM.Allocate'] },
        ...(input.storage ? [{ path: `/storage/${input.storage}`, privileges: ['Datastore.AllocateSpace'] }] : []),
      ];
    case 'migrate':
      return [{ path: vms, privileges: ['VM.Migrate'] }];
    case 'delete':
      return [{ path: vms, privileges: ['VM.Allocate'] }];
    default:
      return [{ path: vms, privileges: ['VM.PowerMgmt'] }];
  }
}

function cliFor(kind: GuestKind, input: ActionInput, newid?: number): string {
  const id = input.vmid;
  const flag = (name: string, value: unknown) => (value === undefined ? '' : ` --${name} ${typeof value === 'boolean' ? (value ? 1 : 0) : String(value)}`);
  switch (input.action) {
    case 'shutdown':
      return `${kind.cli} shutdown ${id}${flag('forceStop', input.force_stop)}${flag('timeout', input.timeout)}`;
    case 'suspend':
      return `${kind.cli} suspend ${id}${kind.type === 'qemu' ? flag('todisk', input.todisk) : ''}`;
    case 'clone':
      return `${kind.cli} clone ${id} ${newid ?? input.newid ?? '<nextid>'}${kind.type === 'qemu' ? flag('name', input.name) : flag('hostname', input.hostname)}${flag('target', input.target)}${flag('full', input.full)}${flag('storage', input.storage)}${flag('snapname', input.snapname)}${flag('pool', input.pool)}`;
    case 'migrate':
      return kind.type === 'qemu'
        ? `qm migrate ${id} ${input.target}${flag('online', input.online)}${flag('with-local-disks', input.with_local_disks)}`
        : `pct migrate ${id} ${input.target}${flag('restart', input.restart)}`;
    case 'delete':
      return `${kind.cli} destroy ${id}${flag('purge', input.purge)}${flag('destroy-unreferenced-disks', input.destroy_unreferenced_disks)}`;
    default:
      return `${kind.cli} ${input.action} ${id}`;
  }
}

/** What each action does, in words, for plans and answers. */
const verbs: Record<GuestAction, string> = {
  start: 'Start',
  stop: 'Stop (hard power-off)',
  shutdown: 'Shut down (clean, through the guest OS)',
  reboot: 'Reboot (clean, through the guest OS)',
  reset: 'Reset (hard reset)',
  suspend: 'Suspend',
  resume: 'Resume',
  clone: 'Clone',
  migrate: 'Migrate',
  delete: 'Delete',
};

function label(kind: GuestKind, where: Located | { vmid: number; name?: string }): string {
  return guestLabel({ type: kind.type, vmid: where.vmid, name: where.name });
}

async function readStatus(pve: PveClient, kind: GuestKind, node: string, id: number, signal: AbortSignal, givenNode?: string): Promise<Record<string, unknown>> {
  try {
    return await pve.get<Record<string, unknown>>(guestPath(node, kind.type, id, '/status/current'), undefined, { signal });
  } catch (error) {
    if (givenNode && isMissingConfig(error)) throw wrongNodeError(kind, id, givenNode);
    throw error;
  }
}

async function readConfig(pve: PveClient, kind: GuestKind, node: string, id: number, signal: AbortSignal): Promise<GuestConfig> {
  return pve.get<GuestConfig>(guestPath(node, kind.type, id, '/config'), undefined, { signal });
}

/** Disks on storages that are not shared (they must be copied by a migration). */
async function localDisks(pve: PveClient, kind: GuestKind, config: GuestConfig, signal: AbortSignal): Promise<string[]> {
  const resources = await pve.clusterResources('storage', { signal });
  const shared = new Set(resources.filter((row) => row.type === 'storage' && row.shared === true).map((row) => String(row.storage)));
  const pattern = kind.type === 'qemu' ? QEMU_DISK_KEY : LXC_DISK_KEY;
  const out: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!pattern.test(key) && !/^unused\d+$/.test(key)) continue;
    if (parseProps(String(value)).media === 'cdrom') continue;
    const disk = parseDiskValue(key, String(value));
    if (disk.storage && !shared.has(disk.storage)) out.push(`${key} (${disk.volume})`);
  }
  return out;
}

async function nodeOnline(pve: PveClient, node: string, signal: AbortSignal): Promise<boolean | undefined> {
  const nodes = await pve.clusterResources('node', { signal });
  const row = nodes.find((item) => item.type === 'node' && item.node === node);
  return row ? row.status === 'online' : undefined;
}

function finalOf(status: Record<string, unknown>, id: number, node: string): NonNullable<ActionOutput['final']> {
  return {
    vmid: id,
    node,
    status: String(status.status ?? 'unknown'),
    ...(typeof status.qmpstatus === 'string' ? { qmpstatus: status.qmpstatus } : {}),
    ...(status.status === 'running' && num(status.uptime) !== undefined ? { uptime: num(status.uptime) } : {}),
    ...(typeof status.lock === 'string' ? { lock: status.lock } : {}),
  };
}


/**
 * What the server can check before anyone is asked to confirm (issue 15): the guest is not locked by
 * another operation, a protected or running guest is not about to be deleted, a migration or clone
 * target exists and answers, a clone's new id is free. Problems are errors; facts the human should
 * weigh (HA will restart a guest it manages) become warnings of the plan.
 */
async function preflight(kind: GuestKind, input: ActionInput, where: Located, ctx: ToolContext, warnings: string[]): Promise<void> {
  const { pve, signal } = ctx;
  const who = label(kind, where);
  const config = await readConfig(pve, kind, where.node, input.vmid, signal).catch(() => undefined);
  const lock = typeof config?.lock === 'string' ? config.lock : undefined;
  if (lock && !(lock === 'suspended' && input.action === 'resume')) {
    throw new ToolError('conflict', `${who} is locked (${lock}): another operation runs or was interrupted. Wait for it (task_status action list), or unlock it on ${where.node} (\`${kind.cli} unlock ${input.vmid}\`) if nothing runs.`, {
      details: { vmid: input.vmid, lock },
    });
  }
  const nodes = await pve.clusterResources('node', { signal });
  const nodeNames = nodes.filter((row) => row.type === 'node').map((row) => String(row.node));
  const checkTarget = (target: string) => {
    const row = nodes.find((item) => item.type === 'node' && item.node === target);
    if (!row) throw new ToolError('not_found', `There is no node ${target} in this cluster. Nodes: ${nodeNames.sort().join(', ')}.`, { details: { target, nodes: nodeNames } });
    if (row.status !== 'online') throw new ToolError('unavailable', `Target node ${target} is ${String(row.status ?? 'offline')}; ${who} cannot go there. Bring it back or pick another node.`, { details: { target } });
  };
  if (input.action === 'delete' && config) {
    if (bool(config.protection, false)) {
      throw new ToolError('protected', `${who} has the Proxmox protection flag set, so it is not deleted. If it really must go, a person clears the flag deliberately first (\`${kind.cli} set ${input.vmid} --protection 0\`).`, {
        details: { vmid: input.vmid, protection: true },
      });
    }
    if (where.status === 'running') {
      throw new ToolError('conflict', `${who} is running; stop or shut it down first, then delete it.`, {
        details: { vmid: input.vmid, status: 'running' },
        suggestions: [`${kind.type === 'qemu' ? 'vm_action' : 'container_action'} vmid=${input.vmid} action=shutdown`],
      });
    }
  }
  if (input.action === 'migrate' && input.target) {
    if (input.target === where.node) throw new ToolError('invalid_input', `${who} is already on ${input.target}; pick another target node.`);
    checkTarget(input.target);
    if (where.status === 'running' && kind.type === 'lxc' && !input.restart) {
      throw new ToolError('conflict', `${who} is running and containers cannot live-migrate. Pass restart: true to stop it, move it and start it again on ${input.target} (short downtime), or shut it down first.`);
    }
    if (where.status === 'running' && kind.type === 'qemu' && input.online === false) {
      throw new ToolError('conflict', `${who} is running: migrate it live (online: true) or shut it down first.`);
    }
  }
  if (input.action === 'clone') {
    if (input.target) checkTarget(input.target);
    if (input.newid !== undefined) {
      const taken = (await pve.clusterResources('vm', { signal })).find((row) => row.vmid === input.newid);
      if (taken) throw new ToolError('conflict', `Id ${input.newid} is taken (${taken.type === 'lxc' ? 'CT' : 'VM'} ${input.newid}${taken.name ? ` ${String(taken.name)}` : ''} on ${String(taken.node)}); leave newid out for the next free id.`, { details: { newid: input.newid } });
    }
  }
  if (['stop', 'shutdown', 'suspend', 'migrate', 'delete'].includes(input.action)) {
    const row = (await pve.clusterResources('vm', { signal })).find((item) => item.vmid === input.vmid);
    const ha = typeof row?.hastate === 'string' && row.hastate ? row.hastate : undefined;
    if (ha && input.action === 'delete') warnings.push(`${who} is managed by HA (${ha}); purge (default) removes it from HA too.`);
    else if (ha && input.action === 'migrate') warnings.push(`${who} is managed by HA (${ha}): Proxmox hands the migration to the HA manager, which moves it (ha-manager migrate).`);
    else if (ha) warnings.push(`${who} is managed by HA (${ha}): the HA manager may start it again; to keep it off, set its HA state to stopped (ha-manager set vm:${input.vmid} --state stopped).`);
  }
}

// ---------- explain ----------

export async function explainAction(kind: GuestKind, input: ActionInput, ctx: ToolContext): Promise<Plan> {
  const where = await locate(ctx.pve, input.vmid, kind, { node: input.node, signal: ctx.signal });
  const base = guestPath(where.node, kind.type, input.vmid);
  const who = label(kind, where);
  const privileges = actionPrivileges(input);
  const warnings: string[] = [];
  await preflight(kind, input, where, ctx, warnings);
  const cliEquivalent = cliFor(kind, input);
  const taskWait = input.wait ? [`GET /nodes/${where.node}/tasks/{upid}/status (until it ends)`] : [];
  switch (input.action) {
    case 'clone': {
      const newid = input.newid ?? '<next free id>';
      return {
        summary: `Clone ${who} to new ${kind.noun} ${newid}${input.target ? ` on ${input.target}` : ''}${input.full === false ? ' (linked clone)' : ''}`,
        apiCalls: [...(input.newid ? [] : ['GET /cluster/nextid']), `POST ${base}/clone`, ...taskWait],
        cliEquivalent,
        privileges,
        risk: 'low',
        reversible: true,
        undo: `Delete the copy (${kind.cli} destroy ${newid}).`,
        warnings: where.template || input.node ? [] : [`${who} is not a template: the copy gets new MACs but the same OS identity (hostname, SSH host keys, machine-id); change them before using both.`],
      };
    }
    case 'migrate': {
      const config = await readConfig(ctx.pve, kind, where.node, input.vmid, ctx.signal);
      const local = await localDisks(ctx.pve, kind, config, ctx.signal).catch(() => [] as string[]);
      if (local.length) warnings.push(`${who} has local disks (${local.join(', ')}): they are copied over the network to ${input.target}; this takes time and needs space there.`);
      if (where.status === 'running' && kind.type === 'lxc') warnings.push(`Containers cannot live-migrate: with restart: true it is stopped, moved and started again (downtime).`);
      return {
        summary: `Migrate ${who} from ${where.node} to ${input.target}${where.status === 'running' ? (kind.type === 'qemu' ? ' (live)' : ' (restart mode)') : ''}`,
        apiCalls: [`GET ${base}/config`, `POST ${base}/migrate`, ...taskWait],
        cliEquivalent,
        privileges,
        risk: 'medium',
        reversible: true,
        undo: `Migrate it back to ${where.node}.`,
        warnings,
      };
    }
    case 'delete': {
      const [config, backups] = await Promise.all([
        readConfig(ctx.pve, kind, where.node, input.vmid, ctx.signal),
        findLastBackup(ctx.pve, input.vmid, where.node, ctx.signal).catch(() => undefined),
      ]);
      if (backups) {
        const warning = backupAgeWarning(kind.label, input.vmid, backups);
        if (warning) warnings.push(warning);
      } else warnings.push(`Backups of ${who} could not be checked.`);
      if (bool(config.protection, false)) warnings.push(`${who} has the protection flag set: it will not be deleted (clear protection first, deliberately).`);
      if (where.status === 'running') warnings.push(`${who} is running: stop it first.`);
      return {
        summary: `Delete ${who} on ${where.node} and its disks${input.purge ? ', and remove it from backup jobs, replication and HA' : ''}`,
        apiCalls: [`DELETE ${base}${input.purge || input.destroy_unreferenced_disks ? `?${[input.purge ? 'purge=1' : '', input.destroy_unreferenced_disks ? 'destroy-unreferenced-disks=1' : ''].filter(Boolean).join('&')}` : ''}`, ...taskWait],
        requests: [{ method: 'DELETE', path: base, params: { ...(input.purge ? { purge: 1 } : {}), ...(input.destroy_unreferenced_disks ? { 'destroy-unreferenced-disks': 1 } : {}) } }],
        cliEquivalent,
        privileges,
        risk: 'high',
        reversible: false,
        undo: 'Only by restoring a backup (vzdump) to the same id.',
        warnings,
      };
    }
    default: {
      const action = input.action as PowerAction;
      if (action === 'stop') warnings.push(`stop is a hard power-off (like pulling the plug): the guest OS does not shut down cleanly. Prefer shutdown unless the guest hangs.`);
      if (action === 'reset') warnings.push(`reset is a hard reset: unsaved data in the guest is lost and filesystems may need a check. Prefer reboot.`);
      if (action === 'shutdown' && kind.type === 'qemu') warnings.push(`shutdown needs the guest OS to react to ACPI (or the guest agent); add force_stop: true to power it off if it has not stopped within ${input.timeout} s.`);
      return {
        summary: `${verbs[action]} ${who} on ${where.node}`,
        apiCalls: [`GET ${base}/status/current`, `POST ${base}/status/${action}`, ...taskWait, ...(input.wait ? [`GET ${base}/status/current`] : [])],
        cliEquivalent,
        privileges,
        risk: action === 'reset' || action === 'stop' ? 'medium' : 'low',
        reversible: true,
        undo: { start: 'shutdown (or stop) it again.', stop: 'start it again.', shutdown: 'start it again.', reboot: 'nothing to undo.', reset: 'nothing to undo.', suspend: 'resume it.', resume: 'suspend it again.' }[action],
        warnings,
      };
    }
  }
}

// ---------- run ----------

type Outcome = ToolOutcome<ActionOutput>;

export async function runAction(kind: GuestKind, input: ActionInput, ctx: ToolContext): Promise<Outcome> {
  const where = await locate(ctx.pve, input.vmid, kind, { node: input.node, signal: ctx.signal });
  switch (input.action) {
    case 'clone':
      return clone(kind, input, where, ctx);
    case 'migrate':
      return migrate(kind, input, where, ctx);
    case 'delete':
      return destroy(kind, input, where, ctx);
    default:
      return power(kind, input, input.action as PowerAction, where, ctx);
  }
}

function outcomeBase(kind: GuestKind, input: ActionInput, where: Located) {
  return { vmid: input.vmid, type: kind.type, action: input.action, node: where.node };
}

async function afterTask(
  kind: GuestKind,
  input: ActionInput,
  ctx: ToolContext,
  upid: string,
  what: string,
): Promise<TaskOutcome> {
  return finishTask(ctx, upid, { wait: input.wait, timeoutSeconds: input.timeout, what });
}

async function power(kind: GuestKind, input: ActionInput, action: PowerAction, where: Located, ctx: ToolContext): Promise<Outcome> {
  const { pve, signal } = ctx;
  const id = input.vmid;
  const who = label(kind, where);
  const status = await readStatus(pve, kind, where.node, id, signal, input.node);
  const running = status.status === 'running';
  const paused = status.qmpstatus === 'paused';
  const suspendedToDisk = status.lock === 'suspended';
  const base = outcomeBase(kind, input, where);
  const cliEquivalent = cliFor(kind, input);
  const unchanged = (message: string): Outcome => ({
    data: { ...base, result: 'unchanged', message, final: finalOf(status, id, where.node) },
    summary: message,
    node: where.node,
    vmid: id,
    cliEquivalent,
  });
  const notRunning = () =>
    new ToolError('conflict', `${who} is not running (${String(status.status)}), so it cannot ${action === 'suspend' ? 'be suspended' : `be ${action === 'reset' ? 'reset' : 'rebooted'}`}. Start it instead (action: start).`, {
      details: { vmid: id, node: where.node, status: status.status },
      suggestions: [`${kind.type === 'qemu' ? 'vm_action' : 'container_action'} vmid=${id} action=start`],
    });

  if (bool(status.template, false)) {
    throw new ToolError('conflict', `${who} is a template: templates cannot be ${action === 'start' ? 'started' : 'powered'}. Clone it (guest_create, or action: clone) and start the copy.`, { details: { vmid: id } });
  }
  switch (action) {
    case 'start':
      if (running && paused) return unchanged(`${who} is already running but paused; use action: resume to continue it.`);
      if (running) return unchanged(`${who} is already running; nothing to do.`);
      if (suspendedToDisk) return unchanged(`${who} is suspended to disk; use action: resume to wake it.`);
      break;
    case 'stop':
    case 'shutdown':
      if (!running) return unchanged(`${who} is already stopped; nothing to do.`);
      break;
    case 'reboot':
    case 'reset':
      if (!running) throw notRunning();
      break;
    case 'suspend':
      if (!running) throw notRunning();
      if (paused && !input.todisk) return unchanged(`${who} is already paused; nothing to do.`);
      break;
    case 'resume':
      if (!running && !suspendedToDisk) throw new ToolError('conflict', `${who} is stopped, not suspended: use action: start.`, { details: { vmid: id, status: status.status } });
      if (running && !paused && kind.type === 'qemu') return unchanged(`${who} is already running (not paused); nothing to do.`);
      break;
  }

  const params: PveParams = {};
  if (action === 'shutdown') {
    params.timeout = input.timeout;
    if (input.force_stop !== undefined) params.forceStop = input.force_stop;
  }
  if (action === 'suspend' && kind.type === 'qemu' && input.todisk) params.todisk = true;
  const upid = await pve.post<string>(guestPath(where.node, kind.type, id, `/status/${action}`), params, { signal });
  const task = await afterTask(kind, input, ctx, upid, `${action} ${kind.label} ${id}`);
  const warnings: string[] = [];
  const taskType = parseUpid(upid)?.type;
  const haManaged = bool((status.ha as Record<string, unknown> | undefined)?.managed, false) || /^ha(start|stop)$/.test(taskType ?? '');
  if (haManaged && (action === 'start' || action === 'stop' || action === 'shutdown')) {
    warnings.push(`${who} is HA-managed: the request went to the HA manager (task ${taskType}), which carries it out; the HA state decides what happens next.`);
  }
  if (!input.wait) {
    return {
      data: { ...base, result: 'started', message: `${verbs[action]} ${who}: task started.`, task },
      summary: `${action} ${who}: task started (${upid})`,
      warnings,
      suggestions: ['Follow the task with its UPID, or call again with wait: true.'],
      upids: [upid],
      node: where.node,
      vmid: id,
      cliEquivalent,
    };
  }
  const after = await readStatus(pve, kind, where.node, id, signal);
  const final = finalOf(after, id, where.node);
  const message = `${verbs[action]} ${who}: done, now ${final.status}${final.qmpstatus && final.qmpstatus !== final.status ? ` (${final.qmpstatus})` : ''}.`;
  return {
    data: { ...base, result: 'done', message, task, final },
    summary: message,
    warnings,
    upids: [upid],
    node: where.node,
    vmid: id,
    cliEquivalent,
  };
}

async function clone(kind: GuestKind, input: ActionInput, where: Located, ctx: ToolContext): Promise<Outcome> {
  const { pve, signal } = ctx;
  const id = input.vmid;
  const newid = input.newid ?? num(await pve.get<unknown>('/cluster/nextid', undefined, { signal }));
  if (newid === undefined) throw new ToolError('upstream', 'Proxmox did not return a free VMID from /cluster/nextid; give newid yourself.');
  const target = input.target ?? where.node;
  const params: PveParams = { newid };
  if (kind.type === 'qemu' && input.name) params.name = input.name;
  if (kind.type === 'lxc' && input.hostname) params.hostname = input.hostname;
  if (input.target && input.target !== where.node) params.target = input.target;
  if (input.full !== undefined) params.full = input.full;
  if (input.storage) params.storage = input.storage;
  if (input.snapname) params.snapname = input.snapname;
  if (input.pool) params.pool = input.pool;
  const upid = await pve.post<string>(guestPath(where.node, kind.type, id, '/clone'), params, { signal });
  const task = await afterTask(kind, input, ctx, upid, `clone ${kind.label} ${id} to ${newid}`);
  const base = { ...outcomeBase(kind, input, where), newid, target };
  const who = label(kind, where);
  const cliEquivalent = cliFor(kind, input, newid);
  const suggestions = [`See the copy with ${kind.type === 'qemu' ? 'vm_status' : 'container_status'} vmid=${newid}; adjust it with guest_config.`];
  if (!input.wait) {
    return { data: { ...base, result: 'started', message: `Clone of ${who} to ${newid}: task started.`, task }, summary: `clone ${who} -> ${newid}: task started`, upids: [upid], node: where.node, vmid: id, suggestions, cliEquivalent };
  }
  const after = await readStatus(pve, kind, target, newid, signal);
  const message = `Cloned ${who} to ${kind.label} ${newid}${input.name || input.hostname ? ` (${input.name ?? input.hostname})` : ''} on ${target}.`;
  return { data: { ...base, result: 'done', message, task, final: finalOf(after, newid, target) }, summary: message, upids: [upid], node: where.node, vmid: id, suggestions, cliEquivalent };
}

async function migrate(kind: GuestKind, input: ActionInput, where: Located, ctx: ToolContext): Promise<Outcome> {
  const { pve, signal } = ctx;
  const id = input.vmid;
  const target = input.target!;
  const who = label(kind, where);
  if (target === where.node) throw new ToolError('invalid_input', `${who} is already on ${target}; pick another target node.`);
  const online = await nodeOnline(pve, target, signal);
  if (online === false) throw new ToolError('unavailable', `Target node ${target} is offline; ${who} cannot move there. Bring it back or pick another node.`, { details: { target } });
  if (online === undefined) throw new ToolError('not_found', `There is no node ${target} in this cluster. List the nodes (node_status) and pick one.`, { details: { target } });
  const [status, config] = await Promise.all([readStatus(pve, kind, where.node, id, signal, input.node), readConfig(pve, kind, where.node, id, signal)]);
  const running = status.status === 'running';
  const local = await localDisks(pve, kind, config, signal).catch(() => [] as string[]);
  const params: PveParams = { target };
  const warnings: string[] = [];
  if (kind.type === 'qemu') {
    const live = input.online ?? running;
    if (running && !live) throw new ToolError('conflict', `${who} is running: migrate it live (online: true) or shut it down first.`);
    if (live && running) params.online = true;
    const withLocal = input.with_local_disks ?? (local.length > 0 && running);
    if (withLocal) params['with-local-disks'] = true;
  } else if (running) {
    if (!input.restart) {
      throw new ToolError('conflict', `${who} is running and containers cannot live-migrate. Pass restart: true to stop it, move it and start it again on ${target} (short downtime), or shut it down first.`, {
        suggestions: [`container_action vmid=${id} action=migrate target=${target} restart=true`],
      });
    }
    params.restart = true;
  }
  if (local.length) warnings.push(`${who} has local disks (${local.join(', ')}); they were copied to ${target}.`);
  const upid = await pve.post<string>(guestPath(where.node, kind.type, id, '/migrate'), params, { signal });
  const task = await afterTask(kind, input, ctx, upid, `migrate ${kind.label} ${id} to ${target}`);
  const base = { ...outcomeBase(kind, input, where), target };
  const cliEquivalent = cliFor(kind, { ...input, online: params.online as boolean | undefined, with_local_disks: params['with-local-disks'] as boolean | undefined });
  if (!input.wait) {
    return { data: { ...base, result: 'started', message: `Migration of ${who} to ${target}: task started.`, task }, summary: `migrate ${who} -> ${target}: task started`, warnings, upids: [upid], node: where.node, vmid: id, cliEquivalent };
  }
  const after = await readStatus(pve, kind, target, id, signal);
  const message = `Migrated ${who} from ${where.node} to ${target}; it is ${String(after.status)}.`;
  return { data: { ...base, result: 'done', message, task, final: finalOf(after, id, target) }, summary: message, warnings, upids: [upid], node: target, vmid: id, cliEquivalent };
}

async function destroy(kind: GuestKind, input: ActionInput, where: Located, ctx: ToolContext): Promise<Outcome> {
  const { pve, signal } = ctx;
  const id = input.vmid;
  const who = label(kind, where);
  const [status, config] = await Promise.all([readStatus(pve, kind, where.node, id, signal, input.node), readConfig(pve, kind, where.node, id, signal)]);
  if (bool(config.protection, false)) {
    throw new ToolError('protected', `${who} has the Proxmox protection flag set, so it is not deleted. If it really must go, a person clears the flag deliberately first (\`${kind.cli} set ${id} --protection 0\`).`, {
      details: { vmid: id, protection: true },
    });
  }
  if (status.status === 'running') {
    throw new ToolError('conflict', `${who} is running; stop or shut it down first, then delete it.`, {
      details: { vmid: id, status: 'running' },
      suggestions: [`${kind.type === 'qemu' ? 'vm_action' : 'container_action'} vmid=${id} action=shutdown`],
    });
  }
  const params: PveParams = {};
  if (input.purge) params.purge = true;
  if (input.destroy_unreferenced_disks) params['destroy-unreferenced-disks'] = true;
  const upid = await pve.delete<string>(guestPath(where.node, kind.type, id), params, { signal });
  const task = await afterTask(kind, input, ctx, upid, `delete ${kind.label} ${id}`);
  const base = outcomeBase(kind, input, where);
  const cliEquivalent = cliFor(kind, input);
  if (!input.wait) {
    return { data: { ...base, result: 'started', message: `Deletion of ${who}: task started.`, task }, summary: `delete ${who}: task started`, upids: [upid], node: where.node, vmid: id, cliEquivalent };
  }
  const message = `Deleted ${who} from ${where.node}.`;
  return { data: { ...base, result: 'done', message, task, deleted: true }, summary: message, upids: [upid], node: where.node, vmid: id, cliEquivalent };
}

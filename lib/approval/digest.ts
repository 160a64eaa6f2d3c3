/**
 * A digest of the state of a call's targets, taken when the plan shown to the approver is computed and
 * again just before the approved call runs: if they differ, a target changed since the human looked
 * and the approval no longer counts. For a guest it is Proxmox's own config `digest` (SHA-1 of the
 * config) with the guest's status. The guests are found in the arguments (vmid, a Proxmox API path)
 * and in the plan's Proxmox requests (so a `qm set 101 ...` line or vm_action binds to guest 101 too);
 * Other objects a plan changes or removes (PUT/DELETE: a user, a storage, a network interface, a firewall
 * rule...) are read with a GET of the same path: their Proxmox `digest` where the answer has one, else the
 * answer without its moving parts (usage counters, times). A call with no such target binds to its
 * arguments only (and toggle_mode to the current mode).
 *
 * The actions that need proof in every mode act on this server's own state, which no Proxmox digest
 * covers: restore_config's "latest" is whichever bundle is newest when it runs (a backup_config after
 * the approval would swap it), and what a restore changes depends on the tokens and settings of the
 * moment. For those the plan the approver was shown (its summary and requests) is part of the digest:
 * a different plan at run time voids the approval.
 */
import { createHash } from 'node:crypto';
import type { Caller, Plan, ToolContext } from '../tool.ts';

interface GuestTarget {
  node?: string;
  type?: 'qemu' | 'lxc';
  vmid: number;
}

const guestPath = /^\/*(?:api2\/json\/+)?nodes\/+([^/?\s]+)\/+(qemu|lxc)\/+(\d+)/i;

/** At most this many guests, and this many other objects, are looked up for one approval. */
const maxGuests = 5;
const maxObjects = 3;

/** Fields that change by themselves (usage, clocks) and say nothing about an object's configuration. */
const volatile = new Set(['cpu', 'mem', 'maxmem', 'disk', 'maxdisk', 'uptime', 'netin', 'netout', 'diskread', 'diskwrite', 'time', 'loadavg', 'used', 'avail', 'total', 'free', 'swap', 'pressurecpusome', 'pressurememorysome', 'pressureiosome', 'lock']);

function stable(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => stable(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([key]) => !volatile.has(key))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, item]) => [key, stable(item, depth + 1)]),
  );
}

/** PUT/DELETE paths of the plan that are not guest configs (those are read above): the objects it changes. */
export function objectTargets(plan?: Plan): string[] {
  const paths = new Set<string>();
  for (const call of plan?.apiCalls ?? []) {
    const match = /^(PUT|DELETE)\s+(\S+)$/.exec(call.trim());
    if (!match) continue;
    const path = '/' + match[2]!.replace(/^\/*(?:api2\/json\/+)?/, '').replace(/\?.*$/, '');
    if (/^\/nodes\/[^/]+\/(qemu|lxc)\/\d+\/config$/.test(path)) continue;
    paths.add(path);
  }
  return [...paths].slice(0, maxObjects);
}

export function guestTargets(input: Record<string, unknown>, plan?: Plan): GuestTarget[] {
  const found = new Map<number, GuestTarget>();
  const add = (target: GuestTarget) => {
    const known = found.get(target.vmid);
    if (!known || (!known.type && target.type)) found.set(target.vmid, target);
  };
  const fromPath = (path: string) => {
    const match = guestPath.exec(path);
    if (match) add({ node: match[1], type: match[2]!.toLowerCase() as 'qemu' | 'lxc', vmid: Number(match[3]) });
  };
  if (typeof input.path === 'string') fromPath(input.path);
  const vmid = typeof input.vmid === 'number' ? input.vmid : typeof input.vmid === 'string' && /^\d+$/.test(input.vmid) ? Number(input.vmid) : undefined;
  if (vmid !== undefined) add({ vmid, node: typeof input.node === 'string' ? input.node : undefined });
  if (Array.isArray(input.vmids)) for (const id of input.vmids) if (typeof id === 'number') add({ vmid: id });
  for (const call of plan?.apiCalls ?? []) {
    const path = call.replace(/^[A-Z]+\s+/, '');
    fromPath(path);
  }
  return [...found.values()].sort((a, b) => a.vmid - b.vmid).slice(0, maxGuests);
}

/** Tools whose approval also binds to the plan shown (what they change is this server's own state). */
export const planBoundTools = new Set(['restore_config', 'self_update', 'toggle_mode']);

export async function targetDigest(tool: string, input: Record<string, unknown>, ctx: Pick<ToolContext, 'pve' | 'signal'>, caller: Caller, plan?: Plan): Promise<string> {
  const parts: string[] = [tool];
  if (tool === 'toggle_mode') parts.push(`mode=${caller.mode}`);
  if (planBoundTools.has(tool) && plan) {
    parts.push(`plan=${JSON.stringify([plan.summary, plan.apiCalls ?? [], plan.cliEquivalent ?? '', plan.risk, plan.reversible])}`);
  }
  for (const target of guestTargets(input, plan)) {
    try {
      let { node, type } = target;
      const locate = async () => {
        const located = await ctx.pve.locateGuest(target.vmid, { signal: ctx.signal });
        node = located.node;
        type = located.type;
      };
      if (!node || !type) await locate();
      // A node spelled so that the lookup fails (an alias such as localhost, another case, a wrong name)
      // must not make the digest a constant 'absent' that no change of the guest would move: the guest is
      // then found by its id, as Proxmox itself would resolve it.
      const readConfig = () => ctx.pve.get<Record<string, unknown>>(`/nodes/${node}/${type}/${target.vmid}/config`, undefined, { signal: ctx.signal });
      const config = await readConfig().catch(async (error: unknown) => {
        if (!target.node) throw error;
        await locate();
        return readConfig();
      });
      const status = await ctx.pve.get<{ status?: string }>(`/nodes/${node}/${type}/${target.vmid}/status/current`, undefined, { signal: ctx.signal }).catch(() => ({ status: 'unknown' }));
      parts.push(`guest=${target.vmid}`, `digest=${String(config?.digest ?? '')}`, `status=${status?.status ?? 'unknown'}`);
    } catch {
      parts.push(`guest=${target.vmid}`, 'absent');
    }
  }
  for (const path of objectTargets(plan)) {
    try {
      const answer = await ctx.pve.get<unknown>(path, undefined, { signal: ctx.signal });
      const digest = answer && typeof answer === 'object' && !Array.isArray(answer) ? (answer as Record<string, unknown>).digest : undefined;
      parts.push(`object=${path}`, typeof digest === 'string' ? `digest=${digest}` : `state=${JSON.stringify(stable(answer)).slice(0, 20_000)}`);
    } catch {
      parts.push(`object=${path}`, 'absent');
    }
  }
  return createHash('sha256').update(parts.join('\n')).digest('hex');
}

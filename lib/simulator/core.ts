/**
 * What every simulated endpoint handler gets: the state, permission checks, task creation and the lookups
 * that fail the way Proxmox fails (config file missing, guest locked, ...).
 */
import { die } from './errors.ts';
import type { Params } from './contract.ts';
import type { AccessControl, AuthInfo } from './rbac.ts';
import type { GuestType, SimGuest, SimNode, SimState } from './state.ts';

export interface HandlerContext {
  core: SimCore;
  params: Params;
  auth: AuthInfo;
  now: number;
}

/** Data plus extra top-level keys of the envelope (`total`, `changes`). */
export class Reply {
  constructor(readonly data: unknown, readonly extra: Record<string, unknown> = {}) {}
}

export type Handler = (ctx: HandlerContext) => unknown;

export interface TaskSpec {
  type: string;
  id?: string | number;
  node?: string;
  lines?: string[];
  work?: () => string[] | void;
  durationMs?: number;
}

export class SimCore {
  constructor(
    readonly state: SimState,
    readonly access: AccessControl,
    readonly taskDurationMs: number,
  ) {}

  node(name: string): SimNode {
    const n = this.state.nodes.get(name);
    if (!n) die(`no such cluster node '${name}'`);
    return n;
  }

  /** The guest whose config lives on `node`, or the error Proxmox gives when the config file isn't there. */
  guest(node: string, vmid: number, type: GuestType): SimGuest {
    const g = this.state.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) {
      die(`Configuration file 'nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf' does not exist`);
    }
    return g;
  }

  checkLock(g: SimGuest, skiplock?: unknown): void {
    if (g.lock && !skiplock) die(`${label(g)} ${g.vmid} is locked (${g.lock})`);
  }

  checkVmidUnused(vmid: number): void {
    const g = this.state.guests.get(vmid);
    if (g) die(`${label(g)} ${vmid} already exists on node '${g.node}'`);
  }

  /** fork_worker: returns the UPID; the work runs when the task finishes. */
  task(ctx: HandlerContext, spec: TaskSpec): string {
    const t = this.state.tasks.start({
      node: spec.node ?? String(ctx.params.node),
      type: spec.type,
      id: spec.id === undefined ? '' : String(spec.id),
      user: ctx.auth.authid,
      lines: spec.lines,
      work: spec.work,
      durationMs: spec.durationMs ?? this.taskDurationMs,
      now: ctx.now,
    });
    return t.upid;
  }

  nextFreeVmid(): number {
    let id = 100;
    while (this.state.guests.has(id)) id++;
    return id;
  }
}

export const isTrue = (v: unknown) => v === 1 || v === '1' || v === true;
export const label = (g: SimGuest) => (g.type === 'qemu' ? 'VM' : 'CT');

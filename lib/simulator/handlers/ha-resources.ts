/**
 * HA resources (/etc/pve/ha/resources.cfg) after pve-ha-manager's API2/HA/Resources.pm: add a guest, change
 * its requested state and limits, remove it, and migrate/relocate it through the HA stack. The real CRM
 * acts a few seconds later; the simulator applies the outcome at once (the guest starts, stops or moves),
 * which is what a client sees once the manager has caught up. PVE 8.4 binds a resource to a group; 9.x has
 * no groups (rules name resources) and removing a resource purges it from the rules by default.
 */
import { die, paramError } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import { splitList } from '../lists.ts';
import { moveGuest, type HaResource, type SimGuest } from '../state.ts';
import { HA_DIGEST } from './ha.ts';

const STATES = ['started', 'stopped', 'enabled', 'disabled', 'ignored'] as const;

/** parse_sid: `vm:101`, `ct:102`, or a bare vmid resolved through the cluster's vm list. */
function parseSid(ctx: HandlerContext, raw: unknown): { sid: string; type: 'vm' | 'ct'; vmid: number } {
  const text = String(raw ?? '');
  const full = /^(vm|ct):([1-9][0-9]{2,8})$/.exec(text);
  if (full) return { sid: text, type: full[1] as 'vm' | 'ct', vmid: Number(full[2]) };
  if (/^[1-9][0-9]{2,8}$/.test(text)) {
    const g = ctx.core.state.guests.get(Number(text));
    if (!g) die(`unable to find VM/CT ${text}`);
    const type = g.type === 'qemu' ? 'vm' : 'ct';
    return { sid: `${type}:${text}`, type, vmid: Number(text) };
  }
  paramError({ sid: `unable to parse service id '${text}'` });
}

function guestFor(ctx: HandlerContext, type: 'vm' | 'ct', vmid: number): SimGuest | undefined {
  const g = ctx.core.state.guests.get(vmid);
  return g && (g.type === 'qemu') === (type === 'vm') ? g : undefined;
}

/** What the CRM does once the requested state is in the config. */
function applyState(ctx: HandlerContext, r: HaResource): void {
  const g = guestFor(ctx, r.type, Number(r.sid.split(':')[1]));
  if (!g || !ctx.core.state.nodes.get(g.node)?.online) return;
  if (r.state === 'started' && g.status !== 'running') {
    g.status = 'running';
    g.startedAt = ctx.now;
    if (g.type === 'qemu') g.qmpstatus = 'running';
  } else if ((r.state === 'stopped' || r.state === 'disabled') && g.status === 'running') {
    g.status = 'stopped';
    g.startedAt = undefined;
    g.qmpstatus = undefined;
  }
}

function view(ctx: HandlerContext, r: HaResource): Record<string, unknown> {
  const v8 = ctx.core.state.pveVersion === '8.4';
  return {
    sid: r.sid, type: r.type, state: r.state, max_restart: r.max_restart, max_relocate: r.max_relocate, digest: HA_DIGEST,
    ...(r.comment ? { comment: r.comment } : {}),
    ...(v8 && r.group ? { group: r.group } : {}),
    ...(!v8 && r.failback !== undefined ? { failback: r.failback } : {}),
  };
}

function checkState(value: unknown): HaResource['state'] {
  const state = String(value);
  if (!(STATES as readonly string[]).includes(state)) paramError({ state: `value '${state}' does not have a value in the enumeration '${STATES.join(', ')}'` });
  // 'enabled' is the old spelling of 'started' (PVE::HA::Config::parse_sid's state alias)
  return (state === 'enabled' ? 'started' : state) as HaResource['state'];
}

function checkGroup(ctx: HandlerContext, group: unknown, prefix: string): string {
  if (ctx.core.state.pveVersion !== '8.4') die(`${prefix}ha groups have been migrated to rules`);
  const name = String(group);
  if (!ctx.core.state.haGroups.has(name)) die(`${prefix}group '${name}' does not exist`);
  return name;
}

function existing(ctx: HandlerContext): HaResource {
  const { sid } = parseSid(ctx, ctx.params.sid);
  const r = ctx.core.state.ha.get(sid);
  if (!r) die(`no such resource '${sid}'`);
  return r;
}

function moveThroughHa(kind: 'migrate' | 'relocate'): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const { sid } = parseSid(ctx, params.sid);
    const r = core.state.ha.get(sid);
    if (!r) die(`service '${sid}' is not HA managed`);
    const target = String(params.node);
    if (!core.state.nodes.has(target)) die(`no such cluster node '${target}'`);
    if (r.state === 'ignored' || r.state === 'disabled') die(`service '${sid}' is ${r.state}, ${kind} is not possible`);
    const g = guestFor(ctx, r.type, Number(sid.split(':')[1]));
    const node = core.state.nodes.get(target)!;
    // The CRM queues the command; an offline target is refused by the manager, the guest stays where it is.
    if (g && g.node !== target && node.online && !g.lock) {
      if (kind === 'relocate' && g.status === 'running') g.startedAt = ctx.now;
      moveGuest(core.state, g, target);
    }
    if (core.state.pveVersion === '8.4') return null;
    return { sid, 'requested-node': target };
  };
}

export const haResourceHandlers: Record<string, Handler> = {
  'GET /cluster/ha/resources/{sid}': (ctx) => view(ctx, existing(ctx)),

  'POST /cluster/ha/resources': (ctx) => {
    const { core, params } = ctx;
    const { sid, type, vmid } = parseSid(ctx, params.sid);
    if (params.type !== undefined && String(params.type) !== type) die('types does not match');
    if (!guestFor(ctx, type, vmid)) die(`resource '${sid}' does not exist in cluster`);
    const prefix = 'create resource failed: ';
    if (core.state.ha.has(sid)) die(`${prefix}resource ID '${sid}' already defined`);
    const r: HaResource = {
      sid, type,
      state: params.state === undefined ? 'started' : checkState(params.state),
      max_restart: params.max_restart === undefined ? 1 : Number(params.max_restart),
      max_relocate: params.max_relocate === undefined ? 1 : Number(params.max_relocate),
    };
    if (params.comment !== undefined) r.comment = String(params.comment);
    if (params.group !== undefined) r.group = checkGroup(ctx, params.group, prefix);
    if (params.failback !== undefined) r.failback = isTrue(params.failback) ? 1 : 0;
    core.state.ha.set(sid, r);
    applyState(ctx, r);
    return null;
  },

  'PUT /cluster/ha/resources/{sid}': (ctx) => {
    const { params } = ctx;
    const r = existing(ctx);
    const prefix = 'update resource failed: ';
    for (const key of splitList(params.delete)) {
      if (key === 'comment') delete r.comment;
      else if (key === 'group') delete r.group;
      else if (key === 'failback') delete r.failback;
      else if (key === 'max_restart') r.max_restart = 1;
      else if (key === 'max_relocate') r.max_relocate = 1;
      else if (key === 'state') r.state = 'started';
      else die(`${prefix}unable to delete unknown option '${key}'`);
    }
    if (params.state !== undefined) r.state = checkState(params.state);
    if (params.max_restart !== undefined) r.max_restart = Number(params.max_restart);
    if (params.max_relocate !== undefined) r.max_relocate = Number(params.max_relocate);
    if (params.comment !== undefined) r.comment = String(params.comment);
    if (params.group !== undefined) r.group = checkGroup(ctx, params.group, prefix);
    if (params.failback !== undefined) r.failback = isTrue(params.failback) ? 1 : 0;
    applyState(ctx, r);
    return null;
  },

  'DELETE /cluster/ha/resources/{sid}': (ctx) => {
    const { core, params } = ctx;
    const r = existing(ctx);
    core.state.ha.delete(r.sid);
    // PVE 9: purge (default 1) removes the resource from every rule; a rule left without resources goes too
    if (core.state.pveVersion !== '8.4' && (params.purge === undefined || isTrue(params.purge))) {
      for (const rule of [...core.state.haRules.values()]) {
        const left = splitList(rule.resources).filter((s) => s !== r.sid);
        if (left.length === splitList(rule.resources).length) continue;
        if (left.length) rule.resources = left.join(',');
        else core.state.haRules.delete(rule.rule);
      }
    }
    return null;
  },

  'POST /cluster/ha/resources/{sid}/migrate': moveThroughHa('migrate'),
  'POST /cluster/ha/resources/{sid}/relocate': moveThroughHa('relocate'),
};

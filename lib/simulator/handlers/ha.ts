/**
 * HA groups (PVE 8.4) and HA rules (PVE 9.x), after pve-ha-manager's API2/HA/Groups.pm and Rules.pm. On 9.x
 * the groups have been migrated to node-affinity rules, so every group call dies with "ha groups have been
 * migrated to rules"; on 8.4 the rules endpoints do not exist (501). Errors inside the config lock carry its
 * prefix ("create ha group failed: ..."), as lock_ha_domain adds it.
 */
import { die } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import { splitList } from '../lists.ts';
import type { HaGroup, HaRule } from '../state.ts';

export const HA_DIGEST = 'c0ffee0000000000000000000000000000000000';

const migrated = (ctx: HandlerContext) => ctx.core.state.pveVersion !== '8.4';

function groupView(g: HaGroup): Record<string, unknown> {
  return {
    group: g.group, type: 'group', nodes: g.nodes, digest: HA_DIGEST,
    ...(g.restricted ? { restricted: 1 } : {}), ...(g.nofailback ? { nofailback: 1 } : {}), ...(g.comment ? { comment: g.comment } : {}),
  };
}

function ruleView(r: HaRule, order: number): Record<string, unknown> {
  return {
    rule: r.rule, type: r.type, resources: r.resources, order, digest: HA_DIGEST,
    ...(r.nodes !== undefined ? { nodes: r.nodes } : {}),
    ...(r.type === 'node-affinity' ? { strict: r.strict ?? 0 } : {}),
    ...(r.affinity !== undefined ? { affinity: r.affinity } : {}),
    ...(r.disable ? { disable: 1 } : {}),
    ...(r.comment ? { comment: r.comment } : {}),
  };
}

/** `node[:prio]` entries; every node must be a cluster member. */
function checkNodes(ctx: HandlerContext, value: string, prefix: string): string {
  const nodes = splitList(value);
  if (!nodes.length) die(`${prefix}no nodes were specified`);
  const unknown = nodes.map((n) => n.split(':')[0]).filter((n) => !ctx.core.state.nodes.has(n));
  if (unknown.length) die(`${prefix}cannot use non-existent node(s) ${unknown.sort().join(', ')}.`);
  return nodes.join(',');
}

export const haHandlers: Record<string, Handler> = {
  'GET /cluster/ha/groups': (ctx) => {
    if (migrated(ctx)) die('cannot index groups: ha groups have been migrated to rules');
    return [...ctx.core.state.haGroups.values()].map(groupView);
  },

  'GET /cluster/ha/groups/{group}': (ctx) => {
    if (migrated(ctx)) die('cannot read group: ha groups have been migrated to rules');
    const g = ctx.core.state.haGroups.get(String(ctx.params.group));
    if (!g) die(`no such ha group '${ctx.params.group}'`);
    return groupView(g);
  },

  'POST /cluster/ha/groups': (ctx) => {
    if (migrated(ctx)) die('cannot create group: ha groups have been migrated to rules');
    const { params } = ctx;
    const group = String(params.group);
    const nodes = checkNodes(ctx, String(params.nodes), 'create ha group failed: ');
    if (ctx.core.state.haGroups.has(group)) die(`create ha group failed: ha group ID '${group}' already defined`);
    ctx.core.state.haGroups.set(group, {
      group, nodes, restricted: isTrue(params.restricted) ? 1 : 0, nofailback: isTrue(params.nofailback) ? 1 : 0,
      ...(params.comment !== undefined ? { comment: String(params.comment) } : {}),
    });
    return null;
  },

  'DELETE /cluster/ha/groups/{group}': (ctx) => {
    if (migrated(ctx)) die('cannot delete group: ha groups have been migrated to rules');
    const group = String(ctx.params.group);
    for (const r of ctx.core.state.ha.values()) if (r.group === group) die(`delete ha group failed: ha group is used by service '${r.sid}'`);
    ctx.core.state.haGroups.delete(group);
    return null;
  },

  'GET /cluster/ha/rules': (ctx) => {
    const { type, resource } = ctx.params;
    const out: Record<string, unknown>[] = [];
    let order = 0;
    for (const r of ctx.core.state.haRules.values()) {
      order++;
      if (type !== undefined && r.type !== type) continue;
      if (resource !== undefined && !splitList(r.resources).includes(String(resource))) continue;
      out.push(ruleView(r, order));
    }
    return out;
  },

  'GET /cluster/ha/rules/{rule}': (ctx) => {
    const rules = [...ctx.core.state.haRules.values()];
    const i = rules.findIndex((r) => r.rule === ctx.params.rule);
    if (i < 0) die(`no such ha rule '${ctx.params.rule}'`);
    return ruleView(rules[i], i + 1);
  },

  'POST /cluster/ha/rules': (ctx) => {
    const { params, core } = ctx;
    const rule = String(params.rule);
    const type = String(params.type) as HaRule['type'];
    const prefix = 'create ha rule failed: ';
    if (type === 'node-affinity' && params.affinity !== undefined) die(`${prefix}option 'affinity' is not allowed for type 'node-affinity'`);
    if (type === 'resource-affinity' && (params.nodes !== undefined || params.strict !== undefined)) {
      die(`${prefix}option '${params.nodes !== undefined ? 'nodes' : 'strict'}' is not allowed for type 'resource-affinity'`);
    }
    if (core.state.haRules.has(rule)) die(`${prefix}HA rule '${rule}' already defined`);
    const resources = splitList(params.resources);
    if (!resources.length) die(`${prefix}no resources were specified`);
    const unmanaged = resources.filter((sid) => !core.state.ha.has(sid)).sort();
    if (unmanaged.length) die(`${prefix}cannot use unmanaged resource(s) ${unmanaged.join(', ')}.`);
    const entry: HaRule = { rule, type, resources: resources.join(',') };
    if (type === 'node-affinity') {
      if (params.nodes === undefined) die(`${prefix}property 'nodes' is missing`);
      entry.nodes = checkNodes(ctx, String(params.nodes), prefix);
      entry.strict = isTrue(params.strict) ? 1 : 0;
    } else {
      if (params.affinity === undefined) die(`${prefix}property 'affinity' is missing`);
      entry.affinity = String(params.affinity) as HaRule['affinity'];
    }
    if (isTrue(params.disable)) entry.disable = 1;
    if (params.comment !== undefined) entry.comment = String(params.comment);
    core.state.haRules.set(rule, entry);
    return null;
  },

  'DELETE /cluster/ha/rules/{rule}': (ctx) => {
    ctx.core.state.haRules.delete(String(ctx.params.rule));
    return null;
  },
};

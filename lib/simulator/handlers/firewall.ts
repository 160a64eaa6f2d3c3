/**
 * The Proxmox VE firewall (pve-firewall's API2/Firewall/*.pm): cluster options, rules, security groups,
 * aliases and IP sets; each node's options and rules; each guest's options and rules. Rules are kept in
 * order; a new rule goes to the top unless `pos` says where (as the API and the GUI do); `moveto` moves.
 * Kept beside the main state (one firewall per simulated cluster), created on first use with defaults
 * as a fresh install has them: the cluster firewall off with policy_in DROP, nodes on, guests off.
 */
import { die, paramError } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import { splitList } from '../lists.ts';
import type { SimState } from '../state.ts';

export type FwRule = Record<string, string | number>;

interface IpSet {
  comment?: string;
  entries: Map<string, { nomatch?: number; comment?: string }>;
}

export interface SimFirewall {
  options: Record<string, string | number>;
  rules: FwRule[];
  groups: Map<string, { comment?: string; rules: FwRule[] }>;
  aliases: Map<string, { cidr: string; comment?: string }>;
  ipsets: Map<string, IpSet>;
  nodes: Map<string, { options: Record<string, string | number>; rules: FwRule[] }>;
  guests: Map<number, { options: Record<string, string | number>; rules: FwRule[] }>;
}

const firewalls = new WeakMap<SimState, SimFirewall>();

export function firewallOf(state: SimState): SimFirewall {
  let fw = firewalls.get(state);
  if (!fw) {
    fw = {
      options: { enable: 0, policy_in: 'DROP', policy_out: 'ACCEPT' },
      rules: [],
      groups: new Map([['webserver', { comment: 'web servers', rules: [{ type: 'in', action: 'ACCEPT', macro: 'HTTPS', enable: 1 }, { type: 'in', action: 'ACCEPT', macro: 'HTTP', enable: 1 }] }]]),
      aliases: new Map([['admin_net', { cidr: '192.168.100.0/24', comment: 'admin workstations' }]]),
      ipsets: new Map([['blocklist', { comment: 'known bad', entries: new Map([['203.0.113.0/24', {}]]) }]]),
      nodes: new Map(),
      guests: new Map(),
    };
    firewalls.set(state, fw);
  }
  return fw;
}

const DIGEST = 'f1f2f3f4f5f6f7f8f9f0f1f2f3f4f5f6f7f8f9f0';
const RULE_KEYS = ['type', 'action', 'macro', 'source', 'dest', 'proto', 'dport', 'sport', 'iface', 'log', 'comment', 'enable', 'icmp-type'];

function nodeFw(ctx: HandlerContext) {
  const node = String(ctx.params.node);
  ctx.core.node(node);
  const fw = firewallOf(ctx.core.state);
  let entry = fw.nodes.get(node);
  if (!entry) fw.nodes.set(node, (entry = { options: { enable: 1 }, rules: [] }));
  return entry;
}

function guestFw(ctx: HandlerContext, type: 'qemu' | 'lxc') {
  const vmid = Number(ctx.params.vmid);
  ctx.core.guest(String(ctx.params.node), vmid, type);
  const fw = firewallOf(ctx.core.state);
  let entry = fw.guests.get(vmid);
  if (!entry) fw.guests.set(vmid, (entry = { options: { enable: 0, policy_in: 'DROP', policy_out: 'ACCEPT' }, rules: [] }));
  return entry;
}

function ruleFrom(params: Record<string, unknown>, base: FwRule = {}): FwRule {
  const rule: FwRule = { ...base };
  for (const key of RULE_KEYS) {
    if (params[key] === undefined) continue;
    rule[key] = key === 'enable' ? (isTrue(params[key]) || Number(params[key]) > 0 ? 1 : 0) : String(params[key]);
  }
  for (const key of splitList(params.delete)) delete rule[key];
  return rule;
}

function checkRule(ctx: HandlerContext, rule: FwRule): void {
  const { type, action } = rule;
  if (type === 'group') {
    if (!firewallOf(ctx.core.state).groups.has(String(action))) paramError({ action: `security group '${action}' does not exist` });
  } else if (!['ACCEPT', 'DROP', 'REJECT'].includes(String(action))) {
    paramError({ action: `value '${action}' does not match the regex pattern` });
  }
  if (rule.dport !== undefined && rule.proto === undefined && rule.macro === undefined) paramError({ dport: 'missing property - \'proto\' (dport requires a protocol)' });
}

function view(rules: FwRule[]): Record<string, unknown>[] {
  return rules.map((rule, pos) => ({ ...rule, pos, ipversion: undefined, digest: DIGEST })).map(({ ipversion: _, ...rest }) => rest);
}

/** Handlers for one ordered rule list (cluster, a group, a node, a guest). */
function ruleList(list: (ctx: HandlerContext) => FwRule[]): { index: Handler; create: Handler; read: Handler; update: Handler; remove: Handler } {
  const at = (ctx: HandlerContext): [FwRule[], number] => {
    const rules = list(ctx);
    const pos = Number(ctx.params.pos);
    if (!Number.isInteger(pos) || pos < 0 || pos >= rules.length) die(`no rule at position ${ctx.params.pos}`);
    return [rules, pos];
  };
  return {
    index: (ctx) => view(list(ctx)),
    create: (ctx) => {
      const rules = list(ctx);
      const rule = ruleFrom(ctx.params);
      checkRule(ctx, rule);
      const pos = ctx.params.pos === undefined ? 0 : Math.min(Math.max(0, Number(ctx.params.pos)), rules.length);
      rules.splice(pos, 0, rule);
      return null;
    },
    read: (ctx) => {
      const [rules, pos] = at(ctx);
      return { ...rules[pos], pos, digest: DIGEST };
    },
    update: (ctx) => {
      const [rules, pos] = at(ctx);
      if (ctx.params.moveto !== undefined) {
        const [rule] = rules.splice(pos, 1);
        rules.splice(Math.min(Math.max(0, Number(ctx.params.moveto)), rules.length), 0, rule);
        return null;
      }
      const rule = ruleFrom(ctx.params, rules[pos]);
      checkRule(ctx, rule);
      rules[pos] = rule;
      return null;
    },
    remove: (ctx) => {
      const [rules, pos] = at(ctx);
      rules.splice(pos, 1);
      return null;
    },
  };
}

function setOptions(options: Record<string, string | number>, params: Record<string, unknown>, keys: string[]): void {
  for (const key of splitList(params.delete)) delete options[key];
  for (const key of keys) {
    if (params[key] === undefined) continue;
    const value = params[key];
    options[key] = typeof value === 'boolean' ? (value ? 1 : 0) : /^(enable|ebtables|ndp|dhcp|macfilter|ipfilter|radv|nftables|nosmurfs|tcpflags)$/.test(key) ? (isTrue(value) || Number(value) > 0 ? Number(value) || 1 : 0) : String(value);
  }
}

const clusterOptionKeys = ['enable', 'policy_in', 'policy_out', 'policy_forward', 'ebtables', 'log_ratelimit'];
const nodeOptionKeys = ['enable', 'log_level_in', 'log_level_out', 'log_level_forward', 'ndp', 'nosmurfs', 'tcpflags', 'nftables', 'nf_conntrack_max', 'protection_synflood'];
const guestOptionKeys = ['enable', 'policy_in', 'policy_out', 'dhcp', 'ipfilter', 'macfilter', 'ndp', 'radv', 'log_level_in', 'log_level_out'];

const cluster = ruleList((ctx) => firewallOf(ctx.core.state).rules);
const group = ruleList((ctx) => {
  const g = firewallOf(ctx.core.state).groups.get(String(ctx.params.group));
  if (!g) die(`no such security group '${ctx.params.group}'`);
  return g.rules;
});
const node = ruleList((ctx) => nodeFw(ctx).rules);
const qemu = ruleList((ctx) => guestFw(ctx, 'qemu').rules);
const lxc = ruleList((ctx) => guestFw(ctx, 'lxc').rules);

/** Security groups in use by a rule anywhere (pve-firewall refuses to delete those). */
function groupInUse(fw: SimFirewall, name: string): boolean {
  const lists = [fw.rules, ...[...fw.nodes.values()].map((n) => n.rules), ...[...fw.guests.values()].map((g) => g.rules)];
  return lists.some((rules) => rules.some((rule) => rule.type === 'group' && rule.action === name));
}

export const firewallHandlers: Record<string, Handler> = {
  'GET /cluster/firewall/options': (ctx) => ({ ...firewallOf(ctx.core.state).options, digest: DIGEST }),
  'PUT /cluster/firewall/options': (ctx) => {
    setOptions(firewallOf(ctx.core.state).options, ctx.params, clusterOptionKeys);
    return null;
  },
  'GET /cluster/firewall/rules': cluster.index,
  'POST /cluster/firewall/rules': cluster.create,
  'GET /cluster/firewall/rules/{pos}': cluster.read,
  'PUT /cluster/firewall/rules/{pos}': cluster.update,
  'DELETE /cluster/firewall/rules/{pos}': cluster.remove,

  'GET /cluster/firewall/groups': (ctx) => [...firewallOf(ctx.core.state).groups.entries()].map(([name, g]) => ({ group: name, digest: DIGEST, ...(g.comment ? { comment: g.comment } : {}) })),
  'POST /cluster/firewall/groups': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.group);
    if (!/^[A-Za-z][A-Za-z0-9\-_]+$/.test(name)) paramError({ group: 'value does not match the regex pattern' });
    if (ctx.params.rename !== undefined) {
      const old = fw.groups.get(String(ctx.params.rename));
      if (!old) die(`Security group '${ctx.params.rename}' does not exist`);
      fw.groups.delete(String(ctx.params.rename));
      fw.groups.set(name, { ...old, ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
      return null;
    }
    if (fw.groups.has(name)) die(`Security group '${name}' already exists`);
    fw.groups.set(name, { rules: [], ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
    return null;
  },
  'GET /cluster/firewall/groups/{group}': group.index,
  'POST /cluster/firewall/groups/{group}': group.create,
  'DELETE /cluster/firewall/groups/{group}': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.group);
    const g = fw.groups.get(name);
    if (!g) return null;
    if (groupInUse(fw, name)) die(`Security group '${name}' is used by rules`);
    if (g.rules.length) die(`Security group '${name}' is not empty`);
    fw.groups.delete(name);
    return null;
  },
  'PUT /cluster/firewall/groups/{group}/{pos}': group.update,
  'DELETE /cluster/firewall/groups/{group}/{pos}': group.remove,

  'GET /cluster/firewall/aliases': (ctx) => [...firewallOf(ctx.core.state).aliases.entries()].map(([name, a]) => ({ name, cidr: a.cidr, digest: DIGEST, ...(a.comment ? { comment: a.comment } : {}) })),
  'POST /cluster/firewall/aliases': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.name);
    if (fw.aliases.has(name.toLowerCase())) die(`alias '${name}' already exists`);
    fw.aliases.set(name.toLowerCase(), { cidr: String(ctx.params.cidr), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
    return null;
  },
  'PUT /cluster/firewall/aliases/{name}': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.name).toLowerCase();
    const alias = fw.aliases.get(name);
    if (!alias) die(`no such alias '${ctx.params.name}'`);
    const next = { cidr: String(ctx.params.cidr), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : alias.comment ? { comment: alias.comment } : {}) };
    fw.aliases.delete(name);
    fw.aliases.set(ctx.params.rename !== undefined ? String(ctx.params.rename).toLowerCase() : name, next);
    return null;
  },
  'DELETE /cluster/firewall/aliases/{name}': (ctx) => {
    firewallOf(ctx.core.state).aliases.delete(String(ctx.params.name).toLowerCase());
    return null;
  },

  'GET /cluster/firewall/ipset': (ctx) => [...firewallOf(ctx.core.state).ipsets.entries()].map(([name, s]) => ({ name, digest: DIGEST, ...(s.comment ? { comment: s.comment } : {}) })),
  'POST /cluster/firewall/ipset': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.name).toLowerCase();
    if (fw.ipsets.has(name)) die(`IPSet '${name}' already exists`);
    fw.ipsets.set(name, { entries: new Map(), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
    return null;
  },
  'GET /cluster/firewall/ipset/{name}': (ctx) => {
    const set = firewallOf(ctx.core.state).ipsets.get(String(ctx.params.name).toLowerCase());
    if (!set) die(`no such IPSet '${ctx.params.name}'`);
    return [...set.entries.entries()].map(([cidr, e]) => ({ cidr, digest: DIGEST, ...e }));
  },
  'POST /cluster/firewall/ipset/{name}': (ctx) => {
    const set = firewallOf(ctx.core.state).ipsets.get(String(ctx.params.name).toLowerCase());
    if (!set) die(`no such IPSet '${ctx.params.name}'`);
    const cidr = String(ctx.params.cidr);
    if (set.entries.has(cidr)) die(`address '${cidr}' already exists`);
    set.entries.set(cidr, { ...(isTrue(ctx.params.nomatch) ? { nomatch: 1 } : {}), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
    return null;
  },
  'DELETE /cluster/firewall/ipset/{name}': (ctx) => {
    const fw = firewallOf(ctx.core.state);
    const name = String(ctx.params.name).toLowerCase();
    const set = fw.ipsets.get(name);
    if (!set) return null;
    if (set.entries.size && !isTrue(ctx.params.force)) die(`IPSet '${name}' is not empty`);
    fw.ipsets.delete(name);
    return null;
  },
  'DELETE /cluster/firewall/ipset/{name}/{cidr}': (ctx) => {
    const set = firewallOf(ctx.core.state).ipsets.get(String(ctx.params.name).toLowerCase());
    if (!set) die(`no such IPSet '${ctx.params.name}'`);
    set.entries.delete(String(ctx.params.cidr));
    return null;
  },

  'GET /nodes/{node}/firewall/options': (ctx) => ({ ...nodeFw(ctx).options, digest: DIGEST }),
  'PUT /nodes/{node}/firewall/options': (ctx) => {
    setOptions(nodeFw(ctx).options, ctx.params, nodeOptionKeys);
    return null;
  },
  'GET /nodes/{node}/firewall/rules': node.index,
  'POST /nodes/{node}/firewall/rules': node.create,
  'PUT /nodes/{node}/firewall/rules/{pos}': node.update,
  'DELETE /nodes/{node}/firewall/rules/{pos}': node.remove,

  'GET /nodes/{node}/qemu/{vmid}/firewall/options': (ctx) => ({ ...guestFw(ctx, 'qemu').options, digest: DIGEST }),
  'PUT /nodes/{node}/qemu/{vmid}/firewall/options': (ctx) => {
    setOptions(guestFw(ctx, 'qemu').options, ctx.params, guestOptionKeys);
    return null;
  },
  'GET /nodes/{node}/qemu/{vmid}/firewall/rules': qemu.index,
  'POST /nodes/{node}/qemu/{vmid}/firewall/rules': qemu.create,
  'PUT /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}': qemu.update,
  'DELETE /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}': qemu.remove,
  'GET /nodes/{node}/lxc/{vmid}/firewall/options': (ctx) => ({ ...guestFw(ctx, 'lxc').options, digest: DIGEST }),
  'PUT /nodes/{node}/lxc/{vmid}/firewall/options': (ctx) => {
    setOptions(guestFw(ctx, 'lxc').options, ctx.params, guestOptionKeys);
    return null;
  },
  'GET /nodes/{node}/lxc/{vmid}/firewall/rules': lxc.index,
  'POST /nodes/{node}/lxc/{vmid}/firewall/rules': lxc.create,
  'PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}': lxc.update,
  'DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}': lxc.remove,
};

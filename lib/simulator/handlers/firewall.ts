/**
 * The Proxmox VE firewall (pve-firewall's API2/Firewall/*.pm): cluster options, rules, security groups,
 * aliases and IP sets; each node's options and rules; each guest's options and rules. Rules are kept in
 * order; a new rule goes to the top unless `pos` says where (as the API and the GUI do); `moveto` moves.
 * Kept beside the main state (one firewall per simulated cluster), created on first use with defaults
 * as a fresh install has them: the cluster firewall off with policy_in DROP, nodes on, guests off.
 */
import { die, paramError } from '../errors.ts';
import { isTrue, Reply, type Handler, type HandlerContext } from '../core.ts';
import { splitList } from '../lists.ts';
import type { SimState } from '../state.ts';
import { permError } from '../errors.ts';
import { infraOf } from './infra.ts';

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
  guests: Map<number, GuestFirewall>;
  /** SDN vnet firewalls (forward rules only; PVE 8.3+ and 9) */
  vnets: Map<string, { options: Record<string, string | number>; rules: FwRule[] }>;
}

interface GuestFirewall {
  options: Record<string, string | number>;
  rules: FwRule[];
  aliases: Map<string, { cidr: string; comment?: string }>;
  ipsets: Map<string, IpSet>;
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
      vnets: new Map(),
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
  if (!entry) fw.guests.set(vmid, (entry = { options: { enable: 0, policy_in: 'DROP', policy_out: 'ACCEPT' }, rules: [], aliases: new Map(), ipsets: new Map() }));
  return entry;
}

/** A vnet's firewall; SDN.Audit (read) or SDN.Allocate (change) on /sdn/zones/<zone>/<vnet>, as the handler checks. */
function vnetFw(ctx: HandlerContext, change: boolean) {
  const name = String(ctx.params.vnet);
  const vnet = infraOf(ctx.core.state).sdn.vnets.get(name);
  if (!vnet) die(`vnet '${name}' does not exist`);
  const path = `/sdn/zones/${String(vnet.values.zone ?? vnet.pending?.zone ?? '')}/${name}`;
  if (!ctx.core.access.checkPerm(ctx.auth.authid, path, change ? ['SDN.Allocate'] : ['SDN.Audit', 'SDN.Allocate'], true, true)) permError(`${path}, ${change ? 'SDN.Allocate' : 'SDN.Audit|SDN.Allocate'}`);
  const fw = firewallOf(ctx.core.state);
  let entry = fw.vnets.get(name);
  if (!entry) fw.vnets.set(name, (entry = { options: { enable: 0 }, rules: [] }));
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
  if (ctx.params.vnet !== undefined && type !== 'forward') paramError({ type: `vnet firewall rules are forward rules (type forward), not '${type}'` });
  if (ctx.params.vnet === undefined && type === 'forward' && ctx.params.vmid !== undefined) paramError({ type: 'forward rules are not allowed on a guest' });
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
const vnetRead = ruleList((ctx) => vnetFw(ctx, false).rules);
const vnetRules = ruleList((ctx) => vnetFw(ctx, true).rules);

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

  ...aliasHandlers('/cluster/firewall', (ctx) => firewallOf(ctx.core.state).aliases),
  ...ipsetHandlers('/cluster/firewall', (ctx) => firewallOf(ctx.core.state).ipsets),

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
  ...aliasHandlers('/nodes/{node}/qemu/{vmid}/firewall', (ctx) => guestFw(ctx, 'qemu').aliases),
  ...ipsetHandlers('/nodes/{node}/qemu/{vmid}/firewall', (ctx) => guestFw(ctx, 'qemu').ipsets),
  ...aliasHandlers('/nodes/{node}/lxc/{vmid}/firewall', (ctx) => guestFw(ctx, 'lxc').aliases),
  ...ipsetHandlers('/nodes/{node}/lxc/{vmid}/firewall', (ctx) => guestFw(ctx, 'lxc').ipsets),

  'GET /nodes/{node}/firewall/log': (ctx) => {
    ctx.core.node(String(ctx.params.node));
    return logPage(ctx, firewallLog(ctx.core.state, String(ctx.params.node), ctx.now));
  },
  'GET /nodes/{node}/qemu/{vmid}/firewall/log': (ctx) => {
    const g = ctx.core.guest(String(ctx.params.node), Number(ctx.params.vmid), 'qemu');
    return logPage(ctx, firewallLog(ctx.core.state, g.node, ctx.now).filter((line) => line.vmid === g.vmid));
  },
  'GET /nodes/{node}/lxc/{vmid}/firewall/log': (ctx) => {
    const g = ctx.core.guest(String(ctx.params.node), Number(ctx.params.vmid), 'lxc');
    return logPage(ctx, firewallLog(ctx.core.state, g.node, ctx.now).filter((line) => line.vmid === g.vmid));
  },

  'GET /cluster/sdn/vnets/{vnet}/firewall/options': (ctx) => ({ ...vnetFw(ctx, false).options, digest: DIGEST }),
  'PUT /cluster/sdn/vnets/{vnet}/firewall/options': (ctx) => {
    setOptions(vnetFw(ctx, true).options, ctx.params, ['enable', 'policy_forward', 'log_level_forward']);
    return null;
  },
  'GET /cluster/sdn/vnets/{vnet}/firewall/rules': vnetRead.index,
  'POST /cluster/sdn/vnets/{vnet}/firewall/rules': vnetRules.create,
  'PUT /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}': vnetRules.update,
  'DELETE /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}': vnetRules.remove,
};

/** Alias handlers under `base` (the cluster's or a guest's firewall); names are case-insensitive. */
function aliasHandlers(base: string, of: (ctx: HandlerContext) => Map<string, { cidr: string; comment?: string }>): Record<string, Handler> {
  return {
    [`GET ${base}/aliases`]: (ctx) => [...of(ctx).entries()].map(([name, a]) => ({ name, cidr: a.cidr, digest: DIGEST, ...(a.comment ? { comment: a.comment } : {}) })),
    [`POST ${base}/aliases`]: (ctx) => {
      const aliases = of(ctx);
      const name = String(ctx.params.name);
      if (aliases.has(name.toLowerCase())) die(`alias '${name}' already exists`);
      aliases.set(name.toLowerCase(), { cidr: String(ctx.params.cidr), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
      return null;
    },
    [`PUT ${base}/aliases/{name}`]: (ctx) => {
      const aliases = of(ctx);
      const name = String(ctx.params.name).toLowerCase();
      const alias = aliases.get(name);
      if (!alias) die(`no such alias '${ctx.params.name}'`);
      const next = { cidr: String(ctx.params.cidr), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : alias.comment ? { comment: alias.comment } : {}) };
      aliases.delete(name);
      aliases.set(ctx.params.rename !== undefined ? String(ctx.params.rename).toLowerCase() : name, next);
      return null;
    },
    [`DELETE ${base}/aliases/{name}`]: (ctx) => {
      of(ctx).delete(String(ctx.params.name).toLowerCase());
      return null;
    },
  };
}

/** IP set handlers under `base`: sets, their entries (nomatch exceptions), delete only when empty unless force. */
function ipsetHandlers(base: string, of: (ctx: HandlerContext) => Map<string, IpSet>): Record<string, Handler> {
  const existing = (ctx: HandlerContext) => {
    const set = of(ctx).get(String(ctx.params.name).toLowerCase());
    if (!set) die(`no such IPSet '${ctx.params.name}'`);
    return set;
  };
  return {
    [`GET ${base}/ipset`]: (ctx) => [...of(ctx).entries()].map(([name, s]) => ({ name, digest: DIGEST, ...(s.comment ? { comment: s.comment } : {}) })),
    [`POST ${base}/ipset`]: (ctx) => {
      const sets = of(ctx);
      const name = String(ctx.params.name).toLowerCase();
      if (ctx.params.rename !== undefined) {
        const old = sets.get(String(ctx.params.rename).toLowerCase());
        if (!old) die(`IPSet '${ctx.params.rename}' does not exist`);
        sets.delete(String(ctx.params.rename).toLowerCase());
        sets.set(name, old);
        return null;
      }
      if (sets.has(name)) die(`IPSet '${name}' already exists`);
      sets.set(name, { entries: new Map(), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
      return null;
    },
    [`GET ${base}/ipset/{name}`]: (ctx) => [...existing(ctx).entries.entries()].map(([cidr, e]) => ({ cidr, digest: DIGEST, ...e })),
    [`POST ${base}/ipset/{name}`]: (ctx) => {
      const set = existing(ctx);
      const cidr = String(ctx.params.cidr);
      if (set.entries.has(cidr)) die(`address '${cidr}' already exists`);
      set.entries.set(cidr, { ...(isTrue(ctx.params.nomatch) ? { nomatch: 1 } : {}), ...(ctx.params.comment !== undefined ? { comment: String(ctx.params.comment) } : {}) });
      return null;
    },
    [`DELETE ${base}/ipset/{name}`]: (ctx) => {
      const sets = of(ctx);
      const name = String(ctx.params.name).toLowerCase();
      const set = sets.get(name);
      if (!set) return null;
      if (set.entries.size && !isTrue(ctx.params.force)) die(`IPSet '${name}' is not empty`);
      sets.delete(name);
      return null;
    },
    [`DELETE ${base}/ipset/{name}/{cidr}`]: (ctx) => {
      existing(ctx).entries.delete(String(ctx.params.cidr));
      return null;
    },
  };
}

interface LogLine { time: number; vmid: number; text: string }

/**
 * /var/log/pve-firewall.log of a node as pve-firewall's logger writes it: `VMID LEVEL CHAIN TIME TEXT`
 * (VMID 0 for the host), one line every few minutes over the last day: drops of scans against guests'
 * and the host's closed ports, and the logger's own start. Stable for a given state and hour.
 */
function firewallLog(state: SimState, node: string, now: number): LogLine[] {
  const guests = [...state.guests.values()].filter((g) => g.node === node).map((g) => g.vmid).sort((a, b) => a - b);
  const end = Math.floor(now / 1000 / 3600) * 3600;
  const start = end - 86400;
  const lines: LogLine[] = [{ time: start, vmid: 0, text: 'starting pvefw logger' }];
  const ports = [22, 23, 3389, 445, 8006, 5900];
  let i = 0;
  for (let t = start + 420; t < end; t += 420 + ((i * 137) % 300), i++) {
    const vmid = i % 3 === 0 || !guests.length ? 0 : guests[i % guests.length];
    const port = ports[i % ports.length];
    const src = `203.0.113.${(i * 37) % 250 + 1}`;
    const chain = vmid ? `tap${vmid}i0-IN` : 'PVEFW-HOST-IN';
    lines.push({ time: t, vmid, text: `${chain} policy DROP: IN=${vmid ? `fwbr${vmid}i0` : 'vmbr0'} SRC=${src} DST=${vmid ? `10.0.0.${vmid % 250}` : '10.0.0.11'} LEN=60 PROTO=TCP SPT=${40000 + ((i * 911) % 20000)} DPT=${port} SYN` });
  }
  return lines.map((line) => ({ ...line, text: `${line.vmid} ${line.vmid ? 6 : 5} ${line.text.startsWith('starting') ? '-' : line.text.split(' ')[0]} ${stamp(line.time)} ${line.text.startsWith('starting') ? line.text : line.text.slice(line.text.indexOf(' ') + 1)}` }));
}

function stamp(seconds: number): string {
  const d = new Date(seconds * 1000);
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** The API's paging of a log: since/until (epoch) filter, then start (0-based line) and limit (default 50). */
function logPage(ctx: HandlerContext, lines: LogLine[]): Reply {
  const since = ctx.params.since === undefined ? undefined : Number(ctx.params.since);
  const until = ctx.params.until === undefined ? undefined : Number(ctx.params.until);
  const kept = lines.filter((line) => (since === undefined || line.time >= since) && (until === undefined || line.time <= until));
  const start = ctx.params.start === undefined ? 0 : Number(ctx.params.start);
  const limit = ctx.params.limit === undefined ? 50 : Number(ctx.params.limit);
  return new Reply(kept.slice(start, start + limit).map((line, i) => ({ n: start + i + 1, t: line.text })), { total: kept.length });
}

/**
 * No firewall change cuts this server's own access to the main node (the API on tcp/8006, SSH on tcp/22)
 * or the cluster's own traffic (corosync, migration over SSH between the members). The rule set is read,
 * the change applied to a copy as Proxmox would apply it, and both judged (lib/firewall/evaluate.ts): a
 * cut the change would add is refused, naming the rule or policy that would do it. Enabling the firewall
 * with policy_in DROP and no rule that accepts this server is such a cut. Guest firewalls do not guard
 * the hosts and are not judged here. Fails closed: a rule set that cannot be read refuses the change.
 */
import type { NormalizedRequest } from '../normalize.ts';
import { paramItems, paramReadings } from '../normalize.ts';
import { refuse, type PolicyRule, type ProtectionContext } from './common.ts';
import { cidrContains, cutsOf, type FirewallSet, type FwRule } from '../../firewall/evaluate.ts';
import { serverSourceAddress } from '../../firewall/source.ts';
import type { PveClient } from '../../pve/types.ts';

/** Is this a change of a host firewall (cluster-wide or a node's), and which part? */
function target(req: NormalizedRequest): { scope: 'cluster' | 'node'; node?: string; rest: string[] } | undefined {
  if (req.method === 'GET') return undefined;
  const s = req.segments;
  if (s[0] === 'cluster' && s[1] === 'firewall') return { scope: 'cluster', rest: s.slice(2) };
  if (s[0] === 'nodes' && s[1] && s[2] === 'firewall') return { scope: 'node', node: s[1], rest: s.slice(3) };
  return undefined;
}

export async function readFirewall(pve: PveClient, nodes: string[]): Promise<FirewallSet> {
  const get = <T>(path: string) => pve.get<T>(path);
  const [options, rules, groupList, aliasList, ipsetList] = await Promise.all([
    get<Record<string, unknown>>('/cluster/firewall/options'),
    get<FwRule[]>('/cluster/firewall/rules'),
    get<{ group: string }[]>('/cluster/firewall/groups'),
    get<{ name: string; cidr: string }[]>('/cluster/firewall/aliases'),
    get<{ name: string }[]>('/cluster/firewall/ipset'),
  ]);
  const groups = new Map(await Promise.all(groupList.map(async (g) => [g.group.toLowerCase(), await get<FwRule[]>(`/cluster/firewall/groups/${encodeURIComponent(g.group)}`)] as [string, FwRule[]])));
  const ipsets = new Map(await Promise.all(ipsetList.map(async (s) => [s.name.toLowerCase(), (await get<{ cidr: string; nomatch?: number }[]>(`/cluster/firewall/ipset/${encodeURIComponent(s.name)}`)).map((e) => ({ cidr: e.cidr, nomatch: Number(e.nomatch ?? 0) === 1 }))] as [string, { cidr: string; nomatch: boolean }[]])));
  const perNode = new Map(await Promise.all(nodes.map(async (node) => [node, {
    options: await get<Record<string, unknown>>(`/nodes/${encodeURIComponent(node)}/firewall/options`),
    rules: await get<FwRule[]>(`/nodes/${encodeURIComponent(node)}/firewall/rules`),
  }] as [string, { options: Record<string, unknown>; rules: FwRule[] }])));
  return {
    options,
    rules: rules.map(stripRule),
    groups: new Map([...groups].map(([name, list]) => [name, list.map(stripRule)])),
    aliases: new Map(aliasList.map((a) => [a.name.toLowerCase(), a.cidr])),
    ipsets,
    nodes: new Map([...perNode].map(([name, fw]) => [name, { options: fw.options, rules: fw.rules.map(stripRule) }])),
  };
}

function stripRule(rule: FwRule): FwRule {
  const { pos: _pos, digest: _digest, ...rest } = rule;
  return rest;
}

function clone(set: FirewallSet): FirewallSet {
  return {
    options: { ...set.options },
    rules: set.rules.map((r) => ({ ...r })),
    groups: new Map([...set.groups].map(([k, v]) => [k, v.map((r) => ({ ...r }))])),
    aliases: new Map(set.aliases),
    ipsets: new Map([...set.ipsets].map(([k, v]) => [k, v.map((e) => ({ ...e }))])),
    nodes: new Map([...set.nodes].map(([k, v]) => [k, { options: { ...v.options }, rules: v.rules.map((r) => ({ ...r })) }])),
  };
}

const RULE_KEYS = ['type', 'action', 'macro', 'source', 'dest', 'proto', 'dport', 'sport', 'iface', 'enable'];

/** The change applied to a copy, with one reading of every parameter (`pick`). */
function applyChange(set: FirewallSet, req: NormalizedRequest, where: NonNullable<ReturnType<typeof target>>, pick: (name: string) => string | undefined): FirewallSet {
  const next = clone(set);
  const deletes = paramItems(req, 'delete');
  const ruleFrom = (base: FwRule = {}) => {
    const rule: FwRule = { ...base };
    for (const key of RULE_KEYS) {
      const value = pick(key);
      if (value !== undefined) rule[key] = value;
    }
    for (const key of deletes) delete rule[key];
    return rule;
  };
  const editList = (rules: FwRule[], posText: string | undefined) => {
    if (req.method === 'POST' && posText === undefined) {
      const pos = pick('pos');
      rules.splice(pos === undefined ? 0 : Math.min(Math.max(0, Number(pos) || 0), rules.length), 0, ruleFrom());
      return;
    }
    const pos = Number(posText);
    if (!Number.isInteger(pos) || pos < 0 || pos >= rules.length) return;
    if (req.method === 'DELETE') rules.splice(pos, 1);
    else if (req.method === 'PUT') {
      const moveto = pick('moveto');
      if (moveto !== undefined) {
        const [rule] = rules.splice(pos, 1);
        rules.splice(Math.min(Math.max(0, Number(moveto) || 0), rules.length), 0, rule);
      } else rules[pos] = ruleFrom(rules[pos]);
    }
  };
  const setOptions = (options: Record<string, unknown>) => {
    for (const key of deletes) delete options[key];
    for (const key of ['enable', 'policy_in']) {
      const value = pick(key);
      if (value !== undefined) options[key] = key === 'enable' ? (['1', 'true', 'yes', 'on'].includes(value) ? 1 : Number(value) > 0 ? 1 : 0) : value.toUpperCase();
    }
  };
  const [a, b, c] = where.rest;
  if (where.scope === 'node') {
    let fw = next.nodes.get(where.node!);
    if (!fw) next.nodes.set(where.node!, (fw = { options: {}, rules: [] }));
    if (a === 'options') setOptions(fw.options);
    else if (a === 'rules') editList(fw.rules, b);
    return next;
  }
  if (a === 'options') setOptions(next.options);
  else if (a === 'rules') editList(next.rules, b);
  else if (a === 'groups' && b) {
    const group = next.groups.get(b) ?? [];
    if (req.method === 'DELETE' && c === undefined) next.groups.delete(b);
    else {
      editList(group, c);
      next.groups.set(b, group);
    }
  } else if (a === 'groups' && req.method === 'POST') {
    const rename = pick('rename');
    const name = pick('group');
    if (rename && name && next.groups.has(rename)) {
      next.groups.set(name, next.groups.get(rename)!);
      next.groups.delete(rename);
    }
  } else if (a === 'aliases') {
    const name = (b ?? pick('name') ?? '').toLowerCase();
    if (req.method === 'DELETE') next.aliases.delete(name);
    else {
      const cidr = pick('cidr');
      const rename = pick('rename');
      if (rename) next.aliases.delete(name);
      if (cidr !== undefined) next.aliases.set((rename ?? name).toLowerCase(), cidr);
    }
  } else if (a === 'ipset') {
    const name = (b ?? pick('name') ?? '').toLowerCase();
    const entries = next.ipsets.get(name) ?? [];
    if (b && c !== undefined) {
      const cidr = req.originalSegments[4] ?? c;
      if (req.method === 'DELETE') next.ipsets.set(name, entries.filter((e) => e.cidr.toLowerCase() !== cidr.toLowerCase()));
      else if (req.method === 'PUT') next.ipsets.set(name, entries.map((e) => (e.cidr.toLowerCase() === cidr.toLowerCase() ? { ...e, nomatch: ['1', 'true', 'yes', 'on'].includes(pick('nomatch') ?? '0') } : e)));
    } else if (b && req.method === 'POST') {
      const cidr = pick('cidr');
      if (cidr) next.ipsets.set(name, [...entries, { cidr, nomatch: ['1', 'true', 'yes', 'on'].includes(pick('nomatch') ?? '0') }]);
    } else if (b && req.method === 'DELETE') next.ipsets.delete(name);
    else if (!b && req.method === 'POST') {
      const rename = pick('rename');
      if (rename && next.ipsets.has(rename.toLowerCase())) {
        next.ipsets.set(name, next.ipsets.get(rename.toLowerCase())!);
        next.ipsets.delete(rename.toLowerCase());
      } else if (!next.ipsets.has(name)) next.ipsets.set(name, []);
    }
  }
  return next;
}

/** Whether the server's address is in the management IP set (defined, else the main node's /24, as local_network roughly is). */
function inManagement(set: FirewallSet, source: string | undefined, mainIp: string | undefined): boolean {
  if (!source) return false;
  const management = set.ipsets.get('management');
  if (management) return management.some((e) => !e.nomatch && cidrContains(e.cidr, source) === true) && !management.some((e) => e.nomatch && cidrContains(e.cidr, source) === true);
  return mainIp ? cidrContains(`${mainIp}/24`, source) === true : false;
}

async function check(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const where = target(req);
  if (!where) return;
  let members: { name: string; ip?: string }[];
  let before: FirewallSet;
  try {
    const status = await ctx.pve.get<{ type: string; name: string; ip?: string }[]>('/cluster/status');
    members = status.filter((row) => row.type === 'node').map((row) => ({ name: row.name, ...(row.ip ? { ip: row.ip } : {}) }));
    before = await readFirewall(ctx.pve, members.map((m) => m.name));
  } catch (error) {
    refuse(`Could not read the firewall to check that this change leaves the server's access and the cluster's traffic open (${(error as Error).message}); nothing was sent.`);
  }
  const main = await ctx.mainNode();
  const mains = main ? [main] : members.map((m) => m.name);
  const source = await serverSourceAddress(ctx.pve.baseUrl);
  const judge = (set: FirewallSet) =>
    mains.flatMap((mainNode) => cutsOf(set, { mainNode, nodes: members, serverSource: source, inManagement: inManagement(set, source, members.find((m) => m.name === mainNode)?.ip) }));
  const key = (cut: { node: string; what: string }) => `${cut.node}|${cut.what}`;
  const existing = new Set(judge(before).map(key));
  const names = Object.keys(req.raw);
  const depth = Math.max(1, ...names.map((name) => paramReadings(req, name).length));
  // `localhost` is the node that answers the API: the main node, or any node when that is not known
  const targets = where.scope === 'node' && where.node === 'localhost' ? (main ? [main] : members.map((m) => m.name)) : [where.node];
  for (let level = 0; level < depth * targets.length; level++) {
    const pick = (name: string) => {
      const readings = paramReadings(req, name);
      return readings.length ? readings[Math.min(level % depth, readings.length - 1)] : undefined;
    };
    const added = judge(applyChange(before, req, { ...where, node: targets[Math.floor(level / depth)] }, pick)).filter((cut) => !existing.has(key(cut)));
    if (added.length) {
      const list = added.slice(0, 4).map((cut) => `${cut.what} to ${cut.node} would be dropped by ${cut.why}`).join('; ');
      const advice = added.some((cut) => cut.what.startsWith('this server'))
        ? 'Add an ACCEPT rule for it first (e.g. in, tcp, dport 8006 and 22, source this server\'s address)'
        : 'Keep the cluster\'s own traffic open first (in, ACCEPT from the cluster network: udp dport 5405:5412 for corosync, tcp dport 22 and 60000:60050 for migration), or narrow the rule\'s source or ports';
      refuse(`This firewall change would cut ${added.length === 1 ? 'this' : 'these'} off: ${list}. Nothing was sent. ${advice}, or make the change on the host.`);
    }
  }
}

export const firewallSelfAccessRule: PolicyRule = { name: 'firewall-self-access', check };

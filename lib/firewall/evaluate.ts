/**
 * Would a firewall rule set cut this server or the cluster off? A host's inbound chain as pve-firewall
 * builds it (ruleset_generate_host): the node's rules, then the cluster's (security groups expanded in
 * place), first match wins; then the built-in accepts for the `management` IP set (the API on 8006, SSH on
 * 22; by default the local network) and for corosync between cluster members; then policy_in. The host
 * firewall runs when the cluster's `enable` is on and the node's `enable` is not off.
 *
 * The packets that must pass: this server to the main node on tcp/8006 (API) and tcp/22 (SSH), and every
 * cluster member to every node on each port of udp/5405-5412 (corosync, one port per knet link), tcp/22
 * (migration runs through SSH) and tcp/60000-60050 (insecure migration). When
 * the server does not know its own source address, a DROP/REJECT rule that names any source is taken to
 * match it and an ACCEPT that names a source is not taken to accept it (fail closed).
 */

export type FwRule = Record<string, unknown>;

export interface FirewallSet {
  options: Record<string, unknown>;
  rules: FwRule[];
  groups: Map<string, FwRule[]>;
  aliases: Map<string, string>;
  ipsets: Map<string, { cidr: string; nomatch: boolean }[]>;
  nodes: Map<string, { options: Record<string, unknown>; rules: FwRule[] }>;
}

export interface Packet {
  what: string;
  proto: 'tcp' | 'udp';
  port: number;
  /** IPv4 source, or undefined when unknown. */
  source?: string;
  /** Accepted by the management/cluster defaults after the rules when no rule decided. */
  defaultAccept: boolean;
}

export interface Cut {
  node: string;
  what: string;
  why: string;
}

/** Macros that carry the ports we check (pve-firewall's macro table). */
const MACROS: Record<string, { proto: string; ports: number[] }[]> = {
  ssh: [{ proto: 'tcp', ports: [22] }],
};

function ipToNumber(ip: string): number | undefined {
  const parts = ip.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** Does `cidr` (an address or address/bits, IPv4) contain `ip`? undefined when not IPv4 (unknown). */
export function cidrContains(cidr: string, ip: string): boolean | undefined {
  const [base, bitsText] = cidr.trim().split('/');
  const a = ipToNumber(base);
  const b = ipToNumber(ip);
  if (a === undefined || b === undefined) return undefined;
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** Whether a rule's source may match `ip`: true, false, or 'unknown' (an unresolvable or unknown side). */
function sourceMatches(set: FirewallSet, source: unknown, ip: string | undefined, depth = 0): true | false | 'unknown' {
  if (source === undefined || source === '') return true;
  if (ip === undefined || depth > 4) return 'unknown';
  let unknown = false;
  for (const raw of String(source).split(/[,\s]+/).filter(Boolean)) {
    const item = raw.replace(/^dc\//, '');
    let result: boolean | 'unknown';
    if (item.startsWith('+')) {
      const name = item.slice(1).replace(/^dc\//, '').toLowerCase();
      const entries = set.ipsets.get(name);
      if (!entries) result = 'unknown';
      else {
        const hit = entries.map((e) => ({ e, in: cidrContains(e.cidr, ip) ?? sourceMatches(set, e.cidr, ip, depth + 1) }));
        if (hit.some((h) => h.in === true && h.e.nomatch)) result = false;
        else if (hit.some((h) => h.in === true)) result = true;
        else result = hit.some((h) => h.in === 'unknown') ? 'unknown' : false;
      }
    } else if (/^[\d.]+(\/\d+)?$/.test(item)) {
      result = cidrContains(item, ip) ?? 'unknown';
    } else if (/^[\d.]+-[\d.]+$/.test(item)) {
      const [from, to] = item.split('-').map(ipToNumber);
      const n = ipToNumber(ip);
      result = from === undefined || to === undefined || n === undefined ? 'unknown' : n >= from && n <= to;
    } else {
      const alias = set.aliases.get(item.toLowerCase());
      result = alias === undefined ? 'unknown' : (cidrContains(alias, ip) ?? 'unknown');
    }
    if (result === true) return true;
    if (result === 'unknown') unknown = true;
  }
  return unknown ? 'unknown' : false;
}

/** Service names (/etc/services) a dport may use: ssh is ours; the common others are known not to be. */
const SERVICES: Record<string, number> = {
  ssh: 22, ftp: 21, telnet: 23, smtp: 25, domain: 53, http: 80, pop3: 110, ntp: 123, imap: 143, snmp: 161,
  ldap: 389, https: 443, submission: 587, ldaps: 636, imaps: 993, pop3s: 995, mysql: 3306, postgresql: 5432,
};

/** Whether a dport spec covers `port`; 'unknown' for a service name we cannot resolve (DROP: taken to match). */
function portMatches(spec: unknown, port: number): boolean | 'unknown' {
  if (spec === undefined || spec === '') return true;
  let unknown = false;
  for (const part of String(spec).split(',')) {
    const [from, to] = part.trim().toLowerCase().split(':');
    const value = (text: string) => (/^\d+$/.test(text) ? Number(text) : SERVICES[text]);
    const a = value(from);
    const b = to === undefined ? a : value(to);
    if (a === undefined || b === undefined) unknown = true;
    else if (port >= a && port <= b) return true;
  }
  return unknown ? 'unknown' : false;
}

/** Whether the rule is about this protocol and port (macros we do not know are other services). */
function trafficMatches(rule: FwRule, packet: Packet): boolean | 'unknown' {
  if (rule.macro !== undefined && rule.macro !== '') {
    const macro = MACROS[String(rule.macro).toLowerCase()];
    if (!macro) return false;
    return macro.some((m) => m.proto === packet.proto && m.ports.includes(packet.port));
  }
  const proto = rule.proto === undefined || rule.proto === '' ? undefined : String(rule.proto).toLowerCase();
  if (proto !== undefined && proto !== packet.proto && proto !== (packet.proto === 'tcp' ? '6' : '17')) return false;
  return portMatches(rule.dport, packet.port);
}

const enabled = (rule: FwRule) => rule.enable === undefined || Number(rule.enable) !== 0;
const truthy = (value: unknown) => value !== undefined && value !== '' && Number(value) !== 0;

function describeRule(rule: FwRule, where: string): string {
  const parts = [String(rule.action).toUpperCase(), rule.macro ? `macro ${rule.macro}` : '', rule.proto ?? '', rule.dport ? `dport ${rule.dport}` : '', rule.source ? `from ${rule.source}` : ''].filter(Boolean);
  return `${where} (${parts.join(' ')}${rule.comment ? `, "${rule.comment}"` : ''})`;
}

/** The first rule (node's, then cluster's, groups expanded) that decides `packet`, or the defaults. */
function decide(set: FirewallSet, node: string, packet: Packet): { verdict: 'accept' | 'drop'; why: string } {
  const nodeRules = set.nodes.get(node)?.rules ?? [];
  const lists: [FwRule[], string][] = [[nodeRules, `rule ${'{pos}'} of node ${node}`], [set.rules, 'cluster rule {pos}']];
  for (const [rules, label] of lists) {
    for (let pos = 0; pos < rules.length; pos++) {
      const top = rules[pos];
      if (!enabled(top)) continue;
      const where = label.replace('{pos}', String(pos));
      const expanded: [FwRule, string][] = top.type === 'group'
        ? (set.groups.get(String(top.action).toLowerCase()) ?? []).filter(enabled).map((r, i) => [r, `${where} (security group ${top.action}, rule ${i})`])
        : [[top, where]];
      for (const [rule, at] of expanded) {
        const traffic = rule.type === 'in' ? trafficMatches(rule, packet) : false;
        if (traffic === false) continue;
        const action = String(rule.action).toUpperCase();
        const source = sourceMatches(set, rule.source, packet.source);
        if (action === 'ACCEPT') {
          if (source === true && traffic === true) return { verdict: 'accept', why: describeRule(rule, at) };
          continue;
        }
        if ((action === 'DROP' || action === 'REJECT') && traffic === 'unknown' && source !== false) {
          return { verdict: 'drop', why: `${describeRule(rule, at)} may match (a port name this server cannot resolve)` };
        }
        if ((action === 'DROP' || action === 'REJECT') && source !== false) {
          return { verdict: 'drop', why: `${describeRule(rule, at)}${source === 'unknown' ? ' may match this server (its own address is not known here)' : ''}` };
        }
      }
    }
  }
  if (packet.defaultAccept) return { verdict: 'accept', why: 'the management/cluster defaults' };
  const policy = String(set.options.policy_in ?? 'DROP').toUpperCase();
  if (policy === 'ACCEPT') return { verdict: 'accept', why: 'policy_in ACCEPT' };
  return { verdict: 'drop', why: `policy_in ${policy} with no rule that accepts it${packet.source ? '' : ' (this server\'s own address is not known here, so only an ACCEPT without a source counts)'}` };
}

export function hostFirewallOn(set: FirewallSet, node: string): boolean {
  const nodeOptions = set.nodes.get(node)?.options ?? {};
  return truthy(set.options.enable) && (nodeOptions.enable === undefined || Number(nodeOptions.enable) !== 0);
}

/**
 * Everything `set` would cut: the server's API and SSH access to the main node, and corosync and
 * migration (SSH) between the members. `serverSource` is this server's address as the main node sees it;
 * `inManagement` says whether that address is in the management IP set (the defaults accept it).
 */
export function cutsOf(set: FirewallSet, input: { mainNode: string; nodes: { name: string; ip?: string }[]; serverSource?: string; inManagement: boolean }): Cut[] {
  const cuts: Cut[] = [];
  if (hostFirewallOn(set, input.mainNode)) {
    for (const [what, port] of [['this server\'s API access (tcp/8006)', 8006], ['this server\'s SSH access (tcp/22)', 22]] as const) {
      const result = decide(set, input.mainNode, { what, proto: 'tcp', port, source: input.serverSource, defaultAccept: input.inManagement });
      if (result.verdict === 'drop') cuts.push({ node: input.mainNode, what, why: result.why });
    }
  }
  for (const target of input.nodes) {
    if (!hostFirewallOn(set, target.name)) continue;
    for (const peer of input.nodes) {
      if (peer.name === target.name) continue;
      for (const { what, proto, from, to } of CLUSTER_TRAFFIC) {
        // every port of the range: one knet link or one migration port dropped is a cut
        for (let port = from; port <= to; port++) {
          const result = decide(set, target.name, { what, proto, port, source: peer.ip, defaultAccept: true });
          if (result.verdict === 'drop') {
            cuts.push({ node: target.name, what: `${what} from ${peer.name}`, why: `${from === to ? '' : `${proto}/${port}: `}${result.why}` });
            break;
          }
        }
      }
    }
  }
  return cuts;
}

/**
 * The cluster's own traffic between members: corosync on every knet link (udp/5405-5412), SSH (tcp/22:
 * migration, replication and pvecm run through it), and insecure migration's direct ports (tcp/60000-60050).
 */
export const CLUSTER_TRAFFIC: { what: string; proto: 'tcp' | 'udp'; from: number; to: number }[] = [
  { what: 'corosync (udp/5405-5412)', proto: 'udp', from: 5405, to: 5412 },
  { what: 'migration and SSH between nodes (tcp/22)', proto: 'tcp', from: 22, to: 22 },
  { what: 'insecure migration (tcp/60000-60050)', proto: 'tcp', from: 60000, to: 60050 },
];

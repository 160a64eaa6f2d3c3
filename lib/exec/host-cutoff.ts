/**
 * Host commands that cut the main node (the one this server runs its shell and API calls on) off without
 * going through the API: stopping its API, cluster file system, quorum or SSH services; destroying its
 * ZFS pools, its root datasets or local-zfs's guest disks; taking down the interface that carries its
 * address; firewall default-DROP policies, DROP rules and flushes. The rules are data (the tables below).
 *
 * Where Proxmox has an API request for the same effect, the command becomes that request and the one API
 * policy judges it (lib/policy/rules/main-node.ts: services/{s}/stop, network/{iface}, disks/zfs/{pool};
 * protected-guest.ts: a guest's volume): the shell and proxmox_api give the same answer, the management
 * interface is looked up the same way (fail closed). What has no API equivalent gives a host finding,
 * refused on the main node (every node when the main node is not known), or on every node for data loss.
 *
 * Decisions: `systemctl restart|reload` is allowed (as POST services/{s}/restart is); `pve-firewall stop`
 * opens the host rather than closing it and is left to the classifier (destructive, confirmed); a rule
 * set loaded from a file (iptables-restore, nft -f) cannot be judged here and is refused on the main node.
 */
import type { SimpleCommand } from './shell-parse.ts';

export interface HostRequest {
  method: 'POST' | 'DELETE';
  path: string;
  params: Record<string, string>;
}

export interface HostFinding {
  reason: string;
  /** Only on the main node (a cut-off); otherwise on every node (data loss). */
  mainOnly: boolean;
}

export interface HostVerdict {
  requests: HostRequest[];
  findings: HostFinding[];
  /** A word the verdict depends on is only known at run time. */
  unknowable?: string;
}

// -- the tables --------------------------------------------------------------------------------------

/** Services whose stop leaves this server without Proxmox: unit name -> the API's service name. */
export const CUT_OFF_UNITS: Readonly<Record<string, string>> = {
  pveproxy: 'pveproxy',
  pvedaemon: 'pvedaemon',
  'pve-cluster': 'pve-cluster',
  corosync: 'corosync',
  sshd: 'sshd',
  ssh: 'sshd',
  'ssh.socket': 'sshd',
  'sshd.socket': 'sshd',
};

/** Units with no API service whose stop cuts the node's network off. */
export const CUT_OFF_HOST_UNITS: readonly string[] = ['networking', 'systemd-networkd', 'network-online.target', 'network.target', 'multi-user.target'];

/** Process names of those services (killall/pkill) -> the API's service name. */
export const CUT_OFF_PROCESSES: Readonly<Record<string, string>> = {
  pveproxy: 'pveproxy',
  'pveproxy worker': 'pveproxy',
  pvedaemon: 'pvedaemon',
  'pvedaemon worker': 'pvedaemon',
  pmxcfs: 'pve-cluster',
  corosync: 'corosync',
  sshd: 'sshd',
};

/** systemctl verbs that stop a unit now or keep it from starting (at the next boot the node is cut off). */
export const SYSTEMCTL_STOP_VERBS: readonly string[] = ['stop', 'kill', 'disable', 'mask', 'freeze', 'clean'];

/** systemctl verbs that stop nearly every service. */
export const SYSTEMCTL_ISOLATE_VERBS: readonly string[] = ['isolate', 'rescue', 'emergency', 'default'];

/** systemctl options that take a value (so the value is not the verb). */
const SYSTEMCTL_VALUE_OPTIONS = new Set(['-t', '--type', '-s', '--signal', '-H', '--host', '-M', '--machine', '-p', '--property', '-P', '--kill-whom', '--kill-value', '--root', '--image', '-n', '--lines', '-o', '--output', '--state', '--job-mode', '--what', '--timestamp', '--preset-mode', '--boot-loader-entry', '--boot-loader-menu', '--reboot-argument', '--message', '--when', '--drop-in', '--check-inhibitors', '--image-policy']);

/** Datasets PVE creates under a pool whose destruction loses the node or its guests (rpool/ROOT, local-zfs, local). */
export const PROTECTED_DATASETS: readonly { suffix: string; what: string }[] = [
  { suffix: 'ROOT', what: "the node's root file system" },
  { suffix: 'data', what: 'the local-zfs storage, every guest disk on it' },
  { suffix: 'var-lib-vz', what: "the 'local' storage (backups, ISO images, templates)" },
];

/** Firewall programs and what of their arguments refuses them on the main node. */
const KILLERS = new Set(['kill', 'killall', 'pkill', 'killall5']);
const IPTABLES = new Set(['iptables', 'ip6tables', 'iptables-legacy', 'ip6tables-legacy', 'iptables-nft', 'ip6tables-nft', 'xtables-legacy-multi', 'xtables-nft-multi']);
const FIREWALL_FILE_LOADERS = new Set(['iptables-restore', 'ip6tables-restore', 'iptables-legacy-restore', 'ip6tables-legacy-restore', 'iptables-nft-restore', 'ip6tables-nft-restore', 'nft']);

// -- helpers -------------------------------------------------------------------------------------------

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'i');
}

const hasGlob = (text: string) => /[*?[]/.test(text);

/** The cut-off units a systemctl/service unit argument names (suffix, case and glob variants). */
function unitsNamed(arg: string): string[] {
  const name = arg.replace(/^-+/, '');
  const candidates = [...Object.keys(CUT_OFF_UNITS), ...CUT_OFF_HOST_UNITS];
  if (hasGlob(name)) {
    let re: RegExp;
    try {
      re = globToRegExp(name);
    } catch {
      return candidates.filter((unit) => Object.hasOwn(CUT_OFF_UNITS, unit)); // a pattern this server cannot read could match any of them
    }
    return candidates.filter((unit) => re.test(unit) || re.test(`${unit}.service`));
  }
  const bare = name.toLowerCase().replace(/\.service$/, '').replace(/@.*$/, '');
  return candidates.filter((unit) => unit === bare || unit === name.toLowerCase());
}

const stopRequest = (node: string, service: string): HostRequest => ({ method: 'POST', path: `/nodes/${node}/services/${service}/stop`, params: {} });
const ifaceRequest = (node: string, iface: string): HostRequest => ({ method: 'DELETE', path: `/nodes/${node}/network/${encodeURIComponent(iface)}`, params: {} });

function unitVerdict(units: string[], node: string, how: string, verdict: HostVerdict): void {
  for (const unit of units) {
    if (Object.hasOwn(CUT_OFF_UNITS, unit)) verdict.requests.push(stopRequest(node, CUT_OFF_UNITS[unit]!));
    else verdict.findings.push({ reason: `${how} ${unit} on the main node takes its network down and cuts this server off`, mainOnly: true });
  }
}

/** `a` is a prefix of `keyword` (how iproute2 `matches()` reads its keywords). */
const abbrev = (a: string | undefined, keyword: string, min = 1) => a !== undefined && a.length >= min && keyword.startsWith(a.toLowerCase());

// -- the rules ------------------------------------------------------------------------------------------

function systemctl(args: string[], node: string, verdict: HostVerdict): void {
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('-')) {
      if (SYSTEMCTL_VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    positionals.push(a);
  }
  const [verb, ...units] = positionals;
  const v = (verb ?? '').toLowerCase();
  if (SYSTEMCTL_ISOLATE_VERBS.includes(v)) {
    const target = (units[0] ?? '').toLowerCase().replace(/\.target$/, '');
    if (v === 'isolate' && ['multi-user', 'graphical', 'default'].includes(target)) return;
    verdict.findings.push({ reason: `systemctl ${v}${units[0] ? ` ${units[0]}` : ''} stops the node's services (API, SSH, cluster) and cuts this server off`, mainOnly: true });
    return;
  }
  if (!SYSTEMCTL_STOP_VERBS.includes(v)) return;
  unitVerdict([...new Set(units.flatMap(unitsNamed))], node, `systemctl ${v}`, verdict);
}

function service(program: string, args: string[], node: string, verdict: HostVerdict, programPath: string): void {
  // service UNIT stop | invoke-rc.d UNIT stop | /etc/init.d/UNIT stop
  const initScript = /^\/etc\/(init\.d|rc\d\.d)\//.test(programPath);
  const words = args.filter((a) => !a.startsWith('-'));
  const [unit, action] = initScript ? [program, words[0]] : [words[0], words[1]];
  if (!unit || !['stop', 'force-stop', 'kill'].includes((action ?? '').toLowerCase())) return;
  unitVerdict(unitsNamed(unit), node, `${program} ${action}`, verdict);
}

function kill(program: string, args: string[], node: string, verdict: HostVerdict): void {
  const valueOptions = program === 'killall' ? new Set(['-s', '--signal', '-u', '--user', '-o', '--older-than', '-y', '--younger-than', '-n', '--ns', '-Z', '--context']) : new Set(['-u', '-U', '-g', '-G', '-P', '-s', '-t', '-F', '--euid', '--uid', '--group', '--pgroup', '--parent', '--session', '--terminal', '--pidfile', '--ns', '--nslist', '--signal']);
  const regexMode = program !== 'killall' || args.some((a) => a === '-r' || a === '--regexp');
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('-') && a.length > 1) {
      if (valueOptions.has(a)) i++;
      continue;
    }
    names.push(a);
  }
  const services = new Set<string>();
  for (const name of names) {
    for (const [proc, svc] of Object.entries(CUT_OFF_PROCESSES)) {
      let hit: boolean;
      if (regexMode) {
        try {
          const re = new RegExp(name, args.some((a) => a === '-i' || a === '--ignore-case') ? 'i' : '');
          hit = re.test(proc) || re.test(`/usr/bin/${proc}`) || re.test(`/usr/sbin/${proc}`);
        } catch {
          hit = true; // a pattern this server cannot read could match anything
        }
      } else hit = name.replace(/^.*\//, '') === proc || (name.length >= 15 && proc.startsWith(name));
      if (hit) services.add(svc);
    }
  }
  for (const svc of services) verdict.requests.push(stopRequest(node, svc));
}

function zpool(args: string[], node: string, verdict: HostVerdict): void {
  if ((args[0] ?? '') !== 'destroy') return;
  for (const pool of args.slice(1).filter((a) => !a.startsWith('-'))) verdict.requests.push({ method: 'DELETE', path: `/nodes/${node}/disks/zfs/${encodeURIComponent(pool)}`, params: {} });
}

function zfs(args: string[], node: string, verdict: HostVerdict, volumeOwners: (volume: string) => number[]): void {
  if ((args[0] ?? '') !== 'destroy') return;
  const flags = args.slice(1).filter((a) => /^-[a-zA-Z]+$/.test(a)).join('');
  if (/n/.test(flags)) return; // dry run
  const recursive = /[rR]/.test(flags);
  for (const dataset of args.slice(1).filter((a) => !a.startsWith('-'))) {
    if (/[@#]/.test(dataset.split('/').pop() ?? '')) continue; // a snapshot or bookmark, not the data
    const parts = dataset.replace(/\/+$/, '').split('/').filter(Boolean);
    if (parts.length <= 1) {
      verdict.findings.push({ reason: `zfs destroy ${dataset} destroys the whole pool's file systems (the node's root on rpool, every guest disk)`, mainOnly: false });
      continue;
    }
    const top = PROTECTED_DATASETS.find((d) => parts[1] === d.suffix);
    if (top && (parts.length === 2 || top.suffix === 'ROOT')) {
      verdict.findings.push({ reason: `zfs destroy ${dataset} destroys ${top.what}`, mainOnly: false });
      continue;
    }
    const owners = volumeOwners(dataset);
    if (owners.length > 0) {
      // a guest's volume: the API policy judges it as a volume delete (protected guests refused)
      verdict.requests.push({ method: 'DELETE', path: `/nodes/${node}/storage/zfs/content/${dataset}`, params: {} });
      continue;
    }
    if (recursive) verdict.findings.push({ reason: `zfs destroy -r ${dataset} destroys every dataset and guest volume below it`, mainOnly: false });
  }
}

function ifdown(args: string[], node: string, verdict: HostVerdict): void {
  const valueOptions = new Set(['-X', '--exclude', '-i', '--interfaces', '--allow', '-o', '--option']);
  const ifaces: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-a' || a === '--all' || /^-[a-zA-Z]*a[a-zA-Z]*$/.test(a)) {
      verdict.findings.push({ reason: `${a === '--all' ? 'ifdown --all' : 'ifdown -a'} takes every interface down, the one carrying the main node's address too`, mainOnly: true });
      continue;
    }
    if (a.startsWith('-')) {
      if (valueOptions.has(a)) i++;
      continue;
    }
    ifaces.push(a.replace(/=.*$/, ''));
  }
  for (const iface of ifaces) verdict.requests.push(ifaceRequest(node, iface));
}

function ip(args: string[], node: string, verdict: HostVerdict): void {
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-'); i++) {
    const a = args[i]!.replace(/^--?/, '');
    if (a === 'n' || a === 'netns' || a === 'all') return; // another network namespace
    if (a === 'b' || a === 'batch' || a === 'force') {
      verdict.findings.push({ reason: 'ip -batch runs ip commands from a file that cannot be judged here; one could take the main node\'s interface down', mainOnly: true });
      return;
    }
    if (['f', 'family', 'rc', 'rcvbuf', 'l', 'loops', 'b', 'batch'].includes(a)) i++;
  }
  const object = args[i];
  const rest = args.slice(i + 1);
  const command = rest[0];
  const devAfter = (words: string[]) => {
    const at = words.findIndex((w) => w === 'dev');
    return at >= 0 ? words[at + 1] : undefined;
  };
  if (abbrev(object, 'link')) {
    const words = rest.slice(1);
    if (words[0] === 'group') {
      if (abbrev(command, 'delete') || words.includes('down')) verdict.findings.push({ reason: `ip link ${command} group ... acts on a whole group of interfaces, perhaps the main node's`, mainOnly: true });
      return;
    }
    const name = linkDevice(words);
    if (abbrev(command, 'set') && name && words.some((w) => ['down', 'nomaster', 'netns', 'master', 'name'].includes(w))) verdict.requests.push(ifaceRequest(node, name));
    else if ((abbrev(command, 'delete') || abbrev(command, 'del')) && name) verdict.requests.push(ifaceRequest(node, name));
    return;
  }
  if (abbrev(object, 'address') || object === 'addr') {
    if (abbrev(command, 'flush') || abbrev(command, 'delete')) {
      const words = rest.slice(1);
      const name = devAfter(words) ?? (abbrev(command, 'flush') ? words.find((w) => !/^(dev|scope|label|to|primary|secondary|dynamic|permanent|temporary|-?\d.*|global|link|host|up)$/.test(w)) : undefined);
      if (name) verdict.requests.push(ifaceRequest(node, name));
      else verdict.findings.push({ reason: `ip address ${command} without a device removes addresses from every interface, the main node's too`, mainOnly: true });
    }
    return;
  }
  if (abbrev(object, 'route')) {
    const words = rest.slice(1);
    if (abbrev(command, 'flush') && words[0] !== 'cache') {
      verdict.findings.push({ reason: 'ip route flush removes the main node\'s routes and cuts it off', mainOnly: true });
    } else if ((abbrev(command, 'delete') || abbrev(command, 'del') || abbrev(command, 'replace', 3) || abbrev(command, 'change', 3)) && (words.includes('default') || words.includes('0.0.0.0/0') || words.includes('::/0'))) {
      verdict.findings.push({ reason: `${abbrev(command, 'delete') || abbrev(command, 'del') ? 'removing' : 'replacing'} the default route of the main node can cut it off`, mainOnly: true });
    }
  }
}

/** ip link set/delete's device: after `dev`, else the first word that is not a keyword or a keyword's value (iplink_modify). */
const LINK_VALUE_KEYWORDS = new Set(['name', 'mtu', 'address', 'broadcast', 'brd', 'peer', 'netns', 'alias', 'qlen', 'txqueuelen', 'txqlen', 'master', 'vf', 'type', 'link', 'index', 'numtxqueues', 'numrxqueues', 'gso_max_size', 'gso_max_segs', 'protodown', 'protodown_reason', 'xdp', 'addrgenmode', 'link-netns', 'link-netnsid', 'arp', 'multicast', 'allmulticast', 'promisc', 'trailers', 'dynamic', 'carrier', 'group']);
function linkDevice(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === 'dev') return words[i + 1];
    if (w === 'up' || w === 'down' || w === 'nomaster') continue;
    if (LINK_VALUE_KEYWORDS.has(w)) {
      i++;
      continue;
    }
    return w;
  }
  return undefined;
}

/** kill's pids: after the signal (-9, -KILL, -s SIG, -n NUM) and `--`. */
function killPids(args: string[]): string[] {
  let i = 0;
  if (args[i] === '-s' || args[i] === '-n' || args[i] === '--signal') i += 2;
  else if (args[i] !== undefined && args[i] !== '--' && /^-[A-Za-z0-9+]+$/.test(args[i]!) && args.length > 1) i++;
  if (args[i] === '--') i++;
  return args.slice(i);
}

function networkctl(args: string[], node: string, verdict: HostVerdict): void {
  const words = args.filter((a) => !a.startsWith('-'));
  if (['down', 'delete'].includes(words[0] ?? '')) for (const iface of words.slice(1)) verdict.requests.push(ifaceRequest(node, iface));
}

/** lvremove/vgremove: the thin pool behind local-lvm (pve/data), the node's root and swap, a whole volume group, a guest's volume. */
function lvm(program: string, args: string[], node: string, verdict: HostVerdict, volumeOwners: (volume: string) => number[]): void {
  const targets = args.filter((a) => !a.startsWith('-'));
  if (args.some((a) => a === '-t' || a === '--test')) return;
  if (program === 'vgremove') {
    for (const vg of targets) verdict.findings.push({ reason: `vgremove ${vg} removes the volume group and every logical volume in it (local-lvm's guest disks, the node's root on pve)`, mainOnly: false });
    return;
  }
  for (const target of targets) {
    const parts = target.replace(/^\/dev\/(mapper\/)?/, '').split('/').filter(Boolean);
    if (parts.length <= 1 && !/^vm-|^base-/.test(parts[0] ?? '')) {
      verdict.findings.push({ reason: `lvremove ${target} removes every logical volume of the volume group (local-lvm's guest disks, the node's root on pve)`, mainOnly: false });
      continue;
    }
    const lv = parts[parts.length - 1]!;
    if (volumeOwners(lv).length > 0 || volumeOwners(target).length > 0) {
      verdict.requests.push({ method: 'DELETE', path: `/nodes/${node}/storage/lvm/content/${parts.join('/')}`, params: {} });
      continue;
    }
    if (['data', 'root', 'swap'].includes(lv.toLowerCase()) || /^pve-(data|root|swap)/.test(lv)) verdict.findings.push({ reason: `lvremove ${target} removes ${lv === 'data' ? 'the thin pool of local-lvm, every guest disk on it' : `the node's ${lv}`}`, mainOnly: false });
  }
}

function ifconfig(args: string[], node: string, verdict: HostVerdict): void {
  const words = args.filter((a) => !a.startsWith('-'));
  if (words.length >= 2 && words.slice(1).includes('down')) verdict.requests.push(ifaceRequest(node, words[0]!));
}

function brctl(args: string[], node: string, verdict: HostVerdict): void {
  const [verb, bridge] = args;
  if (verb === 'delbr' && bridge) verdict.requests.push(ifaceRequest(node, bridge));
  // a port taken out of the bridge that carries the address (the policy counts a bridge's ports as management)
  if (verb === 'delif' && bridge) for (const p of args.slice(2)) verdict.requests.push(ifaceRequest(node, p));
}

function iptables(program: string, args: string[], verdict: HostVerdict): void {
  const joined = args.join(' ');
  const policyAt = args.findIndex((a) => a === '--policy' || /^-[a-zA-Z]*P$/.test(a) || /^-P./.test(a));
  if (policyAt >= 0) {
    const inline = /^-P(.+)$/.exec(args[policyAt]!)?.[1];
    const chain = (inline ?? args[policyAt + 1] ?? '').toUpperCase();
    const target = (inline ? args[policyAt + 1] : args[policyAt + 2] ?? '').toUpperCase();
    if (/^(INPUT|OUTPUT)$/.test(chain) && target !== 'ACCEPT') verdict.findings.push({ reason: `${program} -P ${chain} ${target} makes the main node drop its traffic (SSH, port 8006, corosync) by default and cuts it off; change the firewall with firewall_change`, mainOnly: true });
    return;
  }
  if (args.some((a) => a === '--flush' || /^-[a-zA-Z]*F[a-zA-Z]*$/.test(a))) {
    verdict.findings.push({ reason: `${program} --flush on the main node removes the Proxmox firewall's rules (with a DROP policy that cuts it off); change the firewall with firewall_change`, mainOnly: true });
    return;
  }
  const adds = args.some((a) => /^(-[a-zA-Z]*[AIR][a-zA-Z]*|--append|--insert|--replace)$/.test(a));
  const jumpAt = args.findIndex((a) => a === '-j' || a === '--jump' || a === '-g' || a === '--goto');
  const target = jumpAt >= 0 ? (args[jumpAt + 1] ?? '').toUpperCase() : '';
  if (adds && /\b(INPUT|OUTPUT|PREROUTING)\b/i.test(joined) && !/^(ACCEPT|LOG|NFLOG|RETURN|MARK|CONNMARK|NOTRACK|CT|)$/.test(target)) {
    verdict.findings.push({ reason: `${program} adds a ${target} rule to the main node's ${/\bOUTPUT\b/i.test(joined) ? 'OUTPUT' : 'INPUT'} chain, which can cut off SSH, port 8006 or corosync; change the firewall with firewall_change, which checks that this server keeps its access`, mainOnly: true });
  }
}

function nft(args: string[], verdict: HostVerdict): void {
  if (args.some((a) => /^-[a-zA-Z]*f/.test(a) || a.startsWith('--file') || a === '-i' || a === '--interactive')) {
    verdict.findings.push({ reason: 'nft reading a rule set from a file or stdin on the main node cannot be judged here and may cut it off; change the firewall with firewall_change', mainOnly: true });
    return;
  }
  const text = args.filter((a) => !/^-/.test(a)).join(' ').toLowerCase();
  if (/\bflush\s+(ruleset|table|chain)\b/.test(text) || /\bpolicy\s+(drop|reject)\b/.test(text) || (/\b(add|insert|create|replace)\s+rule\b/.test(text) && /\b(drop|reject)\b/.test(text))) {
    verdict.findings.push({ reason: `nft ${text.slice(0, 60)} can cut the main node off (SSH, port 8006, corosync); change the firewall with firewall_change, which checks that this server keeps its access`, mainOnly: true });
  }
}

/** Whether words name a service, process, bridge, pool, volume group or chain whose loss cuts the node off. */
export function namesCutOffTarget(args: string[]): boolean {
  return args.some((a) => Object.hasOwn(CUT_OFF_UNITS, a.toLowerCase().replace(/\.service$/, '')) || Object.hasOwn(CUT_OFF_PROCESSES, a) || CUT_OFF_HOST_UNITS.includes(a) || /^(vmbr\d+|rpool(\/.*)?|pve(\/.*)?|INPUT|OUTPUT|PREROUTING|ruleset)$/i.test(a));
}

/**
 * What a host command does to the node's reachability: the API requests it amounts to and the findings
 * that have no API equivalent.
 */
export function hostCutOff(command: SimpleCommand, node: string, volumeOwners: (volume: string) => number[]): HostVerdict {
  const verdict: HostVerdict = { requests: [], findings: [] };
  const program = (command.program ?? '').toLowerCase();
  const args = command.argv.slice(1);
  const relevant = program === 'systemctl' || program === 'service' || program === 'invoke-rc.d' || /^\/etc\/(init\.d|rc\d\.d)\//.test(command.programPath ?? '') || ['killall', 'pkill', 'kill', 'killall5', 'zpool', 'zfs', 'ifdown', 'ip', 'ifconfig', 'brctl', 'nft', 'networkctl', 'lvremove', 'vgremove'].includes(program) || IPTABLES.has(program) || FIREWALL_FILE_LOADERS.has(program);
  if (!relevant) return verdict;
  const dynamic = command.words.slice(1).some((w) => w.dynamic);
  const harmful = [...KILLERS, 'ifdown', 'lvremove', 'vgremove', 'iptables-restore', 'ip6tables-restore', 'nft'].includes(program) || args.some((a) => /^(stop|force-stop|kill|disable|mask|isolate|rescue|emergency|default|destroy|down|d|de|del|dele|delet|delete|delbr|delif|f|fl|flu|flus|flush|nomaster|netns|master|name|drop|reject|--policy|--flush)$/i.test(a) || /^-[a-zA-Z]*[PF]/.test(a));
  // a run-time word next to the name of a service, process, pool or chain that matters could be the verb that stops it
  if (dynamic && (harmful || namesCutOffTarget(args))) {
    verdict.unknowable = `a word of this ${program} line is only known at run time (it could name a service, pool or interface that cuts the node off)`;
    return verdict;
  }
  if (program === 'systemctl') systemctl(args, node, verdict);
  else if (program === 'service' || program === 'invoke-rc.d' || /^\/etc\/(init\.d|rc\d\.d)\//.test(command.programPath ?? '')) service(program, args, node, verdict, command.programPath ?? '');
  else if (program === 'killall' || program === 'pkill') kill(program, args, node, verdict);
  else if (program === 'zpool') zpool(args, node, verdict);
  else if (program === 'zfs') zfs(args, node, verdict, volumeOwners);
  else if (program === 'ifdown') ifdown(args, node, verdict);
  else if (program === 'ip') ip(args, node, verdict);
  else if (program === 'ifconfig') ifconfig(args, node, verdict);
  else if (program === 'networkctl') networkctl(args, node, verdict);
  else if (program === 'lvremove' || program === 'vgremove') lvm(program, args, node, verdict, volumeOwners);
  else if (program === 'kill' && killPids(args).some((pid) => pid === '1' || pid === '-1')) verdict.findings.push({ reason: 'kill of process 1 or of every process (-1) takes the API and SSH daemons down', mainOnly: true });
  else if (program === 'killall5') verdict.findings.push({ reason: 'killall5 signals every process, the API and SSH daemons too', mainOnly: true });
  else if (program === 'brctl') brctl(args, node, verdict);
  else if (program === 'nft') nft(args, verdict);
  else if (IPTABLES.has(program)) iptables(program, args, verdict);
  else if (FIREWALL_FILE_LOADERS.has(program)) verdict.findings.push({ reason: `${program} loads a firewall rule set on the main node that cannot be judged here and may cut it off; change the firewall with firewall_change`, mainOnly: true });
  return verdict;
}

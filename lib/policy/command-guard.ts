/**
 * The one decision for a host command line (execute_command runs it, explain_command reports it):
 *  1. the classifier (lib/exec/classify.ts) parses the line and gives each simple command its level
 *     (read only when on the allow-list in knowledge/shell-read-allowlist.json) and the shell features
 *     that need an admin's per-token grant (lib/exec/shell-features.ts);
 *  2. the Proxmox CLI commands on the line (qm, pct, qmrestore, pveum, pvesh, pvesm, vzdump, pvecm,
 *     ha-manager, and host power and disk-wipe commands) are translated into the API requests they make,
 *     with their options read exactly as the tools read them (lib/exec/pve-options.ts: Getopt::Long
 *     prefixes, -opt/--opt/--opt=value, repeats, values passed on unchanged), and each request is judged
 *     by the same API policy as every other door (protections.ts checkProtections);
 *  3. whatever still names a protected identity and is not a plain read is refused, and so is an id only
 *     known at run time where a protected one could hide.
 * `vetCommandLine` returns the whole verdict; `refusalFor` turns it into the error a caller gets.
 */
import type { Classification, ClassifyContext } from '../exec/classify.ts';
import { classifyCommandLine } from '../exec/classify.ts';
import { endpointParams, findEndpoint, optionNames, parseCliOptions, PVESH_OUTPUT_OPTIONS, type CliWord, type ParamKind } from '../exec/pve-options.ts';
import { hostCutOff, namesCutOffTarget } from '../exec/host-cutoff.ts';
import { FEATURE_DESCRIPTIONS, settingsKeyForShellFeatures, type ShellFeature } from '../exec/shell-features.ts';
import { tryParseCommandLine, type SimpleCommand } from '../exec/shell-parse.ts';
import { ToolError } from '../errors.ts';
import type { Knowledge } from '../knowledge.ts';
import type { PveClient } from '../pve/types.ts';
import type { Caller } from '../tool.ts';
import { checkProtections, protectedUser, type ProtectionContext } from './protections.ts';
import { volumeOwners } from './rules/protected-guest.ts';

export interface CommandGuardContext extends ProtectionContext {
  /** The node the command runs on (qm/pct act on guests there). */
  node: string;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiRequest {
  method: Method;
  path: string;
  params: Record<string, string | string[]>;
  /** The command it came from, for messages. */
  from: string;
}

class Unknowable extends Error {}
class Refused extends Error {}

// -- the CLI table: which request each subcommand makes ----------------------------------------------

export interface CliCommand {
  method: Method;
  /** Path template; `{name}` is filled from the positional arguments, then `{node}` with the local node. */
  path: string;
  /** Positional parameters in order (PVE CLIHandler arg_param). */
  args?: string[];
  /** Parameters the tool sets itself. */
  fixed?: Record<string, string>;
  /** All remaining positionals are this list parameter (vzdump's vmid). */
  listParam?: string;
  /** Path parameters the tool may leave out (pveum user tfa delete without --id removes every entry). */
  pathDefaults?: Record<string, string>;
}

const guest = (type: 'qemu' | 'lxc'): Record<string, CliCommand> => {
  const base = `/nodes/{node}/${type}/{vmid}`;
  const status = (verb: string): CliCommand => ({ method: 'POST', path: `${base}/status/${verb}`, args: ['vmid'] });
  const table: Record<string, CliCommand> = {
    create: { method: 'POST', path: `/nodes/{node}/${type}`, args: type === 'qemu' ? ['vmid'] : ['vmid', 'ostemplate'] },
    set: { method: 'PUT', path: `${base}/config`, args: ['vmid'] },
    destroy: { method: 'DELETE', path: base, args: ['vmid'] },
    rollback: { method: 'POST', path: `${base}/snapshot/{snapname}/rollback`, args: ['vmid', 'snapname'] },
    snapshot: { method: 'POST', path: `${base}/snapshot`, args: ['vmid', 'snapname'] },
    delsnapshot: { method: 'DELETE', path: `${base}/snapshot/{snapname}`, args: ['vmid', 'snapname'] },
    migrate: { method: 'POST', path: `${base}/migrate`, args: ['vmid', 'target'] },
    template: { method: 'POST', path: `${base}/template`, args: ['vmid'] },
    clone: { method: 'POST', path: `${base}/clone`, args: ['vmid', 'newid'] },
    resize: { method: 'PUT', path: `${base}/resize`, args: ['vmid', 'disk', 'size'] },
    start: status('start'),
    stop: status('stop'),
    shutdown: status('shutdown'),
    reboot: status('reboot'),
    suspend: status('suspend'),
    resume: status('resume'),
  };
  if (type === 'qemu') {
    table['move-disk'] = table['move_disk'] = table['disk move'] = { method: 'POST', path: `${base}/move_disk`, args: ['vmid', 'disk', 'storage'] };
    table['unlink'] = table['disk unlink'] = { method: 'PUT', path: `${base}/unlink`, args: ['vmid'] };
    table['disk resize'] = table['resize']!;
    table['reset'] = status('reset');
    table['guest exec'] = { method: 'POST', path: `${base}/agent/exec`, args: ['vmid'] };
    table['guest cmd'] = { method: 'POST', path: `${base}/agent`, args: ['vmid', 'command'] };
    table['guest passwd'] = { method: 'POST', path: `${base}/agent/set-user-password`, args: ['vmid', 'username'] };
  } else {
    table['restore'] = { method: 'POST', path: '/nodes/{node}/lxc', args: ['vmid', 'ostemplate'], fixed: { restore: '1' } };
    table['move-volume'] = table['move_volume'] = { method: 'POST', path: `${base}/move_volume`, args: ['vmid', 'volume', 'storage'] };
  }
  return table;
};

const access = (kind: 'users' | 'groups' | 'roles', id: string): Record<string, CliCommand> => {
  const add: CliCommand = { method: 'POST', path: `/access/${kind}`, args: [id] };
  const modify: CliCommand = { method: 'PUT', path: `/access/${kind}/{${id}}`, args: [id] };
  const remove: CliCommand = { method: 'DELETE', path: `/access/${kind}/{${id}}`, args: [id] };
  return { add, create: add, modify, set: modify, update: modify, delete: remove, remove, del: remove, rm: remove };
};

const token: Record<string, CliCommand> = (() => {
  const path = '/access/users/{userid}/token/{tokenid}';
  const add: CliCommand = { method: 'POST', path, args: ['userid', 'tokenid'] };
  const modify: CliCommand = { method: 'PUT', path, args: ['userid', 'tokenid'] };
  const remove: CliCommand = { method: 'DELETE', path, args: ['userid', 'tokenid'] };
  return { add, create: add, modify, set: modify, update: modify, delete: remove, remove, del: remove, rm: remove };
})();

const prefixed = (prefix: string, table: Record<string, CliCommand>) => Object.fromEntries(Object.entries(table).map(([k, v]) => [`${prefix} ${k}`, v]));

const aclModify: CliCommand = { method: 'PUT', path: '/access/acl', args: ['path'] };
const aclDelete: CliCommand = { method: 'PUT', path: '/access/acl', args: ['path'], fixed: { delete: '1' } };

const CLI: Record<string, Record<string, CliCommand>> = {
  qm: guest('qemu'),
  pct: guest('lxc'),
  qmrestore: { '': { method: 'POST', path: '/nodes/{node}/qemu', args: ['archive', 'vmid'] } },
  pveum: {
    ...prefixed('user', access('users', 'userid')),
    ...prefixed('user token', token),
    'user tfa delete': { method: 'DELETE', path: '/access/tfa/{userid}/{id}', args: ['userid'], pathDefaults: { id: '' } },
    'user tfa remove': { method: 'DELETE', path: '/access/tfa/{userid}/{id}', args: ['userid'], pathDefaults: { id: '' } },
    ...prefixed('group', access('groups', 'groupid')),
    ...prefixed('role', access('roles', 'roleid')),
    'acl modify': aclModify,
    'acl set': aclModify,
    'acl add': aclModify,
    'acl delete': aclDelete,
    'acl remove': aclDelete,
    'acl del': aclDelete,
    'acl rm': aclDelete,
    passwd: { method: 'PUT', path: '/access/password', args: ['userid'] },
    'pool add': { method: 'POST', path: '/pools', args: ['poolid'] },
    'pool modify': { method: 'PUT', path: '/pools', args: ['poolid'] },
    'pool delete': { method: 'DELETE', path: '/pools', args: ['poolid'] },
    'realm add': { method: 'POST', path: '/access/domains', args: ['realm'] },
    'realm modify': { method: 'PUT', path: '/access/domains/{realm}', args: ['realm'] },
    'realm delete': { method: 'DELETE', path: '/access/domains/{realm}', args: ['realm'] },
    'realm sync': { method: 'POST', path: '/access/domains/{realm}/sync', args: ['realm'] },
    // the old spelling, still accepted by pveum
    sync: { method: 'POST', path: '/access/domains/{realm}/sync', args: ['realm'] },
    useradd: access('users', 'userid').add!,
    usermod: access('users', 'userid').modify!,
    userdel: access('users', 'userid').delete!,
    groupadd: access('groups', 'groupid').add!,
    groupmod: access('groups', 'groupid').modify!,
    groupdel: access('groups', 'groupid').delete!,
    roleadd: access('roles', 'roleid').add!,
    rolemod: access('roles', 'roleid').modify!,
    roledel: access('roles', 'roleid').delete!,
    aclmod: aclModify,
    acldel: aclDelete,
  },
  pvesm: {
    add: { method: 'POST', path: '/storage', args: ['type', 'storage'] },
    set: { method: 'PUT', path: '/storage/{storage}', args: ['storage'] },
    remove: { method: 'DELETE', path: '/storage/{storage}', args: ['storage'] },
    free: { method: 'DELETE', path: '/nodes/{node}/storage/{storage}/content/{volume}', args: ['volume'] },
    alloc: { method: 'POST', path: '/nodes/{node}/storage/{storage}/content', args: ['storage', 'vmid', 'filename', 'size'] },
    'prune-backups': { method: 'DELETE', path: '/nodes/{node}/storage/{storage}/prunebackups', args: ['storage'] },
  },
  vzdump: { '': { method: 'POST', path: '/nodes/{node}/vzdump', listParam: 'vmid' } },
  pvecm: {
    delnode: { method: 'DELETE', path: '/cluster/config/nodes/{node}', args: ['node'] },
    addnode: { method: 'POST', path: '/cluster/config/nodes/{node}', args: ['node'] },
  },
  pveceph: {
    'osd create': { method: 'POST', path: '/nodes/{node}/ceph/osd', args: ['dev'] },
    'osd destroy': { method: 'DELETE', path: '/nodes/{node}/ceph/osd/{osdid}', args: ['osdid'] },
    'pool destroy': { method: 'DELETE', path: '/nodes/{node}/ceph/pool/{name}', args: ['name'] },
  },
  pvenode: {
    startall: { method: 'POST', path: '/nodes/{node}/startall' },
    stopall: { method: 'POST', path: '/nodes/{node}/stopall' },
    migrateall: { method: 'POST', path: '/nodes/{node}/migrateall', args: ['target'] },
    // pvenode cert set <certificates> [<key>] reads the files and uploads them (POST certificates/custom)
    'cert set': { method: 'POST', path: '/nodes/{node}/certificates/custom', args: ['certificates', 'key'] },
    'cert delete': { method: 'DELETE', path: '/nodes/{node}/certificates/custom', args: ['restart'] },
    'acme cert order': { method: 'POST', path: '/nodes/{node}/certificates/acme/certificate' },
    'acme cert renew': { method: 'PUT', path: '/nodes/{node}/certificates/acme/certificate' },
    'acme cert revoke': { method: 'DELETE', path: '/nodes/{node}/certificates/acme/certificate' },
  },
  'ha-manager': {
    add: { method: 'POST', path: '/cluster/ha/resources', args: ['sid'] },
    set: { method: 'PUT', path: '/cluster/ha/resources/{sid}', args: ['sid'] },
    remove: { method: 'DELETE', path: '/cluster/ha/resources/{sid}', args: ['sid'] },
    migrate: { method: 'POST', path: '/cluster/ha/resources/{sid}/migrate', args: ['sid', 'node'] },
    relocate: { method: 'POST', path: '/cluster/ha/resources/{sid}/relocate', args: ['sid', 'node'] },
    'crm-command migrate': { method: 'POST', path: '/cluster/ha/resources/{sid}/migrate', args: ['sid', 'node'] },
    'crm-command relocate': { method: 'POST', path: '/cluster/ha/resources/{sid}/relocate', args: ['sid', 'node'] },
    groupadd: { method: 'POST', path: '/cluster/ha/groups', args: ['group'] },
    groupset: { method: 'PUT', path: '/cluster/ha/groups/{group}', args: ['group'] },
    groupremove: { method: 'DELETE', path: '/cluster/ha/groups/{group}', args: ['group'] },
    'rules add': { method: 'POST', path: '/cluster/ha/rules', args: ['type', 'rule'] },
    'rules set': { method: 'PUT', path: '/cluster/ha/rules/{rule}', args: ['type', 'rule'] },
    'rules remove': { method: 'DELETE', path: '/cluster/ha/rules/{rule}', args: ['rule'] },
  },
};

/** The CLI table, for tests that check it against the API schema. */
export const cliTable: Readonly<Record<string, Readonly<Record<string, CliCommand>>>> = CLI;

const PVESH_METHODS: Record<string, Method> = { create: 'POST', set: 'PUT', delete: 'DELETE' };

function describe(command: SimpleCommand): string {
  return command.argv.join(' ').slice(0, 200);
}

function wordsOf(command: SimpleCommand, from: number): CliWord[] {
  return command.words.slice(from).map((w) => ({ text: w.text, dynamic: w.dynamic || w.glob }));
}

/** Fills a path template from the named values; a run-time value there cannot be judged. */
function fillPath(template: string, values: Record<string, CliWord | undefined>, node: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const word = values[name];
    if (word) {
      if (word.dynamic) throw new Unknowable(`the ${name} is only known at run time`);
      // the CLI hands the value to the handler as it is; in a path it is one segment
      return encodeURIComponent(word.text).replace(/%40/g, '@').replace(/%3A/gi, ':').replace(/%21/g, '!');
    }
    if (name === 'node') return node;
    return `{${name}}`;
  });
}

/** Options a translated command was given, as the tool parses them; refuses an ambiguous prefix. */
function parseOptions(words: CliWord[], method: Method, template: string, fixed: string[], extra: Iterable<[string, ParamKind]> = []) {
  const spec = endpointParams(method, template) ?? findEndpoint(method, template)?.params ?? null;
  const names = optionNames(template, spec ?? {}, fixed);
  for (const [name, kind] of extra) names.set(name, kind);
  const parsed = parseCliOptions(words, names);
  const ambiguous = parsed.errors.filter((e) => /ambiguous|requires an argument/.test(e));
  if (ambiguous.length > 0) throw new Refused(`${ambiguous.join('; ')}: Proxmox would stop here, and this server does not guess which option is meant`);
  if (parsed.dynamic) throw new Unknowable('an option name or value is only known at run time');
  return parsed;
}

/**
 * The subcommands a line can mean. PVE CLIHandler expands each subcommand word by unique prefix too
 * (`qm des 101` is `qm destroy 101`); where a prefix fits several of ours, every one is judged.
 */
function subcommandKeys(table: Record<string, CliCommand>, command: SimpleCommand): string[] {
  if (table['']) return [''];
  let branches: { key: string[]; rest: string[] }[] = Object.keys(table).map((k) => ({ key: k.split(' '), rest: k.split(' ') }));
  const matched: string[] = [];
  for (let level = 0; level < 3 && branches.length > 0; level++) {
    const word = command.words[1 + level];
    if (!word) break;
    if (word.dynamic) throw new Unknowable('the subcommand is only known at run time');
    const text = word.text.toLowerCase();
    const exact = branches.filter((b) => b.rest[0] === text);
    const next = exact.length > 0 ? exact : text.length > 0 && !text.startsWith('-') ? branches.filter((b) => b.rest[0]!.startsWith(text)) : [];
    branches = next.map((b) => ({ key: b.key, rest: b.rest.slice(1) }));
    for (const b of branches) if (b.rest.length === 0) matched.push(b.key.join(' '));
    branches = branches.filter((b) => b.rest.length > 0);
  }
  return [...new Set(matched)];
}

function fromTable(command: SimpleCommand, node: string): ApiRequest[] {
  const program = command.program ?? '';
  const table = Object.hasOwn(CLI, program) ? CLI[program] : undefined;
  if (!table) return [];
  return subcommandKeys(table, command).flatMap((key) => fromTableKey(command, node, table, key));
}

function fromTableKey(command: SimpleCommand, node: string, table: Record<string, CliCommand>, key: string): ApiRequest[] {
  const spec = table[key]!;
  const from = 1 + (key === '' ? 0 : key.split(' ').length);
  const args = spec.args ?? [];
  const templateFixed = /\{node\}/.test(spec.path) && !args.includes('node') ? ['node'] : [];
  const parsed = parseOptions(wordsOf(command, from), spec.method, spec.path, [...templateFixed, ...(spec.listParam ? [spec.listParam] : [])]);
  const values: Record<string, CliWord | undefined> = {};
  const params: Record<string, string | string[]> = {};
  for (const [name, list] of Object.entries(parsed.options)) params[name] = list.length === 1 ? list[0]! : list;
  if (spec.listParam) {
    if (parsed.positionals.some((w) => w.dynamic)) throw new Unknowable(`the ${spec.listParam} list is only known at run time`);
    if (parsed.positionals.length > 0) params[spec.listParam] = parsed.positionals.map((w) => w.text).join(',');
  } else {
    args.forEach((name, i) => {
      const word = parsed.positionals[i];
      if (!word) return;
      values[name] = word;
      if (!spec.path.includes(`{${name}}`)) {
        if (word.dynamic) throw new Unknowable(`the ${name} is only known at run time`);
        params[name] = word.text;
      }
    });
  }
  // pvesm free: the storage comes from --storage or from the volume id (storage:volume)
  if (command.program === 'pvesm' && key === 'free') {
    const volume = values.volume;
    const storage = typeof params.storage === 'string' ? params.storage : volume && !volume.dynamic ? volume.text.split(':')[0] : undefined;
    if (storage) values.storage = { text: storage, dynamic: false };
    delete params.storage;
    if (volume && !volume.dynamic && values.volume) values.volume = { text: volume.text, dynamic: false };
  }
  for (const name of Object.keys(params)) if (spec.path.includes(`{${name}}`) && typeof params[name] === 'string' && !values[name]) values[name] = { text: params[name] as string, dynamic: false };
  for (const [name, text] of Object.entries(spec.pathDefaults ?? {})) values[name] ??= { text, dynamic: false };
  for (const name of Object.keys(values)) if (spec.path.includes(`{${name}}`)) delete params[name];
  const path = fillPath(spec.path, values, node);
  if (/\{[^}]+\}/.test(path) && spec.method !== 'GET') {
    // a missing positional: Proxmox refuses the command ("not enough arguments"), nothing is sent
    return [];
  }
  return [{ method: spec.method, path, params: { ...params, ...(spec.fixed ?? {}) }, from: describe(command) }];
}

function fromPvesh(command: SimpleCommand): ApiRequest[] {
  const verb = (command.argv[1] ?? '').toLowerCase();
  const method = Object.hasOwn(PVESH_METHODS, verb) ? PVESH_METHODS[verb] : undefined;
  if (!method) return [];
  const words = wordsOf(command, 2);
  const pathIndex = words.findIndex((w) => !/^--?./.test(w.text));
  const pathWord = words[pathIndex];
  if (!pathWord) return [];
  if (pathWord.dynamic) throw new Unknowable('the API path is only known at run time');
  const path = pathWord.text.startsWith('/') ? pathWord.text : `/${pathWord.text}`;
  const endpoint = findEndpoint(method, path.split('?')[0]!);
  const rest = [...words.slice(0, pathIndex), ...words.slice(pathIndex + 1)];
  const spec = endpoint?.params ?? {};
  const fixed = Object.entries(spec).filter(([, kind]) => kind === 'p').map(([name]) => name);
  const parsed = parseOptions(rest, method, endpoint?.template ?? path, fixed, PVESH_OUTPUT_OPTIONS);
  const params: Record<string, string | string[]> = {};
  for (const [name, list] of Object.entries(parsed.options)) {
    if (PVESH_OUTPUT_OPTIONS.has(name)) continue;
    params[name] = list.length === 1 ? list[0]! : list;
  }
  return [{ method, path, params, from: describe(command) }];
}

/** Host power and disk-wipe commands: the same requests the API would get for them. */
function fromHostCommands(command: SimpleCommand, node: string): ApiRequest[] {
  const p = command.program ?? '';
  const args = command.argv.slice(1);
  const power = (kind: 'reboot' | 'shutdown'): ApiRequest[] => [{ method: 'POST', path: `/nodes/${node}/status`, params: { command: kind }, from: describe(command) }];
  const sysrq = command.redirections.some((r) => /^\/proc\/sysrq-trigger$/.test(r.target) && r.op !== '<') || ((p === 'tee' || p === 'dd') && command.argv.some((a) => /\/proc\/sysrq-trigger$/.test(a)));
  if (sysrq) return power('reboot');
  const systemctlVerb = args.find((a) => !a.startsWith('-')) ?? '';
  if (p === 'reboot' || (p === 'kexec' && args.some((a) => /^(-e|--exec)$/.test(a))) || (p === 'systemctl' && /^(reboot|kexec|soft-reboot)$/.test(systemctlVerb)) || ((p === 'init' || p === 'telinit') && args[0] === '6') || (p === 'shutdown' && args.some((a) => /^-[a-zA-Z]*r/.test(a) || a === '--reboot'))) return power('reboot');
  if (p === 'poweroff' || p === 'halt' || p === 'shutdown' || (p === 'systemctl' && /^(poweroff|halt|suspend|hibernate|hybrid-sleep|suspend-then-hibernate)$/.test(systemctlVerb)) || ((p === 'init' || p === 'telinit') && args[0] === '0')) {
    if (p === 'shutdown' && args.some((a) => a === '-c' || a === '--show')) return [];
    return power('shutdown');
  }
  const isDisk = (text: string) => /^\/dev\//.test(text) && !/^\/dev\/(null|zero|full|u?random|stdout|stderr|stdin|tty|pts\/|fd\/|shm\/|tcp\/|udp\/)/.test(text);
  // output redirected onto a block device overwrites it, whatever the program
  const redirected = command.redirections.filter((r) => r.op !== '<' && r.op !== '<<' && r.op !== '<<-' && r.op !== '<<<' && r.op !== '<&' && !(r.op === '>&' && /^(\d+|-)$/.test(r.target)) && isDisk(r.target));
  const onto = redirected.map((r) => {
    if (r.targetDynamic) throw new Unknowable('the device is only known at run time');
    return { method: 'PUT' as const, path: `/nodes/${node}/disks/wipedisk`, params: { disk: r.target }, from: describe(command) };
  });
  const disks = command.words.slice(1).filter((w) => isDisk(w.text.replace(/^of=/, '')));
  const wipes =
    /^mkfs(\..+)?$|^mke2fs$|^mkswap$|^pvcreate$|^pvremove$/.test(p) ||
    (p === 'zpool' && /^(labelclear|create)$/.test(args[0] ?? '')) ||
    (p === 'parted' && args.some((a) => /^(mklabel|mktable|rm|mkpart)$/.test(a))) ||
    (p === 'cryptsetup' && args.some((a) => /^(luksFormat|erase|luksErase)$/.test(a))) ||
    (p === 'wipefs' && args.some((a) => /^(-[a-zA-Z]*a|--all|-o|--offset)/.test(a))) ||
    (p === 'sgdisk' && args.some((a) => /^(-[a-zA-Z]*[zZ]|--zap|--zap-all|-o|--clear)/.test(a))) ||
    p === 'blkdiscard' ||
    (p === 'dd' && command.words.some((w) => w.text.startsWith('of=/dev/'))) ||
    p === 'shred';
  // services, pools, datasets, interfaces: what the API request for the same effect is (lib/exec/host-cutoff.ts)
  const cutOff = hostCutOff(command, node, volumeOwners);
  if (cutOff.unknowable) throw new Unknowable(cutOff.unknowable);
  const host = cutOff.requests.map((r) => ({ ...r, from: describe(command) }));
  if (!wipes) return [...onto, ...host];
  return [...onto, ...host, ...disks.map((w) => {
    if (w.dynamic) throw new Unknowable('the disk is only known at run time');
    return { method: 'PUT' as const, path: `/nodes/${node}/disks/wipedisk`, params: { disk: w.text.replace(/^of=/, '') }, from: describe(command) };
  })];
}

/** The API requests a simple command makes, as Proxmox's own tools would make them. */
export function translateCommand(command: SimpleCommand, node: string): ApiRequest[] {
  if (!command.program || command.dynamicProgram || command.flags.includes('in-guest')) return [];
  // over ssh the command acts on that node (and on the whole cluster through the API)
  const target = command.flags.includes('remote') && command.host ? command.host.replace(/^.*@/, '') : node;
  const program = command.program === 'pveum.pl' ? 'pveum' : command.program;
  if (program === 'pvesh') return fromPvesh(command);
  if (Object.hasOwn(CLI, program)) return fromTable({ ...command, program }, target);
  return fromHostCommands(command, target);
}

/** The cluster node an ssh host names: loopback is the node the shell runs on; unknown counts as main. */
async function nodeForHost(raw: string, ctx: CommandGuardContext): Promise<string> {
  const host = raw.replace(/^.*@/, '').replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  if (/^(localhost|ip6-localhost|ip6-loopback|127(\.\d+){1,3}|::1|0:0:0:0:0:0:0:1|0\.0\.0\.0|0)$/.test(host)) return ctx.node;
  let rows: { type?: string; name?: string; ip?: string }[] = [];
  try {
    const status = await ctx.pve.get<typeof rows>('/cluster/status');
    if (Array.isArray(status)) rows = status;
  } catch {
    // unknown below
  }
  const nodes = rows.filter((row) => row.type === 'node' && row.name);
  const short = /^[\d.]+$|:/.test(host) ? host : host.split('.')[0]!;
  const byName = nodes.find((row) => row.name!.toLowerCase() === short);
  if (byName) return byName.name!.toLowerCase();
  const byIp = nodes.find((row) => row.ip?.toLowerCase() === host);
  if (byIp) return byIp.name!.toLowerCase();
  if (short === ctx.node.toLowerCase()) return short;
  return (await ctx.mainNode())?.toLowerCase() ?? ctx.node;
}

// -- identities named outside a translated request ----------------------------------------------------

/** Programs that only read or print their arguments: naming root@pam there changes nothing. */
const readers = new Set(['echo', 'printf', 'grep', 'egrep', 'fgrep', 'rg', 'cat', 'less', 'more', 'head', 'tail', 'wc', 'sort', 'uniq', 'jq', 'true', 'test', '[', 'cut', 'tr', 'awk', 'column']);

const pveReadVerbs = /^(list|ls|get|show|status|config|pending|permissions|perms|usage|help|version|listsnapshot|cleanup-help)$/;

function protectedIdentities(ctx: ProtectionContext): string[] {
  const tokenId = ctx.serviceTokenId.toLowerCase();
  return [protectedUser, tokenId.split('!')[0]!, tokenId];
}

function mentionsIdentity(text: string, identities: string[]): string | undefined {
  const lower = text.toLowerCase();
  for (const identity of identities) {
    const escaped = identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (new RegExp(`(^|[^a-z0-9._-])${escaped}($|[^a-z0-9._-]|!)`).test(lower) || lower.includes(encodeURIComponent(identity))) return identity;
  }
  return undefined;
}

/**
 * Every reason the line must not run because of a protection (empty when none applies). Throws nothing
 * of its own: the caller decides how to refuse.
 */
export async function commandProtectionFindings(line: string, ctx: CommandGuardContext): Promise<string[]> {
  return [...new Set((await taggedFindings(line, ctx)).map((f) => f.reason))];
}

interface TaggedFinding {
  reason: string;
  /** protected: refused in every mode; forbidden: this caller's role may not (an admin could). */
  code: 'protected' | 'forbidden';
}

async function taggedFindings(line: string, ctx: CommandGuardContext, sent: ApiRequest[] = []): Promise<TaggedFinding[]> {
  const parsed = tryParseCommandLine(line);
  if (!parsed.ok) return [{ reason: `the command line cannot be parsed (${parsed.error.message}); it will not be run`, code: 'protected' }];
  const tagged: TaggedFinding[] = [];
  const findings = { push: (reason: string, code: TaggedFinding['code'] = 'protected') => tagged.push({ reason, code }) };
  const identities = protectedIdentities(ctx);
  for (let command of parsed.parsed.commands) {
    if (!command.program && command.functionName === undefined && command.argv.length === 0) continue;
    const program = command.program ?? '';
    const named = command.words.map((word) => mentionsIdentity(word.text, identities)).find(Boolean) ?? command.env.map((env) => mentionsIdentity(env.value, identities)).find(Boolean);
    if (command.dynamicProgram) {
      if (named) findings.push(`${describe(command)}: a program only known at run time, given ${named}`);
      else if (namesCutOffTarget(command.argv.slice(1))) findings.push(`${describe(command)}: a program only known at run time, given a service, interface, pool or firewall chain whose loss cuts the node off; write the program out`);
      continue;
    }
    let requests: ApiRequest[];
    try {
      // over ssh: the node it reaches, by name (loopback is this node; an address or a name the cluster
      // does not know counts as the main node, fail closed)
      if (command.flags.includes('remote') && command.host) command = { ...command, host: await nodeForHost(command.host, ctx) };
      requests = translateCommand(command, ctx.node);
    } catch (error) {
      if (error instanceof Unknowable) {
        findings.push(`${describe(command)}: ${error.message}, so the protections cannot be checked; write the value out`);
        continue;
      }
      if (error instanceof Refused) {
        findings.push(`${describe(command)}: ${error.message}`);
        continue;
      }
      throw error;
    }
    sent.push(...requests);
    // host commands with no API equivalent that cut the main node off (or destroy its pools' data)
    if (!Object.hasOwn(CLI, program) && program !== 'pvesh' && !command.flags.includes('in-guest')) {
      const target = command.flags.includes('remote') && command.host ? command.host.replace(/^.*@/, '') : ctx.node;
      const host = hostCutOff(command, target, volumeOwners).findings;
      if (host.length > 0) {
        const main = (await ctx.mainNode())?.toLowerCase();
        const onMain = !main || target.toLowerCase() === main || target === 'localhost';
        for (const f of host) {
          if (f.mainOnly && !onMain) continue;
          findings.push(`${describe(command)}: ${f.reason}${f.mainOnly ? (main ? ` (${target} is the main node, this server runs on it)` : ' (the main node is not known, so every node counts as main; set MCP_MAIN_NODE)') : ''}`);
        }
      }
    }
    for (const request of requests) {
      try {
        await checkProtections(request.method, request.path, request.params, ctx);
      } catch (error) {
        if (error instanceof ToolError && (error.code === 'protected' || error.code === 'forbidden')) findings.push(`${describe(command)} (${request.method} ${request.path}): ${error.message}`, error.code);
        else throw error;
      }
    }
    if (named && !readers.has(program) && requests.every((request) => request.method !== 'GET')) {
      const verb = (command.argv[1] ?? '').toLowerCase();
      const readOnlyPveCall = ['pveum', 'pvesh', 'qm', 'pct', 'pvecm', 'pvesm', 'pveam', 'pvenode'].includes(program) && (pveReadVerbs.test(verb) || (program === 'pveum' && pveReadVerbs.test((command.argv[2] ?? '').toLowerCase()) && !/token|tfa/.test(verb)));
      const alreadyJudged = requests.length > 0;
      if (!readOnlyPveCall && !alreadyJudged) findings.push(`${describe(command)}: names ${named}, which is protected; only reads may mention it`);
    }
    if (['passwd', 'usermod', 'userdel', 'deluser', 'chpasswd', 'chage', 'chsh'].includes(program) && command.argv.slice(1).some((arg) => arg === 'root')) {
      findings.push(`${describe(command)}: the Linux root account is protected`);
    }
  }
  return tagged;
}

// -- the whole verdict ----------------------------------------------------------------------------------

export interface CommandVerdict {
  classification: Classification;
  context: ClassifyContext;
  /** Protections that refuse the line in every mode. */
  protectedReasons: string[];
  /** What this caller's role may not do (the API policy's role rules, e.g. /access changes need an admin). */
  roleReasons: string[];
  /** Shell features the line uses that this token has not been granted. */
  missingFeatures: ShellFeature[];
  /** The API requests the Proxmox CLI commands on the line make, as judged (parameter names only). */
  apiRequests: string[];
  granted: ShellFeature[];
}

export interface VetDeps {
  pve: PveClient;
  mainNode: string | undefined;
  knowledge?: Knowledge;
  /** The settings store, for the per-token shell feature grants (absent: nothing granted). */
  settings?: { get<T>(key: string): Promise<T | undefined> };
  caller?: Pick<Caller, 'tokenId' | 'name' | 'role'>;
}

export async function grantedShellFeatures(settings: VetDeps['settings'], tokenId: string | undefined): Promise<ShellFeature[]> {
  if (!settings || !tokenId) return [];
  try {
    const value = await settings.get<string[]>(settingsKeyForShellFeatures(tokenId));
    return Array.isArray(value) ? (value.filter((v) => typeof v === 'string') as ShellFeature[]) : [];
  } catch {
    return [];
  }
}

/** Classifies the line, judges its translated requests with the API policy, and checks the feature grants. */
export async function vetCommandLine(line: string, node: string, deps: VetDeps): Promise<CommandVerdict> {
  const serviceTokenId = deps.pve.tokenId;
  const context: ClassifyContext = {
    mainNode: deps.mainNode,
    protectedUsers: [protectedUser],
    serviceUser: serviceTokenId.split('!')[0],
    serviceTokenId,
    knowledge: deps.knowledge,
  };
  const classification = classifyCommandLine(line, context);
  if (classification.parseError) return { classification, context, protectedReasons: [], roleReasons: [], missingFeatures: [], granted: [], apiRequests: [] };
  const sent: ApiRequest[] = [];
  const tagged = await taggedFindings(line, {
    node,
    mainNode: async () => deps.mainNode,
    serviceTokenId,
    pve: deps.pve,
    ...(deps.caller ? { caller: { role: deps.caller.role, name: deps.caller.name } } : {}),
  }, sent);
  // parameter names only: values may be passwords or keys
  const apiRequests = [...new Set(sent.map((r) => `${r.method} ${r.path}${Object.keys(r.params).length ? ` (${Object.keys(r.params).sort().join(', ')})` : ''}`))];
  const protectedReasons = [...new Set([...tagged.filter((f) => f.code === 'protected').map((f) => f.reason), ...classification.reasons.filter((reason) => reason.startsWith('forbidden'))])];
  const roleReasons = [...new Set(tagged.filter((f) => f.code === 'forbidden').map((f) => f.reason))];
  const granted = await grantedShellFeatures(deps.settings, deps.caller?.tokenId);
  const missingFeatures = classification.features.filter((f) => !granted.includes(f));
  return { classification, context, protectedReasons, roleReasons, missingFeatures, granted, apiRequests };
}

/** The error a caller gets for this verdict, or undefined when the line may run (modes still apply). */
export function refusalFor(verdict: CommandVerdict, caller?: Pick<Caller, 'name' | 'role' | 'mode'>): ToolError | undefined {
  const { classification } = verdict;
  if (classification.parseError) {
    return new ToolError('invalid_input', `The command line cannot be parsed, so it will not be run: ${classification.parseError}`, {
      suggestions: ['Check the quoting (every quote closed, every $( and ` closed) and send it again.'],
    });
  }
  if (classification.level === 'forbidden' || verdict.protectedReasons.length > 0) {
    const reasons = verdict.protectedReasons.length > 0 ? verdict.protectedReasons : classification.reasons;
    return new ToolError('protected', `This command will not be run, in any mode: ${reasons.join('; ')}`, {
      details: { reasons, level: 'forbidden' },
      suggestions: ['Use a typed tool or a narrower command; what is protected must be changed by hand on the host.'],
    });
  }
  if (verdict.missingFeatures.length > 0) {
    const why = verdict.missingFeatures.map((f) => `"${f}" (it ${FEATURE_DESCRIPTIONS[f]})`).join(' and ');
    const reasons = classification.featureReasons.filter((r) => verdict.missingFeatures.some((f) => r.startsWith(`${f}:`)));
    const name = caller?.name ?? 'TOKEN_NAME';
    return new ToolError('protected', `This command uses the shell feature ${why}, which this server refuses in every mode unless an admin allows it for this client token on the host: npm run token -- shell ${name} --allow ${verdict.missingFeatures.join(',')}`, {
      details: { reasons, features: verdict.missingFeatures, level: classification.level },
      suggestions: ['Use a typed tool or a plain command instead (no interpreters, eval, decoded scripts, /etc/pve edits or API calls through curl).', 'An admin can allow the feature for this token from the host CLI.'],
    });
  }
  if (caller && classification.level !== 'read' && caller.mode === 'read-only') {
    return new ToolError('mode_denied', `Read-only mode runs only plain reads on the host; this line is not one: ${classification.reasons.slice(0, 3).join('; ')}. Nothing was run.`, {
      details: { reasons: classification.reasons, level: classification.level },
      suggestions: ['Use the read-only programs and options listed in knowledge/shell-read-allowlist.json, or raise the mode with toggle_mode (a human must confirm it).'],
    });
  }
  if (verdict.roleReasons.length > 0) {
    return new ToolError('forbidden', `This client token's role may not do this: ${verdict.roleReasons.join('; ')}`, { details: { reasons: verdict.roleReasons } });
  }
  if (caller && classification.level !== 'read' && caller.role === 'viewer') {
    return new ToolError('forbidden', `A viewer token may only run plain reads on the host; this line is a ${classification.level === 'write' ? 'change' : 'destructive change'}: ${classification.reasons.slice(0, 3).join('; ')}`, {
      details: { reasons: classification.reasons, level: classification.level },
      suggestions: ['Use the read-only programs and options listed in knowledge/shell-read-allowlist.json, or a token with role operator or admin.'],
    });
  }
  return undefined;
}

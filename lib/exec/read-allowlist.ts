/**
 * "Read" is an allow-list: a simple command is a plain read only when its program is listed in
 * knowledge/shell-read-allowlist.json and every option it uses is listed for that program (or, for the
 * programs whose arguments are code or paths, when the parser here can tell that the code neither runs
 * anything nor writes anything). Whatever this module does not recognise is not a read: an unknown
 * option, an abbreviated long option, a subcommand that is not listed, a sed command or awk construct it
 * cannot place. Failing closed is the point; a false "not read" only costs a confirmation.
 */
import { readFileSync } from 'node:fs';
import { projectPath } from '../paths.ts';
import { findEndpoint, PVESH_OUTPUT_OPTIONS } from './pve-options.ts';
import type { ShellWord } from './shell-parse.ts';

interface Entry {
  flags?: string[];
  values?: string[];
  optional?: string[];
  maxPositionals?: number;
  minPositionals?: number;
  positional?: string;
  /** `-5` means `-n 5` (head, tail, grep context...). */
  numericFlag?: boolean;
  /** echo/printf: everything after the first operand is an operand. */
  stopAtFirstPositional?: boolean;
  anyArgs?: boolean;
  /** Words only known at run time cannot change what it does (echo). */
  dynamicOk?: boolean;
  plusOptions?: boolean;
  /** At least one of these options must be present (fdisk -l, apt -s upgrade). */
  requireOne?: string[];
  /** Values an option may take (wget -O only to "-", standard output). */
  valuePatterns?: Record<string, string>;
  style?: 'gnu' | 'pve';
  commands?: Record<string, Entry>;
  same?: string;
  parser?: 'sed' | 'awk' | 'find' | 'pvesh' | 'ip' | 'wrapper' | 'command' | 'ssh';
}

interface AllowList {
  programs: Record<string, Entry>;
}

let cached: AllowList | undefined;

export function loadReadAllowList(): AllowList {
  cached ??= JSON.parse(readFileSync(projectPath('knowledge', 'shell-read-allowlist.json'), 'utf8')) as AllowList;
  return cached;
}

/** null: a plain read. Otherwise why not. */
export type ReadVerdict = string | null;

export interface ReadCheckInput {
  program: string;
  words: ShellWord[];
  /** The command runs another command that is classified on its own (sudo X, sh -c '...'). */
  wrapsInner: boolean;
}

export function checkRead(input: ReadCheckInput): ReadVerdict {
  const list = loadReadAllowList();
  let entry = list.programs[input.program];
  if (!entry || !Object.prototype.hasOwnProperty.call(list.programs, input.program)) return `${input.program} is not on the list of read-only programs`;
  if (entry.same) entry = list.programs[entry.same]!;
  const args = input.words.slice(1);
  for (const w of args) {
    if (!w.dynamic) continue;
    // arithmetic evaluates variable contents as expressions (array subscripts can run commands); ${x:=v} assigns
    if (/\$\(\(|\$\[|\$\{[^}]*:?[=?]/.test(w.raw)) return `${input.program} is given an arithmetic or assigning expansion (${w.raw.slice(0, 40)})`;
    if (entry.parser && entry.parser !== 'wrapper' && entry.parser !== 'ssh') return `an argument of ${input.program} is only known at run time, so it cannot be checked`;
  }
  switch (entry.parser) {
    case 'sed':
      return checkSed(args);
    case 'awk':
      return checkAwk(args);
    case 'find':
      return checkFind(args);
    case 'pvesh':
      return checkPvesh(args);
    case 'ip':
      return checkIp(args);
    case 'wrapper':
      return checkWrapper(input.program, args, input.wrapsInner);
    case 'ssh':
      return checkSsh(args, input.wrapsInner);
    case 'command':
      return args.every((w) => /^-[vVp]+$/.test(w.text) || !w.text.startsWith('-')) ? null : 'command with an option other than -v, -V or -p';
    default:
      return entry.anyArgs ? null : checkGeneric(input.program, entry, args);
  }
}

// -- generic option checking -----------------------------------------------------------------------

function allValueOptions(entry: Entry): Set<string> {
  const set = new Set(entry.values ?? []);
  for (const sub of Object.values(entry.commands ?? {})) for (const v of sub.values ?? []) set.add(v);
  return set;
}

interface Parsed {
  options: { name: string; value?: string }[];
  positionals: string[];
  /** Positionals only known at run time (allowed after `--` only). */
  dynamicPositionals?: number;
  error?: string;
}

function parseGnu(entry: Entry, args: ShellWord[], valueOptions: Set<string>, flags: Set<string>): Parsed {
  const out: Parsed = { options: [], positionals: [], dynamicPositionals: 0 };
  let onlyPositionals = false;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (args[i]!.dynamic && !onlyPositionals && !entry.dynamicOk) return { ...out, error: `"${args[i]!.raw}" is only known at run time and could be an option (put it after --)` };
    if (onlyPositionals || t === '-' || !(t.startsWith('-') || (entry.plusOptions && t.startsWith('+') && t.length > 1))) {
      if (args[i]!.dynamic && !args[i]!.quoted) out.dynamicPositionals!++;
      out.positionals.push(t);
      if (entry.stopAtFirstPositional) onlyPositionals = true;
      continue;
    }
    if (t === '--') {
      onlyPositionals = true;
      continue;
    }
    if (entry.numericFlag && /^-[0-9]+$/.test(t)) {
      out.options.push({ name: '-n', value: t.slice(1) });
      continue;
    }
    if (t.startsWith('--') || flags.has(t) || valueOptions.has(t) || t.startsWith('+')) {
      const eq = t.indexOf('=');
      const name = eq >= 0 ? t.slice(0, eq) : t;
      if (flags.has(t)) out.options.push({ name: t });
      else if (eq >= 0) out.options.push({ name, value: t.slice(eq + 1) });
      else if (valueOptions.has(name)) {
        const next = args[i + 1];
        if (!next) return { ...out, error: `${name} needs a value` };
        out.options.push({ name, value: next.text });
        i++;
      } else out.options.push({ name });
      continue;
    }
    // a short cluster: -la, -n5, -k2,2
    for (let k = 1; k < t.length; k++) {
      const name = '-' + t[k];
      if (valueOptions.has(name)) {
        const rest = t.slice(k + 1);
        if (rest) out.options.push({ name, value: rest });
        else {
          const next = args[i + 1];
          if (!next) return { ...out, error: `${name} needs a value` };
          out.options.push({ name, value: next.text });
          i++;
        }
        break;
      }
      out.options.push({ name });
    }
  }
  return out;
}

function parsePve(args: ShellWord[], valueOptions: Set<string>): Parsed {
  const out: Parsed = { options: [], positionals: [], dynamicPositionals: 0 };
  let onlyPositionals = false;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (args[i]!.dynamic && !onlyPositionals) return { ...out, error: `"${args[i]!.raw}" is only known at run time and could be an option (put it after --)` };
    if (args[i]!.dynamic && !args[i]!.quoted) out.dynamicPositionals!++;
    if (onlyPositionals || !/^--?[^-]/.test(t)) {
      if (t === '--' && !onlyPositionals) onlyPositionals = true;
      else out.positionals.push(t);
      continue;
    }
    const body = t.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (eq >= 0) out.options.push({ name, value: body.slice(eq + 1) });
    else if (valueOptions.has(name)) {
      const next = args[i + 1];
      if (!next) return { ...out, error: `--${name} needs a value` };
      out.options.push({ name, value: next.text });
      i++;
    } else {
      // a boolean takes the next word unless it looks like an option (Getopt::Long ':s')
      const next = args[i + 1];
      if (next && next.text !== '--' && !/^--?./.test(next.text)) {
        out.options.push({ name, value: next.text });
        i++;
      } else out.options.push({ name });
    }
  }
  return out;
}

function checkGeneric(program: string, entry: Entry, args: ShellWord[]): ReadVerdict {
  const pve = entry.style === 'pve';
  const valueOptions = allValueOptions(entry);
  const allFlags = new Set(entry.flags ?? []);
  for (const sub of Object.values(entry.commands ?? {})) for (const f of sub.flags ?? []) allFlags.add(f);
  const parsed = pve ? parsePve(args, valueOptions) : parseGnu(entry, args, valueOptions, allFlags);
  if (parsed.error) return `${program}: ${parsed.error}`;
  let positionals = parsed.positionals;
  let sub: Entry = entry;
  let subName = '';
  if (entry.commands) {
    const words = (k: string) => (k === '' ? 0 : k.split(' ').length);
    const keys = Object.keys(entry.commands).sort((a, b) => words(b) - words(a));
    const key = keys.find((k) => {
      const kw = k === '' ? [] : k.split(' ');
      return kw.every((w, i) => positionals[i] === w);
    });
    if (key === undefined) return `"${program} ${positionals.slice(0, 2).join(' ')}" is not a listed read-only subcommand`;
    sub = entry.commands[key]!;
    subName = key;
    positionals = positionals.slice(key === '' ? 0 : key.split(' ').length);
  }
  const flags = new Set([...(entry.flags ?? []), ...(sub.flags ?? [])]);
  const values = new Set([...(entry.values ?? []), ...(sub.values ?? [])]);
  const optional = new Set([...(entry.optional ?? []), ...(sub.optional ?? [])]);
  const where = subName ? `${program} ${subName}` : program;
  for (const o of parsed.options) {
    if (pve) {
      if (o.value === undefined ? flags.has(o.name) : flags.has(o.name) ? /^(0|1|true|false|yes|no|on|off)?$/i.test(o.value) : values.has(o.name)) continue;
      return `${where}: --${o.name} is not a listed read-only option`;
    }
    if (o.value === undefined && (flags.has(o.name) || optional.has(o.name))) continue;
    if (o.value !== undefined && (values.has(o.name) || optional.has(o.name))) continue;
    if (o.name === '-n' && entry.numericFlag && o.value !== undefined) continue;
    return `${where}: ${o.name}${o.value !== undefined && !values.has(o.name) ? '=' + o.value : ''} is not a listed read-only option`;
  }
  const max = sub.maxPositionals ?? entry.maxPositionals;
  const pattern = sub.positional ?? entry.positional;
  if ((parsed.dynamicPositionals ?? 0) > 0 && (max !== undefined || pattern)) return `${where}: an operand only known at run time could be several words, which it does not only read`;
  const requireOne = [...(entry.requireOne ?? []), ...(sub.requireOne ?? [])];
  if (requireOne.length > 0 && !parsed.options.some((o) => requireOne.includes(o.name))) return `${where} only reads with one of ${requireOne.join(', ')}`;
  const valuePatterns = { ...(entry.valuePatterns ?? {}), ...(sub.valuePatterns ?? {}) };
  for (const o of parsed.options) {
    const re = Object.hasOwn(valuePatterns, o.name) ? valuePatterns[o.name] : undefined;
    if (re && o.value !== undefined && !new RegExp(re).test(o.value)) return `${where}: ${o.name} ${o.value} is not one a read may use`;
  }
  if (max !== undefined && positionals.length > max) return `${where} takes at most ${max} operand(s) when it only reads`;
  const min = sub.minPositionals ?? entry.minPositionals;
  if (min !== undefined && positionals.length < min) return `${where} needs ${min} operand(s)`;
  if (pattern) {
    const re = new RegExp(pattern);
    const bad = positionals.find((p) => !re.test(p));
    if (bad !== undefined) return `${where}: the operand "${bad}" is not one it only reads`;
  }
  return null;
}

// -- wrappers ---------------------------------------------------------------------------------------

function checkWrapper(program: string, args: ShellWord[], wrapsInner: boolean): ReadVerdict {
  const texts = args.map((w) => w.text);
  let i = 0;
  const bad = (why: string) => `${program}: ${why}`;
  switch (program) {
    case 'sudo':
      while (i < texts.length && texts[i]!.startsWith('-')) {
        if (texts[i] === '--') {
          i++;
          break;
        }
        if (!/^(-n|--non-interactive)$/.test(texts[i]!)) return bad(`the option ${texts[i]} is not one a read may use (only -n)`);
        i++;
      }
      return wrapsInner || i >= texts.length ? null : bad('the command it runs could not be checked');
    case 'timeout':
      while (i < texts.length && texts[i]!.startsWith('-')) {
        const t = texts[i]!;
        if (/^(--preserve-status|--foreground|-v|--verbose|--signal=.+|--kill-after=.+)$/.test(t)) i++;
        else if (/^(-s|-k|--signal|--kill-after)$/.test(t)) i += 2;
        else if (/^-[sk].+$/.test(t)) i++;
        else return bad(`the option ${t} is not one a read may use`);
      }
      if (!/^[0-9.]+[smhd]?$/.test(texts[i] ?? '')) return bad('needs a duration');
      return wrapsInner || i + 1 >= texts.length ? null : bad('the command it runs could not be checked');
    case 'watch':
      while (i < texts.length && texts[i]!.startsWith('-')) {
        const t = texts[i]!;
        if (/^(-n|--interval)$/.test(t)) i += 2;
        else if (/^(-d|-t|-x|-e|-g|-c|-b|-p|--differences|--no-title|--exec|--errexit|--chgexit|--color|--precise|-n[0-9.]+|--interval=[0-9.]+)$/.test(t)) i++;
        else return bad(`the option ${t} is not one a read may use`);
      }
      return wrapsInner ? null : bad('the command it runs could not be checked');
    case 'nice':
    case 'ionice':
    case 'stdbuf':
      while (i < texts.length && texts[i]!.startsWith('-')) {
        const t = texts[i]!;
        if (/^(-n|-c|-o|-e|-i|--adjustment|--class|--classdata)$/.test(t)) i += 2;
        else if (/^(-[0-9]+|-[ncoeit].+|--(adjustment|class|classdata|output|error|input)=.+|-t)$/.test(t)) i++;
        else return bad(`the option ${t} is not one a read may use`);
      }
      return wrapsInner || i >= texts.length ? null : bad('the command it runs could not be checked');
    default: {
      // sh / bash / dash: only `-c 'script'` with a script that was parsed (its commands are checked on their own)
      let sawC = false;
      while (i < texts.length && /^[-+]/.test(texts[i]!)) {
        const t = texts[i]!;
        if (t === '-o' || t === '+o') {
          if (!/^(pipefail|errexit|nounset|xtrace)$/.test(texts[i + 1] ?? '')) return bad(`-o ${texts[i + 1] ?? ''} is not one a read may use`);
          i += 2;
          continue;
        }
        if (!/^-[euxc]+$/.test(t)) return bad(`the option ${t} is not one a read may use`);
        if (t.includes('c')) sawC = true;
        i++;
        if (sawC) break;
      }
      if (!sawC) return bad('runs a script whose content cannot be inspected (only `-c` with a literal script is a read)');
      const script = args[i];
      if (!script || script.dynamic) return bad('the script is only known at run time');
      return null;
    }
  }
}

// -- ssh ----------------------------------------------------------------------------------------------

// StrictHostKeyChecking only as yes: no/accept-new write to known_hosts
const SSH_SAFE_O = /^((BatchMode|ConnectTimeout|ServerAliveInterval|ServerAliveCountMax|LogLevel|ConnectionAttempts)=[\w.-]+|StrictHostKeyChecking=yes)$/i;

/** `ssh [-n -T -q -p PORT -l USER -o SAFE=VALUE] HOST COMMAND`: the command is classified on its own. */
function checkSsh(args: ShellWord[], wrapsInner: boolean): ReadVerdict {
  const texts = args.map((w) => w.text);
  let i = 0;
  while (i < texts.length && texts[i]!.startsWith('-')) {
    const t = texts[i]!;
    if (/^-[nTq46x]+$/.test(t)) i++;
    else if (t === '-p' || t === '-l') i += 2;
    else if (t === '-o') {
      if (!SSH_SAFE_O.test(texts[i + 1] ?? '')) return `ssh -o ${texts[i + 1] ?? ''} is not one a read may use (ProxyCommand, LocalCommand and the like run programs)`;
      i += 2;
    } else if (/^-o/.test(t)) {
      if (!SSH_SAFE_O.test(t.slice(2))) return `ssh ${t} is not one a read may use`;
      i++;
    } else return `ssh ${t} is not one a read may use`;
  }
  if (args.slice(0, i).some((w) => w.dynamic)) return 'an ssh option is only known at run time';
  if (i >= texts.length) return 'ssh without a host';
  if (args[i]!.dynamic) return 'the ssh host is only known at run time';
  return wrapsInner ? null : 'ssh without a command it could check (an interactive login or an unseen script)';
}

// -- ip -----------------------------------------------------------------------------------------------

const IP_OPTIONS = /^-(4|6|0|s|d|j|p|c|o|r|h|br|brief|details|s?tats|statistics|json|pretty|color|oneline|resolve|human|human-readable|iec|c(olor)?=(auto|always|never))$/;
const IP_OBJECTS = /^(a|ad|add|addr|addre|addres|address|l|li|lin|link|r|ro|rou|rout|route|n|ne|nei|neig|neigh|neighbor|neighbour|ru|rul|rule|maddr|maddress|mroute|netconf|ntable|token|tunnel|tuntap|l2tp|fou|vrf|mptcp|nexthop|stats)$/;

function checkIp(args: ShellWord[]): ReadVerdict {
  const texts = args.map((w) => w.text);
  let i = 0;
  while (i < texts.length && texts[i]!.startsWith('-')) {
    if (!IP_OPTIONS.test(texts[i]!)) return `ip: the option ${texts[i]} is not one a read may use`;
    i++;
  }
  const object = texts[i];
  if (object === undefined) return null;
  if (!IP_OBJECTS.test(object)) return `ip ${object} is not a listed read-only object`;
  const verb = texts[i + 1];
  if (verb === undefined) return null;
  // iproute2 matches verbs by prefix in a fixed order: `s` is `set`, so only these spellings are listings
  if (!/^(show|sh|sho|list|lis|ls|lst|get)$/.test(verb)) return `ip ${object} ${verb} is not a listing`;
  return null;
}

// -- pvesh --------------------------------------------------------------------------------------------

/** Agent commands that only describe the guest (every other agent call is not a read). */
const SAFE_AGENT_COMMANDS = new Set(['info', 'get-osinfo', 'get-host-name', 'get-time', 'get-timezone', 'get-vcpus', 'get-fsinfo', 'get-memory-blocks', 'get-memory-block-info', 'network-get-interfaces', 'get-users']);
/** GET endpoints that fetch or hand out more than the cluster's own state. */
const UNSAFE_GET = [/\/file-restore\//, /\/vncwebsocket$/, /\/query-url-metadata$/, /\/termproxy$/, /\/spiceproxy$/];

function checkPvesh(args: ShellWord[]): ReadVerdict {
  const verb = args[0]?.text;
  if (verb === 'usage' || verb === 'help') {
    return args.slice(1).every((w) => !w.text.startsWith('-') || /^--?(verbose|returns|command)$/.test(w.text)) ? null : 'pvesh usage with an option that is not --verbose or --returns';
  }
  if (verb !== 'get' && verb !== 'ls') return `pvesh ${verb ?? ''} is not a read (only get, ls and usage are)`.replace('  ', ' ');
  const rest = args.slice(1).map((w) => w.text);
  // `pvesh get PATH [--option value]...`: the path first (what it reaches decides everything else)
  const path = rest[0];
  if (path === undefined || path.startsWith('-')) return 'pvesh get with an option before the path (write the path first)';
  if (path === undefined) return 'pvesh get without a path';
  const segments = decodePath(path);
  if (segments === null) return `the API path "${path}" cannot be read unambiguously`;
  const concrete = '/' + segments.join('/');
  const endpoint = findEndpoint('GET', concrete);
  if (!endpoint) return `GET ${concrete} is not an endpoint of the Proxmox API`;
  if (/\/agent\//.test(endpoint.template) || /\/agent$/.test(endpoint.template)) {
    const command = segments[segments.length - 1]!;
    if (!/\/agent\/[^/{]+$/.test(endpoint.template) && !/\/agent\/\{command\}$/.test(endpoint.template)) return `pvesh get ${concrete} calls the guest agent`;
    if (!SAFE_AGENT_COMMANDS.has(command)) return `pvesh get ${concrete} calls the guest agent command "${command}", which is not a plain read (e.g. file-read, exec-status)`;
  }
  if (UNSAFE_GET.some((re) => re.test(endpoint.template))) return `pvesh get ${concrete} reaches more than the cluster's state (file restore, consoles, URL fetches)`;
  const words = rest.slice(1);
  for (let i = 0; i < words.length; i++) {
    const t = words[i]!;
    const m = /^--?([^=-][^=]*)(=[\s\S]*)?$/.exec(t);
    if (!m) return `pvesh get takes one path; "${t}" is extra`;
    const kind = (Object.hasOwn(endpoint.params, m[1]!) ? endpoint.params[m[1]!] : undefined) ?? PVESH_OUTPUT_OPTIONS.get(m[1]!);
    if (!kind || kind === 'p') return `pvesh get ${concrete}: --${m[1]} is not a query parameter of this endpoint (written in full)`;
    if (m[2] !== undefined) continue;
    const next = words[i + 1];
    if (kind === 'b') {
      if (next !== undefined && next !== '--' && !/^--?./.test(next)) i++;
    } else {
      if (next === undefined) return `pvesh get: --${m[1]} needs a value`;
      i++;
    }
  }
  return null;
}

/** Path segments as pveproxy would route them; null when a segment would read two ways. */
function decodePath(path: string): string[] | null {
  const out: string[] = [];
  for (const raw of path.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f%\\?#]/.test(seg) || seg === '..' || seg.includes('/')) return null;
    if (seg === '' || seg === '.') continue;
    out.push(seg);
  }
  if (out[0]?.toLowerCase() === 'api2' && out[1]?.toLowerCase() === 'json') out.splice(0, 2);
  return out;
}

// -- find ---------------------------------------------------------------------------------------------

const FIND_NO_ARG = new Set(['-print', '-print0', '-ls', '-prune', '-quit', '-true', '-false', '-empty', '-readable', '-writable', '-executable', '-nouser', '-nogroup', '-xdev', '-mount', '-depth', '-d', '-follow', '-daystart', '-noleaf', '-ignore_readdir_race', '-noignore_readdir_race', '-not', '-a', '-and', '-o', '-or', '!', '(', ')', ',', '-nowarn', '-warn']);
const FIND_ONE_ARG = new Set(['-name', '-iname', '-path', '-ipath', '-wholename', '-iwholename', '-regex', '-iregex', '-lname', '-ilname', '-type', '-xtype', '-size', '-mtime', '-mmin', '-atime', '-amin', '-ctime', '-cmin', '-newer', '-anewer', '-cnewer', '-user', '-group', '-uid', '-gid', '-perm', '-links', '-inum', '-samefile', '-maxdepth', '-mindepth', '-fstype', '-regextype', '-used', '-printf', '-context']);

function checkFind(args: ShellWord[]): ReadVerdict {
  const texts = args.map((w) => w.text);
  let i = 0;
  while (i < texts.length && /^-(H|L|P)$/.test(texts[i]!)) i++;
  if (texts[i] === '-D' || texts[i]?.startsWith('-O')) return 'find with debug or optimisation options';
  while (i < texts.length && !texts[i]!.startsWith('-') && texts[i] !== '(' && texts[i] !== '!' && texts[i] !== ')') i++;
  for (; i < texts.length; i++) {
    const t = texts[i]!;
    if (FIND_NO_ARG.has(t)) continue;
    if (FIND_ONE_ARG.has(t) || /^-newer[amcBt][amcBt]$/.test(t)) {
      if (i + 1 >= texts.length) return `find ${t} needs a value`;
      i++;
      continue;
    }
    return `find ${t} is not a read-only find expression (-exec, -execdir, -ok, -okdir, -delete, -fprint*, -fls run or write)`;
  }
  return null;
}

// -- sed ----------------------------------------------------------------------------------------------

const SED_FLAGS = new Set(['-n', '--quiet', '--silent', '-E', '-r', '--regexp-extended', '-s', '--separate', '-z', '--null-data', '-u', '--unbuffered', '--posix', '--debug', '--sandbox']);

function checkSed(args: ShellWord[]): ReadVerdict {
  const scripts: string[] = [];
  const files: string[] = [];
  let onlyFiles = false;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (onlyFiles || t === '-' || !t.startsWith('-')) {
      files.push(t);
      continue;
    }
    if (t === '--') {
      onlyFiles = true;
      continue;
    }
    if (SED_FLAGS.has(t)) continue;
    if (t === '-e' || t === '--expression' || t === '-l' || t === '--line-length') {
      const next = args[i + 1];
      if (!next) return `sed ${t} needs a value`;
      if (t === '-e' || t === '--expression') scripts.push(next.text);
      i++;
      continue;
    }
    if (t.startsWith('--expression=')) {
      scripts.push(t.slice('--expression='.length));
      continue;
    }
    if (/^--line-length=\d+$/.test(t)) continue;
    if (/^-[nErszu]+$/.test(t)) continue;
    if (/^-[nErszu]*e/.test(t)) {
      // -ne 'script' or -e'script'
      const at = t.indexOf('e');
      const rest = t.slice(at + 1);
      if (rest) scripts.push(rest);
      else {
        const next = args[i + 1];
        if (!next) return 'sed -e needs a script';
        scripts.push(next.text);
        i++;
      }
      continue;
    }
    if (/^-[nErszu]*l\d*$/.test(t)) {
      if (!/\d$/.test(t)) i++;
      continue;
    }
    return `sed ${t} is not a read-only option (-i edits files in place, -f reads a script that is not shown)`;
  }
  if (scripts.length === 0) {
    const script = files.shift();
    if (script === undefined) return 'sed without a script';
    scripts.push(script);
  }
  return sedScriptVerdict(scripts.join('\n'));
}

/**
 * Walks a GNU sed script command by command. Not read: `e` (runs a command), `w`/`W` (write a file),
 * `s///e` and `s///w FILE`; and anything this walk does not recognise.
 */
export function sedScriptVerdict(script: string): ReadVerdict {
  let p = 0;
  const s = script;
  const at = () => s[p] ?? '';
  const skipSpace = () => {
    while (p < s.length && /[ \t]/.test(s[p]!)) p++;
  };
  const toEol = () => {
    while (p < s.length && s[p] !== '\n') {
      if (s[p] === '\\' && s[p + 1] === '\n') p += 2;
      else p++;
    }
  };
  const readDelimited = (delim: string): boolean => {
    while (p < s.length) {
      const c = s[p]!;
      if (c === '\\') {
        p += 2;
        continue;
      }
      if (c === '\n' && delim !== '\n') return false;
      if (c === delim) {
        p++;
        return true;
      }
      p++;
    }
    return false;
  };
  const readAddress = (): boolean => {
    const c = at();
    if (/[0-9]/.test(c)) {
      while (/[0-9]/.test(at())) p++;
      if (at() === '~') {
        p++;
        while (/[0-9]/.test(at())) p++;
      }
      return true;
    }
    if (c === '$') {
      p++;
      return true;
    }
    if (c === '/' || c === '\\') {
      let delim = '/';
      if (c === '\\') {
        p++;
        delim = at();
        if (!delim || delim === '\n' || delim === '\\') return false;
      }
      p++;
      if (!readDelimited(delim)) return false;
      while (/[IM]/.test(at())) p++;
      return true;
    }
    return false;
  };
  while (p < s.length) {
    while (p < s.length && /[\s;]/.test(s[p]!)) p++;
    if (p >= s.length) break;
    if (at() === '#') {
      toEol();
      continue;
    }
    if (at() === '}') {
      p++;
      continue;
    }
    if (readAddress()) {
      skipSpace();
      if (at() === ',') {
        p++;
        skipSpace();
        if (at() === '+' || at() === '~') {
          p++;
          if (!/[0-9]/.test(at())) return 'sed: an address it cannot read';
          while (/[0-9]/.test(at())) p++;
        } else if (!readAddress()) return 'sed: an address it cannot read';
      }
    }
    skipSpace();
    while (at() === '!') {
      p++;
      skipSpace();
    }
    const cmd = at();
    p++;
    switch (cmd) {
      case '{':
        continue;
      case '}':
      case '=':
      case 'd':
      case 'D':
      case 'g':
      case 'G':
      case 'h':
      case 'H':
      case 'n':
      case 'N':
      case 'p':
      case 'P':
      case 'x':
      case 'z':
      case 'F':
        break;
      case 'l':
      case 'L':
      case 'q':
      case 'Q':
        skipSpace();
        while (/[0-9]/.test(at())) p++;
        break;
      case ':':
      case 'b':
      case 't':
      case 'T':
      case 'v':
        // a label ends at a newline or a semicolon (read the shorter way, so nothing after it hides)
        while (p < s.length && s[p] !== '\n' && s[p] !== ';') p++;
        continue;
      case 'a':
      case 'i':
      case 'c':
        toEol();
        continue;
      case 'r':
      case 'R':
        toEol();
        continue;
      case 'w':
      case 'W':
        return `the sed command "${cmd}" writes to a file`;
      case 'e':
        return 'the sed command "e" runs a shell command';
      case 's': {
        const delim = at();
        if (!delim || delim === '\n' || delim === '\\') return 'sed: an s command it cannot read';
        p++;
        if (!readDelimited(delim) || !readDelimited(delim)) return 'sed: an s command it cannot read';
        while (p < s.length && /[gpiImM0-9ew]/.test(s[p]!)) {
          const flag = s[p]!;
          if (flag === 'e') return 'the sed flag s///e runs the pattern space as a shell command';
          if (flag === 'w') return 'the sed flag s///w writes to a file';
          p++;
        }
        break;
      }
      case 'y': {
        const delim = at();
        if (!delim || delim === '\n' || delim === '\\') return 'sed: a y command it cannot read';
        p++;
        if (!readDelimited(delim) || !readDelimited(delim)) return 'sed: a y command it cannot read';
        break;
      }
      default:
        return `sed: the command "${cmd}" is not one it recognises as read-only`;
    }
    skipSpace();
    const next = at();
    if (next !== '' && next !== ';' && next !== '\n' && next !== '}' && next !== '#') return 'sed: text after a command it cannot place';
  }
  return null;
}

// -- awk ----------------------------------------------------------------------------------------------

function checkAwk(args: ShellWord[]): ReadVerdict {
  let program: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (program !== undefined) break;
    if (t === '--') {
      program = args[i + 1]?.text;
      break;
    }
    if (t === '-F' || t === '-v' || t === '--field-separator' || t === '--assign') {
      i++;
      continue;
    }
    if (/^-F.+|^-v.+|^--(field-separator|assign)=/.test(t)) continue;
    if (t.startsWith('-') && t !== '-') return `awk ${t} is not a read-only option (-f reads a program that is not shown; -i, -l, -E, -e load or run code)`;
    program = t;
  }
  if (program === undefined) return 'awk without a program';
  return awkProgramVerdict(program);
}

/**
 * Scans an awk program. Not read: system(), any `|` pipe (print | "cmd", "cmd" | getline, |&), output
 * redirection in print/printf (> and >>), gawk's @-directives and indirect calls.
 */
export function awkProgramVerdict(program: string): ReadVerdict {
  const s = program;
  let p = 0;
  let lastSignificant = '';
  let inPrint = false;
  let printDepth = 0;
  let depth = 0;
  while (p < s.length) {
    const c = s[p]!;
    if (c === '"') {
      p++;
      while (p < s.length && s[p] !== '"') {
        if (s[p] === '\\') p++;
        p++;
      }
      if (p >= s.length) return 'awk: an unterminated string';
      p++;
      lastSignificant = 'x';
      continue;
    }
    if (c === '#') {
      while (p < s.length && s[p] !== '\n') p++;
      continue;
    }
    if (c === '\\') {
      // a backslash-newline continues the line: what follows keeps the operand before it
      p += 2;
      continue;
    }
    if (c === '/' && !/[\w)\]$.]/.test(lastSignificant)) {
      // a regular expression literal
      p++;
      let inBracket = false;
      while (p < s.length && (s[p] !== '/' || inBracket)) {
        if (s[p] === '\\') p++;
        else if (s[p] === '[') inBracket = true;
        else if (s[p] === ']') inBracket = false;
        else if (s[p] === '\n') return 'awk: a regular expression it cannot read';
        p++;
      }
      if (p >= s.length) return 'awk: an unterminated regular expression';
      p++;
      lastSignificant = 'x';
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let word = '';
      while (p < s.length && /[\w]/.test(s[p]!)) word += s[p++];
      if (word === 'system') return 'the awk program calls system(), which runs a shell command';
      if (word === 'print' || word === 'printf') {
        inPrint = true;
        printDepth = depth;
      }
      lastSignificant = 'x';
      continue;
    }
    if (c === '@') return 'the awk program uses a gawk directive or indirect call (@), which can load or run code';
    if (c === '|') {
      if (s[p + 1] === '|') {
        p += 2;
        lastSignificant = '|';
        continue;
      }
      return 'the awk program uses a pipe (print | "cmd", "cmd" | getline), which runs a shell command';
    }
    if (c === '>' && inPrint) return 'the awk program redirects print output to a file';
    if (c === '(' || c === '[' || c === '{') depth++;
    if (c === ')' || c === ']' || c === '}') depth--;
    if (c === ';' || c === '\n' || c === '{' || c === '}' || (c === ')' && depth < printDepth)) inPrint = false;
    // x++ / 2 and x-- / 2 divide: an increment ends an operand
    if ((c === '+' || c === '-') && s[p + 1] === c) {
      p += 2;
      lastSignificant = 'x';
      continue;
    }
    if (!/\s/.test(c)) lastSignificant = c;
    p++;
  }
  return null;
}

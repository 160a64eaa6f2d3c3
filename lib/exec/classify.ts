/**
 * Classifies a shell command line: read, write, destructive or forbidden (never run, whatever the mode).
 *
 * The line is parsed (lib/exec/shell-parse.ts), never grepped. Each simple command, including the ones in
 * substitutions, subshells and behind wrappers (sudo, sh -c, xargs, find -exec, ssh...), is classified on
 * its own from the command descriptions in knowledge/commands; the line gets the worst level.
 *
 * The descriptions say what each program and subcommand does and what kind each argument is (a Proxmox
 * user, a node, a pvesh path, a file that is deleted or written, a device...). This module applies the
 * protections no mode lifts to those arguments: root@pam, the main node, the server's own service user and
 * token, the cluster configuration, disks and the root filesystem.
 *
 * What cannot be known is never guessed in the safe direction: unparseable lines are forbidden; a program
 * only known at run time is destructive (forbidden when its words name a protected object); unknown
 * programs are writes.
 */
import type { ArgKind, CommandSpec, Condition, Knowledge, Level, Risk, Rule, SubcommandSpec } from '../knowledge.ts';
import { LEVELS, loadKnowledge } from '../knowledge.ts';
import type { ParsedCommandLine, Redirection, ShellWord, SimpleCommand } from './shell-parse.ts';
import { tryParseCommandLine } from './shell-parse.ts';
import { checkRead } from './read-allowlist.ts';
import { ownStateReason } from './own-state.ts';
import { resolveDotSegments } from '../policy/normalize.ts';
import { splitList } from '../policy/split-list.ts';
import { CODE_LOADING_ENV, commandFeatures, FEATURE_DESCRIPTIONS, isDecoder, type ShellFeature } from './shell-features.ts';

export type { Level } from '../knowledge.ts';

export interface ClassifyContext {
  /** The node this server treats as the main node (it cannot be removed from the cluster). */
  mainNode?: string;
  /** Proxmox users that must never be modified or deleted. Default: root@pam (always included). */
  protectedUsers?: string[];
  /** The server's own Proxmox user (e.g. proxmox-mcp@pve). */
  serviceUser?: string;
  /** The server's own API token id (e.g. proxmox-mcp@pve!mcp). */
  serviceTokenId?: string;
  /** The knowledge base; the default one is loaded when absent. */
  knowledge?: Knowledge;
}

export interface CommandClassification {
  argv: string[];
  /** The program (basename), or null for a command made only of assignments/redirections. */
  program: string | null;
  /** The matched subcommand path, e.g. ['user', 'delete']. */
  subcommand: string[];
  level: Level;
  /** The main reason for the level. */
  reason: string;
  /** Every finding that raised the level, worst first. */
  reasons: string[];
  /** What it does, in plain words. */
  explanation: string;
  /** The program has a description in the knowledge base. */
  known: boolean;
  nested: boolean;
  wrappers: string[];
  /** For a function definition: the function's name. */
  functionName?: string;
  /** Features that need an admin's per-token grant (shell-features.ts), with why. */
  features: { feature: ShellFeature; reason: string }[];
  /** Why the command itself is not a plain read (the allow-list in knowledge/shell-read-allowlist.json), or null. */
  notRead: string | null;
}

export interface Classification {
  level: Level;
  commands: CommandClassification[];
  /** The reasons behind the overall level (one per command that is not read-only, worst first). */
  reasons: string[];
  /** Set when the line could not be parsed (the level is then forbidden: it must not run). */
  parseError?: string;
  /** Features of the line that need an admin's per-token grant before it runs (empty: none). */
  features: ShellFeature[];
  /** Why each feature applies, e.g. "interpreters: python3 runs program code...". */
  featureReasons: string[];
}

export const LEVEL_RANK: Record<Level, number> = { read: 0, write: 1, destructive: 2, forbidden: 3 };

export function worstLevel(a: Level, b: Level): Level {
  return LEVEL_RANK[a] >= LEVEL_RANK[b] ? a : b;
}

export function classifyCommandLine(line: string, context: ClassifyContext = {}): Classification {
  const knowledge = context.knowledge ?? loadKnowledge();
  const result = tryParseCommandLine(line);
  if (!result.ok) {
    const reason = `the command line cannot be parsed (${result.error.message}); it will not be run`;
    return { level: 'forbidden', commands: [], reasons: [reason], parseError: result.error.message, features: [], featureReasons: [] };
  }
  if (line.trim() === '') {
    return { level: 'read', commands: [], reasons: [], features: [], featureReasons: [] };
  }
  return classifyParsed(result.parsed, knowledge, context);
}

/** Classifies an already parsed line (explain.ts reuses the parse). */
export function classifyParsed(parsed: ParsedCommandLine, knowledge: Knowledge, context: ClassifyContext = {}): Classification {
  const protections = protectionsFrom(context);
  const state: LineState = { cwd: null, cwdUnknown: false, parsed, knowledge, protections };
  const commands = parsed.commands.map((cmd) => classifyOne(cmd, state));
  // a shell or eval running content it cannot see, on a line that also decodes something: decode-to-shell
  const runsUnseen = parsed.commands.some((c) => c.flags.includes('opaque-script') || c.flags.includes('reads-script-from-input') || c.flags.includes('eval') || c.flags.includes('source'));
  if (runsUnseen) {
    parsed.commands.forEach((c, i) => {
      if (isDecoder(c)) commands[i]!.features.push({ feature: 'decode-to-shell', reason: `${c.program} decodes a payload on a line that runs unseen shell code` });
    });
  }
  // arithmetic evaluates variables as expressions, and bash runs $(...) hidden in an array subscript there:
  // with a variable filled from input (read, a loop over output, x=$(...)) that is code from data
  const line = parsed.line;
  const arithmeticOnVariables = /\(\([^)]*[A-Za-z_]|\$\[[^\]]*[A-Za-z_]|(^|[\s;&|(])let\s|\[\[[^\]]*-(eq|ne|lt|le|gt|ge)\b|\$\{[A-Za-z_]\w*\[[^\]]*[A-Za-z_$]/.test(line);
  const variablesFromInput = /(^|[\s;&|(])(read|mapfile|readarray|getopts)\s|printf\s+-v|(^|[\s;&|(])for\s+\w+\s+in\s[^;\n]*[$`]|=\$\(|=`|=["']?\$\{?[A-Za-z_@*0-9]/.test(line);
  if (arithmeticOnVariables && variablesFromInput && commands[0]) {
    commands[0].features.push({ feature: 'interpreters', reason: 'arithmetic on a variable filled from input or output: bash runs $(...) hidden in its value' });
  }
  let level: Level = 'read';
  for (const c of commands) level = worstLevel(level, c.level);
  const reasons = commands
    .filter((c) => c.level !== 'read')
    .sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level])
    .map((c) => `${c.level}: ${shortCommand(c.argv, c.program, c.functionName)}: ${c.reason}`);
  const features = [...new Set(commands.flatMap((c) => c.features.map((x) => x.feature)))];
  const featureReasons = [...new Set(commands.flatMap((c) => c.features.map((x) => `${x.feature}: ${shortCommand(c.argv, c.program, c.functionName)}: ${x.reason}`)))];
  return { level, commands, reasons: [...new Set(reasons)], features, featureReasons };
}

export { FEATURE_DESCRIPTIONS };

// -----------------------------------------------------------------------------------------------------

interface Protections {
  users: Set<string>;
  serviceUser: string | null;
  serviceToken: string | null;
  mainNode: string | null;
}

export function protectionsFrom(context: ClassifyContext): Protections {
  const users = new Set<string>(['root@pam', ...(context.protectedUsers ?? []).map((u) => u.trim().toLowerCase())]);
  const serviceToken = context.serviceTokenId?.trim().toLowerCase() || null;
  const serviceUser = context.serviceUser?.trim().toLowerCase() || (serviceToken?.includes('!') ? serviceToken.split('!')[0]! : null);
  return { users, serviceUser, serviceToken, mainNode: context.mainNode?.trim().toLowerCase() || null };
}

interface LineState {
  cwd: string | null;
  /** A `cd` to a place only known at run time happened: relative paths could be anywhere. */
  cwdUnknown?: boolean;
  parsed: ParsedCommandLine;
  knowledge: Knowledge;
  protections: Protections;
}

interface Finding {
  level: Level;
  reason: string;
}

class Findings {
  readonly list: Finding[] = [];
  readonly features: { feature: ShellFeature; reason: string }[] = [];
  feature(feature: ShellFeature, reason: string): void {
    if (!this.features.some((f) => f.feature === feature && f.reason === reason)) this.features.push({ feature, reason });
  }
  add(level: Level, reason: string): void {
    this.list.push({ level, reason });
  }
  get level(): Level {
    return this.list.reduce<Level>((acc, f) => worstLevel(acc, f.level), 'read');
  }
  sorted(): Finding[] {
    return [...this.list].sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level]);
  }
}

const RISKY_ENV = new Set(['PATH', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'IFS', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PERL5LIB', 'PYTHONPATH', 'NODE_OPTIONS', 'GCONV_PATH']);
const INTERPRETERS = /^(python[0-9.]*|perl[0-9.]*|ruby|node|nodejs|php[0-9.]*|lua[0-9.]*|tclsh|Rscript|deno|bun)$/;
const CONTROL_KEYWORDS = new Set(['for', 'select']);

function classifyOne(cmd: SimpleCommand, state: LineState): CommandClassification {
  const f = new Findings();
  const { knowledge, protections } = state;
  let explanation = '';
  let subcommand: string[] = [];
  let known = false;

  for (const e of cmd.env) {
    if (RISKY_ENV.has(e.name)) f.add('write', `sets ${e.name}, which changes which program or library actually runs`);
  }
  for (const r of cmd.redirections) checkRedirection(r, f, state);
  // This server's own state (approvals, tokens, modes) is changed only by an approver or the host CLI.
  const ownState = ownStateReason(cmd);
  if (ownState) f.add('forbidden', ownState);

  const hasInner = state.parsed.commands.some((c) => c.parent === cmd.id && c.nesting[c.nesting.length - 1] !== 'command-substitution' && c.nesting[c.nesting.length - 1] !== 'backticks' && c.nesting[c.nesting.length - 1] !== 'process-substitution');

  if (cmd.functionName !== undefined) {
    explanation = `defines the shell function "${cmd.functionName}"`;
    if (functionCallsItself(cmd, state.parsed)) {
      f.add('forbidden', `the function "${cmd.functionName}" calls itself (the fork-bomb pattern): it would exhaust the host's processes`);
    } else f.add('read', 'defines a shell function; its commands are classified on their own');
  } else if (cmd.program === null) {
    explanation = cmd.env.length > 0 ? 'sets shell variables' : cmd.redirections.length > 0 ? 'opens or truncates the redirected files' : 'does nothing';
  } else if (cmd.dynamicProgram) {
    explanation = 'runs a program whose name is only known at run time';
    const mention = mentionsProtected(cmd.words.map((w) => w.raw), protections);
    if (mention) f.add('forbidden', `the program is only known at run time and the command ${mention}`);
    else f.add('destructive', 'the program is only known at run time (variable, substitution, glob or brace expansion), so it cannot be checked');
  } else if (state.parsed.functions.includes(cmd.program)) {
    explanation = `calls the shell function "${cmd.program}" defined on this line (its commands are classified on their own)`;
    known = true;
  } else if (CONTROL_KEYWORDS.has(cmd.program)) {
    explanation = 'a shell loop header: the loop body is classified command by command';
    known = true;
  } else {
    const spec = knowledge.command(cmd.program);
    if (cmd.flags.includes('wrapper') && hasInner && !cmd.flags.includes('opaque-script')) {
      explanation = spec ? `${spec.summary} (the command it runs is classified on its own)` : 'runs the command listed after it';
      known = Boolean(spec);
      if (spec) {
        const evaluated = evaluateSpec(spec, cmd.words.slice(1), state, f, true);
        subcommand = evaluated.path;
      }
    } else if (spec) {
      known = true;
      const evaluated = evaluateSpec(spec, cmd.words.slice(1), state, f, false);
      explanation = evaluated.explanation;
      subcommand = evaluated.path;
    } else {
      explanation = 'not in the knowledge base';
      f.add('write', 'unknown command, treated as a change');
    }
    if (INTERPRETERS.test(cmd.program) && cmd.argv.length > 1 && !cmd.argv.slice(1).every((a) => /^-(-version|V|v|h|-help)$/.test(a))) {
      const mention = mentionsProtected(cmd.words.slice(1).map((w) => w.text), protections);
      if (mention) f.add('forbidden', `runs interpreter code that ${mention}`);
      else f.add('destructive', 'runs program code (inline or from a file) that cannot be inspected');
    }
    if ((cmd.program === 'awk' || cmd.program === 'gawk' || cmd.program === 'mawk') && cmd.argv.some((a) => /\bsystem\s*\(|\|\s*getline|print[^;]*\|\s*"/.test(a))) {
      const mention = mentionsProtected(cmd.argv, protections);
      f.add(mention ? 'forbidden' : 'destructive', mention ? `runs shell commands from awk that ${mention}` : 'the awk program runs shell commands (system() or pipes)');
    }
    if (cmd.program === 'cd' || cmd.program === 'pushd' || cmd.program === 'popd') trackCwd(cmd, state);
  }

  if (cmd.flags.includes('eval')) f.add('write', 'eval runs text as a command');
  if (cmd.flags.includes('source')) {
    const mention = mentionsProtected(cmd.argv, protections);
    f.add(mention ? 'forbidden' : 'destructive', mention ? `sources a script and ${mention}` : 'sources a shell script whose content cannot be inspected');
  } else if (cmd.flags.includes('opaque-script') || cmd.flags.includes('reads-script-from-input')) {
    const texts = [...cmd.words.map((w) => w.raw), ...cmd.redirections.map((r) => r.heredoc?.body ?? r.target)];
    const mention = mentionsProtected(texts, protections);
    f.add(mention ? 'forbidden' : 'destructive', mention ? `runs a script that cannot be parsed and ${mention}` : 'runs a script whose content cannot be inspected (a file, its input or a run-time value)');
  }
  if (cmd.flags.includes('in-guest')) {
    // inside a guest the host protections do not apply, but the guest can still be wrecked
    for (const finding of f.list) if (finding.level === 'forbidden') finding.level = 'destructive';
    f.add('write', `runs inside guest ${cmd.host ?? ''}`.trim());
  }

  const children = state.parsed.commands.filter((c) => c.parent === cmd.id);
  for (const x of commandFeatures(cmd, children)) f.feature(x.feature, x.reason);
  const notRead = readAllowListVerdict(cmd, hasInner, state);
  if (notRead && f.level === 'read') f.add('write', `not a plain read: ${notRead}`);
  if (notRead && cmd.program) {
    // awk system()/pipes and sed `e` run shell commands: an interpreter by another name
    if (/runs (a )?shell command|load or run code|reads a program that is not shown|runs the pattern space/.test(notRead)) f.feature('interpreters', notRead);
    const pveWrite = pveConfigWordReason(cmd, state);
    if (pveWrite) f.feature('pve-config-writes', pveWrite);
    const dotfile = dotfileWordReason(cmd, state);
    if (dotfile) f.feature('interpreters', dotfile);
    // a change made from a working directory under /etc/pve (or one only known at run time) can write there
    if (!CONTROL_KEYWORDS.has(cmd.program) && (state.cwdUnknown || (state.cwd !== null && (state.cwd === '/etc/pve' || state.cwd.startsWith('/etc/pve/'))))) {
      f.feature('pve-config-writes', `${cmd.program} changes something while the working directory is ${state.cwdUnknown ? 'only known at run time' : state.cwd}`);
    }
  }
  // inside a guest, the host's /etc/pve and the host's interpreters are not what runs
  if (cmd.flags.includes('in-guest')) f.features.length = 0;

  const sorted = f.sorted();
  const level = f.level;
  const reason = sorted.find((x) => x.level === level)?.reason ?? (level === 'read' ? 'only reads' : 'changes something');
  return {
    features: f.features,
    notRead,
    argv: cmd.argv,
    program: cmd.program,
    subcommand,
    level,
    reason,
    reasons: [...new Set(sorted.map((x) => x.reason))],
    explanation,
    known,
    nested: cmd.nested,
    wrappers: cmd.wrappers,
    ...(cmd.functionName !== undefined ? { functionName: cmd.functionName } : {}),
  };
}

/** Why this simple command (program and options, not its redirections) is not a plain read, or null. */
function readAllowListVerdict(cmd: SimpleCommand, hasInner: boolean, state: LineState): string | null {
  if (cmd.functionName !== undefined) return null;
  if (cmd.program === null) {
    // a plain assignment only sets a shell variable; the ones that make programs load code are not reads
    const risky = cmd.env.filter((e) => CODE_LOADING_ENV.test(e.name) || /\$\(|`/.test(e.value));
    return risky.length > 0 ? `sets ${risky.map((e) => e.name).join(', ')}, which changes what later commands run` : null;
  }
  if (cmd.env.length > 0) return `runs with ${cmd.env.map((e) => e.name).join(', ')} set in its environment`;
  if (cmd.dynamicProgram) return 'the program is only known at run time';
  if (state.parsed.functions.includes(cmd.program) || CONTROL_KEYWORDS.has(cmd.program)) return null;
  if (cmd.programPath && cmd.programPath.includes('/') && !/^\/(usr\/)?(local\/)?s?bin\/[^/]+$/.test(cmd.programPath)) return `runs the program file ${cmd.programPath}`;
  return checkRead({ program: cmd.program, words: cmd.words, wrapsInner: hasInner });
}

const COPY_PROGRAMS = new Set(['cp', 'rsync', 'scp', 'install', 'pv', 'sha256sum', 'md5sum']);

/** Could this path (as written, with the line's working directory) land under /etc/pve? */
function reachesEtcPve(text: string, state: Pick<LineState, 'cwd' | 'cwdUnknown'>): boolean {
  if (text === '' || text.startsWith('-')) return false;
  const relative = !text.startsWith('/') && !text.startsWith('~');
  if (relative && state.cwdUnknown) return true;
  const resolved = resolvePath(text, state.cwd);
  if (!resolved.path) return false;
  let path = resolved.path;
  // /proc/<pid>/root is the same tree again; /proc/<pid>/cwd is wherever that process is
  const viaProc = /^\/proc\/[^/]+\/(root|cwd)(\/.*)?$/.exec(path);
  if (viaProc) {
    if (viaProc[1] === 'cwd') return true;
    path = viaProc[2] || '/';
  }
  if (path === '/etc/pve' || path.startsWith('/etc/pve/')) return true;
  if (resolved.glob) {
    const parent = globParent(path);
    return parent === '/' || '/etc/pve'.startsWith(parent === '/etc' ? '/etc/' : parent + '/') || parent.startsWith('/etc/pve');
  }
  return false;
}

/**
 * A dotfile in a home directory (~/.bashrc, ~/.ssh/config, ~/.curlrc, ~/.zpool.d...): programs read these
 * as configuration or code, so writing one plants code that a later "read" runs.
 */
function homeDotfile(text: string, state: Pick<LineState, 'cwd' | 'cwdUnknown'>): boolean {
  if (text === '' || text.startsWith('-')) return false;
  const dotComponent = (rest: string) => /^\.(?!\.?(\/|$))/.test(rest.replace(/^(\.\/)+/, ''));
  if (text === '~' || text.startsWith('~')) {
    const rest = text.replace(/^~[^/]*\/?/, '');
    return dotComponent(rest);
  }
  if (text.startsWith('/')) {
    const resolved = resolvePath(text, null).path ?? text;
    const m = /^\/(?:home\/[^/]+|root|var\/lib\/[^/]+)\/(.*)$/.exec(resolved);
    return m ? dotComponent(m[1]!) : false;
  }
  if (state.cwdUnknown) return /(^|\/)\.[^./]/.test(text);
  if (state.cwd === null) return dotComponent(text);
  return homeDotfile(`${state.cwd}/${text}`, { cwd: null, cwdUnknown: false });
}

/** A command that is not a plain read and names a path under /etc/pve as something it changes. */
function pveConfigWordReason(cmd: SimpleCommand, state: LineState): string | null {
  const program = cmd.program ?? '';
  const words = cmd.words.slice(1);
  const positionals = words.filter((w) => !w.text.startsWith('-'));
  for (const w of words) {
    const value = w.text.replace(/^--?[A-Za-z][\w-]*=/, '').replace(/^(of|if)=/, '');
    if (w.dynamic && /\/etc\/p/.test(w.raw)) return `"${w.raw}" may name a file under /etc/pve`;
    if (w.dynamic || (value.startsWith('-') && value === w.text)) continue;
    if (!reachesEtcPve(value, state) && !(w.glob && /^\/etc\/p/.test(value))) continue;
    if (COPY_PROGRAMS.has(program) && w !== positionals[positionals.length - 1]) continue;
    return `${program} changes ${value}, under /etc/pve`;
  }
  // copying or unpacking into / or /etc (or from there as the working directory) can land in /etc/pve
  // tar writes into a tree only when it extracts (creating an archive of /etc only reads it)
  const extracts = !/^(tar|bsdtar)$/.test(program) || words.some((w, i) => /^--(extract|get)$/.test(w.text) || (/^-?[A-Za-z]*x[A-Za-z]*$/.test(w.text) && (i === 0 || w.text.startsWith('-'))));
  if (TREE_WRITERS.test(program) && extracts) {
    const ancestor = (path: string | null) => path === '/' || path === '/etc';
    for (const w of words) {
      if (w.dynamic) continue;
      const value = w.text.replace(/^--?[A-Za-z][\w-]*=/, '');
      if (value.startsWith('-') || value === '') continue;
      const resolved = resolvePath(value, state.cwd).path;
      if (ancestor(resolved) && (!COPY_PROGRAMS.has(program) || w === positionals[positionals.length - 1] || /^--?[A-Za-z][\w-]*=/.test(w.text))) return `${program} writes into ${resolved}, which holds /etc/pve`;
    }
    if (ancestor(state.cwd) && /^(tar|bsdtar|unzip|cpio|7z|7za|git|wget|curl|busybox)$/.test(program)) return `${program} unpacks or downloads into ${state.cwd}, which holds /etc/pve`;
  }
  return null;
}

const TREE_WRITERS = /^(cp|mv|rsync|install|tar|bsdtar|unzip|cpio|7z|7za|ln|git|wget|curl|scp|sftp|pax|ar|busybox)$/;

/** A command that is not a plain read and names a home dotfile it may change. */
function dotfileWordReason(cmd: SimpleCommand, state: LineState): string | null {
  const program = cmd.program ?? '';
  const words = cmd.words.slice(1);
  const positionals = words.filter((w) => !w.text.startsWith('-'));
  for (const w of words) {
    if (w.dynamic) continue;
    const value = w.text.replace(/^--?[A-Za-z][\w-]*=/, '').replace(/^(of|if)=/, '');
    if (!homeDotfile(value, state)) continue;
    if (COPY_PROGRAMS.has(program) && w !== positionals[positionals.length - 1]) continue;
    return `${program} may change ${value}, a dotfile that programs read as configuration or code`;
  }
  // copying or unpacking into a home directory itself can plant dotfiles there
  const extracts = !/^(tar|bsdtar)$/.test(program) || words.some((w, i) => /^--(extract|get)$/.test(w.text) || (/^-?[A-Za-z]*x[A-Za-z]*$/.test(w.text) && (i === 0 || w.text.startsWith('-'))));
  if (TREE_WRITERS.test(program) && extracts) {
    const isHome = (text: string) => /^~[^/]*\/?$/.test(text) || /^\/(root|home\/[^/]+)\/?$/.test(resolvePath(text, state.cwd).path ?? '') || (state.cwd === null && !state.cwdUnknown && /^\.\/?$/.test(text));
    for (const w of words) {
      if (w.dynamic) continue;
      const value = w.text.replace(/^--?[A-Za-z][\w-]*=/, '');
      if (!value.startsWith('-') && isHome(value) && (!COPY_PROGRAMS.has(program) || w === positionals[positionals.length - 1] || value !== w.text)) return `${program} writes into the home directory ${value}, where dotfiles hold configuration and code`;
    }
    const homeCwd = (state.cwd === null && !state.cwdUnknown) || /^\/(root|home\/[^/]+)$/.test(state.cwd ?? '');
    const aimed = words.some((w) => /^(-C|--directory|-d|--output-dir|-P|--directory-prefix)(=|$)/.test(w.text) || /^-[A-Za-z]*C$/.test(w.text));
    if (homeCwd && !aimed && /^(tar|bsdtar|unzip|cpio|7z|7za)$/.test(program)) return `${program} unpacks into the home directory, where dotfiles hold configuration and code`;
  }
  if ((program === 'wget' || program === 'curl') && words.some((w) => /^[a-z]+:\/\/.*\/\.[^/]+$/i.test(w.text))) return `${program} may save a file named like a dotfile`;
  return null;
}

function functionCallsItself(def: SimpleCommand, parsed: ParsedCommandLine): boolean {
  const isInside = (c: SimpleCommand): boolean => {
    let p = c.parent;
    while (p !== null) {
      if (p === def.id) return true;
      p = parsed.commands[p]?.parent ?? null;
    }
    return false;
  };
  return parsed.commands.some((c) => c.program === def.functionName && isInside(c));
}

// -- knowledge-driven evaluation ------------------------------------------------------------------------

interface ParsedOption {
  name: string;
  value?: string;
  valueDynamic: boolean;
}

interface Positional {
  text: string;
  raw: string;
  dynamic: boolean;
}

interface ParsedArgs {
  options: ParsedOption[];
  positionals: Positional[];
}

const withValueCache = new WeakMap<CommandSpec, Set<string>>();

function optionsWithValue(spec: CommandSpec): Set<string> {
  let set = withValueCache.get(spec);
  if (!set) {
    set = new Set(spec.optionsWithValue ?? []);
    const walk = (subs: SubcommandSpec[] | undefined) => {
      for (const s of subs ?? []) {
        for (const o of s.optionsWithValue ?? []) set!.add(o);
        walk(s.subcommands);
      }
    };
    walk(spec.subcommands);
    withValueCache.set(spec, set);
  }
  return set;
}

export function parseArguments(words: ShellWord[], style: 'gnu' | 'pve' | 'none', withValue: Set<string>): ParsedArgs {
  const options: ParsedOption[] = [];
  const positionals: Positional[] = [];
  let onlyPositionals = style === 'none';
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const t = w.text;
    if (onlyPositionals || !t.startsWith('-') || t === '-' || w.dynamic && !t.startsWith('-')) {
      positionals.push({ text: t, raw: w.raw, dynamic: w.dynamic || w.glob });
      continue;
    }
    if (t === '--') {
      onlyPositionals = true;
      continue;
    }
    if (style === 'pve') {
      if (/^-\d/.test(t)) {
        positionals.push({ text: t, raw: w.raw, dynamic: w.dynamic });
        continue;
      }
      const body = t.replace(/^-+/, '');
      const eq = body.indexOf('=');
      const name = '--' + (eq >= 0 ? body.slice(0, eq) : body);
      if (eq >= 0) options.push({ name, value: body.slice(eq + 1), valueDynamic: w.dynamic });
      else {
        const next = words[i + 1];
        if (next && (!next.text.startsWith('-') || /^-\d/.test(next.text))) {
          options.push({ name, value: next.text, valueDynamic: next.dynamic });
          i++;
        } else options.push({ name, valueDynamic: false });
      }
      continue;
    }
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq >= 0 ? t.slice(0, eq) : t;
      if (eq >= 0) options.push({ name, value: t.slice(eq + 1), valueDynamic: w.dynamic });
      else if (withValue.has(name) && words[i + 1]) {
        options.push({ name, value: words[i + 1]!.text, valueDynamic: words[i + 1]!.dynamic });
        i++;
      } else options.push({ name, valueDynamic: false });
      continue;
    }
    // short cluster: -rf, -n50, -u root
    if (withValue.has(t)) {
      const next = words[i + 1];
      options.push({ name: t, value: next?.text, valueDynamic: next?.dynamic ?? false });
      i++;
      continue;
    }
    for (let k = 1; k < t.length; k++) {
      const name = '-' + t[k];
      if (withValue.has(name)) {
        const rest = t.slice(k + 1);
        if (rest) options.push({ name, value: rest, valueDynamic: w.dynamic });
        else {
          const next = words[i + 1];
          options.push({ name, value: next?.text, valueDynamic: next?.dynamic ?? false });
          i++;
        }
        break;
      }
      options.push({ name, valueDynamic: false });
    }
    // the whole cluster as written also counts (find-style -delete, -name)
    if (t.length > 2) options.push({ name: t, valueDynamic: false });
  }
  return { options, positionals };
}

function hasOption(args: ParsedArgs, names: string[]): boolean {
  return args.options.some((o) => names.includes(o.name));
}

function matches(cond: Condition, args: ParsedArgs, texts: string[]): boolean {
  if (cond.option && !hasOption(args, cond.option)) return false;
  if (cond.noOption && hasOption(args, cond.noOption)) return false;
  if (cond.arg !== undefined) {
    const re = new RegExp(cond.arg);
    if (!texts.some((t) => re.test(t))) return false;
  }
  if (cond.noArgs !== undefined && cond.noArgs !== (texts.length === 0)) return false;
  if (cond.optionValue) {
    const re = new RegExp(cond.optionValue.match);
    if (!args.options.some((o) => cond.optionValue!.option.includes(o.name) && o.value !== undefined && re.test(o.value))) return false;
  }
  return true;
}

function defaultRisk(level: Level): Risk {
  return level === 'read' ? 'none' : level === 'write' ? 'low' : 'high';
}

export interface Evaluation {
  /** The matched subcommand path. */
  path: string[];
  /** The deepest matched description (the program itself when no subcommand matched). */
  node: CommandSpec | SubcommandSpec;
  explanation: string;
  risk: Risk;
  reversible?: boolean;
  undo?: string;
  saferAlternative?: string;
  api?: string;
  args: ParsedArgs;
  /** Positional arguments after the subcommand, with the kind and description the data gives them. */
  operands: { text: string; dynamic: boolean; kind?: ArgKind; description?: string; name?: string }[];
  matchedRules: Rule[];
  unrecognised: string[];
}

/**
 * Applies a command description to the words after the program: finds the subcommand, applies the rules
 * and the protections. Findings go to `f`; `asWrapper` only applies rules (what it runs is classified apart).
 */
export function evaluateSpec(spec: CommandSpec, words: ShellWord[], state: Pick<LineState, 'cwd' | 'cwdUnknown' | 'protections'>, f: Findings | null, asWrapper: boolean): Evaluation {
  const findings = f ?? new Findings();
  const style = spec.optionStyle ?? 'gnu';
  const args = parseArguments(words, style, optionsWithValue(spec));
  const path: string[] = [];
  let node: CommandSpec | SubcommandSpec = spec;
  const chain: (CommandSpec | SubcommandSpec)[] = [spec];
  let index = 0;
  const unrecognised: string[] = [];
  let unknownSub = false;
  while (node.subcommands && node.subcommands.length > 0 && index < args.positionals.length) {
    const p = args.positionals[index]!;
    if (p.dynamic) {
      const mention = mentionsProtected(words.map((w) => w.raw), state.protections);
      findings.add(mention ? 'forbidden' : 'destructive', mention ? `its subcommand is only known at run time and it ${mention}` : `the subcommand "${p.raw}" is only known at run time`);
      unknownSub = true;
      break;
    }
    const next: SubcommandSpec | undefined = node.subcommands.find((s) => s.name === p.text || (s.aliases ?? []).includes(p.text));
    if (!next) {
      unrecognised.push(p.text);
      unknownSub = true;
      break;
    }
    node = next;
    chain.push(next);
    path.push(next.name);
    index++;
  }
  const operandsRaw = args.positionals.slice(index);
  const texts = operandsRaw.map((p) => p.text);

  // levels: the node's level, then "set" rules (last wins), then "raise" rules
  let base: Level = unknownSub ? worstLevel(node.level, spec.unknownSubcommandLevel ?? 'write') : node.level;
  let baseReason = unknownSub ? `"${unrecognised[0] ?? '?'}" is not a known ${[spec.program, ...path].join(' ')} subcommand, treated as a change` : node.explanation;
  if (asWrapper) {
    base = 'read';
    baseReason = 'runs the command listed after it';
  }
  const rules = chain.flatMap((n) => n.rules ?? []);
  // kinds from the data, normalised texts for api paths (rules match normalised pvesh paths)
  const argSpecs = node.args ?? [];
  const kinds: (ArgKind | undefined)[] = new Array(operandsRaw.length).fill(undefined);
  const descriptions: ({ name: string; description: string } | undefined)[] = new Array(operandsRaw.length).fill(undefined);
  argSpecs.forEach((a, i) => {
    const pos = a.position ?? i;
    if (typeof pos === 'number' && pos < operandsRaw.length) {
      kinds[pos] = a.kind;
      descriptions[pos] = a;
    }
  });
  const last = argSpecs.find((a) => a.position === 'last');
  if (last && operandsRaw.length > 0 && descriptions[operandsRaw.length - 1] === undefined) {
    kinds[operandsRaw.length - 1] = last.kind;
    descriptions[operandsRaw.length - 1] = last;
  }
  const rest = argSpecs.find((a) => a.position === 'rest');
  if (rest) {
    for (let i = 0; i < operandsRaw.length; i++) {
      if (descriptions[i] === undefined) {
        kinds[i] = rest.kind;
        descriptions[i] = rest;
      }
    }
  }
  const ruleTexts = texts.map((t, i) => (kinds[i] === 'api-path' ? normaliseApiPath(t) : t));
  const matchedRules: Rule[] = [];
  for (const r of rules) {
    if ((r.mode ?? 'raise') === 'set' && matches(r.when, args, ruleTexts)) {
      base = r.level;
      baseReason = r.reason;
      matchedRules.push(r);
    }
  }
  findings.add(base, baseReason);
  for (const r of rules) {
    if ((r.mode ?? 'raise') === 'raise' && matches(r.when, args, ruleTexts)) {
      findings.add(r.level, r.reason);
      matchedRules.push(r);
      if (r.argsBecome) {
        operandsRaw.forEach((p, i) => {
          if (looksLikePath(p.text)) kinds[i] = r.argsBecome;
        });
      }
    }
  }
  for (const r of matchedRules) {
    if (r.argsBecome && (r.mode ?? 'raise') === 'set') {
      operandsRaw.forEach((p, i) => {
        if (looksLikePath(p.text)) kinds[i] = r.argsBecome;
      });
    }
  }

  const changes = LEVEL_RANK[findings.level] > 0 && !asWrapper;
  const recursive = Boolean(chain.some((n) => n.recursive) || hasOption(args, chain.flatMap((n) => n.recursiveOptions ?? [])));
  const method = spec.program === 'pvesh' ? pveshMethod(path[0]) : null;

  operandsRaw.forEach((p, i) => {
    const kind = kinds[i];
    if (kind) applyProtection(kind, p.text, p.raw, p.dynamic, { changes, recursive, method, findings, state, options: args.options });
  });
  const optionKinds: Record<string, ArgKind> = Object.assign({}, ...chain.map((n) => n.optionKinds ?? {}));
  for (const o of args.options) {
    const kind = optionKinds[o.name];
    if (kind && o.value !== undefined) applyProtection(kind, o.value, o.value, o.valueDynamic, { changes, recursive, method, findings, state, options: args.options });
  }

  const level = findings.level;
  const matchedSafer = matchedRules.find((r) => r.saferAlternative)?.saferAlternative;
  const matchedRisk = matchedRules.reduce<Risk | undefined>((acc, r) => r.risk ?? acc, undefined);
  return {
    path,
    node,
    explanation: node === spec ? spec.explanation : node.explanation,
    risk: matchedRisk ?? node.risk ?? defaultRisk(level),
    reversible: node.reversible,
    undo: node.undo,
    saferAlternative: matchedSafer ?? node.saferAlternative,
    api: node.api,
    args,
    operands: operandsRaw.map((p, i) => ({ text: p.text, dynamic: p.dynamic, kind: kinds[i], description: descriptions[i]?.description, name: descriptions[i]?.name })),
    matchedRules,
    unrecognised,
  };
}

function looksLikePath(t: string): boolean {
  return t.startsWith('/') || t.startsWith('./') || t.startsWith('../') || t.startsWith('~') || t === '.' || t === '..' || t === '*' || /^[\w.-]+\/?/.test(t);
}

function pveshMethod(verb: string | undefined): 'GET' | 'POST' | 'PUT' | 'DELETE' | null {
  switch (verb) {
    case 'get':
    case 'ls':
    case 'usage':
      return 'GET';
    case 'create':
      return 'POST';
    case 'set':
      return 'PUT';
    case 'delete':
      return 'DELETE';
    default:
      return null;
  }
}

// -- protections ---------------------------------------------------------------------------------------

interface ProtectionCtx {
  changes: boolean;
  recursive: boolean;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | null;
  findings: Findings;
  state: Pick<LineState, 'cwd' | 'cwdUnknown' | 'protections'>;
  options: ParsedOption[];
}

function normaliseUser(value: string): string {
  let v = value.trim().toLowerCase();
  for (let i = 0; i < 3 && /%[0-9a-f]{2}/i.test(v); i++) {
    try {
      v = decodeURIComponent(v);
    } catch {
      break;
    }
  }
  return v.replace(/^['"]|['"]$/g, '');
}

/** Why this Proxmox user (or token owner) may not be touched, or null. */
function protectedUserReason(value: string, dynamic: boolean, p: Protections): string | null {
  if (dynamic) return 'the user is only known at run time, so it could be root@pam';
  for (const raw of splitList(value)) {
    const full = normaliseUser(raw);
    const user = full.split('!')[0]!;
    if (user === 'root' || p.users.has(user)) return `${user === 'root' ? 'root@pam' : user} is protected: it cannot be modified or deleted, and neither can its password, tokens or permissions`;
    if (p.serviceToken && full === p.serviceToken) return `${full} is this server's own API token: it cannot be changed or removed`;
    if (p.serviceUser && user === p.serviceUser) return `${user} is this server's own service user: it cannot be changed or removed`;
  }
  return null;
}

export function applyProtection(kind: ArgKind, text: string, raw: string, dynamic: boolean, ctx: ProtectionCtx): void {
  const { findings, state } = ctx;
  const p = state.protections;
  switch (kind) {
    case 'userid':
    case 'userlist':
    case 'tokenlist': {
      if (!ctx.changes) return;
      const why = protectedUserReason(text, dynamic, p);
      if (why) findings.add('forbidden', why);
      return;
    }
    case 'unix-user': {
      if (!ctx.changes) return;
      const u = text.trim().toLowerCase();
      if (dynamic) findings.add('forbidden', 'the Linux account is only known at run time, so it could be root (root@pam)');
      else if (u === 'root' || u === '0') findings.add('forbidden', 'the Linux root account is root@pam: its password and account cannot be changed');
      return;
    }
    case 'node': {
      if (!ctx.changes) return;
      if (dynamic) findings.add('forbidden', 'the node is only known at run time, so it could be the main node');
      else if (p.mainNode && text.trim().toLowerCase() === p.mainNode) findings.add('forbidden', `${text} is the main node: it cannot be removed from the cluster`);
      return;
    }
    case 'api-path':
      checkApiPath(text, dynamic, ctx);
      return;
    case 'dd-operand': {
      const m = /^(of|if)=(.*)$/.exec(text);
      if (m && m[1] === 'of') checkFilePath('write-path', m[2]!, raw.replace(/^of=/, ''), dynamic, { ...ctx, changes: true });
      return;
    }
    case 'delete-path':
    case 'modify-path':
    case 'write-path':
      if (!ctx.changes) return;
      checkFilePath(kind, text, raw, dynamic, ctx);
      return;
    default:
      return;
  }
}

function checkApiPath(text: string, dynamic: boolean, ctx: ProtectionCtx): void {
  const method = ctx.method;
  if (!method || method === 'GET') return;
  const path = normaliseApiPath(text);
  const p = ctx.state.protections;
  const f = ctx.findings;
  if (dynamic && /\/access|\/cluster\/config|^\/?$|\$/.test(path + text)) {
    f.add('forbidden', 'the API path is only known at run time, so it could reach a protected object');
    return;
  }
  const segs = path.split('/').filter(Boolean);
  if ((segs[0] === 'access' && (segs[1] === 'users' || segs[1] === 'tfa') && segs[2] !== undefined) || (segs[0] === 'access' && segs[1] === 'users' && segs.length === 2 && method === 'DELETE')) {
    const why = protectedUserReason(segs[2] ?? '', false, p);
    if (why) f.add('forbidden', why);
    if (segs[3] === 'token' && segs[4] !== undefined && p.serviceToken) {
      const full = `${normaliseUser(segs[2]!)}!${normaliseUser(segs[4])}`;
      if (full === p.serviceToken) f.add('forbidden', `${full} is this server's own API token: it cannot be changed or removed`);
    }
  }
  if (segs[0] === 'cluster' && segs[1] === 'config' && segs[2] === 'nodes' && segs[3] !== undefined && method === 'DELETE') {
    if (p.mainNode && segs[3] === p.mainNode) f.add('forbidden', `${segs[3]} is the main node: it cannot be removed from the cluster`);
    else f.add('destructive', `removes node ${segs[3]} from the cluster`);
  }
  if (segs[0] === 'nodes' && segs[2] === 'status' && segs.length === 3 && method === 'POST') {
    f.add('forbidden', 'reboots or shuts down a Proxmox node: the guests on it stop and this server may go down with it; do it from the console or the web UI');
  }
  if (segs[0] === 'nodes' && segs[2] === 'disks' && segs[3] === 'wipedisk') {
    f.add('forbidden', 'wipes a disk: every partition and signature on it is destroyed');
  }
  if (segs[0] === 'cluster' && segs[1] === 'config' && segs.length === 2 && method !== 'POST') {
    f.add('forbidden', 'changes the cluster (corosync) configuration directly');
  }
}

/** Normalises a pvesh/API path: percent-decoding, case, duplicate and trailing slashes, dot segments. */
export function normaliseApiPath(text: string): string {
  let v = text.trim();
  for (let i = 0; i < 3 && /%[0-9a-f]{2}/i.test(v); i++) {
    try {
      v = decodeURIComponent(v);
    } catch {
      break;
    }
  }
  v = v.toLowerCase().replace(/^\/*api2\/+(json|extjs|html)\b/, '');
  return resolveDotSegments(v);
}

const CRITICAL_DIRS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/usr',
  '/usr/bin',
  '/usr/sbin',
  '/usr/lib',
  '/usr/share',
  '/usr/local',
  '/var',
  '/var/lib',
  '/var/log',
  '/etc/pve',
  '/etc/pve/priv',
  '/etc/pve/nodes',
  '/etc/corosync',
  '/etc/ssh',
  '/etc/network',
  '/var/lib/pve-cluster',
  '/var/lib/vz',
  '/var/lib/ceph',
  '/etc/ceph',
  '/var/lib/pve-manager',
  '/usr/share/perl5',
  '/usr/share/perl5/pve',
]);

const SAFE_DEVICES = /^\/dev\/(null|zero|full|random|urandom|tty|stdout|stderr|stdin|console|ptmx|kmsg|fd\/.*|pts\/.*|shm(\/.*)?|mqueue(\/.*)?)$/;

const FORBIDDEN_FILES: { test: (p: string) => boolean; why: string }[] = [
  { test: (p) => p === '/etc/pve/corosync.conf', why: '/etc/pve/corosync.conf is the cluster configuration: a bad write can break quorum on every node' },
  { test: (p) => p === '/etc/pve/priv' || p.startsWith('/etc/pve/priv/'), why: '/etc/pve/priv holds the cluster keys, token secrets and password hashes' },
  { test: (p) => p === '/var/lib/pve-cluster' || p.startsWith('/var/lib/pve-cluster/'), why: '/var/lib/pve-cluster holds the cluster configuration database' },
  { test: (p) => /^\/etc\/(shadow|passwd|gshadow)-?$/.test(p), why: 'the Linux account files define root (root@pam) and its password' },
];

const SENSITIVE_FILES: { test: (p: string) => boolean; why: string }[] = [
  { test: (p) => p.startsWith('/etc/pve/') || p === '/etc/pve', why: 'files under /etc/pve are the cluster-wide configuration, replicated to every node' },
  { test: (p) => p.startsWith('/etc/corosync/'), why: 'the local corosync files must only change through /etc/pve/corosync.conf' },
  { test: (p) => p.startsWith('/boot/') || p === '/boot', why: 'files under /boot decide whether the host boots' },
  { test: (p) => /^\/etc\/(fstab|hosts|hostname|network\/interfaces.*|resolv\.conf|sudoers.*|group|kernel\/.*|default\/grub.*|modprobe\.d\/.*|apt\/.*|ssh\/.*|systemd\/.*|lvm\/.*|zfs\/.*)$/.test(p), why: 'a system configuration file: a mistake can cut access to the host or stop it booting' },
  { test: (p) => p.startsWith('/root/.ssh/') || p === '/root/.ssh', why: "root's SSH keys control who can log in to the host" },
  { test: (p) => /^\/(usr|bin|sbin|lib|lib64)\//.test(p), why: 'replaces system programs or libraries' },
];

function resolvePath(text: string, cwd: string | null): { path: string | null; glob: boolean; climbs: boolean } {
  let t = text;
  if (t === '~' || t.startsWith('~/')) t = '/root' + t.slice(1);
  else if (t.startsWith('~root')) t = '/root' + t.slice(5);
  let climbs = false;
  if (!t.startsWith('/')) {
    if (cwd) t = cwd + '/' + t;
    else {
      // unknown working directory: two or more ".." can reach / from any home directory
      const ups = t.split('/').filter((s) => s === '..').length;
      if (ups >= 2) climbs = true;
      return { path: climbs ? '/' : null, glob: /[*?[]/.test(t), climbs };
    }
  }
  return { path: resolveDotSegments(t), glob: /[*?[]/.test(t), climbs };
}

/** The directory a glob path lists (`/etc/pve/*` -> /etc/pve, `/e*` -> /). */
function globParent(path: string): string {
  const segs = path.split('/');
  const first = segs.findIndex((s) => /[*?[]/.test(s));
  return '/' + segs.slice(1, first).join('/');
}

function isAncestorOrSame(dir: string, of: string): boolean {
  return dir === '/' || of === dir || of.startsWith(dir + '/');
}

export function checkFilePath(kind: 'delete-path' | 'modify-path' | 'write-path', text: string, raw: string, dynamic: boolean, ctx: ProtectionCtx): void {
  const f = ctx.findings;
  // `rm -rf $DIR/` or `$DIR/*`: with DIR empty or unset this is the root filesystem
  if (dynamic && /^["']?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?["']?\/+(\*|["']?$)/.test(raw) && kind !== 'write-path') {
    f.add('forbidden', `"${raw}" becomes "/" when the variable is empty`);
    return;
  }
  if (dynamic && /[$`]/.test(text)) {
    if (/\/etc\/p/.test(raw) || /^["']?\$/.test(raw)) f.feature('pve-config-writes', `the path "${raw}" is only known at run time and could be under /etc/pve`);
    f.add(kind === 'write-path' ? 'write' : 'destructive', `the path "${raw}" is only known at run time`);
    return;
  }
  const verb = kind === 'delete-path' ? 'deletes' : kind === 'modify-path' ? 'changes' : 'writes to';
  if (reachesEtcPve(text, ctx.state)) f.feature('pve-config-writes', `${verb} ${text}, under /etc/pve`);
  if (homeDotfile(text, ctx.state)) f.feature('interpreters', `${verb} ${text}, a dotfile that programs read as configuration or code`);
  const resolved = resolvePath(text, ctx.state.cwd);
  if (!resolved.path) return;
  const path = resolved.path;
  const target = resolved.glob ? globParent(path) : path;

  if (path.startsWith('/dev/') && !SAFE_DEVICES.test(path)) {
    if (kind === 'delete-path') f.add('destructive', `removes the device node ${path}`);
    else f.add('forbidden', `${verb} the block device ${path}: the data on that disk is destroyed`);
    return;
  }
  for (const rule of FORBIDDEN_FILES) {
    if (rule.test(path) || (resolved.glob && rule.test(target + '/x'))) {
      f.add('forbidden', `${verb} ${path}: ${rule.why}`);
      return;
    }
  }
  if ((kind === 'delete-path' || kind === 'modify-path') && ctx.recursive && (target.startsWith('/etc/pve') || target.startsWith('/var/lib/pve-cluster'))) {
    f.add('forbidden', `${verb} ${path} recursively, including the cluster configuration and keys`);
    return;
  }
  if ((kind === 'delete-path' || kind === 'modify-path') && (ctx.recursive || resolved.glob)) {
    for (const dir of CRITICAL_DIRS) {
      if (isAncestorOrSame(target, dir) && (ctx.recursive || target === dir)) {
        f.add('forbidden', `${verb} ${resolved.climbs ? `"${text}" (which can reach /)` : path}${ctx.recursive ? ' recursively' : ''}: a system directory the host needs`);
        return;
      }
    }
  }
  for (const rule of SENSITIVE_FILES) {
    if (rule.test(path)) {
      f.add('destructive', `${verb} ${path}: ${rule.why}`);
      return;
    }
  }
  if (kind === 'write-path') f.add('write', `writes to ${path}`);
}

function checkRedirection(r: Redirection, f: Findings, state: LineState): void {
  const writes = r.op === '>' || r.op === '>>' || r.op === '>|' || r.op === '<>' || r.op === '&>' || r.op === '&>>' || (r.op === '>&' && !/^(\d+|-)$/.test(r.target));
  if (!writes) return;
  if (r.targetDynamic) {
    if (/^\/dev\/(tcp|udp)\//.test(r.target)) return;
    f.feature('pve-config-writes', `redirects output to "${r.target}", which is only known at run time and could be under /etc/pve`);
    f.add('destructive', `redirects output to "${r.target}", which is only known at run time`);
    return;
  }
  if (SAFE_DEVICES.test(r.target)) return;
  const ctx: ProtectionCtx = { changes: true, recursive: false, method: null, findings: f, state, options: [] };
  const before = f.list.length;
  checkFilePath('write-path', r.target, r.target, false, ctx);
  if (f.list.length === before) f.add('write', `writes to ${r.target}`);
}

function trackCwd(cmd: SimpleCommand, state: LineState): void {
  // `cd -`, popd, and a cd inside a subshell or substitution (it may or may not last): unknown from here on
  if (cmd.program === 'popd' || cmd.words.slice(1).some((w) => w.text === '-') || cmd.nested) {
    state.cwd = null;
    state.cwdUnknown = true;
    return;
  }
  const arg = cmd.words.slice(1).find((w) => !w.text.startsWith('-'));
  if (!arg) {
    state.cwd = '/root';
    return;
  }
  if (arg.dynamic) {
    state.cwd = null;
    state.cwdUnknown = true;
    return;
  }
  const resolved = resolvePath(arg.text, state.cwd);
  state.cwd = resolved.glob ? null : resolved.path;
  if (state.cwd === null) state.cwdUnknown = true;
}

/**
 * For code we cannot parse (run-time program names, scripts, interpreter code): does its text name a
 * protected object? A conservative extra check, never the main mechanism.
 */
export function mentionsProtected(texts: string[], p: Protections): string | null {
  let joined = texts.join(' ');
  try {
    joined = decodeURIComponent(joined.replace(/%(?![0-9a-f]{2})/gi, '%25'));
  } catch {
    /* keep as is */
  }
  const lower = joined.toLowerCase();
  if (/root@pam/.test(lower)) return 'names root@pam';
  for (const u of p.users) if (u !== 'root@pam' && lower.includes(u)) return `names the protected user ${u}`;
  if (p.serviceUser && lower.includes(p.serviceUser)) return `names this server's service user ${p.serviceUser}`;
  if (p.mainNode && /delnode|cluster\/config\/nodes/.test(lower) && lower.includes(p.mainNode)) return `removes the main node ${p.mainNode}`;
  if (/\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|md\d|dm-|mapper\/|disk\/|zd|rbd|pve\/)/.test(lower)) return 'names a disk device';
  if (/\/etc\/pve\/(priv|corosync\.conf)|\/var\/lib\/pve-cluster/.test(lower)) return 'names the cluster configuration or keys';
  if (/--no-preserve-root|\brm\s+(-\S+\s+)*-[a-z]*[rf][a-z]*\s+(-\S+\s+)*["']?\/(\*|\s|["']|$)/.test(lower)) return 'deletes from /';
  if (/\b(mkfs(\.\w+)?|wipefs|blkdiscard|sgdisk|shred)\b/.test(lower)) return 'wipes or formats disks';
  if (/\b(passwd|chpasswd|usermod|userdel|deluser)\b.*\broot\b/.test(lower)) return "changes root's account";
  if (/\b(reboot|poweroff|shutdown|halt)\b/.test(lower)) return 'stops or restarts the host';
  if (/(\w+|:)\s*\(\)\s*\{[^}]*\1\s*\|\s*\1/.test(joined)) return 'defines a fork bomb';
  return null;
}

function shortCommand(argv: string[], program: string | null, functionName?: string): string {
  if (functionName !== undefined) return `${functionName}() { ... }`;
  if (!program) return '(redirection/assignment)';
  const text = argv.join(' ');
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

export const ALL_LEVELS = LEVELS;

/**
 * Explains a shell command line in plain words, part by part: what it does, what each option and argument
 * means (where the knowledge base knows it), the risk, whether and how it can be undone, a safer
 * alternative, the equivalent API call, and which parts were not recognised. Powers explain_command.
 * The level comes from the classifier, so an explanation never disagrees with what execute_command does.
 */
import type { Knowledge, Level, Risk, CommandSpec, SubcommandSpec } from '../knowledge.ts';
import type { ClassifyContext } from './classify.ts';
import { LEVEL_RANK, classifyParsed, evaluateSpec, protectionsFrom } from './classify.ts';
import type { Redirection, SimpleCommand } from './shell-parse.ts';
import { tryParseCommandLine } from './shell-parse.ts';

export interface ExplainedOption {
  option: string;
  value?: string;
  meaning?: string;
}

export interface ExplainedArgument {
  value: string;
  /** What the argument is (from the data), e.g. "vmid". */
  name?: string;
  meaning?: string;
  /** Only known at run time. */
  dynamic: boolean;
}

export interface ExplainedPart {
  /** The command as it would run (after quote removal). */
  text: string;
  program: string | null;
  subcommand: string[];
  level: Level;
  /** What it does, in plain words. */
  what: string;
  options: ExplainedOption[];
  arguments: ExplainedArgument[];
  redirections: string[];
  risk: Risk;
  /** null when unknown. */
  reversible: boolean | null;
  undo?: string;
  saferAlternative?: string;
  /** The equivalent Proxmox API call. */
  api?: string;
  /** Why it has its level. */
  reasons: string[];
  recognised: boolean;
  /** How it connects to the next command: |, ;, &&, ||, &, newline. */
  connector: string | null;
  nested: boolean;
  /** Wrappers around it (sudo, sh -c, ssh...). */
  wrappers: string[];
  notes: string[];
}

export interface Explanation {
  line: string;
  level: Level;
  /** A few sentences about the whole line. */
  summary: string;
  risk: Risk;
  reversible: boolean | null;
  undo: string[];
  saferAlternatives: string[];
  parts: ExplainedPart[];
  /** Programs or subcommands the knowledge base does not know. */
  unrecognised: string[];
  reasons: string[];
  parseError?: string;
}

const RISK_RANK: Record<Risk, number> = { none: 0, low: 1, medium: 2, high: 3 };

function worseRisk(a: Risk, b: Risk): Risk {
  return RISK_RANK[a] >= RISK_RANK[b] ? a : b;
}

function riskFloor(level: Level): Risk {
  return level === 'read' ? 'none' : level === 'write' ? 'low' : level === 'destructive' ? 'medium' : 'high';
}

const CONNECTOR_WORDS: Record<string, string> = {
  '|': 'its output is piped into the next command',
  '|&': 'its output and errors are piped into the next command',
  ';': 'then the next command runs',
  newline: 'then the next line runs',
  '&&': 'the next command runs only if this one succeeds',
  '||': 'the next command runs only if this one fails',
  '&': 'it runs in the background while the next command starts',
};

const NESTING_WORDS: Record<string, string> = {
  'command-substitution': 'runs first, inside $(...), and its output becomes part of another command',
  backticks: 'runs first, inside backquotes, and its output becomes part of another command',
  'process-substitution': 'runs inside <(...) and is read like a file by another command',
  subshell: 'runs in a subshell ( ... )',
  group: 'runs in a { ... } group',
  'function-body': 'is part of a shell function body',
  wrapper: 'is run by the wrapper before it',
  script: 'is part of a script string passed to a shell',
};

export function explainCommandLine(line: string, knowledge: Knowledge, context: ClassifyContext = {}): Explanation {
  const parsed = tryParseCommandLine(line);
  if (!parsed.ok) {
    return {
      line,
      level: 'forbidden',
      summary: `The command line cannot be parsed: ${parsed.error.message}. It will not be run; fix the quoting or brackets.`,
      risk: 'high',
      reversible: null,
      undo: [],
      saferAlternatives: [],
      parts: [],
      unrecognised: [],
      reasons: [`the command line cannot be parsed (${parsed.error.message})`],
      parseError: parsed.error.message,
    };
  }
  const classification = classifyParsed(parsed.parsed, knowledge, { ...context, knowledge });
  const protections = protectionsFrom(context);
  const parts: ExplainedPart[] = [];
  const unrecognised: string[] = [];

  parsed.parsed.commands.forEach((cmd, i) => {
    const c = classification.commands[i]!;
    const part = explainPart(cmd, c.level, c.reasons, c.explanation, c.known, knowledge, protections, unrecognised);
    parts.push(part);
  });

  const level = classification.level;
  const risk = parts.reduce<Risk>((acc, p) => worseRisk(acc, p.risk), riskFloor(level));
  const changing = parts.filter((p) => p.level !== 'read');
  const reversible = changing.length === 0 ? true : changing.some((p) => p.reversible === false) ? false : changing.every((p) => p.reversible === true) ? true : null;
  const undo = [...new Set(changing.map((p) => p.undo).filter((u): u is string => Boolean(u)))];
  const saferAlternatives = [...new Set(parts.filter((p) => p.level !== 'read').map((p) => p.saferAlternative).filter((s): s is string => Boolean(s)))];

  return {
    line,
    level,
    summary: summarise(parts, level, unrecognised),
    risk,
    reversible,
    undo,
    saferAlternatives,
    parts,
    unrecognised: [...new Set(unrecognised)],
    reasons: classification.reasons,
  };
}

function explainPart(
  cmd: SimpleCommand,
  level: Level,
  reasons: string[],
  classifierExplanation: string,
  known: boolean,
  knowledge: Knowledge,
  protections: ReturnType<typeof protectionsFrom>,
  unrecognised: string[],
): ExplainedPart {
  const notes: string[] = [];
  const lastNesting = cmd.nesting[cmd.nesting.length - 1];
  if (lastNesting) notes.push(`This command ${NESTING_WORDS[lastNesting] ?? 'is nested'}.`);
  if (cmd.host && cmd.flags.includes('remote')) notes.push(`It runs on ${cmd.host} over SSH.`);
  if (cmd.flags.includes('in-guest')) notes.push(`It runs inside guest ${cmd.host ?? ''}, not on the host.`.replace(' ,', ','));
  if (cmd.flags.includes('input-args')) notes.push('Some of its arguments come from its input or from found files, so they are only known at run time.');
  if (cmd.dynamic) notes.push('Some words hold variables or substitutions whose values are only known at run time.');
  if (cmd.env.length > 0) notes.push(`It runs with ${cmd.env.map((e) => `${e.name}=${e.value}`).join(' ')} set in its environment.`);
  if (cmd.flags.includes('eval')) notes.push('eval runs its arguments as a new command line.');
  if (cmd.flags.includes('exec')) notes.push('exec replaces the shell with the command.');
  if (cmd.flags.includes('source')) notes.push('It runs the commands of a file in the current shell; the file is not inspected.');
  if (cmd.flags.includes('opaque-script')) notes.push('It runs a script whose content cannot be inspected here.');
  if (cmd.connector) notes.push(`Afterwards ${CONNECTOR_WORDS[cmd.connector] ?? ''}.`.replace('Afterwards then', 'Then').replace('Afterwards the', 'The').replace('Afterwards its', 'Its').replace('Afterwards it', 'It'));

  const base: ExplainedPart = {
    text: cmd.functionName !== undefined ? `${cmd.functionName}() { ... }` : cmd.argv.join(' '),
    program: cmd.program,
    subcommand: [],
    level,
    what: classifierExplanation,
    options: [],
    arguments: [],
    redirections: cmd.redirections.map(describeRedirection),
    risk: riskFloor(level),
    reversible: level === 'read' ? true : null,
    reasons,
    recognised: known || cmd.program === null,
    connector: cmd.connector,
    nested: cmd.nested,
    wrappers: cmd.wrappers,
    notes,
  };
  if (cmd.program === null || cmd.dynamicProgram) {
    if (cmd.dynamicProgram) unrecognised.push(cmd.words[0]?.raw ?? '?');
    return base;
  }
  const spec = knowledge.command(cmd.program);
  if (!spec) {
    if (!known) unrecognised.push(cmd.program);
    return base;
  }
  const evaluation = evaluateSpec(spec, cmd.words.slice(1), { cwd: null, protections }, null, false);
  for (const u of evaluation.unrecognised) unrecognised.push(`${[cmd.program, ...evaluation.path].join(' ')} ${u}`);
  const chain = chainOf(spec, evaluation.path);
  const optionMeanings: Record<string, string> = Object.assign({}, ...chain.map((n) => n.options ?? {}));
  const seen = new Set(evaluation.args.options.map((o) => o.name));
  const options: ExplainedOption[] = [];
  for (const o of evaluation.args.options) {
    const meaning = optionMeanings[o.name] ?? optionMeanings[o.name.replace(/^--/, '-')];
    const isCluster = /^-[^-]{2,}$/.test(o.name) && [...o.name.slice(1)].every((ch) => seen.has('-' + ch));
    if (isCluster && !meaning) continue;
    options.push({ option: o.name, ...(o.value !== undefined ? { value: o.value } : {}), ...(meaning ? { meaning } : {}) });
  }
  const what = cmd.flags.includes('wrapper') && classifierExplanation ? classifierExplanation : evaluation.path.length > 0 ? `${[cmd.program, ...evaluation.path].join(' ')}: ${evaluation.explanation}` : evaluation.explanation;
  const matchedRuleNotes = evaluation.matchedRules.map((r) => `With these options: ${r.reason}.`);
  return {
    ...base,
    subcommand: evaluation.path,
    what,
    options,
    arguments: evaluation.operands.map((o) => ({ value: o.text, dynamic: o.dynamic, ...(o.name ? { name: o.name } : {}), ...(o.description ? { meaning: o.description } : {}) })),
    risk: worseRisk(evaluation.risk, riskFloor(level)),
    reversible: level === 'read' ? true : (evaluation.reversible ?? null),
    ...(evaluation.undo ? { undo: evaluation.undo } : {}),
    ...(evaluation.saferAlternative ? { saferAlternative: evaluation.saferAlternative } : {}),
    ...(evaluation.api ? { api: evaluation.api } : {}),
    recognised: evaluation.unrecognised.length === 0,
    notes: [...notes, ...matchedRuleNotes],
  };
}

function chainOf(spec: CommandSpec, path: string[]): (CommandSpec | SubcommandSpec)[] {
  const chain: (CommandSpec | SubcommandSpec)[] = [spec];
  let node: CommandSpec | SubcommandSpec = spec;
  for (const name of path) {
    const next: SubcommandSpec | undefined = node.subcommands?.find((s) => s.name === name);
    if (!next) break;
    chain.push(next);
    node = next;
  }
  return chain;
}

function describeRedirection(r: Redirection): string {
  const fd = r.fd === null ? '' : String(r.fd);
  switch (r.op) {
    case '>':
    case '>|':
      return `${fd}> ${r.target}: writes ${fd === '2' ? 'errors' : 'the output'} to ${r.target}, replacing its content`;
    case '>>':
      return `${fd}>> ${r.target}: appends ${fd === '2' ? 'errors' : 'the output'} to ${r.target}`;
    case '&>':
      return `&> ${r.target}: writes output and errors to ${r.target}, replacing its content`;
    case '&>>':
      return `&>> ${r.target}: appends output and errors to ${r.target}`;
    case '>&':
      return /^\d+$/.test(r.target) ? `${fd || '1'}>&${r.target}: sends ${fd === '2' ? 'errors' : 'output'} to the same place as file descriptor ${r.target}` : `>& ${r.target}: writes output and errors to ${r.target}`;
    case '<':
      return `< ${r.target}: reads its input from ${r.target}`;
    case '<&':
      return `<&${r.target}: reads its input from file descriptor ${r.target}`;
    case '<>':
      return `<> ${r.target}: opens ${r.target} for reading and writing`;
    case '<<':
    case '<<-':
      return `<<${r.target}: feeds the following lines, up to "${r.target}", as its input${r.heredoc?.expands ? ' (variables and $(...) in them are expanded)' : ''}`;
    case '<<<':
      return `<<< "${r.target}": feeds this text as its input`;
    default:
      return `${r.op} ${r.target}`;
  }
}

function summarise(parts: ExplainedPart[], level: Level, unrecognised: string[]): string {
  const top = parts.filter((p) => !p.nested && (p.program !== null || p.redirections.length > 0 || p.text.endsWith('{ ... }')));
  const sentences: string[] = [];
  if (top.length === 0 && parts.length === 0) return 'The command line is empty.';
  const shown = (top.length > 0 ? top : parts).slice(0, 6);
  for (const p of shown) sentences.push(`\`${p.text || '(redirection)'}\`: ${p.what}${p.what.endsWith('.') ? '' : '.'}`);
  if ((top.length > 0 ? top : parts).length > shown.length) sentences.push(`...and ${(top.length > 0 ? top : parts).length - shown.length} more commands.`);
  const nested = parts.filter((p) => p.nested).length;
  if (nested > 0) sentences.push(`It also runs ${nested} nested or wrapped command${nested === 1 ? '' : 's'}, each explained below.`);
  const verdict: Record<Level, string> = {
    read: 'Overall it only reads: nothing is changed.',
    write: 'Overall it changes something on the system.',
    destructive: 'Overall it is destructive: something can be lost or interrupted.',
    forbidden: 'Overall it is forbidden: this server never runs it, whatever the mode.',
  };
  sentences.push(verdict[level]);
  const worst = parts.filter((p) => LEVEL_RANK[p.level] === LEVEL_RANK[level] && level !== 'read')[0];
  if (worst?.reasons[0] && !worst.what.includes(worst.reasons[0])) sentences.push(`Main reason: ${worst.reasons[0]}.`.replace('..', '.'));
  if (unrecognised.length > 0) sentences.push(`Not recognised: ${[...new Set(unrecognised)].join(', ')} (treated as a change).`);
  return sentences.join(' ');
}

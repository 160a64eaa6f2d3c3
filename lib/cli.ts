/**
 * The arguments of our command-line tools (bin/*, bench/run.ts), one way for all of them: every CLI
 * describes its options once, and from that description it gets `--help` / `-h` (usage, every option,
 * examples, exit 0) and, for a wrong option or value, a one-line reason plus the usage on stderr with
 * exit code 2, never a stack trace.
 *
 *   const { values, positionals } = parseCli({
 *     command: 'npm run sim --',
 *     summary: 'Serve the simulated Proxmox VE cluster on its own.',
 *     options: { port: { type: 'string', value: 'PORT', default: '8006', description: 'TCP port' } },
 *     examples: ['npm run sim -- --port 8006 --https'],
 *   });
 *   const port = cliInteger(spec, 'port', values.port);   // exit 2 with the usage when it is not a number
 *
 * Built on node:util parseArgs in strict mode: unknown options are refused, option names must be written
 * in full (no prefixes), `--name=value` and `--name value` both work, `--` ends the options.
 */
import { parseArgs } from 'node:util';

export interface CliOption {
  type: 'string' | 'boolean';
  /** One letter: `-x`. `h` is taken by --help. */
  short?: string;
  /** Placeholder shown in the usage for a string option (`--port PORT`). */
  value?: string;
  default?: string | boolean;
  /** May be given more than once (the value is then a list). */
  multiple?: boolean;
  description: string;
}

export interface CliSpec<Options extends Record<string, CliOption> = Record<string, CliOption>> {
  /** How a person runs it, e.g. `npm run sim --` or `npm run token --`. */
  command: string;
  /** One or two sentences: what it does. */
  summary: string;
  /** What follows the command when it takes positionals, e.g. `<command> [NAME]` or `[SCENARIO...]`. */
  positionals?: string;
  /** Extra lines printed after the options (commands, environment variables, notes). */
  details?: string[];
  options: Options;
  examples: string[];
}

type ValueOf<O extends CliOption> = O['type'] extends 'boolean'
  ? O['multiple'] extends true ? boolean[] : boolean
  : O['multiple'] extends true ? string[] : string;

export type CliValues<Options extends Record<string, CliOption>> = {
  [K in keyof Options]: Options[K]['default'] extends string | boolean ? ValueOf<Options[K]> : ValueOf<Options[K]> | undefined;
} & { help: boolean };

export type CliParse<Options extends Record<string, CliOption>> =
  | { kind: 'ok'; values: CliValues<Options>; positionals: string[] }
  | { kind: 'help'; text: string }
  | { kind: 'error'; text: string };

/** The full usage text: what --help prints, and what follows the reason of a wrong call. */
export function cliUsage(spec: CliSpec): string {
  const lines = [`usage: ${spec.command} ${spec.positionals ? `${spec.positionals} ` : ''}[options]`, '', spec.summary, '', 'options:'];
  const entries: Array<[string, string]> = Object.entries(spec.options).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : '    '}--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
    const extra = [option.multiple ? 'repeatable' : '', option.default !== undefined && option.default !== false ? `default ${String(option.default)}` : '']
      .filter(Boolean)
      .join(', ');
    return [flag, `${option.description}${extra ? ` [${extra}]` : ''}`];
  });
  entries.push(['-h, --help', 'show this help and exit']);
  const width = Math.max(...entries.map(([flag]) => flag.length));
  for (const [flag, text] of entries) lines.push(`  ${flag.padEnd(width)}  ${text}`);
  if (spec.details?.length) lines.push('', ...spec.details);
  lines.push('', spec.examples.length > 1 ? 'examples:' : 'example:', ...spec.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

/** Why a call is wrong, then the usage: what goes to stderr before exit code 2. */
export function cliErrorText(spec: CliSpec, reason: string): string {
  return `${spec.command.replace(/ --$/, '')}: ${reason}\n\n${cliUsage(spec)}`;
}

/** Parse without printing or exiting (tests, and CLIs that want to decide themselves). */
export function parseCliArgs<Options extends Record<string, CliOption>>(spec: CliSpec<Options>, argv: string[]): CliParse<Options> {
  for (const [name, option] of Object.entries(spec.options)) {
    if (name === 'help' || option.short === 'h') throw new Error(`CLI spec of ${spec.command}: --help and -h are built in`);
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }> = {
    help: { type: 'boolean', short: 'h', default: false },
  };
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = {
      type: option.type,
      ...(option.short ? { short: option.short } : {}),
      ...(option.multiple ? { multiple: true } : {}),
      ...(option.default !== undefined ? { default: option.multiple ? ([option.default] as never) : option.default } : {}),
    };
  }
  // --help wins over everything else on the line, even over a mistake elsewhere on it.
  const optionEnd = argv.indexOf('--');
  const beforeEnd = optionEnd === -1 ? argv : argv.slice(0, optionEnd);
  if (beforeEnd.includes('--help') || beforeEnd.includes('-h')) return { kind: 'help', text: cliUsage(spec) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (error) {
    return { kind: 'error', text: cliErrorText(spec, parseArgsReason(error)) };
  }
  if (parsed.values.help) return { kind: 'help', text: cliUsage(spec) };
  return { kind: 'ok', values: parsed.values as CliValues<Options>, positionals: parsed.positionals };
}

/** A value from the command line as it may be shown back: control characters escaped, at most 60 characters. */
export function shown(value: string): string {
  const escaped = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > 60 ? `${escaped.slice(0, 57)}...` : escaped;
}

/** node:util's messages, shortened to what a person needs (they mention internals such as "parseArgs"). */
function parseArgsReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '(.*?)'(?:\. |$)/s.exec(message);
  if (unknown) return `unknown option '${shown(unknown[1])}'`;
  const positional = /^Unexpected argument '(.*)'\. This command/s.exec(message);
  if (positional) return `unexpected argument '${shown(positional[1])}' (this command takes options only)`;
  const missing = /^Option '([^' ]*)(?: <value>)?' argument missing/.exec(message);
  if (missing) return `option '${missing[1]}' needs a value`;
  const ambiguous = /^Option '([^']*)' argument is ambiguous/.exec(message);
  if (ambiguous) return `option '${ambiguous[1]}' needs a value; to pass one that starts with '-', write it as ${ambiguous[1]}=VALUE`;
  const boolean = /^Option '([^']*)' does not take an argument/.exec(message);
  if (boolean) return `option '${boolean[1]}' is a switch and takes no value`;
  return shown(message);
}

/** Parse process.argv (or `argv`): print the help and exit 0, or print the reason and usage and exit 2. */
export function parseCli<Options extends Record<string, CliOption>>(
  spec: CliSpec<Options>,
  argv: string[] = process.argv.slice(2),
): { values: CliValues<Options>; positionals: string[] } {
  const result = parseCliArgs(spec, argv);
  if (result.kind === 'help') {
    process.stdout.write(result.text);
    process.exit(0);
  }
  if (result.kind === 'error') {
    process.stderr.write(result.text);
    process.exit(2);
  }
  return result;
}

/** A wrong value found after parsing (a port that is not a number, an unknown role): reason, usage, exit 2. */
export function cliFail(spec: CliSpec, reason: string): never {
  process.stderr.write(cliErrorText(spec, reason));
  process.exit(2);
}

/** A whole number in [min, max] (digits only: no '1e3', '0x10', ' 8', '8.0'), or why it is not one. */
export function checkInteger(value: string | undefined, range: { min?: number; max?: number } = {}): { ok: true; value: number } | { ok: false; reason: string } {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const number = value !== undefined && /^-?\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) return { ok: false, reason: `must be a whole number from ${min} to ${max}, got '${shown(value ?? '')}'` };
  return { ok: true, value: number };
}

/** checkInteger for option --name, or cliFail (reason, usage, exit 2). */
export function cliInteger(spec: CliSpec, name: string, value: string | undefined, range: { min?: number; max?: number } = {}): number {
  const checked = checkInteger(value, range);
  if (!checked.ok) cliFail(spec, `--${name} ${checked.reason}`);
  return checked.value;
}

/**
 * lib/cli.ts, the argument parsing every CLI shares: --help / -h, and a wrong call gets a one-line reason
 * plus the usage (exit code 2 in parseCli), never a stack trace. The commands themselves (npm run sim,
 * bench, token) are run as the README writes them in first-hour-readme.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { checkInteger, cliUsage, parseCliArgs, shown, type CliSpec } from '../lib/cli.ts';

const spec = {
  command: 'npm run demo --',
  summary: 'A demo command.',
  options: {
    port: { type: 'string', value: 'PORT', default: '8006', description: 'TCP port' },
    name: { type: 'string', short: 'n', description: 'a name' },
    tag: { type: 'string', multiple: true, description: 'a tag' },
    https: { type: 'boolean', default: false, description: 'serve HTTPS' },
  },
  examples: ['npm run demo -- --port 8006', 'npm run demo -- --https'],
} satisfies CliSpec;

const withPositionals = { ...spec, command: 'npm run demo2 --', positionals: '<command> [NAME]' } satisfies CliSpec;

function error(argv: string[], which: CliSpec = spec): string {
  const result = parseCliArgs(which, argv);
  expect(result.kind, JSON.stringify(argv)).toBe('error');
  return result.kind === 'error' ? result.text : '';
}

describe('cliUsage', () => {
  it('shows the command, the summary, every option with its placeholder and default, --help, and the examples', () => {
    const usage = cliUsage(spec);
    expect(usage.startsWith('usage: npm run demo -- [options]\n')).toBe(true);
    expect(usage).toContain('A demo command.');
    expect(usage).toMatch(/--port PORT +TCP port \[default 8006\]/);
    expect(usage).toMatch(/-n, --name VALUE +a name/);
    expect(usage).toMatch(/--tag VALUE +a tag \[repeatable\]/);
    expect(usage).toMatch(/--https +serve HTTPS\n/);
    expect(usage).toMatch(/-h, --help +show this help and exit/);
    expect(usage).toContain('examples:\n  npm run demo -- --port 8006\n  npm run demo -- --https\n');
    expect(cliUsage(withPositionals).startsWith('usage: npm run demo2 -- <command> [NAME] [options]')).toBe(true);
  });
});

describe('parseCliArgs', () => {
  it('parses options with their defaults, both --name value and --name=value, short options, repeats', () => {
    const result = parseCliArgs(spec, ['--port', '9000', '-n', 'x', '--tag=a', '--tag', 'b']);
    expect(result).toEqual({ kind: 'ok', values: { help: false, port: '9000', name: 'x', tag: ['a', 'b'], https: false }, positionals: [] });
    const defaults = parseCliArgs(spec, []);
    expect(defaults.kind === 'ok' && defaults.values).toEqual({ help: false, port: '8006', https: false });
  });

  it('--help and -h give the usage, even next to a mistake; after -- they are plain arguments', () => {
    for (const argv of [['--help'], ['-h'], ['--bogus', '--help'], ['--port', '1', '-h']]) {
      const result = parseCliArgs(spec, argv);
      expect(result, JSON.stringify(argv)).toEqual({ kind: 'help', text: cliUsage(spec) });
    }
    const after = parseCliArgs(withPositionals, ['--', '--help']);
    expect(after.kind === 'ok' && after.positionals).toEqual(['--help']);
    expect(error(['--', '--help'])).toContain("unexpected argument '--help'");
  });

  it('an unknown option is refused with its name and the usage; no prefixes, no case folding', () => {
    for (const [argv, name] of [
      [['--bogus'], '--bogus'],
      [['--por', '1'], '--por'],
      [['--PORT', '1'], '--PORT'],
      [['--hel'], '--hel'],
      [['-x'], '-x'],
      [['-zn', 'x'], '-z'],
      [['--port=1', '--tok=secret-value'], '--tok'],
    ] as const) {
      const text = error([...argv]);
      expect(text).toContain(`npm run demo: unknown option '${name}'\n\n`);
      expect(text).toContain(cliUsage(spec));
      expect(text).not.toContain('secret-value');
      expect(text).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('explains a missing value, a value that looks like an option, a value given to a switch, a stray argument', () => {
    expect(error(['--port'])).toContain("option '--port' needs a value");
    expect(error(['--port', '-5'])).toContain("write it as --port=VALUE");
    expect(parseCliArgs(spec, ['--port=-5'])).toMatchObject({ kind: 'ok', values: { port: '-5' } });
    expect(error(['--https=yes'])).toContain("option '--https' is a switch and takes no value");
    expect(error(['extra'])).toContain("unexpected argument 'extra' (this command takes options only)");
    expect(parseCliArgs(withPositionals, ['create', 'laptop', '--https'])).toMatchObject({ kind: 'ok', positionals: ['create', 'laptop'], values: { https: true } });
  });

  it('shows control characters in a wrong argument escaped, not raw (no terminal escapes, no line breaks)', () => {
    const text = error(['--\u001b[31mred\nline']);
    expect(text).toContain("unknown option '--\\u001b[31mred\\u000aline'");
    expect(text).not.toContain('\u001b');
    expect(error(['a\u0000b'])).toContain("unexpected argument 'a\\u0000b'");
    expect(shown('x'.repeat(100))).toHaveLength(60);
  });

  it('refuses a spec that redefines --help or -h', () => {
    expect(() => parseCliArgs({ ...spec, options: { help: { type: 'boolean', description: 'mine' } } }, [])).toThrow(/built in/);
    expect(() => parseCliArgs({ ...spec, options: { host: { type: 'string', short: 'h', description: 'host' } } }, [])).toThrow(/built in/);
  });
});

describe('checkInteger', () => {
  it('takes plain decimal digits within the range, nothing else', () => {
    expect(checkInteger('8006', { min: 0, max: 65535 })).toEqual({ ok: true, value: 8006 });
    expect(checkInteger('0')).toEqual({ ok: true, value: 0 });
    expect(checkInteger('007')).toEqual({ ok: true, value: 7 });
    expect(checkInteger('-3', { min: -5 })).toEqual({ ok: true, value: -3 });
    for (const value of ['', ' 8', '8 ', '8\n', '1e3', '0x10', '8.0', '+8', '٣', '８', 'NaN', 'Infinity', '-1', '65536', '9'.repeat(16), undefined]) {
      const checked = checkInteger(value, { min: 0, max: 65535 });
      expect(checked.ok, JSON.stringify(value)).toBe(false);
      if (!checked.ok) expect(checked.reason).toMatch(/^must be a whole number from 0 to 65535, got '/);
    }
    const withNewline = checkInteger('8\n');
    expect(!withNewline.ok && withNewline.reason).toContain("got '8\\u000a'");
  });
});

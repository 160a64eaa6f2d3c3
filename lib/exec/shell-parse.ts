/**
 * A POSIX-sh (plus the common bash extensions) command-line parser for classification, not execution.
 *
 * It turns a line into the simple commands that would run: quote removal, escapes, env prefixes,
 * redirections, connectors, heredocs. Command substitutions, backticks, process substitutions, subshells,
 * groups and function bodies are parsed recursively and their commands are listed too (`nested: true`).
 * Wrappers that run another command (sudo, sh -c, env, nohup, timeout, xargs, find -exec, watch, ssh...)
 * are unwrapped: the wrapper is listed, and so is what it runs.
 *
 * Whatever cannot be known before run time (variables, globs in the program position, unseen scripts) is
 * flagged, never guessed. Whatever cannot be parsed is a ShellParseError: the caller refuses to run it.
 */

export type Connector = '|' | '|&' | ';' | '&&' | '||' | '&' | 'newline';

export type NestingKind =
  | 'command-substitution'
  | 'backticks'
  | 'process-substitution'
  | 'subshell'
  | 'group'
  | 'function-body'
  | 'wrapper'
  | 'script';

export type CommandFlag =
  | 'eval'
  | 'source'
  | 'exec'
  | 'wrapper'
  | 'function-definition'
  | 'opaque-script'
  | 'reads-script-from-input'
  | 'input-args'
  | 'remote'
  | 'in-guest'
  | 'control-keyword';

export interface ShellWord {
  /** The word after quote removal. */
  text: string;
  /** The word as written. */
  raw: string;
  /** Holds a variable, a command substitution or arithmetic: its value is only known at run time. */
  dynamic: boolean;
  /** Some part of it was quoted or escaped. */
  quoted: boolean;
  /** Holds an unquoted glob character (*, ?, [). */
  glob: boolean;
  /** Came from an unquoted brace expansion ({a,b}). */
  brace?: boolean;
}

export type RedirectionOp = '>' | '>>' | '>|' | '<' | '<>' | '>&' | '<&' | '&>' | '&>>' | '<<' | '<<-' | '<<<';

export interface Redirection {
  op: RedirectionOp;
  /** The file descriptor written before the operator (`2>`), or null. */
  fd: number | null;
  /** The file, the fd number (`2>&1` -> "1"), the heredoc delimiter or the here-string. */
  target: string;
  targetDynamic: boolean;
  heredoc?: { delimiter: string; body: string; expands: boolean };
}

export interface EnvAssignment {
  name: string;
  value: string;
  dynamic: boolean;
}

export interface SimpleCommand {
  id: number;
  /** Words after quote removal (brace expansion applied). */
  argv: string[];
  words: ShellWord[];
  /** The basename of argv[0] (`/usr/sbin/qm` -> `qm`), or null for a command with no words. */
  program: string | null;
  /** argv[0] as written after quote removal (`/usr/sbin/qm`). */
  programPath: string | null;
  env: EnvAssignment[];
  redirections: Redirection[];
  /** The operator that follows this command in its list, or null at the end. */
  connector: Connector | null;
  /** Inside a substitution, subshell, group, function body, or run by a wrapper. */
  nested: boolean;
  /** How it is nested, outermost first. */
  nesting: NestingKind[];
  /** Wrapper programs around it, outermost first (`['sudo', 'bash']`). */
  wrappers: string[];
  /** The command it was found in (its wrapper or the command holding the substitution). */
  parent: number | null;
  /** Some word is only known at run time. */
  dynamic: boolean;
  /** The program itself is only known at run time (variable, substitution, glob, brace). */
  dynamicProgram: boolean;
  flags: CommandFlag[];
  /** Set for `name() { ... }`: the function's name (argv is empty). */
  functionName?: string;
  /** For commands run elsewhere: the ssh host or the guest id. */
  host?: string;
  /** The pipeline it belongs to (commands joined by | share one), counted in its list. */
  pipeline: number;
}

export interface ParsedCommandLine {
  line: string;
  /** Every simple command, in source order; wrappers come before what they run. */
  commands: SimpleCommand[];
  /** Names of the shell functions the line defines. */
  functions: string[];
}

export class ShellParseError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'ShellParseError';
    this.position = position;
  }
}

export type ParseResult = { ok: true; parsed: ParsedCommandLine } | { ok: false; error: ShellParseError };

/** Parses a command line; throws ShellParseError when it cannot. */
export function parseCommandLine(line: string): ParsedCommandLine {
  const out: Collector = { commands: [], functions: [], pipelines: 0 };
  const parser = new Parser(line, out, 0);
  parser.parseTop({ nesting: [], wrappers: [], parent: null, depth: 0 });
  return { line, commands: out.commands, functions: out.functions };
}

/** parseCommandLine without throwing. */
export function tryParseCommandLine(line: string): ParseResult {
  try {
    return { ok: true, parsed: parseCommandLine(line) };
  } catch (error) {
    if (error instanceof ShellParseError) return { ok: false, error };
    throw error;
  }
}

/** The basename of a program path (`/usr/sbin/qm` -> `qm`). */
export function programName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash >= 0 ? trimmed.slice(slash + 1) : trimmed;
}

// ---------------------------------------------------------------------------------------------------

interface Collector {
  commands: SimpleCommand[];
  functions: string[];
  pipelines: number;
}

interface Ctx {
  nesting: NestingKind[];
  wrappers: string[];
  parent: number | null;
  depth: number;
}

const MAX_DEPTH = 24;
const MAX_BRACE_WORDS = 256;

// Private-use sentinels mark unquoted brace characters so quoted ones never expand.
const BRACE_OPEN = '\uE000';
const BRACE_COMMA = '\uE001';
const BRACE_CLOSE = '\uE002';

const CONTROL_WORDS_SKIP = new Set(['if', 'then', 'elif', 'else', 'do', 'while', 'until', '!', 'time']);
const CONTROL_WORDS_END = new Set(['fi', 'done', 'esac']);
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'rbash', 'busybox']);

interface WordBuild {
  text: string;
  raw: string;
  dynamic: boolean;
  quoted: boolean;
  glob: boolean;
  brace: boolean;
}

interface PendingHeredoc {
  redirection: Redirection;
  stripTabs: boolean;
  ctx: Ctx;
}

class Parser {
  private pos = 0;
  private pendingHeredocs: PendingHeredoc[] = [];

  constructor(
    private readonly src: string,
    private readonly out: Collector,
    private readonly offset: number,
  ) {}

  private fail(message: string, at = this.pos): never {
    throw new ShellParseError(message, this.offset + at);
  }

  private peek(n = 0): string {
    return this.src[this.pos + n] ?? '';
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private skipBlanks(): void {
    for (;;) {
      const ch = this.peek();
      // only space and tab separate words, as in bash: a carriage return is part of a word (so `a\r#; b` runs b)
      if (ch === ' ' || ch === '\t') this.pos++;
      else if (ch === '\\' && this.peek(1) === '\n') this.pos += 2;
      else if (ch === '#') {
        while (this.pos < this.src.length && this.peek() !== '\n') this.pos++;
      } else return;
    }
  }

  parseTop(ctx: Ctx): void {
    this.parseList(ctx, null);
    if (this.pendingHeredocs.length > 0) {
      const d = this.pendingHeredocs[0]!.redirection.target;
      this.fail(`unterminated here-document: no line "${d}" closes the <<${d} started earlier`);
    }
  }

  /** Parses commands until `stop` (or the end when stop is null); consumes the stop token. */
  private parseList(ctx: Ctx, stop: ')' | '}' | null): void {
    if (ctx.depth > MAX_DEPTH) this.fail('the command line nests too deeply to be checked');
    const openedAt = this.pos;
    let last: SimpleCommand[] = [];
    for (;;) {
      this.skipBlanks();
      if (this.pos >= this.src.length) {
        if (stop === ')') this.fail('unterminated "(": a parenthesis or $( is never closed', openedAt - 1);
        if (stop === '}') this.fail('unterminated "{": a { group is never closed with "}"', openedAt - 1);
        return;
      }
      const ch = this.peek();
      if (ch === '\n') {
        this.pos++;
        this.setConnector(last, 'newline');
        this.readHeredocBodies();
        continue;
      }
      if (ch === ')') {
        if (stop === ')') {
          this.pos++;
          return;
        }
        this.fail('unexpected ")" with no matching "("');
      }
      if (ch === ';' || (ch === '&' && this.peek(1) !== '>') || ch === '|') {
        if (this.startsWith(';;')) this.fail('";;" outside a case statement (case is not supported: run the commands directly)');
        this.fail(`unexpected "${ch}" where a command should start`);
      }
      if (stop === '}' && this.atWord('}')) {
        this.pos++;
        return;
      }
      last = this.parsePipeline(ctx, stop);
      this.skipBlanks();
      const op = this.readListOperator();
      if (op) this.setConnector(last, op);
    }
  }

  private atWord(word: string): boolean {
    if (!this.startsWith(word)) return false;
    const after = this.src[this.pos + word.length] ?? '';
    return after === '' || /[ \t\n;&|()<>]/.test(after);
  }

  private readListOperator(): Connector | null {
    if (this.startsWith('&&')) {
      this.pos += 2;
      return '&&';
    }
    if (this.startsWith('||')) {
      this.pos += 2;
      return '||';
    }
    if (this.startsWith(';;')) this.fail('";;" outside a case statement (case is not supported: run the commands directly)');
    if (this.peek() === ';') {
      this.pos++;
      return ';';
    }
    if (this.peek() === '&' && this.peek(1) !== '>') {
      this.pos++;
      return '&';
    }
    return null;
  }

  private setConnector(cmds: SimpleCommand[], op: Connector): void {
    const lastCmd = cmds[cmds.length - 1];
    if (lastCmd && lastCmd.connector === null) lastCmd.connector = op;
  }

  /** Returns the top-level commands of the pipeline (the last one gets the list operator). */
  private parsePipeline(ctx: Ctx, stop: ')' | '}' | null): SimpleCommand[] {
    const pipeline = this.out.pipelines++;
    const members: SimpleCommand[] = [];
    for (;;) {
      this.skipBlanks();
      const cmd = this.parseCommand(ctx, stop, pipeline);
      members.push(...cmd);
      this.skipBlanks();
      if (this.startsWith('||')) break;
      if (this.startsWith('|&')) {
        this.pos += 2;
        this.setConnector(cmd, '|&');
      } else if (this.peek() === '|') {
        this.pos++;
        this.setConnector(cmd, '|');
      } else break;
      // a newline may follow a pipe
      while (/[ \t\n]/.test(this.peek()) && this.peek() !== '') this.pos++;
      if (this.pos >= this.src.length) this.fail('the line ends with "|": a pipe needs a command after it');
    }
    this.linkShellsToPipes(members);
    return members.length > 0 ? [members[members.length - 1]!] : [];
  }

  /** `echo 'cmd' | sh`: a shell reading its script from a pipe fed by echo/printf runs that text. */
  private linkShellsToPipes(members: SimpleCommand[]): void {
    for (let i = 1; i < members.length; i++) {
      const shell = this.selfOrDescendant(members[i]!, (c) => c.flags.includes('reads-script-from-input'));
      if (!shell) continue;
      const feeder = members[i - 1]!;
      if ((feeder.program === 'echo' || feeder.program === 'printf') && !feeder.dynamic) {
        const text = feederText(feeder.argv);
        if (text !== null) {
          shell.flags = shell.flags.filter((f) => f !== 'reads-script-from-input' && f !== 'opaque-script');
          const ctx: Ctx = { nesting: [...shell.nesting, 'script'], wrappers: [...shell.wrappers, shell.program ?? 'sh'], parent: shell.id, depth: shell.nesting.length + 1 };
          parseScript(text, this.out, ctx, this.offset);
          continue;
        }
      }
      if (!shell.flags.includes('opaque-script')) shell.flags.push('opaque-script');
    }
  }

  private selfOrDescendant(cmd: SimpleCommand, test: (c: SimpleCommand) => boolean): SimpleCommand | null {
    for (const c of this.out.commands.slice(cmd.id)) {
      let a: SimpleCommand | undefined = c;
      while (a && a.id !== cmd.id) a = a.parent === null ? undefined : this.out.commands[a.parent];
      if (a && test(c)) return c;
    }
    return null;
  }

  /** Parses one command (simple or compound); returns its top-level simple commands. */
  private parseCommand(ctx: Ctx, stop: ')' | '}' | null, pipeline: number): SimpleCommand[] {
    this.skipBlanks();
    if (this.startsWith('((')) {
      // arithmetic command: no program runs, but substitutions inside it do
      this.pos += 2;
      this.skipArithmetic(ctx);
      return [this.finishRedirectionsOnly(ctx, pipeline, [])];
    }
    if (this.peek() === '(') {
      this.pos++;
      const before = this.out.commands.length;
      this.parseList(this.child(ctx, 'subshell'), ')');
      return this.trailingRedirections(ctx, pipeline, before);
    }
    if (this.atWord('{')) {
      this.pos++;
      const before = this.out.commands.length;
      this.parseList(this.child(ctx, 'group'), '}');
      return this.trailingRedirections(ctx, pipeline, before);
    }
    if (this.atWord('case')) this.fail('"case" statements are not supported: run the commands directly');
    if (this.atWord('function')) {
      this.pos += 'function'.length;
      this.skipBlanks();
      const name = this.readWord(ctx);
      if (!name) this.fail('"function" needs a name');
      this.skipBlanks();
      if (this.startsWith('()')) this.pos += 2;
      return [this.parseFunctionBody(name.text, ctx, pipeline)];
    }
    for (const kw of CONTROL_WORDS_SKIP) {
      if (this.atWord(kw)) {
        this.pos += kw.length;
        this.skipBlanks();
        if (this.pos >= this.src.length || this.peek() === '\n' || this.peek() === ';') {
          return [];
        }
        return this.parseCommand(ctx, stop, pipeline);
      }
    }
    for (const kw of CONTROL_WORDS_END) {
      if (this.atWord(kw)) {
        this.pos += kw.length;
        return [this.finishRedirectionsOnly(ctx, pipeline, [])];
      }
    }
    return [this.parseSimple(ctx, stop, pipeline)];
  }

  private child(ctx: Ctx, kind: NestingKind, parent: number | null = ctx.parent): Ctx {
    return { nesting: [...ctx.nesting, kind], wrappers: ctx.wrappers, parent, depth: ctx.depth + 1 };
  }

  /** Redirections after `( ... )` or `{ ...; }` apply to every command inside. */
  private trailingRedirections(ctx: Ctx, pipeline: number, firstInside: number): SimpleCommand[] {
    const redirs: Redirection[] = [];
    for (;;) {
      this.skipBlanks();
      const r = this.tryReadRedirection(ctx);
      if (!r) break;
      redirs.push(r);
    }
    const inside = this.out.commands.slice(firstInside);
    for (const c of inside) c.redirections.push(...redirs);
    if (inside.length === 0) return [this.finishRedirectionsOnly(ctx, pipeline, redirs)];
    return [inside[inside.length - 1]!];
  }

  private finishRedirectionsOnly(ctx: Ctx, pipeline: number, redirs: Redirection[]): SimpleCommand {
    for (;;) {
      this.skipBlanks();
      const r = this.tryReadRedirection(ctx);
      if (!r) break;
      redirs.push(r);
    }
    return this.emit({ words: [], env: [], redirections: redirs, ctx, pipeline, flags: [] });
  }

  private parseFunctionBody(name: string, ctx: Ctx, pipeline: number): SimpleCommand {
    const def = this.emit({ words: [], env: [], redirections: [], ctx, pipeline, flags: ['function-definition'] });
    def.functionName = name;
    this.out.functions.push(name);
    while (/[ \t\n]/.test(this.peek()) && this.peek() !== '') this.pos++;
    const bodyCtx: Ctx = { nesting: [...ctx.nesting, 'function-body'], wrappers: ctx.wrappers, parent: def.id, depth: ctx.depth + 1 };
    if (this.atWord('{')) {
      this.pos++;
      this.parseList(bodyCtx, '}');
    } else if (this.peek() === '(') {
      this.pos++;
      this.parseList(bodyCtx, ')');
    } else {
      this.fail(`the function "${name}" needs a body in { } or ( )`);
    }
    return def;
  }

  private parseSimple(ctx: Ctx, stop: ')' | '}' | null, pipeline: number): SimpleCommand {
    const words: ShellWord[] = [];
    const env: EnvAssignment[] = [];
    const redirections: Redirection[] = [];
    for (;;) {
      this.skipBlanks();
      if (this.pos >= this.src.length) break;
      const ch = this.peek();
      if (ch === '\n' || ch === ';' || ch === ')' || (ch === '|') || (ch === '&' && this.peek(1) !== '>')) break;
      if (stop === '}' && words.length === 0 && env.length === 0 && this.atWord('}')) break;
      const redir = this.tryReadRedirection(ctx);
      if (redir) {
        redirections.push(redir);
        continue;
      }
      if (ch === '(') {
        if (words.length === 1 && env.length === 0 && !words[0]!.quoted && !words[0]!.dynamic) {
          const save = this.pos;
          this.pos++;
          this.skipBlanks();
          if (this.peek() === ')') {
            this.pos++;
            return this.parseFunctionBody(words[0]!.text, ctx, pipeline);
          }
          this.pos = save;
        }
        this.fail('unexpected "(" inside a command (quote it if it is part of an argument)');
      }
      const startPos = this.pos;
      const word = this.readWord(ctx);
      if (!word) this.fail(`unexpected character "${ch}"`, startPos);
      if (words.length === 0) {
        const assign = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/.exec(word.raw);
        if (assign) {
          env.push({ name: assign[1]!, value: word.text.slice(word.text.indexOf('=') + 1), dynamic: word.dynamic });
          continue;
        }
      }
      words.push(...expandBraces(word));
    }
    for (const w of words) w.text = unmarkBraces(w.text);
    return this.emit({ words, env, redirections, ctx, pipeline, flags: [] });
  }

  private emit(args: { words: ShellWord[]; env: EnvAssignment[]; redirections: Redirection[]; ctx: Ctx; pipeline: number; flags: CommandFlag[] }): SimpleCommand {
    return emitCommand(this.out, args, this.offset);
  }

  // -- redirections ---------------------------------------------------------------------------------

  private tryReadRedirection(ctx: Ctx): Redirection | null {
    const m = /^(\d*)(&>>|&>|<<<|<<-|<<|<>|<&|>&|>>|>\||<|>)/.exec(this.src.slice(this.pos, this.pos + 16));
    if (!m) return null;
    const op = m[2] as RedirectionOp;
    // process substitution <( ) / >( ) is a word, not a redirection
    if ((op === '<' || op === '>') && m[1] === '' && this.src[this.pos + m[0].length] === '(') return null;
    const opStart = this.pos;
    this.pos += m[0].length;
    this.skipBlanks();
    const fd = m[1] ? Number(m[1]) : null;
    if (op === '<<' || op === '<<-') {
      const delim = this.readWord(ctx);
      if (!delim) this.fail('a here-document (<<) needs a delimiter word', opStart);
      const redirection: Redirection = {
        op,
        fd,
        target: delim.text,
        targetDynamic: false,
        heredoc: { delimiter: delim.text, body: '', expands: !delim.quoted },
      };
      this.pendingHeredocs.push({ redirection, stripTabs: op === '<<-', ctx });
      return redirection;
    }
    const target = this.readWord(ctx);
    if (!target) this.fail(`the redirection "${op}" needs a target`, opStart);
    return { op, fd, target: unmarkBraces(target.text), targetDynamic: target.dynamic || target.glob };
  }

  private readHeredocBodies(): void {
    const pending = this.pendingHeredocs;
    this.pendingHeredocs = [];
    for (const p of pending) {
      const h = p.redirection.heredoc!;
      const lines: string[] = [];
      let closed = false;
      while (this.pos < this.src.length) {
        let end = this.src.indexOf('\n', this.pos);
        if (end < 0) end = this.src.length;
        let lineText = this.src.slice(this.pos, end);
        this.pos = Math.min(end + 1, this.src.length);
        if (p.stripTabs) lineText = lineText.replace(/^\t+/, '');
        if (lineText === h.delimiter) {
          closed = true;
          break;
        }
        lines.push(lineText);
      }
      if (!closed) this.fail(`unterminated here-document: no line "${h.delimiter}" closes it`);
      h.body = lines.length > 0 ? lines.join('\n') + '\n' : '';
      if (pendingScripts.has(p.redirection)) {
        resolvePendingScript(p.redirection);
      } else if (h.expands && /[`$]/.test(h.body)) {
        const sub = new Parser(h.body, this.out, this.offset);
        sub.readDoubleQuotedBody(p.ctx, null);
      }
    }
  }

  // -- words ----------------------------------------------------------------------------------------

  /** Reads one word at pos, or returns null when pos is at an operator or the end. */
  readWord(ctx: Ctx): ShellWord | null {
    const w: WordBuild = { text: '', raw: '', dynamic: false, quoted: false, glob: false, brace: false };
    const start = this.pos;
    let braceDepth = 0;
    while (this.pos < this.src.length) {
      const ch = this.peek();
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === ';' || ch === '|' || ch === '&' || ch === ')') break;
      if (ch === '(' ) break;
      if (ch === '<' || ch === '>') {
        if (this.peek(1) === '(') {
          this.readProcessSubstitution(ctx, w);
          continue;
        }
        break;
      }
      if (ch === '#' && this.pos === start) break;
      if (ch === '\\') {
        const next = this.peek(1);
        if (next === '\n') {
          this.pos += 2;
          continue;
        }
        if (next === '') this.fail('the line ends with a lone backslash');
        w.text += next;
        w.quoted = true;
        this.pos += 2;
        continue;
      }
      if (ch === "'") {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) this.fail("unterminated single quote: a ' is never closed");
        w.text += this.src.slice(this.pos + 1, end);
        w.quoted = true;
        this.pos = end + 1;
        continue;
      }
      if (ch === '"') {
        this.pos++;
        const inner = this.readDoubleQuotedBody(ctx, '"');
        w.text += inner.text;
        w.dynamic ||= inner.dynamic;
        w.quoted = true;
        continue;
      }
      if (ch === '`') {
        this.readBackticks(ctx);
        w.dynamic = true;
        w.text += '`…`';
        continue;
      }
      if (ch === '$') {
        if (this.peek(1) === "'") {
          this.pos += 2;
          w.text += this.readAnsiC();
          w.quoted = true;
          continue;
        }
        if (this.peek(1) === '"') {
          this.pos += 2;
          const inner = this.readDoubleQuotedBody(ctx, '"');
          w.text += inner.text;
          w.dynamic ||= inner.dynamic;
          w.quoted = true;
          continue;
        }
        const expansion = this.readDollar(ctx);
        if (expansion !== null) {
          w.dynamic = true;
          w.text += expansion;
          continue;
        }
        w.text += '$';
        this.pos++;
        continue;
      }
      if (ch === '*' || ch === '?' || ch === '[') w.glob = true;
      if (ch === '{') {
        braceDepth++;
        w.text += BRACE_OPEN;
        this.pos++;
        continue;
      }
      if (ch === '}' && braceDepth > 0) {
        braceDepth--;
        w.text += BRACE_CLOSE;
        this.pos++;
        continue;
      }
      if (ch === ',' && braceDepth > 0) {
        w.text += BRACE_COMMA;
        this.pos++;
        continue;
      }
      w.text += ch;
      this.pos++;
    }
    if (this.pos === start) return null;
    w.raw = this.src.slice(start, this.pos);
    return w;
  }

  /** Reads the inside of "..." (pos after the opening quote) up to `end` (or the whole text when null). */
  readDoubleQuotedBody(ctx: Ctx, end: '"' | null): { text: string; dynamic: boolean } {
    let text = '';
    let dynamic = false;
    const openedAt = this.pos - 1;
    for (;;) {
      if (this.pos >= this.src.length) {
        if (end === null) return { text, dynamic };
        this.fail('unterminated double quote: a " is never closed', openedAt);
      }
      const ch = this.peek();
      if (end !== null && ch === end) {
        this.pos++;
        return { text, dynamic };
      }
      if (ch === '\\') {
        const next = this.peek(1);
        if (next === '\n') {
          this.pos += 2;
          continue;
        }
        if (next === '$' || next === '`' || next === '"' || next === '\\') {
          text += next;
          this.pos += 2;
          continue;
        }
        text += '\\';
        this.pos++;
        continue;
      }
      if (ch === '`') {
        this.readBackticks(ctx);
        dynamic = true;
        text += '`…`';
        continue;
      }
      if (ch === '$') {
        const expansion = this.readDollar(ctx);
        if (expansion !== null) {
          dynamic = true;
          text += expansion;
          continue;
        }
      }
      text += ch;
      this.pos++;
    }
  }

  /** At a `$`: reads a parameter, command or arithmetic expansion; null when the `$` is literal. */
  private readDollar(ctx: Ctx): string | null {
    const next = this.peek(1);
    const start = this.pos;
    if (next === '(') {
      if (this.peek(2) === '(') {
        this.pos += 3;
        this.skipArithmetic(ctx);
        return this.src.slice(start, this.pos);
      }
      this.pos += 2;
      this.parseList(this.child(ctx, 'command-substitution'), ')');
      return this.src.slice(start, this.pos);
    }
    if (next === '{') {
      this.pos += 2;
      this.skipParameterExpansion(ctx);
      return this.src.slice(start, this.pos);
    }
    if (/[A-Za-z_]/.test(next)) {
      this.pos += 2;
      while (/[A-Za-z0-9_]/.test(this.peek())) this.pos++;
      return this.src.slice(start, this.pos);
    }
    if (/[0-9@*#?$!\-]/.test(next) && next !== '') {
      this.pos += 2;
      return this.src.slice(start, this.pos);
    }
    return null;
  }

  private skipParameterExpansion(ctx: Ctx): void {
    const openedAt = this.pos - 2;
    let depth = 1;
    while (depth > 0) {
      if (this.pos >= this.src.length) this.fail('unterminated "${": a parameter expansion is never closed', openedAt);
      const ch = this.peek();
      if (ch === '\\') {
        this.pos += 2;
        continue;
      }
      if (ch === "'") {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) this.fail("unterminated single quote inside ${...}");
        this.pos = end + 1;
        continue;
      }
      if (ch === '"') {
        this.pos++;
        this.readDoubleQuotedBody(ctx, '"');
        continue;
      }
      if (ch === '`') {
        this.readBackticks(ctx);
        continue;
      }
      if (ch === '$' && (this.peek(1) === '(' || this.peek(1) === '{')) {
        this.readDollar(ctx);
        continue;
      }
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      this.pos++;
    }
  }

  /** After `((` or `$((`: skips to the matching `))`, parsing any command substitution inside. */
  private skipArithmetic(ctx: Ctx): void {
    const openedAt = this.pos - 2;
    let depth = 2;
    while (depth > 0) {
      if (this.pos >= this.src.length) this.fail('unterminated arithmetic "$((": it is never closed with "))"', openedAt);
      const ch = this.peek();
      if (ch === '$' && this.peek(1) === '(' && this.peek(2) !== '(') {
        this.readDollar(ctx);
        continue;
      }
      if (ch === '`') {
        this.readBackticks(ctx);
        continue;
      }
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      this.pos++;
    }
  }

  private readBackticks(ctx: Ctx): void {
    const openedAt = this.pos;
    this.pos++;
    let inner = '';
    for (;;) {
      if (this.pos >= this.src.length) this.fail('unterminated backquote: a ` is never closed', openedAt);
      const ch = this.peek();
      if (ch === '\\' && (this.peek(1) === '`' || this.peek(1) === '\\' || this.peek(1) === '$')) {
        inner += this.peek(1);
        this.pos += 2;
        continue;
      }
      if (ch === '`') {
        this.pos++;
        break;
      }
      inner += ch;
      this.pos++;
    }
    const sub = new Parser(inner, this.out, this.offset + openedAt + 1);
    sub.parseTop(this.child(ctx, 'backticks'));
  }

  private readProcessSubstitution(ctx: Ctx, w: WordBuild): void {
    const start = this.pos;
    this.pos += 2;
    this.parseList(this.child(ctx, 'process-substitution'), ')');
    w.dynamic = true;
    w.text += this.src.slice(start, this.pos);
  }

  private readAnsiC(): string {
    let text = '';
    const openedAt = this.pos - 2;
    for (;;) {
      if (this.pos >= this.src.length) this.fail("unterminated $'...' quote", openedAt);
      const ch = this.peek();
      if (ch === "'") {
        this.pos++;
        return text;
      }
      if (ch !== '\\') {
        text += ch;
        this.pos++;
        continue;
      }
      const e = this.peek(1);
      this.pos += 2;
      const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
      if (e in simple) {
        text += simple[e];
      } else if (e === 'x') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(this.src.slice(this.pos));
        if (m) {
          text += String.fromCharCode(parseInt(m[0], 16));
          this.pos += m[0].length;
        } else text += '\\x';
      } else if (e === 'u' || e === 'U') {
        const m = (e === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(this.src.slice(this.pos));
        if (m) {
          text += String.fromCodePoint(parseInt(m[0], 16));
          this.pos += m[0].length;
        } else text += '\\' + e;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))!;
        text += String.fromCharCode(parseInt(e + m[0], 8));
        this.pos += m[0].length;
      } else if (e === 'c') {
        const c = this.peek();
        text += String.fromCharCode(c.charCodeAt(0) & 0x1f);
        this.pos++;
      } else {
        text += '\\' + e;
      }
    }
  }
}

// -- emitting and unwrapping ------------------------------------------------------------------------

function emitCommand(
  out: Collector,
  args: { words: ShellWord[]; env: EnvAssignment[]; redirections: Redirection[]; ctx: Ctx; pipeline: number; flags: CommandFlag[] },
  offset: number,
): SimpleCommand {
  const { words, ctx } = args;
  const argv = words.map((w) => w.text);
  const first = words[0];
  const cmd: SimpleCommand = {
    id: out.commands.length,
    argv,
    words,
    program: first ? programName(first.text) : null,
    programPath: first ? first.text : null,
    env: args.env,
    redirections: args.redirections,
    connector: null,
    nested: ctx.nesting.length > 0,
    nesting: ctx.nesting,
    wrappers: ctx.wrappers,
    parent: ctx.parent,
    dynamic: words.some((w) => w.dynamic) || args.env.some((e) => e.dynamic),
    dynamicProgram: first ? first.dynamic || first.glob || Boolean(first.brace) : false,
    flags: [...args.flags],
    pipeline: args.pipeline,
  };
  out.commands.push(cmd);
  if (cmd.program && !cmd.dynamicProgram) unwrap(cmd, out, ctx, offset);
  return cmd;
}

function flag(cmd: SimpleCommand, f: CommandFlag): void {
  if (!cmd.flags.includes(f)) cmd.flags.push(f);
}

function innerCtx(cmd: SimpleCommand, ctx: Ctx, kind: NestingKind = 'wrapper'): Ctx {
  return { nesting: [...ctx.nesting, kind], wrappers: [...ctx.wrappers, cmd.program!], parent: cmd.id, depth: ctx.depth + 1 };
}

function emitInner(cmd: SimpleCommand, words: ShellWord[], out: Collector, ctx: Ctx, offset: number, extra: Partial<{ env: EnvAssignment[]; flags: CommandFlag[]; host: string }> = {}): SimpleCommand | null {
  flag(cmd, 'wrapper');
  // leading NAME=value words (env, sudo) become the inner command's environment
  const env: EnvAssignment[] = [...(extra.env ?? [])];
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!.text) && !words[i]!.quoted) {
    const t = words[i]!.text;
    env.push({ name: t.slice(0, t.indexOf('=')), value: t.slice(t.indexOf('=') + 1), dynamic: words[i]!.dynamic });
    i++;
  }
  const rest = words.slice(i);
  if (rest.length === 0) return null;
  const inner = emitCommand(out, { words: rest, env, redirections: [], ctx: innerCtx(cmd, ctx), pipeline: cmd.pipeline, flags: extra.flags ?? [] }, offset);
  if (extra.host) inner.host = extra.host;
  return inner;
}

function parseScript(text: string, out: Collector, ctx: Ctx, offset: number): void {
  const sub = new Parser(text, out, offset);
  sub.parseTop(ctx);
}

function scriptOf(cmd: SimpleCommand, word: ShellWord, out: Collector, ctx: Ctx, offset: number, flags: CommandFlag[] = []): void {
  flag(cmd, 'wrapper');
  if (word.dynamic) {
    flag(cmd, 'opaque-script');
    return;
  }
  const before = out.commands.length;
  parseScript(word.text, out, innerCtx(cmd, ctx, 'script'), offset);
  for (const c of out.commands.slice(before)) for (const f of flags) flag(c, f);
}

/** Splits argv after the program into options and the index where the wrapped command starts. */
function skipOptions(words: ShellWord[], from: number, withValue: Set<string>, stopAtFirstPositional = true): number {
  let i = from;
  while (i < words.length) {
    const t = words[i]!.text;
    if (t === '--') return i + 1;
    if (!t.startsWith('-') || t === '-') return stopAtFirstPositional ? i : i;
    if (t.startsWith('--')) {
      const name = t.split('=')[0]!;
      if (withValue.has(name) && !t.includes('=')) i++;
      i++;
      continue;
    }
    // short cluster: the first letter that takes a value ends it; the value is the rest or the next word
    let consumedNext = false;
    for (let k = 1; k < t.length; k++) {
      if (withValue.has('-' + t[k])) {
        if (k === t.length - 1) consumedNext = true;
        break;
      }
    }
    i += consumedNext ? 2 : 1;
  }
  return i;
}

const SUDO_VALUE = new Set(['-u', '-g', '-C', '-D', '-h', '-p', '-r', '-t', '-U', '-T', '-R', '--user', '--group', '--close-from', '--chdir', '--host', '--prompt', '--role', '--type', '--other-user', '--command-timeout', '--chroot']);
// -i[STR], -e[STR] and -l[N] only take a value attached to them, never the next word (GNU xargs)
const XARGS_VALUE = new Set(['-n', '-L', '-P', '-I', '-d', '-a', '-E', '-s', '--max-args', '--max-procs', '--delimiter', '--arg-file', '--max-chars', '--process-slot-var']);
const TIMEOUT_VALUE = new Set(['-s', '-k', '--signal', '--kill-after']);
const NICE_VALUE = new Set(['-n', '--adjustment']);
const IONICE_VALUE = new Set(['-c', '-n', '-p', '-P', '-u', '--class', '--classdata', '--pid', '--pgid', '--uid']);
// watch -d[=permanent] takes its value only attached
const WATCH_VALUE = new Set(['-n', '--interval', '-q', '--equexit']);
const SSH_VALUE = new Set(['-b', '-c', '-D', '-E', '-e', '-F', '-I', '-i', '-J', '-L', '-l', '-m', '-O', '-o', '-p', '-P', '-Q', '-R', '-S', '-W', '-w', '-B']);
const SU_VALUE = new Set(['-s', '--shell', '-g', '--group', '-G', '--supp-group', '-w', '--whitelist-environment']);
const ENV_VALUE = new Set(['-u', '--unset', '-C', '--chdir', '-S', '--split-string']);
const STDBUF_VALUE = new Set(['-i', '-o', '-e', '--input', '--output', '--error']);
const RUNUSER_VALUE = new Set(['-u', '--user', '-g', '--group', '-G', '--supp-group', '-s', '--shell', '-w']);
const FLOCK_VALUE = new Set(['-w', '--timeout', '-E', '--conflict-exit-code']);

function unwrap(cmd: SimpleCommand, out: Collector, ctx: Ctx, offset: number): void {
  const words = cmd.words;
  const p = cmd.program!;
  const text = (i: number) => words[i]?.text ?? '';
  switch (p) {
    case 'sudo':
    case 'doas': {
      let i = 1;
      let shellMode = false;
      while (i < words.length) {
        const t = text(i);
        if (t === '--') {
          i++;
          break;
        }
        if (!t.startsWith('-') || t === '-') break;
        if (t.startsWith('--')) {
          if (t === '--shell' || t === '--login') shellMode = true;
          i += SUDO_VALUE.has(t) ? 2 : 1;
          continue;
        }
        let consumedNext = false;
        for (let k = 1; k < t.length; k++) {
          if (t[k] === 's' || t[k] === 'i') shellMode = true;
          if (SUDO_VALUE.has('-' + t[k])) {
            consumedNext = k === t.length - 1;
            break;
          }
        }
        i += consumedNext ? 2 : 1;
      }
      const rest = words.slice(i);
      if (rest.length === 0) {
        // `sudo -s` / `sudo -i` with no command: a root shell that reads its script from its input
        if (shellMode) inputShell(cmd, out, ctx, offset);
        return;
      }
      if (shellMode) {
        const joined = rest.map((w) => w.text).join(' ');
        scriptOf(cmd, { ...rest[0]!, text: joined, dynamic: rest.some((w) => w.dynamic) }, out, ctx, offset);
        return;
      }
      emitInner(cmd, rest, out, ctx, offset);
      return;
    }
    case 'su':
    case 'runuser': {
      for (let i = 1; i < words.length; i++) {
        const t = text(i);
        if (t === '-c' || t === '--command' || t === '--session-command') {
          const w = words[i + 1];
          if (w) scriptOf(cmd, w, out, ctx, offset);
          return;
        }
        if (/^-[^-]*c[\s\S]+$/.test(t) && !SU_VALUE.has(t) && !RUNUSER_VALUE.has(t)) {
          // -c'cmd' (getopt takes the rest of the word as the value)
          scriptOf(cmd, { ...words[i]!, text: t.slice(t.indexOf('c') + 1) }, out, ctx, offset);
          return;
        }
        if (t.startsWith('--command=') || t.startsWith('--session-command=')) {
          const w = words[i]!;
          scriptOf(cmd, { ...w, text: t.slice(t.indexOf('=') + 1) }, out, ctx, offset);
          return;
        }
        if (p === 'runuser' && t === '--') {
          emitInner(cmd, words.slice(i + 1), out, ctx, offset);
          return;
        }
        if (SU_VALUE.has(t) || RUNUSER_VALUE.has(t)) i++;
      }
      // no -c: the login shell reads its script from its input
      inputShell(cmd, out, ctx, offset);
      return;
    }
    case 'env': {
      let i = 1;
      const env: EnvAssignment[] = [];
      while (i < words.length) {
        const t = text(i);
        if (t === '--') {
          i++;
          break;
        }
        if (t === '-S' || t === '--split-string') {
          const w = words[i + 1];
          if (w) scriptOf(cmd, w, out, ctx, offset);
          return;
        }
        // -S'cmd args', --split-string=..., and -iS'...' clusters: the rest is a command line
        const attached = /^-[^-]*S([\s\S]+)$/.exec(t) ?? /^--split-string=([\s\S]*)$/.exec(t);
        if (attached) {
          scriptOf(cmd, { ...words[i]!, text: attached[1]! }, out, ctx, offset);
          return;
        }
        if (t.startsWith('-')) {
          i += ENV_VALUE.has(t) ? 2 : 1;
          continue;
        }
        break;
      }
      emitInner(cmd, words.slice(i), out, ctx, offset, { env });
      return;
    }
    case 'nohup':
    case 'setsid':
    case 'command':
    case 'builtin':
    case 'time':
    case 'exec':
    case 'chrt':
    case 'taskset':
    case 'unbuffer':
    case 'caffeinate': {
      let i = 1;
      while (i < words.length && text(i).startsWith('-')) {
        if (p === 'command' && (text(i) === '-v' || text(i) === '-V')) return; // `command -v x` only looks x up
        // exec -a NAME: the next word is the name to give the program, not the program
        if (p === 'exec' && /^-[cl]*a$/.test(text(i))) i++;
        i++;
        if (text(i - 1) === '--') break;
      }
      if ((p === 'chrt' || p === 'taskset') && i < words.length) i++; // priority / cpu mask
      if (p === 'exec') flag(cmd, 'exec');
      emitInner(cmd, words.slice(i), out, ctx, offset);
      return;
    }
    case 'nice':
    case 'ionice':
    case 'stdbuf':
    case 'flock':
    case 'chroot': {
      const set = p === 'nice' ? NICE_VALUE : p === 'ionice' ? IONICE_VALUE : p === 'stdbuf' ? STDBUF_VALUE : p === 'flock' ? FLOCK_VALUE : new Set<string>();
      let i = skipOptions(words, 1, set);
      if (p === 'flock' || p === 'chroot') i++; // the lock file / the new root
      if (p === 'flock' && (text(i) === '-c' || text(i) === '--command')) {
        const w = words[i + 1];
        if (w) scriptOf(cmd, w, out, ctx, offset);
        return;
      }
      emitInner(cmd, words.slice(i), out, ctx, offset);
      return;
    }
    case 'timeout': {
      const i = skipOptions(words, 1, TIMEOUT_VALUE) + 1; // then the duration
      emitInner(cmd, words.slice(i), out, ctx, offset);
      return;
    }
    case 'watch': {
      const i = skipOptions(words, 1, WATCH_VALUE);
      const rest = words.slice(i);
      if (rest.length === 0) return;
      const joined = rest.map((w) => w.text).join(' ');
      scriptOf(cmd, { ...rest[0]!, text: joined, dynamic: rest.some((w) => w.dynamic) }, out, ctx, offset);
      return;
    }
    case 'xargs': {
      const i = skipOptions(words, 1, XARGS_VALUE);
      const rest = words.slice(i);
      const inputWord: ShellWord = { text: '<input>', raw: '<input>', dynamic: true, quoted: false, glob: false };
      if (rest.length === 0) {
        emitInner(cmd, [{ text: 'echo', raw: 'echo', dynamic: false, quoted: false, glob: false }, inputWord], out, ctx, offset, { flags: ['input-args'] });
        return;
      }
      // -I STR / -i / --replace: every STR in the command becomes a line of input
      let replace: string | null = null;
      for (let k = 1; k < i; k++) {
        const t = text(k);
        if (t === '-I') replace = text(k + 1) || '{}';
        else if (t.startsWith('-I')) replace = t.slice(2);
        else if (t === '-i' || t === '--replace') replace = '{}';
        else if (t.startsWith('-i')) replace = t.slice(2);
        else if (t.startsWith('--replace=')) replace = t.slice('--replace='.length) || '{}';
      }
      const replaced = replace ? rest.map((w) => (w.text.includes(replace!) ? { ...w, dynamic: true } : w)) : rest;
      emitInner(cmd, [...replaced, inputWord], out, ctx, offset, { flags: ['input-args'] });
      return;
    }
    case 'find': {
      const roots: ShellWord[] = [];
      let i = 1;
      while (i < words.length && /^-[HLP]$/.test(text(i))) i++;
      while (i < words.length && !text(i).startsWith('-') && text(i) !== '(' && text(i) !== '!') roots.push(words[i++]!);
      for (; i < words.length; i++) {
        const t = text(i);
        if (t === '-exec' || t === '-execdir' || t === '-ok' || t === '-okdir') {
          let end = i + 1;
          while (end < words.length && text(end) !== ';' && text(end) !== '+') end++;
          if (end >= words.length) throw new ShellParseError(`find ${t} needs a terminating \\; or +`, offset);
          const inner = words.slice(i + 1, end);
          const rootsForExec = roots.length > 0 ? roots : [{ text: '.', raw: '.', dynamic: false, quoted: false, glob: false }];
          // `{}` stands for every file found, starting with the search root itself
          for (const root of rootsForExec) {
            const replaced = inner.map((w) => (w.text.includes('{}') ? { ...w, text: w.text.split('{}').join(root.text), dynamic: true } : w));
            emitInner(cmd, replaced, out, ctx, offset, { flags: ['input-args'] });
          }
          i = end;
        }
      }
      return;
    }
    case 'ssh': {
      let i = skipOptions(words, 1, SSH_VALUE);
      const host = text(i);
      if (!host) return;
      i++;
      const rest = words.slice(i);
      flag(cmd, 'remote');
      if (rest.length === 0) {
        if (cmd.redirections.some((r) => r.heredoc || r.op === '<<<' || r.op === '<')) heredocScript(cmd, out, ctx, offset, ['remote']);
        return;
      }
      const joined = rest.map((w) => w.text).join(' ');
      const before = out.commands.length;
      scriptOf(cmd, { ...rest[0]!, text: joined, dynamic: rest.some((w) => w.dynamic) }, out, ctx, offset, ['remote']);
      for (const c of out.commands.slice(before)) c.host = host;
      return;
    }
    case 'eval': {
      flag(cmd, 'eval');
      const rest = words.slice(1);
      if (rest.length === 0) return;
      const joined = rest.map((w) => w.text).join(' ');
      scriptOf(cmd, { ...rest[0]!, text: joined, dynamic: rest.some((w) => w.dynamic) }, out, ctx, offset);
      return;
    }
    case 'source':
    case '.':
      flag(cmd, 'source');
      flag(cmd, 'opaque-script');
      return;
    case 'qm':
    case 'pct': {
      // qm guest exec VMID [--opts] -- CMD...   /   pct exec CTID -- CMD...
      const isGuestExec = (p === 'qm' && text(1) === 'guest' && text(2) === 'exec') || (p === 'pct' && text(1) === 'exec');
      if (!isGuestExec) return;
      const dd = words.findIndex((w) => w.text === '--');
      const id = p === 'qm' ? text(3) : text(2);
      if (dd > 0) emitInner(cmd, words.slice(dd + 1), out, ctx, offset, { flags: ['in-guest'], host: id });
      return;
    }
    default:
      break;
  }
  if (SHELLS.has(p)) {
    let i = 1;
    if (p === 'busybox') {
      if (!SHELLS.has(text(1)) && text(1) !== '') {
        emitInner(cmd, words.slice(1), out, ctx, offset);
        return;
      }
      i = 2;
    }
    for (; i < words.length; i++) {
      const t = text(i);
      if (t === '--' || t === '-') {
        i++;
        break;
      }
      if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(t)) {
        const w = words[i + 1];
        if (!w) throw new ShellParseError(`${p} -c needs a command string`, offset);
        scriptOf(cmd, w, out, ctx, offset);
        return;
      }
      if (t === '-o' || t === '+o' || t === '-O' || t === '+O' || t === '--rcfile' || t === '--init-file') {
        i++;
        continue;
      }
      if (/^[-+]/.test(t)) continue;
      break;
    }
    if (i < words.length) {
      // `bash script.sh`: runs a file whose content we do not see
      flag(cmd, 'wrapper');
      flag(cmd, 'opaque-script');
      return;
    }
    inputShell(cmd, out, ctx, offset);
  }
}

/** A shell started without a script: its input is the script (a heredoc is parsed, anything else is unseen). */
function inputShell(cmd: SimpleCommand, out: Collector, ctx: Ctx, offset: number): void {
  if (cmd.redirections.some((r) => r.heredoc || r.op === '<<<')) {
    heredocScript(cmd, out, ctx, offset, []);
    return;
  }
  flag(cmd, 'wrapper');
  flag(cmd, 'reads-script-from-input');
  if (cmd.redirections.some((r) => r.op === '<')) flag(cmd, 'opaque-script');
}

/** `bash <<EOF ... EOF`, `sh <<< 'cmd'`, `ssh host <<EOF`: the input is the script. */
function heredocScript(cmd: SimpleCommand, out: Collector, ctx: Ctx, offset: number, flags: CommandFlag[]): void {
  flag(cmd, 'wrapper');
  const r = cmd.redirections.find((x) => x.heredoc || x.op === '<<<');
  if (!r) {
    flag(cmd, 'opaque-script');
    return;
  }
  // the heredoc body is read later than the command; parse it when it arrives
  if (r.heredoc) {
    pendingScripts.set(r, { cmd, out, ctx, offset, flags });
    return;
  }
  scriptOf(cmd, { text: r.target, raw: r.target, dynamic: r.targetDynamic, quoted: true, glob: false }, out, ctx, offset, flags);
}

const pendingScripts = new WeakMap<Redirection, { cmd: SimpleCommand; out: Collector; ctx: Ctx; offset: number; flags: CommandFlag[] }>();

/** Called once a heredoc body is known (see Parser.readHeredocBodies). */
function resolvePendingScript(r: Redirection): void {
  const pending = pendingScripts.get(r);
  if (!pending || !r.heredoc) return;
  pendingScripts.delete(r);
  scriptOf(pending.cmd, { text: r.heredoc.body, raw: r.heredoc.body, dynamic: false, quoted: true, glob: false }, pending.out, pending.ctx, pending.offset, pending.flags);
}

/** The text echo/printf writes, when it is static; null when it cannot be worked out. */
function feederText(argv: string[]): string | null {
  if (argv[0] === 'printf') {
    // only formats whose output is certain: \n, \t and %%; anything else (\x74, \\, %s, %b) is not guessed
    if (argv.length !== 2 || /\\[^nt]|\\$|%[^%]|%$/.test(argv[1]!)) return null;
    return argv[1]!.replace(/\\n/g, '\n').replace(/\\t/g, '\t').replace(/%%/g, '%').replace(/\\\\/g, '\\');
  }
  let i = 1;
  let escapes = false;
  while (i < argv.length && /^-[neE]+$/.test(argv[i]!)) {
    if (argv[i]!.includes('e')) escapes = true;
    i++;
  }
  const text = argv.slice(i).join(' ');
  // dash's echo interprets backslashes even without -e: a backslash makes the text uncertain
  if (text.includes('\\')) return null;
  return escapes ? text.replace(/\\n/g, '\n').replace(/\\t/g, '\t') : text;
}

// -- brace expansion --------------------------------------------------------------------------------

function unmarkBraces(text: string): string {
  return text.replaceAll(BRACE_OPEN, '{').replaceAll(BRACE_COMMA, ',').replaceAll(BRACE_CLOSE, '}');
}

/** bash brace expansion of the comma form (`p{v,x}eum` -> pveum pxeum); other words pass through. */
function expandBraces(word: ShellWord): ShellWord[] {
  const results = expandText(word.text);
  if (results.length <= 1) return [{ ...word, text: results[0] ?? word.text }];
  return results.slice(0, MAX_BRACE_WORDS).map((text) => ({ ...word, text: unmarkBraces(text), brace: true }));
}

function expandText(text: string): string[] {
  const open = text.indexOf(BRACE_OPEN);
  if (open < 0) return [text];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === BRACE_OPEN) depth++;
    else if (c === BRACE_CLOSE) {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (c === BRACE_COMMA && depth === 1) commas.push(i);
  }
  if (close < 0) return [text];
  const prefix = text.slice(0, open);
  const suffix = text.slice(close + 1);
  if (commas.length === 0) {
    const inner = text.slice(open + 1, close);
    const range = /^(-?\d+)\.\.(-?\d+)$|^([a-zA-Z])\.\.([a-zA-Z])$/.exec(inner);
    if (range) {
      const items: string[] = [];
      if (range[1] !== undefined) {
        const a = Number(range[1]);
        const b = Number(range[2]);
        const step = a <= b ? 1 : -1;
        for (let n = a; items.length < MAX_BRACE_WORDS; n += step) {
          items.push(String(n));
          if (n === b) break;
        }
      } else {
        const a = range[3]!.charCodeAt(0);
        const b = range[4]!.charCodeAt(0);
        const step = a <= b ? 1 : -1;
        for (let n = a; items.length < MAX_BRACE_WORDS; n += step) {
          items.push(String.fromCharCode(n));
          if (n === b) break;
        }
      }
      return items.flatMap((it) => expandText(prefix + it + suffix)).slice(0, MAX_BRACE_WORDS);
    }
    // `{}` or `{x}` is literal; keep expanding the rest
    return expandText(suffix).map((s) => prefix + '{' + inner + '}' + s);
  }
  const parts: string[] = [];
  let from = open + 1;
  for (const c of [...commas, close]) {
    parts.push(text.slice(from, c));
    from = c + 1;
  }
  const out: string[] = [];
  for (const part of parts) {
    for (const e of expandText(prefix + part + suffix)) {
      out.push(e);
      if (out.length >= MAX_BRACE_WORDS) return out;
    }
  }
  return out;
}

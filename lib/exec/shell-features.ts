/**
 * Shell features an admin must turn on per client token before execute_command runs them, in any mode:
 * they run code this server cannot inspect, or reach what the API policy guards by a side door.
 *
 *  - interpreters: program code given inline or from a file (python -c, perl -e, node, php, ruby, lua...),
 *    awk system()/pipes, sed `e`, `eval`, `source`, a shell running a script it cannot see (`sh -c "$X"`,
 *    `bash file`, `curl ... | sh`), `xargs` feeding a shell, a program started by a path outside the system
 *    directories, variables that make a program load other code (LD_PRELOAD, PERL5OPT, PYTHON*, BASH_ENV,
 *    PATH...), shell code stored in a variable, and options that make a tool run a command (tar
 *    --to-command, rsync -e, ssh -o ProxyCommand, sort --compress-program...);
 *  - decode-to-shell: a decoded payload (base64 -d, xxd -r, gunzip...) on a line that runs a shell or
 *    eval on content it cannot see;
 *  - pve-config-writes: any write, edit, move or removal under /etc/pve (the cluster-wide configuration);
 *  - api-from-shell: curl, wget, nc and friends aimed at port 8006 or /api2/ (the Proxmox API by a side
 *    door), or at a URL only known at run time.
 *
 * Grants are stored per token in the settings store (`shell-features:<tokenId>`), set only from the host
 * with `npm run token -- shell NAME --allow FEATURE[,FEATURE]`.
 */
import type { ShellWord, SimpleCommand } from './shell-parse.ts';
import { awkProgramVerdict, sedScriptVerdict } from './read-allowlist.ts';

export const SHELL_FEATURES = ['interpreters', 'decode-to-shell', 'pve-config-writes', 'api-from-shell'] as const;
export type ShellFeature = (typeof SHELL_FEATURES)[number];

export const FEATURE_DESCRIPTIONS: Record<ShellFeature, string> = {
  interpreters: 'runs code this server cannot inspect (an interpreter, eval/source, a shell on unseen content, or a variable that loads other code)',
  'decode-to-shell': 'decodes a payload and runs it as shell code',
  'pve-config-writes': 'writes, edits, moves or removes files under /etc/pve (the cluster-wide configuration)',
  'api-from-shell': 'calls the Proxmox API (port 8006) from the shell, past the API policy',
};

export const settingsKeyForShellFeatures = (tokenId: string) => `shell-features:${tokenId}`;

export function isShellFeature(value: string): value is ShellFeature {
  return (SHELL_FEATURES as readonly string[]).includes(value);
}

/**
 * What `npm run token -- shell NAME --allow A,B --deny C` does (host CLI only; no tool calls this):
 * adds and removes features in the token's grant; with neither, only reports it.
 */
export async function updateShellFeatureGrant(
  settings: { get<T>(key: string): Promise<T | undefined>; set(key: string, value: unknown): Promise<void> },
  tokenId: string,
  allow: string | undefined,
  deny: string | undefined,
): Promise<{ granted: ShellFeature[] } | { error: string }> {
  const list = (text: string | undefined) => (text ?? '').split(',').map((f) => f.trim()).filter(Boolean);
  const bad = [...list(allow), ...list(deny)].filter((f) => !isShellFeature(f));
  if (bad.length > 0) return { error: `unknown shell feature ${bad.join(', ')}; the features are ${SHELL_FEATURES.join(', ')}` };
  const key = settingsKeyForShellFeatures(tokenId);
  const current = ((await settings.get<string[]>(key)) ?? []).filter(isShellFeature);
  const granted = [...new Set([...current, ...(list(allow) as ShellFeature[])])].filter((f) => !list(deny).includes(f));
  if (allow !== undefined || deny !== undefined) await settings.set(key, granted);
  return { granted };
}

export const INTERPRETER_PROGRAMS = /^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|irb|node|nodejs|deno|bun|php[0-9.]*|lua[0-9.]*|luajit|tclsh[0-9.]*|wish|Rscript|R|julia|guile|scheme|racket|ocaml|ghci|runghc|osascript|pwsh|powershell|expect|jshell|groovy|scala|kotlin|java|gdb|awk|gawk|mawk|nawk|busybox)$/;
export const SHELL_PROGRAMS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'rbash', 'busybox', 'fish', 'csh', 'tcsh']);

/** Variables that make a program load or run other code. */
export const CODE_LOADING_ENV =
  /^(LD_[A-Z_]+|PERL5OPT|PERL5LIB|PERLLIB|PERL5DB|PERL_[A-Z_]+|PYTHON[A-Z_]*|RUBY[A-Z_]*|GEM_[A-Z_]+|NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|IFS|PATH|CDPATH|GCONV_PATH|LESSOPEN|LESSCLOSE|LESS|LESSKEY[A-Z_]*|PAGER|MANPAGER|MANOPT|SYSTEMD_PAGER|SYSTEMD_EDITOR|EDITOR|VISUAL|GIT_[A-Z_]+|BROWSER|OPENSSL_CONF|OPENSSL_ENGINES|GLIBC_TUNABLES|MALLOC_[A-Z_]+|BASH_FUNC_.*|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|LUA_[A-Z_0-9]+|PHPRC|PHP_INI_SCAN_DIR|TCLLIBPATH|ZDOTDIR|XDG_CONFIG_HOME|HOME|WGETRC|CURL_HOME|SSH_ASKPASS|SUDO_ASKPASS|GIT_SSH|RSYNC_RSH|TAR_OPTIONS|GZIP|XZ_OPT|ZSTD_[A-Z_]+|PROMPT_COMMAND)$/;

/** Options that make a tool start another program (program: regex over one argument). */
const RUNS_A_COMMAND: Record<string, RegExp> = {
  tar: /^(--to-command|--checkpoint-action|--use-compress-program|--rsh-command|--info-script|--new-volume-script|--rmt-command|-I|-F)(=|$)|^-[a-zA-Z]*[IF]/,
  rsync: /^(-e|--rsh|--rsync-path)(=|$)|^-[a-zA-Z]*e/,
  ssh: /proxycommand|localcommand|knownhostscommand|remotecommand|^-F|^-[a-zA-Z]*F$|^(include|match)\b/i,
  scp: /^-S|^-o|^-F|^-[a-zA-Z]*[SoF]/,
  sftp: /^-S|^-o|^-F|^-D/,
  sort: /^--compress-program/,
  zip: /^(-TT|--unzip-command)/,
  man: /^(-P|--pager|-H|--html)/,
  less: /^[+-]/,
  more: /^\+/,
  git: /^(-c|--config-env|--exec-path)/,
  vi: /./,
  vim: /./,
  nvim: /./,
  view: /./,
  ex: /./,
  ed: /./,
  emacs: /./,
  make: /./,
  systemd_run: /./,
};

/** Long options that start a program, matched by any prefix (getopt_long abbreviations). */
const RUNS_A_COMMAND_LONG: Record<string, string[]> = {
  tar: ['to-command', 'checkpoint-action', 'use-compress-program', 'rsh-command', 'info-script', 'new-volume-script', 'rmt-command'],
  rsync: ['rsh', 'rsync-path'],
  sort: ['compress-program'],
  man: ['pager', 'html'],
  zip: ['unzip-command'],
  git: ['exec-path', 'config-env'],
  find: ['exec', 'execdir', 'ok', 'okdir'],
};

/** Programs that run a command they are given, which this server does not look inside. */
const OPAQUE_RUNNERS = new Set(['cpan', 'cpanm', 'pip', 'pip3', 'pipx', 'npm', 'npx', 'pnpm', 'yarn', 'gem', 'bundle', 'rake', 'cargo', 'go', 'composer', 'mvn', 'gradle', 'ant', 'cmake', 'meson', 'ninja', 'uv', 'uvx', 'sg', 'newgrp', 'pkexec', 'fakeroot', 'numactl', 'prlimit', 'setarch', 'linux32', 'linux64', 'runcon', 'dbus-run-session', 'dbus-launch', 'xvfb-run', 'faketime', 'eatmydata', 'cgexec', 'systemd-cat', 'start-stop-daemon', 'chpst', 'firejail', 'proxychains', 'proxychains4', 'torify', 'torsocks', 'ssh-agent', 'catchsegv', 'perf', 'cpulimit', 'trickle', 'daemonize', 'nocache', 'entr', 'sudoedit', 'systemd-run', 'at', 'batch', 'nsenter', 'unshare', 'setpriv', 'capsh', 'strace', 'ltrace', 'valgrind', 'script', 'tmux', 'screen', 'dtach', 'parallel', 'socat', 'crontab', 'ed', 'ex', 'vi', 'vim', 'nvim', 'emacs', 'make', 'trap', 'alias', 'enable', 'bind', 'complete', 'coproc', 'fc', 'mapfile', 'readarray', 'source', '.']);

/** Editors read commands (including `!cmd`) from their input even with no arguments. */
const ALWAYS_OPAQUE = new Set(['ed', 'ex', 'vi', 'vim', 'nvim', 'emacs']);

const DECODERS = /^(uudecode|gunzip|zcat|bzcat|bunzip2|xzcat|unxz|zstdcat|unzstd|lz4cat|rev|tr|iconv|recode|uncompress|unlzma|lzcat)$/;

/** Does this command decode a payload (base64 -d, xxd -r, gunzip...)? */
export function isDecoder(cmd: SimpleCommand): boolean {
  const p = cmd.program ?? '';
  const args = cmd.argv.slice(1);
  if (DECODERS.test(p)) return true;
  if (/^(base64|base32|basenc)$/.test(p)) return args.some((a) => /^(-[a-zA-Z]*[dD][a-zA-Z]*|--decode)$/.test(a));
  if (p === 'xxd') return args.some((a) => /^-[a-zA-Z]*r/.test(a) || a === '-revert');
  if (p === 'openssl') return args.some((a) => a === '-d' || a === 'base64' || a === 'enc' || a === '-a' || a === '-base64');
  if (/^(gzip|xz|bzip2|zstd|lz4|lzma|compress)$/.test(p)) return args.some((a) => /^(-[a-zA-Z]*d|--decompress|--uncompress)$/.test(a));
  if (p === 'printf') return args.some((a) => /\\x[0-9a-f]|\\[0-7]{3}|\\u[0-9a-f]{4}/i.test(a));
  if (p === 'echo') return args.some((a) => /^-[a-zA-Z]*e/.test(a)) && args.some((a) => /\\x[0-9a-f]|\\[0-7]{3}/i.test(a));
  return false;
}

const NETWORK_CLIENTS = new Set(['curl', 'wget', 'http', 'https', 'xh', 'httpie', 'nc', 'ncat', 'netcat', 'socat', 'telnet', 'openssl', 'aria2c', 'lynx', 'links', 'elinks', 'w3m', 'wscat', 'websocat', 'ssh', 'scp', 'sftp', 'rsync', 'pvesh-remote', 'grpcurl', 'lwp-request', 'GET', 'POST', 'HEAD']);
const API_PORT = /(^|[^0-9])0*8006([^0-9]|$)|api2|pveproxy|pvedaemon|:0*85(\/|$)/i;
/** pvedaemon listens on 127.0.0.1:85: a bare port 85 for the raw socket clients. */
const DAEMON_PORT = /^0*85$/;

/** Why a network client would reach the Proxmox API (or could, unseen), or null. */
export function apiFromShellReason(cmd: SimpleCommand): string | null {
  const p = cmd.program ?? '';
  if (!NETWORK_CLIENTS.has(p)) return null;
  const words = cmd.words.slice(1);
  const hit = words.find((w) => API_PORT.test(w.text));
  if (hit) return `${p} is aimed at the Proxmox API ("${hit.text.slice(0, 80)}")`;
  if (p === 'curl' || p === 'wget' || p === 'http' || p === 'https' || p === 'xh' || p === 'aria2c') {
    if (words.some((w) => w.dynamic)) return `${p} is given a URL or option only known at run time, which could be the Proxmox API`;
    if (p === 'curl' && words.some((w) => /^(-K|--config|-:|--next)$|^-[a-zA-Z]*K/.test(w.text))) return 'curl reads further URLs from a config file';
    if (p === 'curl' && words.some((w) => /^[a-z]+:\/\/.*[[{]/i.test(w.text) && !words.some((x) => /^(-g|--globoff)$/.test(x.text)))) return 'curl expands [..] and {..} in the URL, which can spell the Proxmox API port';
    if ((p === 'wget' || p === 'aria2c') && words.some((w) => /^(-i|--input-file)(=|$)/.test(w.text))) return `${p} reads URLs from a file`;
  }
  if ((p === 'nc' || p === 'ncat' || p === 'netcat' || p === 'socat' || p === 'telnet') && words.some((w) => w.dynamic)) return `${p} connects to a host or port only known at run time`;
  if ((p === 'nc' || p === 'ncat' || p === 'netcat' || p === 'telnet') && words.some((w) => DAEMON_PORT.test(w.text))) return `${p} connects to port 85 (pvedaemon, the API behind the proxy)`;
  return null;
}

/** The redirection targets bash turns into network connections (/dev/tcp/HOST/PORT). */
export function devTcpReason(target: string, dynamic: boolean): string | null {
  if (!/^\/dev\/(tcp|udp)\//.test(target)) return null;
  if (dynamic || API_PORT.test(target.split('/').slice(4).join('/'))) return `opens a network connection to ${target}, which can reach the Proxmox API`;
  return null;
}

/** Features a simple command uses by itself (the /etc/pve writes come from the path checks in classify.ts). */
export function commandFeatures(cmd: SimpleCommand, children: SimpleCommand[]): { feature: ShellFeature; reason: string }[] {
  const out: { feature: ShellFeature; reason: string }[] = [];
  const add = (feature: ShellFeature, reason: string) => out.push({ feature, reason });
  const p = cmd.program ?? '';
  const args = cmd.words.slice(1);

  for (const e of cmd.env) {
    if (CODE_LOADING_ENV.test(e.name)) add('interpreters', `sets ${e.name}, which makes programs load or run other code`);
    if (/\$\(|`/.test(e.value)) add('interpreters', `stores shell code in ${e.name}, which arithmetic or eval can run`);
  }
  if (/^(export|declare|typeset|local|readonly)$/.test(p)) {
    for (const w of args) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(\+?=)([\s\S]*)$/.exec(w.text);
      if (!m) continue;
      if (CODE_LOADING_ENV.test(m[1]!)) add('interpreters', `${p} ${m[1]}=...: makes programs load or run other code`);
      if (/\$\(|`/.test(m[3]!)) add('interpreters', `${p} ${m[1]}: stores shell code in a variable, which arithmetic or eval can run`);
    }
    if (args.some((w) => /^-[a-zA-Z]*f/.test(w.text))) add('interpreters', `${p} -f exports or changes shell functions`);
  }
  // builtins that assign variables from input: a code-loading name among them (export NAME, read NAME, printf -v NAME)
  if (/^(export|declare|typeset|local|readonly|read|mapfile|readarray|getopts|printf)$/.test(p)) {
    for (const w of args) {
      const name = /^([A-Za-z_][A-Za-z0-9_]*)(=|$)/.exec(w.text)?.[1];
      if (name && CODE_LOADING_ENV.test(name)) add('interpreters', `${p} sets or exports ${name}, which makes programs load or run other code`);
      if (w.dynamic && p !== 'printf') add('interpreters', `${p} sets a variable whose name is only known at run time`);
    }
  }
  // bash evaluates array subscripts and arithmetic in variable names and numbers it is given:
  // `printf -v 'a[$(id)]' x`, `unset 'a[$(id)]'`, `exit 'a[$(id)]'` run id
  if (/^(read|printf|declare|typeset|local|export|readonly|unset|let|test|\[|\[\[|mapfile|readarray|getopts|wait|shift|return|exit|kill|ulimit|printf|source|\.)$/.test(p) && args.some((w) => /\[[^\]]*(\$\(|`)/.test(w.text) || /\$\(|`/.test(w.text) && p === 'let')) {
    add('interpreters', `${p} is given a subscript or expression with a command substitution, which bash runs`);
  }
  if (cmd.words.some((w) => /\$\{[^}]*@[PEAKa]\}/.test(w.raw))) add('interpreters', 'a ${var@P}-style expansion evaluates the variable\'s content as a prompt or escape string');
  // sed `e`, s///e and awk system()/pipes in any argument, however the option that carries it is spelled
  if (p === 'sed' || p === 'gsed') {
    for (const w of args) {
      const text = w.text.replace(/^--?[A-Za-z-]+=/, '').replace(/^-[nEsrzu]*e(?=.)/, '');
      const verdict = sedScriptVerdict(text);
      if (verdict && /runs/.test(verdict)) add('interpreters', verdict);
    }
    if (args.some((w) => /^(-[nEsrzu]*f|--f)/.test(w.text))) add('interpreters', 'sed runs a script file that is not shown (it may hold `e` commands)');
  }
  if (/^(awk|gawk|mawk|nawk)$/.test(p)) {
    for (const w of args) {
      const verdict = awkProgramVerdict(w.text.replace(/^--?[A-Za-z-]+=/, ''));
      if (verdict && /runs a shell command|load or run code/.test(verdict)) add('interpreters', verdict);
    }
    if (args.some((w) => /^-[fEile]|^--(f|ex|inc|lo|so)/.test(w.text))) add('interpreters', `${p} loads or runs a program that is not shown (-f, -i, -l, -E, -e)`);
  }
  if (cmd.flags.includes('eval')) add('interpreters', 'eval runs text as shell code');
  if (cmd.flags.includes('source')) add('interpreters', 'source runs a script file that is not shown');
  if (cmd.flags.includes('opaque-script') || cmd.flags.includes('reads-script-from-input')) add('interpreters', `${p || 'a shell'} runs a script whose content cannot be inspected`);
  if (cmd.dynamicProgram) add('interpreters', 'the program is only known at run time');
  if (p && INTERPRETER_PROGRAMS.test(p) && !/^(awk|gawk|mawk|nawk|busybox)$/.test(p)) {
    if (args.length > 0 && !args.every((w) => /^-(-version|V|v|h|-help)$/.test(w.text))) add('interpreters', `${p} runs program code that cannot be inspected`);
    else if (args.length === 0 && cmd.redirections.length > 0) add('interpreters', `${p} runs program code from its input`);
    else if (args.length === 0) add('interpreters', `${p} runs program code from its input`);
  }
  if (cmd.programPath && cmd.programPath.includes('/') && !/^\/(usr\/)?(local\/)?s?bin\/[^/]+$/.test(cmd.programPath)) {
    add('interpreters', `runs the program file ${cmd.programPath}, whose content cannot be inspected`);
  }
  const listsOnly = (p === 'crontab' || p === 'at') && args.length > 0 && args.every((w, i) => w.text === '-l' || (w.text === '-u' && i + 1 < args.length) || args[i - 1]?.text === '-u');
  if (OPAQUE_RUNNERS.has(p) && !listsOnly && (args.length > 0 || ALWAYS_OPAQUE.has(p))) add('interpreters', `${p} runs commands or code this server does not look inside`);
  if (p === 'hash' && args.some((w) => /^-[a-zA-Z]*p/.test(w.text))) add('interpreters', 'hash -p makes a command name run another program');
  const runs = Object.hasOwn(RUNS_A_COMMAND, p) ? RUNS_A_COMMAND[p] : undefined;
  if (runs && args.some((w) => runs.test(w.text))) add('interpreters', `${p} is given an option that makes it start another program`);
  // GNU long options may be abbreviated: --compress-prog is --compress-program
  const longs = Object.hasOwn(RUNS_A_COMMAND_LONG, p) ? RUNS_A_COMMAND_LONG[p] : undefined;
  if (longs) {
    for (const w of args) {
      const m = /^--([^=]{2,})/.exec(w.text);
      if (m && longs.some((long) => long.startsWith(m[1]!))) add('interpreters', `${p} --${m[1]} (an abbreviation counts) makes it start another program`);
    }
  }
  if (p === 'xargs') {
    const replace = xargsReplaceString(args);
    for (const child of children) {
      const cp = child.program ?? '';
      if (SHELL_PROGRAMS.has(cp) || INTERPRETER_PROGRAMS.test(cp) || cp === 'eval' || cp === 'env' || cp === 'xargs' || cp === 'sudo' || child.dynamicProgram || (replace !== null && (child.programPath ?? '').includes(replace))) {
        add('interpreters', 'xargs feeds its input to a shell or interpreter (or uses it as the program)');
      }
    }
  }
  // hook scripts run as root on Proxmox events: a way to run any code through qm/pct/vzdump/pvesh
  // (option prefixes as the tools accept them: --hoo is --hookscript, --scr is --script)
  if ((/^(qm|pct|pvesh)$/.test(p) && args.some((w) => /^--?hoo/i.test(w.text))) || (/^(vzdump|pvesh)$/.test(p) && args.some((w) => /^--?scr/i.test(w.text)))) {
    add('interpreters', `${p} sets a hook script, which Proxmox runs as root`);
  }
  // raw QEMU arguments (root-only in the API; the CLI runs as root through sudo)
  if (/^(qm|pvesh)$/.test(p) && args.some((w) => /^--?args?(=|$)/i.test(w.text))) add('interpreters', `${p} passes raw arguments to QEMU, which runs as root`);
  // a container bind mount of /, /etc, /etc/pve or a home: the container's root can write there
  if (/^(pct|pvesh)$/.test(p)) {
    args.forEach((w, i) => {
      const m = /^--?(mp\d*|rootfs)(=(.*))?$/i.exec(w.text);
      if (!m) return;
      const value = (m[3] ?? args[i + 1]?.text ?? '').split(',')[0]!.replace(/^volume=/, '');
      if (/^\/+(etc(\/+pve)?(\/.*)?|var\/+lib\/+pve-cluster(\/.*)?|root(\/.*)?|home(\/.*)?)?\/*$/.test(value)) add('pve-config-writes', `${p} bind-mounts the host path ${value} into a container, whose root can then write there`);
    });
  }
  const proxied = cmd.env.find((e) => API_PORT.test(e.value));
  if (proxied) add('api-from-shell', `${proxied.name} points at the Proxmox API`);
  const api = apiFromShellReason(cmd);
  if (api) add('api-from-shell', api);
  for (const r of cmd.redirections) {
    const why = devTcpReason(r.target, r.targetDynamic);
    if (why) add('api-from-shell', why);
  }
  return out;
}

function xargsReplaceString(args: ShellWord[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (t === '-I') return args[i + 1]?.text ?? '{}';
    if (t.startsWith('-I')) return t.slice(2);
    if (t === '-i' || t === '--replace') return '{}';
    if (t.startsWith('-i')) return t.slice(2);
    if (t.startsWith('--replace=')) return t.slice('--replace='.length);
  }
  return null;
}

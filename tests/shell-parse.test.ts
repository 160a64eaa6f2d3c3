import { describe, expect, it } from 'vitest';
import { ShellParseError, parseCommandLine, tryParseCommandLine } from '../lib/exec/shell-parse.ts';

const argvs = (line: string) => parseCommandLine(line).commands.map((c) => c.argv);
const top = (line: string) => parseCommandLine(line).commands.filter((c) => !c.nested);

describe('parseCommandLine: words and quotes', () => {
  it.each([
    [`echo "a b" 'c d' e\\ f`, ['echo', 'a b', 'c d', 'e f']],
    [`echo $'x\\ty\\n'`, ['echo', 'x\ty\n']],
    [`echo "say \\"hi\\" \\$HOME \\\\"`, ['echo', 'say "hi" $HOME \\']],
    [`p"v"eum user list`, ['pveum', 'user', 'list']],
    [`echo 'it'"'"'s'`, ['echo', "it's"]],
    [`ls \\\n -la`, ['ls', '-la']],
    [`echo a#b # comment`, ['echo', 'a#b']],
    [`echo {a,b}c`, ['echo', 'ac', 'bc']],
    [`echo '{a,b}'`, ['echo', '{a,b}']],
  ])('%s', (line, expected) => {
    expect(argvs(line)[0]).toEqual(expected);
  });

  it('normalises the program path but keeps the original', () => {
    const [abs] = parseCommandLine('/usr/sbin/qm list').commands;
    expect(abs!.program).toBe('qm');
    expect(abs!.programPath).toBe('/usr/sbin/qm');
    expect(parseCommandLine('./qm list').commands[0]!.program).toBe('qm');
    expect(parseCommandLine('\\qm list').commands[0]!.program).toBe('qm');
  });

  it('flags variables and substitutions in words, and in the program position', () => {
    const [c] = parseCommandLine('qm config $VMID').commands;
    expect(c!.dynamic).toBe(true);
    expect(c!.dynamicProgram).toBe(false);
    const cmds = parseCommandLine('$(echo pveum) user delete root@pam').commands;
    expect(cmds.find((x) => !x.nested)!.dynamicProgram).toBe(true);
    expect(parseCommandLine('${CMD} list').commands[0]!.dynamicProgram).toBe(true);
    expect(parseCommandLine('/usr/sbin/q? list').commands[0]!.dynamicProgram).toBe(true);
  });
});

describe('parseCommandLine: connectors, env and redirections', () => {
  it('splits on pipes and list operators', () => {
    const cmds = top('cat /etc/hosts | grep pve && echo ok || echo no; date & uptime\nhostname');
    expect(cmds.map((c) => c.program)).toEqual(['cat', 'grep', 'echo', 'echo', 'date', 'uptime', 'hostname']);
    expect(cmds.map((c) => c.connector)).toEqual(['|', '&&', '||', ';', '&', 'newline', null]);
  });

  it('records env prefixes apart from argv', () => {
    const [c] = parseCommandLine('LANG=C FOO="a b" qm list').commands;
    expect(c!.argv).toEqual(['qm', 'list']);
    expect(c!.env).toEqual([
      { name: 'LANG', value: 'C', dynamic: false },
      { name: 'FOO', value: 'a b', dynamic: false },
    ]);
  });

  it('records redirections with their targets', () => {
    const [c] = parseCommandLine('qm list > /tmp/out 2>&1 >> log < in &> all').commands;
    expect(c!.argv).toEqual(['qm', 'list']);
    expect(c!.redirections.map((r) => [r.fd, r.op, r.target])).toEqual([
      [null, '>', '/tmp/out'],
      [2, '>&', '1'],
      [null, '>>', 'log'],
      [null, '<', 'in'],
      [null, '&>', 'all'],
    ]);
  });

  it('reads heredoc bodies and parses a heredoc fed to a shell', () => {
    const p = parseCommandLine("cat <<EOF > /tmp/f\nhello $(whoami)\nEOF\necho done");
    expect(p.commands.map((c) => c.program)).toEqual(['cat', 'whoami', 'echo']);
    expect(p.commands[0]!.redirections[0]!.heredoc!.body).toBe('hello $(whoami)\n');
    const sh = parseCommandLine("bash <<'EOF'\npveum user delete root@pam\nEOF");
    expect(sh.commands.map((c) => c.argv)).toContainEqual(['pveum', 'user', 'delete', 'root@pam']);
    const tabs = parseCommandLine('cat <<-END\n\tx\n\tEND');
    expect(tabs.commands[0]!.redirections[0]!.heredoc!.body).toBe('x\n');
  });
});

describe('parseCommandLine: nesting', () => {
  it('includes command substitutions (nested) and backticks', () => {
    const p = parseCommandLine('echo $(qm list | awk \'{print $1}\') `hostname` "$(date +%s)"');
    const nested = p.commands.filter((c) => c.nested).map((c) => c.program);
    expect(nested).toEqual(['qm', 'awk', 'hostname', 'date']);
    expect(p.commands.find((c) => c.program === 'qm')!.nesting).toEqual(['command-substitution']);
  });

  it('parses nested substitutions', () => {
    const p = parseCommandLine('echo $(echo $(pveum user list))');
    expect(p.commands.map((c) => c.program)).toEqual(['pveum', 'echo', 'echo']);
    expect(p.commands[0]!.nesting).toEqual(['command-substitution', 'command-substitution']);
  });

  it('includes subshells, groups and process substitutions', () => {
    expect(parseCommandLine('(cd /tmp && ls) ; { df -h; free; }').commands.map((c) => [c.program, c.nesting[0]])).toEqual([
      ['cd', 'subshell'],
      ['ls', 'subshell'],
      ['df', 'group'],
      ['free', 'group'],
    ]);
    expect(parseCommandLine('diff <(ls a) <(ls b)').commands.filter((c) => c.nested).length).toBe(2);
  });

  it('applies redirections after a group to its commands', () => {
    const p = parseCommandLine('{ echo a; echo b; } > /dev/sda');
    expect(p.commands.every((c) => c.redirections.some((r) => r.target === '/dev/sda'))).toBe(true);
  });

  it('recognises function definitions (fork bomb)', () => {
    const p = parseCommandLine(':(){ :|:& };:');
    expect(p.functions).toEqual([':']);
    expect(p.commands[0]!.functionName).toBe(':');
    expect(p.commands.filter((c) => c.program === ':').length).toBe(3);
  });
});

describe('parseCommandLine: wrappers', () => {
  it('unwraps sudo -> bash -c -> script', () => {
    const p = parseCommandLine('sudo -u root bash -c "rm -rf / && echo hi"');
    expect(p.commands.map((c) => c.program)).toEqual(['sudo', 'bash', 'rm', 'echo']);
    const rm = p.commands[2]!;
    expect(rm.argv).toEqual(['rm', '-rf', '/']);
    expect(rm.nested).toBe(true);
    expect(rm.wrappers).toEqual(['sudo', 'bash']);
    expect(p.commands[0]!.flags).toContain('wrapper');
  });

  it.each([
    ['env A=1 qm list', ['qm', 'list']],
    ['nohup qm start 100', ['qm', 'start', '100']],
    ['timeout -s KILL 10 qm stop 100', ['qm', 'stop', '100']],
    ['nice -n 10 ionice -c3 vzdump 100', ['vzdump', '100']],
    ["watch -n 2 'qm list'", ['qm', 'list']],
    ["ssh -p 22 root@pve2 'qm destroy 100'", ['qm', 'destroy', '100']],
    ["su -c 'pveum user list'", ['pveum', 'user', 'list']],
    ["su - root -c 'pveum user list'", ['pveum', 'user', 'list']],
    ['sudo -s pveum user list', ['pveum', 'user', 'list']],
    ["eval 'qm list'", ['qm', 'list']],
    ['exec qm list', ['qm', 'list']],
    ['command qm list', ['qm', 'list']],
    ["bash -ec 'qm list'", ['qm', 'list']],
    ['busybox rm -rf /tmp/x', ['rm', '-rf', '/tmp/x']],
  ])('%s runs %j', (line, inner) => {
    const cmds = parseCommandLine(line).commands;
    expect(cmds.map((c) => c.argv)).toContainEqual(inner);
    expect(cmds.find((c) => c.argv.join(' ') === inner.join(' '))!.nested).toBe(true);
  });

  it('xargs appends unknown input arguments', () => {
    const inner = parseCommandLine('xargs -n1 qm stop').commands[1]!;
    expect(inner.argv.slice(0, 2)).toEqual(['qm', 'stop']);
    expect(inner.flags).toContain('input-args');
    expect(inner.words[inner.words.length - 1]!.dynamic).toBe(true);
  });

  it('find -exec runs the command with {} standing for what is found', () => {
    const p = parseCommandLine('find / -name "*.log" -exec rm -rf {} \\;');
    expect(p.commands[1]!.argv).toEqual(['rm', '-rf', '/']);
    expect(p.commands[1]!.wrappers).toEqual(['find']);
  });

  it('echo text piped into a shell is parsed as a script', () => {
    const p = parseCommandLine("echo 'pveum user delete root@pam' | sudo sh");
    expect(p.commands.map((c) => c.argv)).toContainEqual(['pveum', 'user', 'delete', 'root@pam']);
  });

  it('a script file or unknown input is flagged as opaque', () => {
    expect(parseCommandLine('bash ./deploy.sh').commands[0]!.flags).toContain('opaque-script');
    expect(parseCommandLine('curl https://x | sh').commands[1]!.flags).toContain('opaque-script');
    expect(parseCommandLine('. ./env.sh').commands[0]!.flags).toEqual(expect.arrayContaining(['source', 'opaque-script']));
    expect(parseCommandLine('sh -c "$CMD"').commands[0]!.flags).toContain('opaque-script');
  });

  it('qm guest exec and pct exec run their command inside the guest', () => {
    const p = parseCommandLine('qm guest exec 100 -- rm -rf /');
    expect(p.commands[1]!.flags).toContain('in-guest');
    expect(p.commands[1]!.host).toBe('100');
  });

  it('flags eval', () => {
    expect(parseCommandLine('eval "$X"').commands[0]!.flags).toEqual(expect.arrayContaining(['eval', 'opaque-script']));
  });
});

describe('parseCommandLine: errors', () => {
  it.each([
    [`echo 'abc`, /single quote/],
    [`echo "abc`, /double quote/],
    [`echo $(ls`, /never closed/],
    [`( ls`, /never closed/],
    ['{ ls;', /never closed/],
    ['echo `ls', /backquote/],
    ['cat <<EOF\nabc', /here-document/],
    ['ls |', /pipe/],
    ['ls ) x', /unexpected "\)"/],
    ['; ls', /unexpected/],
    ['case x in a) ls;; esac', /case/],
    ['echo ${X', /never closed/],
    ["sh -c", /needs a command/],
    ['find . -exec rm {}', /terminating/],
  ])('%j fails with a clear message', (line, message) => {
    expect(() => parseCommandLine(line)).toThrow(ShellParseError);
    expect(() => parseCommandLine(line)).toThrow(message);
  });

  it('tryParseCommandLine returns the error instead of throwing', () => {
    const r = tryParseCommandLine("echo 'x");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.position).toBe(5);
  });
});

describe('only space, tab and newline separate words, as in bash', () => {
  it.each(['echo a\r#; touch /tmp/x', 'cat /etc/hostname |\r#; touch /tmp/x', 'echo a\v#; touch /tmp/x'])('%j still shows the command after the fake comment', (line) => {
    const parsed = parseCommandLine(line);
    expect(parsed.commands.map((c) => c.program)).toContain('touch');
  });
});

describe('xargs options as GNU xargs reads them', () => {
  it('-i, -e and -l take no separate value, so the command after them is seen', () => {
    for (const line of ['xargs -i rm -rf /', 'xargs -e rm -rf /', 'xargs -l rm -rf /', 'xargs --replace rm -rf /', 'xargs --eof rm -rf /', 'xargs --max-lines rm -rf /']) {
      expect(parseCommandLine(line).commands.map((c) => c.program), line).toContain('rm');
    }
  });
});

describe('wrapper options that take no separate value', () => {
  it('watch -d does not swallow the command', () => {
    expect(parseCommandLine('watch -d rm -rf /tmp/x').commands.map((c) => c.program)).toContain('rm');
  });
  it('ssh -P takes a tag, then the host and the remote command', () => {
    const parsed = parseCommandLine('ssh -P tag pve2 pveum user delete root@pam');
    expect(parsed.commands.find((c) => c.program === 'pveum')?.host).toBe('pve2');
  });
});

describe('exec -a', () => {
  it('takes a name, then the program', () => {
    expect(parseCommandLine("exec -a foo python3 -c 'print(1)'").commands.map((c) => c.program)).toContain('python3');
    expect(parseCommandLine('exec -la foo rm -rf /tmp/x').commands.map((c) => c.program)).toContain('rm');
  });
});

describe('env -S with the string attached', () => {
  it.each(["env -S'python3 -c 1'", "env --split-string='python3 -c 1'", "env -iS'python3 -c 1'"])('%s runs python3', (line) => {
    expect(parseCommandLine(line).commands.map((c) => c.program)).toContain('python3');
  });
});

describe('su -c with the command attached', () => {
  it.each(["su -c'pveum user delete root@pam'", "su -lc'pveum user delete root@pam' root"])('%s runs the command', (line) => {
    expect(parseCommandLine(line).commands.map((c) => c.program)).toContain('pveum');
  });
});

/**
 * The QEMU guest agent (qemu-server Agent.pm): answers only when `agent` is enabled in the config and the VM
 * runs. exec starts a "process" whose output is ready a moment later; a few everyday commands (echo,
 * hostname, uname, cat /etc/os-release, whoami, uptime, true/false, sh -c) give real-looking output.
 */
import { die } from '../errors.ts';
import type { Handler, HandlerContext } from '../core.ts';
import type { SimGuest } from '../state.ts';

function agentGuest(ctx: HandlerContext): SimGuest {
  const g = ctx.core.guest(String(ctx.params.node), Number(ctx.params.vmid), 'qemu');
  const enabled = String(g.config.agent ?? '0').split(',')[0].replace('enabled=', '');
  if (enabled !== '1') die('No QEMU guest agent configured');
  if (g.status !== 'running') die(`VM ${g.vmid} is not running`);
  if (g.qmpstatus === 'paused') die('QEMU guest agent is not running');
  return g;
}

const isWindows = (g: SimGuest) => String(g.config.ostype ?? '').startsWith('win');

function osRelease(g: SimGuest): string {
  return isWindows(g)
    ? ''
    : 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';
}

function runCommand(g: SimGuest, argv: string[], input: string, now: number): { exitcode: number; out: string; err: string } {
  const [cmd, ...args] = argv;
  const name = String(g.config.name ?? `vm${g.vmid}`);
  const prog = cmd.split('/').pop() ?? cmd;
  switch (prog) {
    case 'echo':
      return { exitcode: 0, out: `${args.join(' ')}\n`, err: '' };
    case 'hostname':
      return { exitcode: 0, out: `${name}\n`, err: '' };
    case 'uname':
      if (args.includes('-a')) return { exitcode: 0, out: `Linux ${name} 6.1.0-25-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26) x86_64 GNU/Linux\n`, err: '' };
      if (args.includes('-r')) return { exitcode: 0, out: '6.1.0-25-amd64\n', err: '' };
      return { exitcode: 0, out: 'Linux\n', err: '' };
    case 'whoami':
      return { exitcode: 0, out: 'root\n', err: '' };
    case 'true':
      return { exitcode: 0, out: '', err: '' };
    case 'false':
      return { exitcode: 1, out: '', err: '' };
    case 'uptime': {
      const up = Math.floor((now - (g.startedAt ?? now)) / 60000);
      return { exitcode: 0, out: ` ${new Date(now).toISOString().slice(11, 19)} up ${Math.floor(up / 60)}:${String(up % 60).padStart(2, '0')},  0 users,  load average: 0.08, 0.03, 0.01\n`, err: '' };
    }
    case 'cat':
      if (!args.length) return { exitcode: 0, out: input, err: '' };
      if (args[0] === '/etc/os-release') return { exitcode: 0, out: osRelease(g), err: '' };
      if (args[0] === '/etc/hostname') return { exitcode: 0, out: `${name}\n`, err: '' };
      return { exitcode: 1, out: '', err: `cat: ${args[0]}: No such file or directory\n` };
    case 'sh':
    case 'bash':
      if (args[0] === '-c' && args[1]) return runCommand(g, args[1].trim().split(/\s+/), input, now);
      return { exitcode: 0, out: '', err: '' };
    default:
      return { exitcode: 127, out: '', err: `${cmd}: command not found\n` };
  }
}

const KNOWN = new Set(['echo', 'hostname', 'uname', 'whoami', 'true', 'false', 'uptime', 'cat', 'sh', 'bash', 'ls', 'df', 'systemctl', 'ip']);

export const agentHandlers: Record<string, Handler> = {
  'POST /nodes/{node}/qemu/{vmid}/agent/ping': (ctx) => {
    agentGuest(ctx);
    return { result: {} };
  },

  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo': (ctx) => {
    const g = agentGuest(ctx);
    return {
      result: isWindows(g)
        ? { id: 'mswindows', name: 'Microsoft Windows', 'pretty-name': 'Windows 11 Pro', 'version-id': '11', version: 'Microsoft Windows 11', 'kernel-release': '22631', 'kernel-version': '10.0', machine: 'x86_64', 'variant-id': 'client', variant: 'client' }
        : { id: 'debian', name: 'Debian GNU/Linux', 'pretty-name': 'Debian GNU/Linux 12 (bookworm)', 'version-id': '12', version: '12 (bookworm)', 'kernel-release': '6.1.0-25-amd64', 'kernel-version': '#1 SMP PREEMPT_DYNAMIC Debian 6.1.106-3 (2024-08-26)', machine: 'x86_64' },
    };
  },

  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': (ctx) => {
    const g = agentGuest(ctx);
    const result: Record<string, unknown>[] = [
      { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }, { 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 }], statistics: { 'rx-bytes': 1024, 'rx-packets': 12, 'rx-errs': 0, 'rx-dropped': 0, 'tx-bytes': 1024, 'tx-packets': 12, 'tx-errs': 0, 'tx-dropped': 0 } },
    ];
    let i = 0;
    for (const [k, v] of Object.entries(g.config)) {
      if (!/^net\d+$/.test(k)) continue;
      const mac = (/([0-9A-F]{2}:){5}[0-9A-F]{2}/i.exec(String(v))?.[0] ?? '').toLowerCase();
      result.push({
        name: isWindows(g) ? `Ethernet ${i || ''}`.trim() : `ens${18 + i}`,
        'hardware-address': mac,
        'ip-addresses': [
          { 'ip-address-type': 'ipv4', 'ip-address': `192.168.100.${(g.vmid % 200) + 50 + i}`, prefix: 24 },
          { 'ip-address-type': 'ipv6', 'ip-address': `fe80::be24:11ff:fe${mac.slice(9, 11)}:${mac.slice(12, 14)}${mac.slice(15, 17)}`, prefix: 64 },
        ],
        statistics: { 'rx-bytes': 123456789, 'rx-packets': 234567, 'rx-errs': 0, 'rx-dropped': 12, 'tx-bytes': 98765432, 'tx-packets': 123456, 'tx-errs': 0, 'tx-dropped': 0 },
      });
      i++;
    }
    return { result };
  },

  'POST /nodes/{node}/qemu/{vmid}/agent/exec': (ctx) => {
    const g = agentGuest(ctx);
    const argv = (ctx.params.command as string[]).filter((a) => a !== '');
    if (!argv.length) die("Agent error: Guest agent command failed, error was 'Invalid parameter 'path''");
    const prog = argv[0].split('/').pop() ?? '';
    if (!KNOWN.has(prog)) die(`Agent error: Failed to execute child process \u201c${argv[0]}\u201d (No such file or directory)`);
    const pid = g.nextExecPid++;
    const input = ctx.params['input-data'] !== undefined ? String(ctx.params['input-data']) : '';
    const r = runCommand(g, argv, input, ctx.now);
    g.execs.set(pid, { finishAt: ctx.now + ctx.core.taskDurationMs, exitcode: r.exitcode, out: r.out, err: r.err });
    return { pid };
  },

  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status': (ctx) => {
    const g = agentGuest(ctx);
    const run = g.execs.get(Number(ctx.params.pid));
    if (!run) die(`Agent error: Guest agent command failed, error was 'Invalid parameter 'pid''`);
    if (run.finishAt > ctx.now) return { exited: false };
    g.execs.delete(Number(ctx.params.pid));
    return {
      exited: true,
      exitcode: run.exitcode,
      ...(run.out ? { 'out-data': run.out } : {}),
      ...(run.err ? { 'err-data': run.err } : {}),
    };
  },
};

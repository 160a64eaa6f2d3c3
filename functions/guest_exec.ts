import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { nodeName, vmid } from '../lib/schemas.ts';
import { bool, num } from '../lib/pve/parse.ts';
import { guestPath, isMissingConfig, locate, QEMU, wrongNodeError } from '../lib/guests/kinds.ts';
import { AGENT_EXEC_PRIVILEGES, agentFix, agentProblem } from '../lib/guests/agent.ts';

const input = z.object({
  vmid,
  command: z
    .array(z.string().max(4096))
    .min(1, 'command needs at least the program, e.g. ["uname","-a"]')
    .max(256)
    .refine((argv) => argv.length === 0 || argv[0].trim() !== '', 'the first element is the program to run and cannot be empty')
    .describe('argv, e.g. ["systemctl","status","nginx"]'),
  input: z
    .string()
    .refine((text) => new TextEncoder().encode(text).length <= 65536, 'input may be at most 64 KiB')
    .optional()
    .describe('stdin'),
  timeout: z.coerce.number().int().min(1).max(3600).default(60).describe('Seconds to wait (not killed after)'),
  node: nodeName.optional(),
});

const output = z.object({
  vmid: z.number(),
  node: z.string(),
  command: z.array(z.string()),
  pid: z.number().describe('Process id inside the guest'),
  exitcode: z.number().optional(),
  signal: z.number().optional().describe('Set when the process was killed by a signal'),
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  duration_ms: z.number(),
});

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new ToolError('timeout', 'The call was cancelled while waiting for the command.'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ToolError('timeout', 'The call was cancelled while waiting for the command.'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** A command line for people (plans, history): arguments with spaces quoted. */
function shown(argv: string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function agentError(error: unknown, id: number): never {
  const problem = agentProblem(error);
  if (problem === 'forbidden') throw error;
  if (problem) {
    throw new ToolError('conflict', agentFix(problem, id), { details: { vmid: id, problem }, suggestions: problem === 'vm_not_running' ? [`vm_action vmid=${id} action=start`] : problem === 'not_configured' ? [`guest_config vmid=${id} agent=true`] : [] });
  }
  if (error instanceof ToolError && /Agent error/i.test(error.message)) {
    const why = /Agent error: (.*?)(?: \(POST| \(GET|$)/.exec(error.message)?.[1] ?? error.message;
    throw new ToolError('invalid_input', `The guest agent of VM ${id} could not run the command: ${why}. Check the program exists in the guest (give its full path, e.g. /usr/bin/systemctl).`, { details: { vmid: id } });
  }
  throw error;
}

// Effect 'write', not 'destructive': the command can change anything inside the guest (it runs as root
// through the agent), so it is never a read and safe mode always asks. It cannot remove the guest or
// its Proxmox resources, and a diagnostic such as ["cat","/etc/os-release"] should not carry the
// "cannot be undone" weight of a delete. The plan warns about what it can do.
export default defineTool({
  name: 'guest_exec',
  title: 'Run a command in a VM',
  description: 'Run one program (an argv array; a shell: ["sh","-c","..."]) inside a running QEMU VM through the guest agent.',
  input,
  output,
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (value) => [{ path: `/vms/${value.vmid}`, privileges: AGENT_EXEC_PRIVILEGES, any: true }],
  explain: async (value, ctx) => {
    const where = await locate(ctx.pve, value.vmid, QEMU, { node: value.node, signal: ctx.signal });
    const base = guestPath(where.node, 'qemu', value.vmid, '/agent');
    return {
      summary: `Run \`${shown(value.command)}\` inside VM ${value.vmid}${where.name ? ` (${where.name})` : ''} through the guest agent`,
      apiCalls: [`POST ${base}/exec`, `GET ${base}/exec-status?pid=<pid> (until it exits, at most ${value.timeout} s)`],
      cliEquivalent: `qm guest exec ${value.vmid} --timeout ${value.timeout} -- ${shown(value.command)}`,
      privileges: [{ path: `/vms/${value.vmid}`, privileges: AGENT_EXEC_PRIVILEGES, any: true }],
      risk: 'medium',
      reversible: false,
      warnings: [`The command runs with the guest agent's rights (usually root / SYSTEM) inside VM ${value.vmid}: it can change or delete anything in that guest.`],
    };
  },
  async run(value, ctx) {
    const id = value.vmid;
    let where;
    try {
      where = await locate(ctx.pve, id, QEMU, { node: value.node, signal: ctx.signal });
    } catch (error) {
      if (error instanceof ToolError && error.details?.actualType === 'lxc') {
        throw new ToolError('invalid_input', `${id} is a container, and the QEMU guest agent exists only for VMs. Run the command on its host instead: \`pct exec ${id} -- ${shown(value.command)}\` (execute_command).`, {
          details: { vmid: id, node: error.details.node },
        });
      }
      throw error;
    }
    const base = guestPath(where.node, 'qemu', id, '/agent');
    const started = Date.now();
    let pid: number | undefined;
    try {
      const answer = await ctx.pve.post<{ pid?: unknown }>(`${base}/exec`, { command: value.command, ...(value.input !== undefined ? { 'input-data': value.input } : {}) }, { signal: ctx.signal });
      pid = num(answer?.pid);
    } catch (error) {
      if (value.node && isMissingConfig(error)) throw wrongNodeError(QEMU, id, value.node);
      agentError(error, id);
    }
    if (pid === undefined) throw new ToolError('upstream', `The guest agent of VM ${id} did not return a process id for the command.`);

    const deadline = started + value.timeout * 1000;
    let delay = 100;
    for (;;) {
      let status: Record<string, unknown>;
      try {
        status = await ctx.pve.get<Record<string, unknown>>(`${base}/exec-status`, { pid }, { signal: ctx.signal });
      } catch (error) {
        agentError(error, id);
      }
      if (bool(status.exited, false)) {
        const exitcode = num(status.exitcode);
        const signal = num(status.signal);
        const data = {
          vmid: id,
          node: where.node,
          command: value.command,
          pid,
          ...(exitcode !== undefined ? { exitcode } : {}),
          ...(signal !== undefined ? { signal } : {}),
          stdout: typeof status['out-data'] === 'string' ? status['out-data'] : '',
          stderr: typeof status['err-data'] === 'string' ? status['err-data'] : '',
          stdout_truncated: bool(status['out-truncated'], false),
          stderr_truncated: bool(status['err-truncated'], false),
          duration_ms: Date.now() - started,
        };
        const warnings: string[] = [];
        if (exitcode !== undefined && exitcode !== 0) warnings.push(`The command exited with code ${exitcode}${data.stderr ? `: ${data.stderr.trim().split('\n').slice(-1)[0]}` : ''}.`);
        if (signal !== undefined) warnings.push(`The command was killed by signal ${signal}.`);
        if (data.stdout_truncated || data.stderr_truncated) warnings.push('The output was cut off by the guest agent; write it to a file in the guest and read it in parts.');
        return {
          data,
          stdout: data.stdout,
          stderr: data.stderr,
          summary: `VM ${id}: \`${shown(value.command)}\` exited ${exitcode ?? (signal !== undefined ? `by signal ${signal}` : '?')}`,
          warnings,
          node: where.node,
          vmid: id,
          cliEquivalent: `qm guest exec ${id} -- ${shown(value.command)}`,
        };
      }
      if (Date.now() >= deadline) {
        throw new ToolError(
          'timeout',
          `\`${shown(value.command)}\` is still running inside VM ${id} after ${value.timeout} s (pid ${pid}); it was not stopped. Raise timeout, or run it in the background in the guest and check on it later.`,
          { details: { vmid: id, pid } },
        );
      }
      ctx.progress({ progress: Date.now() - started, total: value.timeout * 1000, message: `waiting for pid ${pid} in VM ${id}` });
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), ctx.signal);
      delay = Math.min(delay * 2, 1000);
    }
  },
});

import { z } from 'zod';
import { defineTool, type Plan, type ToolContext } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { nodeName, vmid as vmidSchema } from '../lib/schemas.ts';
import { parseUpid, type Upid } from '../lib/pve/upid.ts';
import { isTaskSuccess } from '../lib/pve/tasks.ts';
import { num } from '../lib/pve/parse.ts';
import { durationText, isoFromEpoch, nowEpoch, text } from '../lib/cluster/format.ts';
import { requireNode } from '../lib/cluster/nodes.ts';

const actions = ['status', 'log', 'wait', 'list', 'stop'] as const;

const taskInfo = z.object({
  upid: z.string(),
  node: z.string(),
  type: z.string(),
  id: z.string().optional().describe('usually the vmid'),
  user: z.string(),
  status: z.enum(['running', 'stopped']),
  exitstatus: z.string().optional().describe('OK, WARNINGS: n, or the error text'),
  ok: z.boolean().optional(),
  started: z.string().optional(),
  ended: z.string().optional(),
  duration_seconds: z.number().optional(),
  duration: z.string().optional(),
});

type TaskInfo = z.infer<typeof taskInfo>;

const upidText = z
  .string()
  .trim()
  .refine((value) => parseUpid(value) !== undefined, 'upid must be a Proxmox task id like UPID:pve1:0002A3F1:01B2C3D4:6650A1B2:qmstart:100:root@pam: (as returned by a tool that started a task)');

function requireUpidArg(upid: string | undefined, action: string): Upid {
  if (!upid) throw new ToolError('invalid_input', `Action ${action} needs upid (the task id a tool returned, or one from action list).`);
  return parseUpid(upid)!;
}

function taskPath(task: Upid, suffix = ''): string {
  return `/nodes/${encodeURIComponent(task.node)}/tasks/${encodeURIComponent(task.upid)}${suffix}`;
}

/** One row of a task list or a task status, in one shape. */
function toInfo(row: Record<string, unknown>, fallback?: Upid): TaskInfo {
  const upid = String(row.upid ?? fallback?.upid ?? '');
  const parsed = parseUpid(upid) ?? fallback;
  const started = num(row.starttime) ?? parsed?.starttime;
  const ended = num(row.endtime);
  // Lists give the exit status as `status` once stopped; the status call has status + exitstatus.
  const rawStatus = text(row.status);
  const running = rawStatus === 'running' || (rawStatus === undefined && ended === undefined && row.exitstatus === undefined);
  const exitstatus = running ? undefined : (text(row.exitstatus) ?? (rawStatus !== 'stopped' ? rawStatus : undefined));
  const tokenid = text(row.tokenid);
  const user = text(row.user) ?? parsed?.user ?? '';
  const duration = ended !== undefined && started !== undefined ? Math.max(0, ended - started) : running && started !== undefined ? Math.max(0, nowEpoch() - started) : undefined;
  return {
    upid,
    node: text(row.node) ?? parsed?.node ?? '',
    type: text(row.type) ?? parsed?.type ?? '',
    id: (text(row.id) ?? parsed?.id) || undefined,
    user: tokenid && !user.includes('!') ? `${user}!${tokenid}` : user,
    status: running ? 'running' : 'stopped',
    exitstatus,
    ok: exitstatus === undefined ? undefined : isTaskSuccess(exitstatus),
    started: isoFromEpoch(started),
    ended: isoFromEpoch(ended),
    duration_seconds: duration,
    duration: durationText(duration),
  };
}

async function readStatus(ctx: ToolContext, task: Upid): Promise<TaskInfo> {
  try {
    const row = await ctx.pve.get<Record<string, unknown>>(taskPath(task, '/status'), undefined, { signal: ctx.signal });
    return toInfo({ ...row, upid: task.upid }, task);
  } catch (error) {
    if (error instanceof ToolError && /no such task/i.test(error.message)) {
      throw new ToolError('not_found', `Node ${task.node} has no task ${task.upid}; it may have been rotated out of the task list, or the id was mistyped.`, {
        details: { upid: task.upid, node: task.node },
        suggestions: ['task_status action list shows the recent tasks.'],
      });
    }
    throw error;
  }
}

export default defineTool({
  name: 'task_status',
  title: 'Proxmox tasks: status, log, wait, list, stop',
  description: 'Proxmox background tasks (UPIDs): status, log, wait until done, list recent tasks (filters; sort and page), stop a running one.',
  input: z.object({
    action: z.enum(actions).describe('status | log | wait | list | stop'),
    upid: upidText.optional().describe('Task id (UPID) for status, log, wait and stop'),
    lines: z.coerce.number().int().min(1).max(5000).default(50).describe('log: how many of the last lines'),
    timeout: z.coerce.number().int().min(1).max(3600).default(300).describe('wait: seconds to wait (the task keeps running after that)'),
    node: nodeName.optional().describe('list: only this node (default: cluster-wide)'),
    vmid: vmidSchema.optional().describe('list: only tasks of this guest'),
    type: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'type is a task type such as vzdump, qmstart, qmigrate').optional().describe('list: task type, e.g. vzdump, qmstart, qmigrate'),
    errors_only: z.boolean().default(false).describe('list: only failed tasks'),
    running_only: z.boolean().default(false).describe('list: only running tasks'),
    limit: z.coerce.number().int().min(1).max(500).default(25).describe('list: at most this many (newest first)'),
  }),
  output: z.object({
    action: z.enum(actions),
    task: taskInfo.optional(),
    log: z.array(z.string()).optional(),
    tasks: z.array(taskInfo).optional(),
  }),
  effect: 'write',
  effectOf: (input) => (input.action === 'stop' ? 'write' : 'read'),
  idempotent: false,
  changeRoles: ['admin', 'operator'],
  // Everyone may read and stop their own tasks; other users' tasks need Sys.Audit / Sys.Modify on the node, which Proxmox checks.
  privileges: (input, ctx) => {
    return [];
  },
  explain(input): Plan {
    const task = input.upid ? parseUpid(input.upid) : undefined;
    const where = task ? `/nodes/${task.node}/tasks/${task.upid}` : '/nodes/{node}/tasks/{upid}';
    switch (input.action) {
      case 'stop':
        return {
          summary: `Stop the running task ${task ? `${task.type}${task.id ? ` ${task.id}` : ''} on ${task.node}` : input.upid}`,
          apiCalls: [`GET ${where}/status`, `DELETE ${where}`],
          cliEquivalent: task ? `pvenode task stop ${task.upid} --node ${task.node}` : undefined,
          risk: 'medium',
          reversible: false,
          warnings: ['A stopped task ends with an error; what it did so far stays done (e.g. a half-written backup is removed, a migration is rolled back by Proxmox).'],
        };
      case 'list':
        return {
          summary: `List recent tasks ${input.node ? `on ${input.node}` : 'cluster-wide'}`,
          apiCalls: [input.node ? `GET /nodes/${input.node}/tasks` : 'GET /cluster/tasks'],
          cliEquivalent: input.node ? `pvenode task list --node ${input.node}` : 'pvesh get /cluster/tasks',
          risk: 'none',
          reversible: true,
        };
      default:
        return {
          summary: `${input.action} task ${input.upid ?? ''}`.trim(),
          apiCalls: [input.action === 'log' ? `GET ${where}/log` : `GET ${where}/status`],
          cliEquivalent: task ? `pvenode task ${input.action === 'log' ? 'log' : 'status'} ${task.upid} --node ${task.node}` : undefined,
          risk: 'none',
          reversible: true,
        };
    }
  },
  async run(input, ctx) {
    switch (input.action) {
      case 'status': {
        const task = requireUpidArg(input.upid, 'status');
        const info = await readStatus(ctx, task);
        let log: string[] | undefined;
        if (info.ok === false) log = await ctx.pve.taskLogTail(task.upid, 20, { signal: ctx.signal }).catch(() => undefined);
        return {
          data: { action: input.action, task: info, ...(log ? { log } : {}) },
          summary: `${info.type}${info.id ? ` ${info.id}` : ''} on ${info.node}: ${info.status}${info.exitstatus ? ` (${info.exitstatus})` : ''}`,
          warnings: info.ok === false ? [`The task failed: ${info.exitstatus}`] : [],
          suggestions: info.status === 'running' ? ['task_status action wait follows it to the end.'] : [],
          node: info.node,
        };
      }
      case 'log': {
        const task = requireUpidArg(input.upid, 'log');
        const [info, log] = await Promise.all([readStatus(ctx, task), ctx.pve.taskLogTail(task.upid, input.lines, { signal: ctx.signal })]);
        return {
          data: { action: input.action, task: info, log },
          summary: `${log.length} log line${log.length === 1 ? '' : 's'} of ${info.type} on ${info.node} (${info.status}${info.exitstatus ? `: ${info.exitstatus}` : ''})`,
          stdout: log.join('\n'),
          node: info.node,
        };
      }
      case 'wait': {
        const task = requireUpidArg(input.upid, 'wait');
        await readStatus(ctx, task); // a friendly not_found before polling
        const budgetMs = input.timeout * 1000;
        const started = Date.now();
        const result = await ctx.pve.waitForTask(task.upid, {
          timeoutMs: budgetMs,
          signal: ctx.signal,
          onProgress: (progress) =>
            ctx.progress({ progress: Math.min(Date.now() - started, budgetMs - 1), total: budgetMs, message: `${task.type}: ${progress.status}${progress.lastLine ? ` - ${progress.lastLine}` : ''}` }),
        });
        const info = await readStatus(ctx, task).catch(() => undefined);
        const final: TaskInfo = info ?? { ...toInfo({ upid: task.upid, status: 'stopped', exitstatus: result.exitstatus }, task) };
        return {
          data: { action: input.action, task: final },
          summary: `${final.type}${final.id ? ` ${final.id}` : ''} on ${final.node} finished: ${result.exitstatus}`,
          warnings: result.exitstatus.startsWith('WARNINGS') ? [`The task finished with ${result.exitstatus}; read its log (action log).`] : [],
          node: final.node,
        };
      }
      case 'list': {
        let rows: Record<string, unknown>[];
        if (input.node) {
          await requireNode(ctx, input.node, { online: true });
          rows = await ctx.pve.get<Record<string, unknown>[]>(
            `/nodes/${encodeURIComponent(input.node)}/tasks`,
            {
              source: input.running_only ? 'active' : 'all',
              limit: input.limit,
              ...(input.vmid !== undefined ? { vmid: input.vmid } : {}),
              ...(input.type ? { typefilter: input.type } : {}),
              ...(input.errors_only ? { errors: true } : {}),
            },
            { signal: ctx.signal },
          );
        } else {
          rows = await ctx.pve.get<Record<string, unknown>[]>('/cluster/tasks', undefined, { signal: ctx.signal });
        }
        let tasks = (Array.isArray(rows) ? rows : []).map((row) => toInfo(row));
        if (input.vmid !== undefined) tasks = tasks.filter((task) => task.id === String(input.vmid));
        if (input.type) tasks = tasks.filter((task) => task.type.toLowerCase().includes(input.type!.toLowerCase()));
        if (input.errors_only) tasks = tasks.filter((task) => task.ok === false);
        if (input.running_only) tasks = tasks.filter((task) => task.status === 'running');
        tasks.sort((a, b) => (b.started ?? '').localeCompare(a.started ?? ''));
        tasks = tasks.slice(0, input.limit);
        const failed = tasks.filter((task) => task.ok === false).length;
        const running = tasks.filter((task) => task.status === 'running').length;
        return {
          data: { action: input.action, tasks },
          summary: `${tasks.length} task${tasks.length === 1 ? '' : 's'}${input.node ? ` on ${input.node}` : ''}: ${running} running, ${failed} failed`,
          suggestions: failed ? ['task_status action log with a failed task\'s upid shows why it failed.'] : [],
          ...(input.node ? { node: input.node } : {}),
        };
      }
      case 'stop': {
        const task = requireUpidArg(input.upid, 'stop');
        const info = await readStatus(ctx, task);
        if (info.status !== 'running') {
          throw new ToolError('conflict', `Task ${info.type}${info.id ? ` ${info.id}` : ''} on ${info.node} is not running any more (it ended: ${info.exitstatus ?? 'stopped'}); nothing to stop.`, {
            details: { upid: task.upid, exitstatus: info.exitstatus },
          });
        }
        await ctx.pve.delete(taskPath(task), undefined, { signal: ctx.signal });
        const after = await readStatus(ctx, task).catch(() => info);
        return {
          data: { action: input.action, task: after },
          summary: `Stopped ${info.type}${info.id ? ` ${info.id}` : ''} on ${info.node}${after.exitstatus ? ` (${after.exitstatus})` : ''}`,
          warnings: ['The task was interrupted: check what it left behind (task log, guest lock: a guest may stay locked until `qm unlock`).'],
          node: info.node,
          upids: [task.upid],
        };
      }
    }
  },
});

import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { nodeName, vmid as vmidSchema } from '../lib/schemas.ts';
import { parseUpid } from '../lib/pve/upid.ts';
import { requireNode } from '../lib/cluster/nodes.ts';
import { cursorOffset, pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';
import { actions, readActions, readStatus, requireUpidArg, taskInfo, toInfo, upidText, type TaskInfo } from '../lib/cluster/task-info.ts';

export default defineTool({
  name: 'task_status',
  title: 'Proxmox tasks: status, log, wait, list',
  description: 'Proxmox tasks (UPIDs): status, log, wait until done, or list recent ones. Stopping one: task_stop.',
  input: z.object({
    action: z.enum(readActions, { error: (issue) => (issue.input === 'stop' ? 'stop is its own tool: task_stop' : undefined) }).describe('status | log | wait | list'),
    upid: upidText.optional().describe('status, log, wait'),
    lines: z.coerce.number().int().min(1).max(5000).default(50).describe('log: last N'),
    timeout: z.coerce.number().int().min(1).max(3600).default(300).describe('wait: seconds'),
    node: nodeName.optional().describe('list'),
    vmid: vmidSchema.optional().describe('list'),
    type: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'type is a task type such as vzdump, qmstart, qmigrate').optional().describe('list: e.g. vzdump'),
    errors_only: z.boolean().default(false).describe('list'),
    running_only: z.boolean().default(false).describe('list'),
    ...pageShape({ defaultLimit: 25, maxLimit: 1000, sortable: ['started', 'duration_seconds', 'node', 'type', 'status', 'user'], defaultSort: '-started' }),
  }),
  output: z.object({
    action: z.enum(actions),
    task: taskInfo.optional(),
    log: z.array(z.string()).optional(),
    tasks: z.array(taskInfo.partial()).optional(),
    total: z.number().optional().describe('list: tasks that matched'),
    returned: z.number().optional(),
    next_cursor: z.string().nullable().optional(),
  }),
  effect: 'read',
  // Everyone may read their own tasks; other users' tasks need Sys.Audit on the node, which Proxmox checks.
  explain(input): Plan {
    const task = input.upid ? parseUpid(input.upid) : undefined;
    const where = task ? `/nodes/${task.node}/tasks/${task.upid}` : '/nodes/{node}/tasks/{upid}';
    switch (input.action) {
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
              // enough rows for the pages asked for so far (Proxmox answers newest first)
              limit: Math.min(cursorOffset(input.cursor) + input.limit, 10_000),
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
        const failed = tasks.filter((task) => task.ok === false).length;
        const running = tasks.filter((task) => task.status === 'running').length;
        const page = paginate(tasks, { ...input, sort: input.sort ?? '-started' }, {
          sortable: ['started', 'ended', 'duration_seconds', 'node', 'type', 'status', 'user', 'id'],
          tieBreak: ['upid'],
          columns: Object.keys(taskInfo.shape),
          key: ['upid'],
          aliases: { time: 'started', start: 'started', duration: 'duration_seconds', vmid: 'id' },
        });
        return {
          data: { action: input.action, tasks: page.rows, total: page.total, returned: page.returned, next_cursor: page.next_cursor },
          summary: `${tasks.length} task${tasks.length === 1 ? '' : 's'}${input.node ? ` on ${input.node}` : ''}: ${running} running, ${failed} failed; ${pageLine(page, input.cursor, input.sort ?? '-started', 'tasks')}`,
          suggestions: failed ? ['task_status action log with a failed task\'s upid shows why it failed.'] : [],
          ...(input.node ? { node: input.node } : {}),
        };
      }
    }
  },
});

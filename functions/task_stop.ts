import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { readStatus, taskInfo, taskPath, upidText, type TaskInfo } from '../lib/cluster/task-info.ts';
import { parseUpid, type Upid } from '../lib/pve/upid.ts';

/** Only a running task can be stopped: said before anyone is asked to confirm. */
async function runningTask(ctx: Parameters<typeof readStatus>[0], upid: string): Promise<{ task: Upid; info: TaskInfo }> {
  const task = parseUpid(upid)!;
  const info = await readStatus(ctx, task);
  if (info.status !== 'running') {
    throw new ToolError('conflict', `Task ${info.type}${info.id ? ` ${info.id}` : ''} on ${info.node} is not running any more (it ended: ${info.exitstatus ?? 'stopped'}); nothing to stop.`, {
      details: { upid: task.upid, exitstatus: info.exitstatus },
    });
  }
  return { task, info };
}

export default defineTool({
  name: 'task_stop',
  title: 'Stop a running Proxmox task',
  description: 'Abort one running Proxmox task by its UPID (what it did so far may stay done). Reading tasks: task_status.',
  input: z.object({ upid: upidText.describe('The running task\'s id (UPID)') }),
  output: z.object({ action: z.literal('stop'), task: taskInfo }),
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  // Everyone may stop their own tasks; other users' tasks need Sys.Modify on the node, which Proxmox checks.
  async explain(input, ctx): Promise<Plan> {
    const { task } = await runningTask(ctx, input.upid);
    const where = `/nodes/${task.node}/tasks/${task.upid}`;
    return {
      summary: `Stop the running task ${task.type}${task.id ? ` ${task.id}` : ''} on ${task.node}`,
      apiCalls: [`GET ${where}/status`, `DELETE ${where}`],
      cliEquivalent: `pvenode task stop ${task.upid} --node ${task.node}`,
      risk: 'medium',
      reversible: false,
      warnings: ['A stopped task ends with an error; what it did so far stays done (e.g. a half-written backup is removed, a migration is rolled back by Proxmox).'],
    };
  },
  async run(input, ctx) {
    const { task, info } = await runningTask(ctx, input.upid);
    await ctx.pve.delete(taskPath(task), undefined, { signal: ctx.signal });
    const after = await readStatus(ctx, task).catch(() => info);
    return {
      data: { action: 'stop' as const, task: after },
      summary: `Stopped ${info.type}${info.id ? ` ${info.id}` : ''} on ${info.node}${after.exitstatus ? ` (${after.exitstatus})` : ''}`,
      warnings: ['The task was interrupted: check what it left behind (task log, guest lock: a guest may stay locked until `qm unlock`).'],
      node: info.node,
      upids: [task.upid],
    };
  },
});

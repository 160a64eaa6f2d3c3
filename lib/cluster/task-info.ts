/** Proxmox tasks as task_status and task_stop show them: one shape for a task from a list or a status call. */
import { z } from 'zod';
import type { ToolContext } from '../tool.ts';
import { ToolError } from '../errors.ts';
import { parseUpid, type Upid } from '../pve/upid.ts';
import { isTaskSuccess } from '../pve/tasks.ts';
import { num } from '../pve/parse.ts';
import { durationText, isoFromEpoch, nowEpoch, text } from './format.ts';

export const actions = ['status', 'log', 'wait', 'list', 'stop'] as const;
export const readActions = ['status', 'log', 'wait', 'list'] as const;

export const taskInfo = z.object({
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

export type TaskInfo = z.infer<typeof taskInfo>;

export const upidText = z
  .string()
  .trim()
  .refine((value) => parseUpid(value) !== undefined, 'upid must be a Proxmox task id like UPID:pve1:0002A3F1:01B2C3D4:6650A1B2:qmstart:100:root@pam: (as returned by a tool that started a task)');

export function requireUpidArg(upid: string | undefined, action: string): Upid {
  if (!upid) throw new ToolError('invalid_input', `Action ${action} needs upid (the task id a tool returned, or one from action list).`);
  return parseUpid(upid)!;
}

export function taskPath(task: Upid, suffix = ''): string {
  return `/nodes/${encodeURIComponent(task.node)}/tasks/${encodeURIComponent(task.upid)}${suffix}`;
}

/** One row of a task list or a task status, in one shape. */
export function toInfo(row: Record<string, unknown>, fallback?: Upid): TaskInfo {
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

export async function readStatus(ctx: ToolContext, task: Upid): Promise<TaskInfo> {
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


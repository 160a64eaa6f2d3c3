/**
 * How tools finish a change that started a Proxmox task: wait for it by default (with progress
 * notifications and the caller's timeout) and report the final status, or hand back the UPID at once
 * when the caller asked for `wait: false`. A failed task throws ToolError('task_failed') with its log tail
 * (from the client); running out of time throws 'timeout' and says the task goes on.
 */
import { z } from 'zod';
import type { ToolContext } from './tool.ts';

export const taskResultSchema = z.object({
  upid: z.string(),
  node: z.string().optional(),
  status: z.enum(['running', 'stopped']),
  exitstatus: z.string().optional(),
  ok: z.boolean().optional(),
  duration_ms: z.number().optional(),
});

export type TaskOutcome = z.infer<typeof taskResultSchema>;

export async function finishTask(ctx: ToolContext, upid: string, options: { wait: boolean; timeoutSeconds: number; what: string }): Promise<TaskOutcome> {
  if (!options.wait) return { upid, status: 'running' };
  const started = Date.now();
  const budgetMs = options.timeoutSeconds * 1000;
  const result = await ctx.pve.waitForTask(upid, {
    timeoutMs: budgetMs,
    signal: ctx.signal,
    onProgress: (progress) => {
      const elapsed = Date.now() - started;
      ctx.progress({
        progress: Math.min(elapsed, budgetMs - 1),
        total: budgetMs,
        message: `${options.what}: ${progress.status}${progress.lastLine ? ` - ${progress.lastLine}` : ''}`,
      });
    },
  });
  ctx.pve.invalidate();
  return { upid, node: result.node, status: 'stopped', exitstatus: result.exitstatus, ok: result.ok, duration_ms: result.durationMs };
}

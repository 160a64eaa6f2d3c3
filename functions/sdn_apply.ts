import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { finishTask, taskResultSchema } from '../lib/task-result.ts';
import { readSdn } from '../lib/cluster-extras/read.ts';

const privileges = [{ path: '/sdn', privileges: ['SDN.Allocate'] }];

export default defineTool({
  name: 'sdn_apply',
  title: 'SDN: apply pending changes',
  description: 'Apply the pending SDN changes (zones, vnets, subnets) on every node: a network reload, as the web UI\'s Apply does. The plan lists what is pending; refused when nothing is. Reading: infra_status view sdn.',
  toolset: 'infra',
  input: z.object({ wait: z.boolean().default(true).describe('Wait for the reload task (default true)') }),
  output: z.object({ applied: z.array(z.string()), task: taskResultSchema }),
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: () => privileges,
  async explain(_input, ctx): Promise<Plan> {
    const { pending } = await readSdn(ctx.pve, ctx.signal);
    if (!pending.length) throw new ToolError('conflict', 'No SDN change is pending: nothing to apply.');
    return {
      summary: `Apply ${pending.length} pending SDN change(s) on every node: ${pending.join('; ')}`,
      requests: [{ method: 'PUT', path: '/cluster/sdn' }],
      apiCalls: ['PUT /cluster/sdn'],
      cliEquivalent: 'pvesh set /cluster/sdn',
      privileges,
      risk: 'medium',
      reversible: false,
      warnings: ['Every node reloads its network configuration; guests on changed vnets may lose connectivity briefly.'],
    };
  },
  async run(input, ctx) {
    const { pending } = await readSdn(ctx.pve, ctx.signal);
    if (!pending.length) throw new ToolError('conflict', 'No SDN change is pending: nothing to apply.');
    const upid = await ctx.pve.put<string>('/cluster/sdn', undefined, { signal: ctx.signal });
    const task = await finishTask(ctx, upid, { wait: input.wait, timeoutSeconds: 120, what: 'SDN apply' });
    return {
      data: { applied: pending, task },
      summary: `Applied ${pending.length} SDN change(s)${task.status === 'running' ? ' (task running)' : ''}`,
      upids: [upid],
    };
  },
});

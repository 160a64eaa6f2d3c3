import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { haActions, haChangeInput, planHaChange } from '../lib/ha/change.ts';

const privileges = [{ path: '/', privileges: ['Sys.Console'] }];

export default defineTool({
  name: 'ha_change',
  title: 'HA: add, change, remove, migrate, place',
  description:
    'Change high availability: add/update/remove a guest under HA (requested state started, stopped, disabled, ignored; restart and relocate limits), ' +
    'migrate (online) or relocate (stop, move, start) through HA, placement_set/placement_remove (an HA group on PVE 8, a node- or resource-affinity rule on PVE 9). Reading: ha_status.',
  toolset: 'ha',
  input: haChangeInput,
  output: z.object({
    action: z.enum(haActions),
    sent: z.array(z.string()).describe('The Proxmox requests sent, in order'),
    answers: z.array(z.unknown()).describe('What Proxmox answered to each (PVE 9 migrate/relocate names the requested node and blocking or co-migrated resources)'),
  }),
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: () => privileges,
  async explain(input, ctx): Promise<Plan> {
    const plan = await planHaChange(input, ctx);
    return {
      summary: plan.summary,
      requests: plan.requests,
      apiCalls: plan.requests.map((r) => `${r.method} ${r.path}`),
      cliEquivalent: plan.cli,
      privileges,
      risk: plan.risk,
      reversible: true,
      ...(plan.undo ? { undo: plan.undo } : {}),
      warnings: plan.warnings,
    };
  },
  async run(input, ctx) {
    const plan = await planHaChange(input, ctx);
    const answers: unknown[] = [];
    const sent: string[] = [];
    for (const request of plan.requests) {
      answers.push((await ctx.pve.request(request.method, request.path, request.params as never, { signal: ctx.signal })) ?? null);
      sent.push(`${request.method} ${request.path}`);
    }
    ctx.pve.invalidate();
    return {
      data: { action: input.action, sent, answers },
      summary: `${plan.summary}: done (the HA manager acts on it within seconds; ha_status shows the result)`,
      warnings: plan.warnings,
      cliEquivalent: plan.cli,
      ...(plan.node ? { node: plan.node } : {}),
      ...(input.vmid ? { vmid: input.vmid } : {}),
    };
  },
});

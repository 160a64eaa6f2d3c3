import { z } from 'zod';
import { defineTool, type Plan } from '../lib/tool.ts';
import { changeActions, changeInput, changeRequest, firewallPrivileges } from '../lib/firewall/tool.ts';

export default defineTool({
  name: 'firewall_change',
  title: 'Firewall: change rules, options, groups, aliases, IP sets',
  description:
    'Change the Proxmox firewall of the cluster, a node, a guest or an SDN vnet: add, update, delete or move a rule; set options (enable, policies); security groups (cluster), aliases and IP sets (cluster or guest). ' +
    'A change that would cut this server\'s access to the main node (API 8006, SSH 22) or corosync/migration between nodes is refused, naming the rule. Reading: firewall_get.',
  toolset: 'firewall',
  input: changeInput,
  output: z.object({ action: z.enum(changeActions), sent: z.string() }),
  effect: 'write',
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (input, ctx) => firewallPrivileges(input, true, ctx),
  async explain(input, ctx): Promise<Plan> {
    const { request, summary, cli } = await changeRequest(input, ctx);
    const opens = input.action === 'options_set' && input.enable === true;
    return {
      summary,
      requests: [request],
      apiCalls: [`${request.method} ${request.path}`],
      cliEquivalent: cli,
      privileges: await firewallPrivileges(input, true, ctx),
      risk: input.scope === 'guest' || input.scope === 'vnet' ? 'medium' : 'high',
      reversible: true,
      warnings: [
        ...(input.scope === 'cluster' || input.scope === 'node' ? ['Host firewall: a wrong rule can lock people (and services) out of the nodes. This server checks its own access and the cluster\'s traffic, not everyone else\'s.'] : []),
        ...(opens ? ['Enabling the firewall applies policy_in to everything no rule accepts.'] : []),
      ],
    };
  },
  async run(input, ctx) {
    const { request, summary, cli } = await changeRequest(input, ctx);
    await ctx.pve.request(request.method, request.path, request.params as never, { signal: ctx.signal });
    return {
      data: { action: input.action, sent: `${request.method} ${request.path}` },
      summary: `${summary}: done`,
      cliEquivalent: cli,
      ...(input.node ? { node: input.node } : {}),
      ...(input.vmid ? { vmid: input.vmid } : {}),
    };
  },
});

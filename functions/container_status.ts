import { defineTool } from '../lib/tool.ts';
import { LXC } from '../lib/guests/kinds.ts';
import { guestStatus, statusInput, statusOutput, statusSummary } from '../lib/guests/status.ts';

export default defineTool({
  name: 'container_status',
  title: 'One container in detail',
  description: 'One LXC container in depth: live status, config summary and digest; include ips, snapshots, backup or all for more.',
  input: statusInput,
  output: statusOutput,
  effect: 'read',
  privileges: (input) => [{ path: `/vms/${input.vmid}`, privileges: ['VM.Audit'] }],
  explain: (input) => ({
    summary: `Read the status and config of container ${input.vmid}`,
    apiCalls: [
      ...(input.node ? [] : ['GET /cluster/resources?type=vm (find the node; cached)']),
      `GET /nodes/{node}/lxc/${input.vmid}/status/current`,
      `GET /nodes/{node}/lxc/${input.vmid}/config`,
      ...(input.include.some((x) => x === 'ips' || x === 'all') ? [`GET /nodes/{node}/lxc/${input.vmid}/interfaces`] : []),
      ...(input.include.some((x) => x === 'snapshots' || x === 'all') ? [`GET /nodes/{node}/lxc/${input.vmid}/snapshot`] : []),
      ...(input.include.some((x) => x === 'backup' || x === 'all') ? [`GET /nodes/{node}/storage/{storage}/content?content=backup&vmid=${input.vmid} (each backup storage)`] : []),
    ],
    cliEquivalent: `pct status ${input.vmid} --verbose && pct config ${input.vmid}`,
    privileges: [{ path: `/vms/${input.vmid}`, privileges: ['VM.Audit'] }],
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    const { data, suggestions } = await guestStatus(ctx.pve, LXC, input, ctx.signal);
    return {
      data,
      summary: statusSummary(LXC, data),
      suggestions,
      node: data.node,
      vmid: data.vmid,
      cliEquivalent: `pct status ${input.vmid} --verbose && pct config ${input.vmid}`,
    };
  },
});

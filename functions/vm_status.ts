import { defineTool } from '../lib/tool.ts';
import { QEMU } from '../lib/guests/kinds.ts';
import { guestStatus, statusInput, statusOutput, statusSummary } from '../lib/guests/status.ts';
import { AGENT_READ_PRIVILEGES } from '../lib/guests/agent.ts';

export default defineTool({
  name: 'vm_status',
  title: 'One VM in detail',
  description: 'One QEMU VM in depth: live status, config summary and digest; include ips, snapshots, backup or all for more.',
  input: statusInput,
  output: statusOutput,
  effect: 'read',
  privileges: (input) => [{ path: `/vms/${input.vmid}`, privileges: ['VM.Audit'] }],
  explain: (input) => ({
    summary: `Read the status and config of VM ${input.vmid}`,
    apiCalls: [
      ...(input.node ? [] : ['GET /cluster/resources?type=vm (find the node; cached)']),
      `GET /nodes/{node}/qemu/${input.vmid}/status/current`,
      `GET /nodes/{node}/qemu/${input.vmid}/config`,
      ...(input.include.some((x) => x === 'ips' || x === 'all') ? [`GET /nodes/{node}/qemu/${input.vmid}/agent/network-get-interfaces`] : []),
      ...(input.include.some((x) => x === 'snapshots' || x === 'all') ? [`GET /nodes/{node}/qemu/${input.vmid}/snapshot`] : []),
      ...(input.include.some((x) => x === 'backup' || x === 'all') ? [`GET /nodes/{node}/storage/{storage}/content?content=backup&vmid=${input.vmid} (each backup storage)`] : []),
    ],
    cliEquivalent: `qm status ${input.vmid} --verbose && qm config ${input.vmid}`,
    privileges: [{ path: `/vms/${input.vmid}`, privileges: ['VM.Audit'] }, ...(input.include.some((x) => x === 'ips' || x === 'all') ? [{ path: `/vms/${input.vmid}`, privileges: AGENT_READ_PRIVILEGES, any: true }] : [])],
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    const { data, suggestions } = await guestStatus(ctx.pve, QEMU, input, ctx.signal);
    return {
      data,
      summary: statusSummary(QEMU, data),
      suggestions,
      node: data.node,
      vmid: data.vmid,
      cliEquivalent: `qm status ${input.vmid} --verbose && qm config ${input.vmid}`,
    };
  },
});

import { defineTool } from '../lib/tool.ts';
import { QEMU } from '../lib/guests/kinds.ts';
import { guestStatus, statusInput, statusOutput, statusSummary } from '../lib/guests/status.ts';
import { AGENT_READ_PRIVILEGES } from '../lib/guests/agent.ts';

export default defineTool({
  name: 'vm_status',
  title: 'One VM in detail',
  description:
    'Everything about one QEMU VM: live status (run state, uptime, CPU, memory, HA), a config summary (cores, sockets, memory, disks with storage and size, NICs with bridge/VLAN/MAC, boot order, agent, OS type, protection, cloud-init) and the config digest. ' +
    'Extras on request with include: "ips" (addresses from the QEMU guest agent), "snapshots", "backup" (newest vzdump backup and its age), or "all". ' +
    'Give node when you know it (saves a lookup). Default call: at most 3 Proxmox requests.',
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

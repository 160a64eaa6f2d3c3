import { defineTool } from '../lib/tool.ts';
import { QEMU } from '../lib/guests/kinds.ts';
import { listGuests, listInput, listOutput, listSummary } from '../lib/guests/listing.ts';

export default defineTool({
  name: 'list_vms',
  title: 'List QEMU VMs',
  description: 'The cluster\'s QEMU VMs with status, CPU, memory, disk, tags, pool and HA; filtered, sorted (sort: "-mem") and paged.',
  input: listInput,
  output: listOutput,
  effect: 'read',
  // Proxmox lists only the guests the token has VM.Audit on; nothing to check beforehand.
  explain: () => ({
    summary: 'List QEMU VMs cluster-wide from one /cluster/resources call',
    apiCalls: ['GET /cluster/resources?type=vm'],
    cliEquivalent: 'pvesh get /cluster/resources --type vm',
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    const { data, warnings, page } = await listGuests(ctx.pve, 'qemu', QEMU, input, ctx.signal);
    return {
      data,
      summary: listSummary(QEMU, data, page),
      warnings,
      suggestions: data.total === 0 ? ['No VM matched: loosen the filters, or check the token has VM.Audit on /vms.'] : [],
      cliEquivalent: 'pvesh get /cluster/resources --type vm',
    };
  },
});

import { defineTool } from '../lib/tool.ts';
import { LXC } from '../lib/guests/kinds.ts';
import { listGuests, listInput, listOutput, listSummary } from '../lib/guests/listing.ts';

export default defineTool({
  name: 'list_containers',
  title: 'List LXC containers',
  description: 'The cluster\'s LXC containers with status, CPU, memory, disk, tags, pool and HA; filtered, sorted (sort: "-mem") and paged.',
  input: listInput,
  output: listOutput,
  effect: 'read',
  explain: () => ({
    summary: 'List LXC containers cluster-wide from one /cluster/resources call',
    apiCalls: ['GET /cluster/resources?type=vm'],
    cliEquivalent: 'pvesh get /cluster/resources --type vm',
    risk: 'none',
    reversible: true,
  }),
  async run(input, ctx) {
    const { data, warnings, page } = await listGuests(ctx.pve, 'lxc', LXC, input, ctx.signal);
    return {
      data,
      summary: listSummary(LXC, data, page),
      warnings,
      suggestions: data.total === 0 ? ['No container matched: loosen the filters, or check the token has VM.Audit on /vms.'] : [],
      cliEquivalent: 'pct list (per node) or pvesh get /cluster/resources --type vm',
    };
  },
});

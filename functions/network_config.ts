import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { input, networkTool, readActions, type Input } from '../lib/cluster/network-tool.ts';

export default defineTool({
  name: 'network_config',
  title: 'Node network: read',
  description: 'Read one node\'s network: list (interfaces, addresses, which carries the node\'s own address), get (one), pending (staged changes).',
  input: input.pick({ node: true, iface: true }).extend({
    action: z.enum(readActions, { error: (issue) => (typeof issue.input === 'string' && issue.input !== '' ? `${issue.input} is done with network_change; network_config reads (list, get, pending)` : undefined) }).describe('list | get | pending'),
  }),
  output: networkTool.output,
  effect: 'read',
  privileges: (args, ctx) => networkTool.privileges!(args as Input, ctx),
  explain: (args, ctx) => networkTool.explain!(args as Input, ctx),
  run: (args, ctx) => networkTool.run(args as Input, ctx),
});

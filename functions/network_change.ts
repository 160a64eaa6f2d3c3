import { z } from 'zod';
import { defineTool, type Effect } from '../lib/tool.ts';
import { changeActions, input, networkTool, type Input } from '../lib/cluster/network-tool.ts';

export default defineTool({
  name: 'network_change',
  title: 'Node network: change',
  description: 'Stage a bridge, bond or VLAN change on one node (create, update, delete), then apply it (may cut the node off) or revert it.',
  input: input.omit({ action: true }).extend({ action: z.enum(changeActions).describe('create | update | delete | apply | revert') }),
  output: networkTool.output,
  effect: 'destructive',
  effectOf: (args) => networkTool.effectOf!(args as Input) as Effect,
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (args, ctx) => networkTool.privileges!(args as Input, ctx),
  explain: (args, ctx) => networkTool.explain!(args as Input, ctx),
  run: (args, ctx) => networkTool.run(args as Input, ctx),
});

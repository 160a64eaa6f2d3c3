import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { vmid as vmidSchema } from '../lib/schemas.ts';
import { snapshotTool } from '../lib/guests/snapshot-tool.ts';

type Args = Parameters<typeof snapshotTool.run>[0];

export default defineTool({
  name: 'guest_snapshot_list',
  title: 'Snapshots: list',
  description: 'List a VM\'s or container\'s snapshots: name, description, age, RAM included, and which one the current state descends from.',
  input: z.object({ vmid: vmidSchema }),
  output: snapshotTool.output,
  effect: 'read',
  privileges: (input, ctx) => snapshotTool.privileges!({ ...input, action: 'list' } as Args, ctx),
  explain: (input, ctx) => snapshotTool.explain!(snapshotTool.input.parse({ ...input, action: 'list' }), ctx),
  run: (input, ctx) => snapshotTool.run(snapshotTool.input.parse({ ...input, action: 'list' }), ctx),
});

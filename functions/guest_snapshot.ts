import { z } from 'zod';
import { defineTool, type Effect } from '../lib/tool.ts';
import { snapshotTool } from '../lib/guests/snapshot-tool.ts';

type Args = Parameters<typeof snapshotTool.run>[0];
const changeActions = ['create', 'rollback', 'delete'] as const;

export default defineTool({
  name: 'guest_snapshot',
  title: 'Snapshots: take, roll back, delete',
  description: 'Take, roll back to (loses what changed since) or delete a snapshot of a VM or container; waits for the task. Listing: guest_snapshot_list.',
  input: snapshotTool.input.extend({
    action: z.enum(changeActions, { error: (issue) => (issue.input === 'list' ? 'list is its own tool: guest_snapshot_list' : undefined) }).describe('create | rollback | delete'),
  }),
  output: snapshotTool.output,
  effect: 'destructive',
  effectOf: (input) => snapshotTool.effectOf!(input as Args) as Effect,
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (input, ctx) => snapshotTool.privileges!(input as Args, ctx),
  explain: (input, ctx) => snapshotTool.explain!(input as Args, ctx),
  run: (input, ctx) => snapshotTool.run(input as Args, ctx),
});

import { defineTool } from '../lib/tool.ts';
import { LXC } from '../lib/guests/kinds.ts';
import { actionEffect, actionOutput, actionPrivileges, ctActionInput, explainAction, runAction } from '../lib/guests/actions.ts';

export default defineTool({
  name: 'container_action',
  title: 'Power, clone, migrate, delete a container',
  description: 'Start, stop, shut down, reboot, suspend, resume, clone, migrate or delete one LXC container. VMs: vm_action.',
  input: ctActionInput,
  output: actionOutput,
  effect: 'destructive',
  effectOf: actionEffect,
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (input) => actionPrivileges(input),
  explain: (input, ctx) => explainAction(LXC, input, ctx),
  run: (input, ctx) => runAction(LXC, input, ctx),
});

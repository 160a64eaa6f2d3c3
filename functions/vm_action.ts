import { defineTool } from '../lib/tool.ts';
import { QEMU } from '../lib/guests/kinds.ts';
import { actionEffect, actionOutput, actionPrivileges, explainAction, runAction, vmActionInput } from '../lib/guests/actions.ts';

export default defineTool({
  name: 'vm_action',
  title: 'Power, clone, migrate, delete a VM',
  description: 'Start, stop, shut down, reboot, reset, suspend, resume, clone, migrate (live when running) or delete one QEMU VM. Containers: container_action.',
  input: vmActionInput,
  output: actionOutput,
  effect: 'destructive',
  effectOf: actionEffect,
  idempotent: false,
  roles: ['admin', 'operator'],
  privileges: (input) => actionPrivileges(input),
  explain: (input, ctx) => explainAction(QEMU, input, ctx),
  run: (input, ctx) => runAction(QEMU, input, ctx),
});

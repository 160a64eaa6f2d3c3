import { defineTool } from '../lib/tool.ts';
import { LXC } from '../lib/guests/kinds.ts';
import { actionEffect, actionOutput, actionPrivileges, ctActionInput, explainAction, runAction } from '../lib/guests/actions.ts';

export default defineTool({
  name: 'container_action',
  title: 'Power, clone, migrate or delete a container',
  description:
    'Act on one LXC container: start, stop (hard), shutdown (clean; force_stop to fall back to stop), reboot, suspend, resume (there is no reset); ' +
    'clone (newid default: next free id; hostname, target node, full or linked, storage, snapname, pool), migrate (target; a running container needs restart: true, it cannot live-migrate), delete (destructive; purge and destroy_unreferenced_disks default true). ' +
    'Waits for the Proxmox task (timeout, default 300 s) and returns the final state; wait: false returns the task id at once. ' +
    'Asking for the state it is already in answers "already running/stopped" and sends nothing. VMs: vm_action.',
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

import { defineTool } from '../lib/tool.ts';
import { QEMU } from '../lib/guests/kinds.ts';
import { actionEffect, actionOutput, actionPrivileges, explainAction, runAction, vmActionInput } from '../lib/guests/actions.ts';

export default defineTool({
  name: 'vm_action',
  title: 'Power, clone, migrate or delete a VM',
  description:
    'Act on one QEMU VM: start, stop (hard power-off), shutdown (clean; force_stop to fall back to stop), reboot, reset (hard), suspend (todisk to hibernate), resume; ' +
    'clone (newid default: next free id; name, target node, full or linked, storage, snapname, pool), migrate (target; live when running, local disks copied), delete (destructive; purge and destroy_unreferenced_disks default true). ' +
    'Waits for the Proxmox task (timeout, default 300 s) and returns the final state; wait: false returns the task id at once. ' +
    'Asking for the state a VM is already in (start a running VM) answers "already running" and sends nothing. Containers: container_action.',
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

import { z } from 'zod';
import { completable } from '@modelcontextprotocol/server';
import { definePrompt, modes, numbered } from './types.ts';

export default definePrompt({
  name: 'plan_node_maintenance',
  title: 'Plan maintenance of a node',
  description:
    'Empty a node for maintenance and bring it back: what runs there, what to migrate where and in what order, backups first, then maintenance, then move back. Plans first, changes only after the user agrees.',
  args: (complete) =>
    z.object({
      node: completable(z.string().describe('The node that needs maintenance, e.g. pve2'), complete.node),
      reason: z.string().optional().describe('Why, e.g. "kernel update and reboot" or "replace a disk"'),
      targets: z.string().optional().describe('Nodes the guests may move to, comma-separated (default: every other online node)'),
    }),
  text: ({ node, reason, targets }) =>
    [
      `Plan maintenance of Proxmox node ${node}${reason ? ` (${reason})` : ''}, then carry it out step by step with the user.`,
      '',
      modes.safeChanges,
      `Never shut down or reboot ${node} while a guest still runs there. The main node can never be removed from the cluster, whatever the mode.`,
      '',
      'Phase 1: what runs there (read only)',
      numbered([
        `get_system_info: the cluster must stay quorate without ${node} (3 or more votes, or 2 nodes and a QDevice). If it would not, stop and tell the user.`,
        `node_status for every node: free CPU and memory on ${targets ? `the targets ${targets}` : `the other online nodes`}.`,
        `list_vms and list_containers with node "${node}": every guest there, running or stopped, templates included.`,
        `For each guest, guest_config (or the resource proxmox://guests/${node}/<vmid>/config): disks on local storage (local-lvm, local ZFS, directory) or shared storage (NFS, Ceph, iSCSI); PCI or USB passthrough; an ISO attached from local storage; the protection flag; replication. HA-managed guests: proxmox_api {"method":"GET","path":"/cluster/ha/resources"}.`,
      ]),
      '',
      'Phase 2: the plan (no change yet)',
      'A table with one row per guest: guest | type | running | disks local/shared | target node | method | order | expected downtime.',
      '- VM with shared storage: live (online) migration, no downtime.',
      '- VM with local disks: online migration with its local disks (slower; the target storage needs the room), or offline migration in the window.',
      '- Container: restart migration (it stops for the copy), or offline when stopped.',
      '- Stopped guests and templates: offline migration, or leave them when their disks are on shared storage.',
      '- Passthrough or a local ISO: cannot move live. Detach the ISO first, or shut the guest down for the window; say which.',
      'Order: small and less critical guests first (they prove the path), then the rest; move what others depend on (databases, DNS) so that it is always running somewhere. Keep every target below about 80 % memory.',
      `If the cluster uses HA, mention the alternative: HA node maintenance (\`ha-manager crm-command node-maintenance enable ${node}\` with execute_command) moves HA guests by itself and brings them back when disabled.`,
      'Show the plan to the user and wait for an explicit yes. Every step below is a change and is confirmed in safe mode.',
      '',
      'Phase 3: backups first',
      numbered([
        'For each guest, check its newest backup (storage_operations: backup content of the backup storages). Guests without a backup from the last 24 hours: guest_backup (snapshot mode, to a shared or backup storage, not a local disk of this node).',
        'Wait for every backup task (task_status) and check it ended OK. Do not go on while a backup failed.',
        'For VMs where a fast undo matters (e.g. before an in-guest change), add guest_snapshot too, and note it for removal in phase 6.',
      ]),
      '',
      'Phase 4: move the guests away, in the planned order',
      numbered([
        'vm_action with action migrate (target node, online for running VMs); container_action with action migrate (restart mode for running containers).',
        'After each: vm_status or container_status on the target shows it running (and answering, if it has the guest agent); on failure, task_status for the log, stop and ask the user.',
        `At the end list_vms and list_containers with node "${node}" show no running guest.`,
      ]),
      '',
      'Phase 5: maintenance',
      `Now the maintenance itself (${reason ?? 'what the user planned'}). What the user does by hand, they do now; what they want done through this server (e.g. \`apt update\` and \`apt full-upgrade\`, then \`reboot\`, with execute_command on ${node}) runs only with their yes. Afterwards: node_status for ${node} online, its PVE version equal to the other nodes, get_system_info quorate, health_check green.`,
      '',
      'Phase 6: move back and clean up',
      numbered([
        'Migrate the guests back in reverse order (unless the user wants to keep the new placement), checking each runs.',
        'Remove the temporary snapshots from phase 3 (guest_snapshot delete), with the user\'s yes.',
        'get_command_history {"since":"24h"}: summarise everything that was done, with the task ids.',
      ]),
    ].join('\n'),
});

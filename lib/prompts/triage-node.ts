import { z } from 'zod';
import { completable } from '@modelcontextprotocol/server';
import { bestPracticesLine, definePrompt, modes, numbered } from './types.ts';

export default definePrompt({
  name: 'triage_node',
  title: 'Triage a slow or failing node',
  description: 'Find out why a Proxmox node is slow or failing: load, memory, storage, guests, tasks, logs. Read-only; ends with a diagnosis and proposed fixes.',
  args: (complete) =>
    z.object({
      node: completable(z.string().describe('The node to look at, e.g. pve2'), complete.node),
      symptom: z.string().optional().describe('What was noticed, e.g. "VMs slow since 10:00" or "node shows a question mark"'),
    }),
  text: ({ node, symptom }, { knowledge }) =>
    [
      `Triage Proxmox node ${node}${symptom ? `. Reported symptom: "${symptom}"` : ''}.`,
      '',
      modes.readOnly,
      '',
      'Steps (in this order; stop early only if the cause is certain):',
      numbered([
        `Cluster first: get_system_info. Is the cluster quorate, is ${node} online, does anything else look wrong? (The same at a glance: the resource proxmox://cluster/inventory.)`,
        `If ${node} is offline or unknown: say so at once, check quorum, list which guests it ran (list_vms and list_containers with node "${node}") and whether HA restarted them elsewhere (proxmox_api {"method":"GET","path":"/cluster/ha/status/current"}); then skip to the report.`,
        `The node itself: node_status with node "${node}" (also the resource proxmox://nodes/${node}/status). Compare the load average with the core count, memory and swap use, root disk use, uptime (a recent reboot?), IO wait, and kernel and PVE version against the other nodes.`,
        `What runs there: list_vms and list_containers with node "${node}". Which guests use the most CPU and memory? Any guest locked, stuck in a state, or in an HA error state? vm_status or container_status for the top suspects.`,
        `Storage: storage_operations to list the storages of ${node} with their use. A storage over 85 % full, an inactive storage, a full thin pool or a ZFS pool above 80 % slows everything down.`,
        `Recent tasks: proxmox_api {"method":"GET","path":"/nodes/${node}/tasks","params":{"errors":1,"limit":30}} for failed backups, migrations and replication; task_status with a UPID for its log.`,
        `Network: network_config to list the interfaces of ${node}: bonds and bridges up, no pending change left unapplied.`,
        `Evidence from the host, with execute_command on ${node}, read-only commands only: \`uptime\`, \`free -m\`, \`df -h\`, \`systemctl --failed\`, \`journalctl -p err -b --no-pager -n 100\`, \`dmesg -T --level=err,warn | tail -n 50\`, \`zpool status -x\`, \`pvecm status\`. Use explain_command first for any command you are unsure about; the server refuses what it does not classify as allowed in the current mode.`,
        `What changed lately: get_command_history {"node":"${node}","since":"24h"} (changes made through this server) and pending updates: proxmox_api {"method":"GET","path":"/nodes/${node}/apt/update"}.`,
        `health_check for the server's own view: Proxmox API, SSH to ${node}, storage for backups.`,
        `Compare with good practice: ${bestPracticesLine(knowledge, ['node_resource_usage', 'storage_usage', 'zfs_pool_usage', 'disk_health'], 'node resources, storage and disks')}.`,
      ]),
      '',
      'Report to the user:',
      '- What is wrong, with the evidence (the numbers, and which tool showed them).',
      '- The most likely cause, and what else it could be.',
      '- Fixes, least risky first; for each, the exact tool call, its effect (read/write/destructive) and whether it can be undone. Do not run them: ask. Changes then run in safe mode so the user confirms each.',
      '- What to watch afterwards, and when to look again.',
    ].join('\n'),
});

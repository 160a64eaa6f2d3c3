import { z } from 'zod';
import { completable } from '@modelcontextprotocol/server';
import { bestPracticesLine, definePrompt, modes, numbered } from './types.ts';

export default definePrompt({
  name: 'audit_backups',
  title: 'Audit backups',
  description: 'Check that every guest has a recent, restorable backup: jobs, schedules, retention, where backups live, failed jobs, gaps. Read-only; ends with a table and the fixes to run.',
  args: (complete) =>
    z.object({
      max_age_days: z.string().optional().describe('A backup older than this many days counts as missing (default 7)'),
      node: completable(z.string().describe('Only the guests of this node (default: the whole cluster)'), complete.node).optional(),
    }),
  text: ({ max_age_days, node }, { knowledge }) => {
    const days = max_age_days && /^\d+$/.test(max_age_days) ? max_age_days : '7';
    const scope = node ? `the guests on node ${node}` : 'every guest in the cluster';
    return [
      `Audit the backups of ${scope}. A guest whose newest backup is older than ${days} days counts as not backed up.`,
      '',
      modes.readOnly,
      '',
      'Steps:',
      numbered([
        `What should be backed up: list_vms and list_containers${node ? ` with node "${node}"` : ''}. Templates count too (they are the base of other guests), but say so separately.`,
        'The jobs: proxmox_api {"method":"GET","path":"/cluster/backup"}. For each job: enabled, schedule, which guests (all, a VMID list, a pool, excludes), target storage, mode (snapshot, suspend, stop), compression, retention (prune-backups keep-last/daily/weekly/monthly), notification. Work out which guests no enabled job covers.',
        `What exists: storage_operations to list the storages with content backup, then the backup content of each (per guest: date and size). Find the newest backup of every guest and its age; a backup much smaller than the one before it is suspicious.`,
        `Where they live: backups only on a local disk of the node they protect are lost with that node. Is there a Proxmox Backup Server or a shared or remote storage? Is there an offsite copy (PBS sync, or a copy elsewhere)?`,
        `Failed jobs: for each node, proxmox_api {"method":"GET","path":"/nodes/<node>/tasks","params":{"typefilter":"vzdump","errors":1,"limit":20}}; task_status with a UPID for the log of a failure.`,
        `Good practice: ${bestPracticesLine(knowledge, ['guest_backup_age', 'backup_job_exists', 'backup_retention_set', 'backup_offsite'], 'backups')}.`,
        'Restores: has any backup been test-restored lately (get_command_history {"tool":"guest_backup","since":"7d"})? Propose a restore test to a new, unused VMID; do not run it without the user\'s yes (it is a change and runs in safe mode).',
      ]),
      '',
      'Report to the user:',
      `- A table: guest | type | node | newest backup | age (days) | storage | covered by job | status (ok, old, missing).`,
      `- The gaps, worst first: never backed up, older than ${days} days, failing jobs, no retention (storage fills up), no copy off the node, never test-restored.`,
      '- The fixes as exact tool calls, each confirmed in safe mode once the user agrees: guest_backup now for the uncovered guests; a backup job (Datacenter -> Backup in the web UI, or proxmox_api POST /cluster/backup) with retention; a backup storage that is not on the node itself.',
    ].join('\n');
  },
});

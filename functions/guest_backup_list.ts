import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { storageId, vmid as vmidSchema } from '../lib/schemas.ts';
import type { ClusterResource, GuestType } from '../lib/pve/types.ts';
import { assertContent, requireStorage, storageEntries } from '../lib/cluster/storage.ts';
import { backupInfo, backupSources, guestBackupState, readBackups, type BackupInfo } from '../lib/cluster/backup-list.ts';
import { pageLine, pageShape, paginate } from '../lib/cluster/paging.ts';

type GuestState = z.output<typeof guestBackupState>;

const input = z.object({
  view: z.enum(['backups', 'guests']).default('backups').describe('guests: newest backup per guest'),
  vmid: vmidSchema.optional(),
  storage: storageId.optional(),
  stale_days: z.coerce.number().int().min(1).max(3650).default(7).describe('Stale after N days'),
  stale_only: z.boolean().default(false).describe('guests view'),
  ...pageShape({ defaultLimit: 100, maxLimit: 5000, sortable: ['created', 'vmid', 'size', 'storage', 'last_backup_age_days', 'backups', 'name'], defaultSort: '-created (backups), vmid (guests)' }),
});

export default defineTool({
  name: 'guest_backup_list',
  title: 'Backups: list',
  description: 'List vzdump backups on every backup storage, or (view guests) each guest\'s newest backup and whether it is stale.',
  input,
  output: z.object({
    view: z.enum(['backups', 'guests']),
    total: z.number().describe('Rows that matched, over all pages'),
    returned: z.number(),
    next_cursor: z.string().nullable(),
    backups: z.array(backupInfo.partial()).optional(),
    guests: z.array(guestBackupState.partial()).optional(),
    stale_guests: z.number().describe('Guests (not templates) with no backup in stale_days'),
  }),
  effect: 'read',
  explain: () => ({
    summary: 'List backups on every backup storage',
    apiCalls: ['GET /cluster/resources', 'GET /nodes/{node}/storage/{storage}/content?content=backup'],
    cliEquivalent: 'pvesm list <storage> --content backup',
    risk: 'none',
    reversible: true,
  }),
  async run(args, ctx) {
    if (args.storage) assertContent(await requireStorage(ctx, args.storage), 'backup', 'backups');
    const [entries, resources] = await Promise.all([storageEntries(ctx), ctx.pve.clusterResources('vm', { signal: ctx.signal })]);
    const { backups, errors } = await readBackups(ctx, backupSources(entries, args.storage), args.vmid);
    const guests = resources.filter((guest: ClusterResource) => (guest.type === 'qemu' || guest.type === 'lxc') && !guest.template && (args.vmid === undefined || guest.vmid === args.vmid));
    if (args.vmid !== undefined && guests.length === 0 && backups.length === 0) {
      throw new ToolError('not_found', `Guest ${args.vmid} does not exist and no backup of it was found.`, { details: { vmid: args.vmid } });
    }
    const newestByGuest = new Map<number, { newest: BackupInfo; count: number }>();
    for (const backup of backups) {
      if (backup.vmid === undefined) continue;
      const seen = newestByGuest.get(backup.vmid);
      // backups come newest first
      if (seen) seen.count++;
      else newestByGuest.set(backup.vmid, { newest: backup, count: 1 });
    }
    const states: GuestState[] = guests.map((guest) => {
      const found = newestByGuest.get(guest.vmid as number);
      const age = found?.newest.age_seconds;
      return {
        vmid: guest.vmid as number,
        name: typeof guest.name === 'string' && guest.name ? guest.name : undefined,
        type: guest.type as GuestType,
        node: guest.node,
        backups: found?.count ?? 0,
        last_backup: found?.newest.created,
        last_backup_age_days: age !== undefined ? Math.floor(age / 86400) : undefined,
        stale: !found || (age ?? Infinity) > args.stale_days * 86400,
      };
    });
    const stale = states.filter((state) => state.stale).length;
    const warnings = errors.map((error) => `Could not read backups from ${error}`);
    if (args.view === 'guests') {
      const rows = args.stale_only ? states.filter((state) => state.stale) : states;
      const page = paginate(rows, { ...args, sort: args.sort }, {
        sortable: ['vmid', 'name', 'node', 'backups', 'last_backup', 'last_backup_age_days', 'type'],
        tieBreak: ['vmid'],
        columns: Object.keys(guestBackupState.shape),
        key: ['vmid'],
        aliases: { age: 'last_backup_age_days', created: 'last_backup', id: 'vmid' },
      });
      return {
        data: { view: 'guests' as const, total: page.total, returned: page.returned, next_cursor: page.next_cursor, guests: page.rows, stale_guests: stale },
        summary: `${stale} of ${states.length} guests have no backup in ${args.stale_days} days; ${pageLine(page, args.cursor, args.sort, args.stale_only ? 'stale guests' : 'guests')}`,
        warnings,
        suggestions: stale ? ['guest_backup action create backs guests up now (vmids: several at once).'] : [],
      };
    }
    const page = paginate(backups, { ...args, sort: args.sort ?? '-created' }, {
      sortable: ['created', 'vmid', 'size', 'storage', 'node', 'age_seconds', 'volid'],
      tieBreak: ['volid'],
      columns: Object.keys(backupInfo.shape),
      key: ['volid'],
      aliases: { age: 'age_seconds', date: 'created', id: 'vmid' },
    });
    return {
      data: { view: 'backups' as const, total: page.total, returned: page.returned, next_cursor: page.next_cursor, backups: page.rows, stale_guests: stale },
      summary: `${backups.length} backup${backups.length === 1 ? '' : 's'}${args.vmid !== undefined ? ` of guest ${args.vmid}` : ''}; ${stale ? `${stale} guest${stale === 1 ? '' : 's'} without a backup in ${args.stale_days} days (view guests, stale_only)` : 'every guest has a recent backup'}; ${pageLine(page, args.cursor, args.sort ?? '-created', 'backups')}`,
      warnings,
      suggestions: stale ? ['guest_backup_list view guests stale_only true lists them; guest_backup action create backs them up.'] : [],
      ...(args.vmid !== undefined ? { vmid: args.vmid } : {}),
    };
  },
});

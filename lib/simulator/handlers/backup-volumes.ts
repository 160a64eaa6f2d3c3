/**
 * Backup volumes beyond list and delete, as pve-storage's API2/Storage/Content.pm and PruneBackups.pm
 * have them, for every backup storage (a Proxmox Backup Server one included): notes and the protected
 * flag (PUT content/{volume}), and prune (GET: the dry run with each backup's mark; DELETE: a prunebackups
 * task). Prune keeps by the storage's or the given `prune-backups` (keep-last, -hourly, -daily, -weekly,
 * -monthly, -yearly, keep-all) per guest; a protected backup is never removed (mark `protected`).
 *
 * addPbsStorage gives a simulated cluster a `pbs` storage with snapshots as a PBS datastore shows them:
 * verification state (ok, failed, or never verified), an encrypted one, a protected one, notes.
 */
import { die, paramError } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import { addBackupVolume, volumesOf, type SimState, type SimStorage, type SimVolume } from '../state.ts';
import { storageOf } from './storage.ts';

function backupsOn(ctx: HandlerContext, s: SimStorage): SimVolume[] {
  ctx.core.node(String(ctx.params.node));
  return [...volumesOf(ctx.core.state, s, String(ctx.params.node)).values()].filter((v) => v.content === 'backup');
}

const PERIODS: [string, (d: Date) => string][] = [
  ['keep-hourly', (d) => d.toISOString().slice(0, 13)],
  ['keep-daily', (d) => d.toISOString().slice(0, 10)],
  ['keep-weekly', (d) => {
    const monday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)));
    return monday.toISOString().slice(0, 10);
  }],
  ['keep-monthly', (d) => d.toISOString().slice(0, 7)],
  ['keep-yearly', (d) => d.toISOString().slice(0, 4)],
];

function parseKeep(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!['keep-all', 'keep-last', ...PERIODS.map(([k]) => k)].includes(key) || !/^\d+$/.test(value ?? '')) paramError({ 'prune-backups': `invalid format - invalid option '${part}'` });
    out[key] = Number(value);
  }
  return out;
}

/** Marks per backup, newest first per guest, as PVE::Storage::prune_mark_backup_group does. */
export function pruneMarks(backups: SimVolume[], keep: Record<string, number>): Map<string, 'keep' | 'remove' | 'protected'> {
  const marks = new Map<string, 'keep' | 'remove' | 'protected'>();
  const groups = new Map<string, SimVolume[]>();
  for (const v of backups) {
    const key = `${v.subtype ?? ''}/${v.vmid ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  const keepAll = keep['keep-all'] === 1 || Object.keys(keep).length === 0;
  for (const list of groups.values()) {
    list.sort((a, b) => b.ctime - a.ctime);
    for (const v of list) if (v.protected) marks.set(v.volid, 'protected');
    if (keepAll) {
      for (const v of list) if (!marks.has(v.volid)) marks.set(v.volid, 'keep');
      continue;
    }
    let last = keep['keep-last'] ?? 0;
    for (const v of list) {
      if (marks.has(v.volid) || last <= 0) continue;
      marks.set(v.volid, 'keep');
      last--;
    }
    for (const [option, bucket] of PERIODS) {
      let left = keep[option] ?? 0;
      const seen = new Set<string>();
      // buckets already covered by a kept backup count (PVE marks per period over the list once)
      for (const v of list) if (marks.get(v.volid) === 'keep' || marks.get(v.volid) === 'protected') seen.add(bucket(new Date(v.ctime * 1000)));
      for (const v of list) {
        if (left <= 0) break;
        const key = bucket(new Date(v.ctime * 1000));
        if (marks.has(v.volid) || seen.has(key)) continue;
        marks.set(v.volid, 'keep');
        seen.add(key);
        left--;
      }
    }
    for (const v of list) if (!marks.has(v.volid)) marks.set(v.volid, 'remove');
  }
  return marks;
}

function selection(ctx: HandlerContext, s: SimStorage): { list: SimVolume[]; marks: Map<string, 'keep' | 'remove' | 'protected'> } {
  const { type, vmid } = ctx.params;
  const list = backupsOn(ctx, s)
    .filter((v) => type === undefined || v.subtype === type)
    .filter((v) => vmid === undefined || v.vmid === Number(vmid));
  const spec = ctx.params['prune-backups'] !== undefined ? String(ctx.params['prune-backups']) : s['prune-backups'] ?? 'keep-all=1';
  return { list, marks: pruneMarks(list, parseKeep(spec)) };
}

export const backupVolumeHandlers: Record<string, Handler> = {
  'PUT /nodes/{node}/storage/{storage}/content/{volume}': (ctx) => {
    const s = storageOf(ctx);
    ctx.core.node(String(ctx.params.node));
    let volid = String(ctx.params.volume);
    if (!volid.includes(':')) volid = `${s.storage}:${volid}`;
    const v = volumesOf(ctx.core.state, s, String(ctx.params.node)).get(volid);
    if (!v) die(`volume '${volid}' does not exist`);
    if (ctx.params.notes !== undefined) {
      if (v.content !== 'backup') die(`notes are not supported for '${v.format}'`);
      const notes = String(ctx.params.notes);
      if (notes === '') delete v.notes;
      else v.notes = notes;
    }
    if (ctx.params.protected !== undefined) {
      if (v.content !== 'backup') die('protection is only supported for backups');
      v.protected = isTrue(ctx.params.protected) ? 1 : 0;
    }
    return null;
  },

  'GET /nodes/{node}/storage/{storage}/prunebackups': (ctx) => {
    const s = storageOf(ctx);
    if (!s.content.includes('backup')) die(`storage '${s.storage}' does not support backups`);
    const { list, marks } = selection(ctx, s);
    return list.map((v) => ({ volid: v.volid, ctime: v.ctime, mark: marks.get(v.volid), type: v.subtype ?? 'unknown', ...(v.vmid !== undefined ? { vmid: v.vmid } : {}) }));
  },

  'DELETE /nodes/{node}/storage/{storage}/prunebackups': (ctx) => {
    const s = storageOf(ctx);
    if (!s.content.includes('backup')) die(`storage '${s.storage}' does not support backups`);
    const { list, marks } = selection(ctx, s);
    const node = String(ctx.params.node);
    return ctx.core.task(ctx, {
      type: 'prunebackups', id: s.storage,
      work: () => {
        const lines: string[] = [];
        for (const v of list) {
          if (marks.get(v.volid) !== 'remove') continue;
          volumesOf(ctx.core.state, s, node).delete(v.volid);
          lines.push(`removing backup '${v.volid}'`);
        }
        return lines.length ? lines : ['nothing to prune'];
      },
    });
  },
};

/** A Proxmox Backup Server storage, `pbs-store`, with snapshots of the first guests (the simulator's `pbs` option). */
export function addPbsStorage(state: SimState, nowSec: number): void {
  const pbs: SimStorage = {
    storage: 'pbs-store', type: 'pbs', content: ['backup'], shared: 1, total: 16000 * 1024 ** 3,
    server: '192.168.100.6', datastore: 'main', username: 'pve-sync@pbs',
    fingerprint: 'b4:53:2f:d7:61:0e:9a:4c:1d:7e:aa:21:3f:58:c0:96:11:8b:e2:44:70:3d:59:c8:0a:6f:7b:92:e1:35:d4:08',
    'prune-backups': 'keep-daily=7,keep-weekly=4,keep-monthly=6',
  };
  state.storages.set(pbs.storage, pbs);
  const node = [...state.nodes.keys()][0];
  const guests = [...state.guests.values()].filter((g) => !g.config.template).slice(0, 5);
  let n = 0;
  for (const g of guests) {
    for (let day = 0; day < 3; day++) {
      const vol = addBackupVolume(state, pbs, node, g, nowSec - day * 86400 - 3 * 3600, day === 0 ? `${g.config.name ?? g.config.hostname} nightly` : undefined);
      n++;
      // verified ok, one failed verification, the newest not verified yet
      if (day > 0) vol.verification = { state: n % 7 === 0 ? 'failed' : 'ok', upid: `UPID:pbs:000${n}AB:00${n}C3D4:00000000:${(nowSec - day * 3600).toString(16).toUpperCase()}:verificationjob:main\\x3av-${n}:root@pam:` };
      if (g.vmid === 101) vol.encrypted = '5a:9c:e1:02:7f:3b:44:80:cd:19:a6:52:0e:ff:73:b8:21:9d:64:c5:08:31:7a:be:f0:12:4c:68:97:e3:2b:5d';
      if (g.vmid === 101 && day === 2) vol.protected = 1;
    }
  }
}

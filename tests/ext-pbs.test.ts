/**
 * Issue 17, backups on a Proxmox Backup Server storage: the simulator's `pbs-store` shows snapshots as PVE
 * does (pbs-vm/pbs-ct, verification, encryption, protected, notes); list, back up to it, restore from it,
 * protect and prune there (prune keeps protected backups; the API policy keeps a protected guest's), and
 * the stale-backup check counts PBS backups. Both simulated versions; REST and proxmox_api doors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import guestBackupList from '../functions/guest_backup_list.ts';
import guestBackup from '../functions/guest_backup.ts';
import { callTool, testContext } from './helpers/ctx.ts';
import { callRest } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { pruneMarks } from '../lib/simulator/handlers/backup-volumes.ts';
import { volumesOf, type SimVolume } from '../lib/simulator/state.ts';
import { settingsKeyForToolsets } from '../lib/toolsets.ts';

const DAY = 86400;

describe('prune marks as PVE computes them', () => {
  test('keep-last, keep-daily, protected never removed, keep-all', () => {
    const now = Date.UTC(2026, 10, 30, 21) / 1000;
    const vols: SimVolume[] = [0, 0.1, 1, 2, 3, 8].map((days, i) => ({ volid: `s:backup/vm/100/${i}`, content: 'backup', format: 'pbs-vm', size: 1, ctime: now - days * DAY, vmid: 100, subtype: 'qemu', ...(i === 5 ? { protected: 1 as const } : {}) }));
    const marks = pruneMarks(vols, { 'keep-last': 1, 'keep-daily': 2 });
    expect(vols.map((v) => marks.get(v.volid))).toEqual(['keep', 'remove', 'keep', 'keep', 'remove', 'protected']);
    expect([...pruneMarks(vols, { 'keep-all': 1 }).values()].filter((m) => m === 'remove')).toEqual([]);
  });
});

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`PBS storage on PVE ${pveVersion}`, () => {
    test('list shows verification, encryption, protection and notes; back up to PBS and restore from it', async () => {
      const sim = createSimulator({ pveVersion, pbs: true, taskDurationMs: 5 });
      const t = testContext({ sim });
      try {
        const list = await callTool(guestBackupList, { storage: 'pbs-store', limit: 500 }, t.ctx);
        const backups = list.data.backups!;
        expect(backups.length).toBe(15);
        expect(backups.every((b) => /^pbs-store:backup\/(vm|ct)\/\d+\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(b.volid!))).toBe(true);
        const db = backups.filter((b) => b.vmid === 101);
        expect(db.every((b) => b.encrypted === true)).toBe(true);
        expect(db.filter((b) => b.protected)).toHaveLength(1);
        expect(new Set(backups.map((b) => b.verification))).toEqual(new Set(['ok', 'failed', 'none']));
        expect(backups.find((b) => b.vmid === 100 && b.notes)?.notes).toBe('web01 nightly');
        expect(backups.every((b) => b.shared === true && b.age_seconds! > 0)).toBe(true);
        // nfs backups carry no PBS fields
        const nfs = await callTool(guestBackupList, { storage: 'nfs-backup' }, t.ctx);
        expect(nfs.data.backups![0].verification).toBeUndefined();

        await callTool(guestBackup, { action: 'create', vmids: [103], storage: 'pbs-store', wait: true }, t.ctx);
        const fresh = (await callTool(guestBackupList, { storage: 'pbs-store', vmid: 103, sort: '-created' }, t.ctx)).data.backups![0];
        expect(fresh.volid).toMatch(/^pbs-store:backup\/ct\/103\//);
        expect(fresh.verification).toBe('none');

        const source = backups.find((b) => b.vmid === 100)!.volid!;
        const restored = await callTool(guestBackup, { action: 'restore', volume: source, vmid: 900, wait: true }, t.ctx);
        expect(restored.data.restored).toMatchObject({ vmid: 900, type: 'qemu', from: source });
        expect(sim.state.guests.get(900)?.config.name).toBe(sim.state.guests.get(100)?.config.name);
      } finally {
        t.close();
        sim.close();
      }
    });

    test('a guest whose only backups are on PBS is not stale', async () => {
      const sim = createSimulator({ pveVersion, pbs: true, taskDurationMs: 5 });
      const t = testContext({ sim });
      try {
        const nfs = sim.state.storages.get('nfs-backup')!;
        for (const node of sim.state.nodes.keys()) {
          const vols = volumesOf(sim.state, nfs, node);
          for (const [volid, v] of vols) if (v.vmid === 100) vols.delete(volid);
        }
        const guests = await callTool(guestBackupList, { view: 'guests', stale_days: 2 }, t.ctx);
        expect(guests.data.guests!.find((g) => g.vmid === 100)).toMatchObject({ stale: false, backups: 3 });
        // without the PBS storage, 100 has none and is stale
        const plain = createSimulator({ pveVersion, taskDurationMs: 5 });
        const u = testContext({ sim: plain });
        for (const node of plain.state.nodes.keys()) {
          const vols = volumesOf(plain.state, plain.state.storages.get('nfs-backup')!, node);
          for (const [volid, v] of vols) if (v.vmid === 100) vols.delete(volid);
        }
        expect((await callTool(guestBackupList, { view: 'guests', stale_days: 2 }, u.ctx)).data.guests!.find((g) => g.vmid === 100)).toMatchObject({ stale: true, backups: 0 });
        u.close();
        plain.close();
      } finally {
        t.close();
        sim.close();
      }
    });
  });
}

describe('protect and prune on PBS through the doors', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer({ simulator: createSimulator({ pbs: true, taskDurationMs: 5 }) });
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('notes and protection set, the dry run marks, prune removes all but kept and protected; a protected guest\'s backups are refused', async () => {
    const token = await ts.createToken({ name: 'pbs-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
    const api = (method: string, path: string, params?: Record<string, unknown>) => callRest(ts.url, token, 'proxmox_api', { method, path, ...(params ? { params } : {}) });
    const pbs = ts.sim.state.storages.get('pbs-store')!;
    const vols = [...volumesOf(ts.sim.state, pbs, 'pve1').values()].filter((v) => v.vmid === 100).sort((a, b) => a.ctime - b.ctime);
    const oldest = vols[0];
    const setNotes = await api('PUT', `/nodes/pve1/storage/pbs-store/content/${encodeURIComponent(oldest.volid)}`, { notes: 'before upgrade', protected: 1 });
    expect(setNotes.status).toBe(200);
    expect(oldest).toMatchObject({ notes: 'before upgrade', protected: 1 });
    const dry = await api('GET', '/nodes/pve1/storage/pbs-store/prunebackups', { vmid: 100, 'prune-backups': 'keep-last=1' });
    expect(dry.body.data.result.map((row: { mark: string }) => row.mark).sort()).toEqual(['keep', 'protected', 'remove']);
    const prune = await api('DELETE', '/nodes/pve1/storage/pbs-store/prunebackups', { vmid: 100, 'prune-backups': 'keep-last=1' });
    expect(prune.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const left = [...volumesOf(ts.sim.state, pbs, 'pve1').values()].filter((v) => v.vmid === 100);
    expect(left).toHaveLength(2);
    expect(left.some((v) => v.volid === oldest.volid)).toBe(true);
    // VM 101 is a protected guest: its backups are its data, pruning them is refused before Proxmox hears of it
    const before = ts.changesSent.length;
    const refused = await api('DELETE', '/nodes/pve1/storage/pbs-store/prunebackups', { vmid: 101, 'prune-backups': 'keep-last=1' });
    expect(refused.body.error?.code).toBe('protected');
    expect(ts.changesSent.length).toBe(before);
    // the typed tool: dry run for anyone, changes for operators; the same policy
    const viewer = await ts.createToken({ name: 'pbs-viewer', role: 'viewer' });
    for (const name of ['pbs-viewer', 'pbs-admin']) await ts.server.store.settings.set(settingsKeyForToolsets((await ts.server.store.tokens.byName(name))!.id), ['backups']);
    const dryTyped = await callRest(ts.url, viewer, 'backup_manage', { action: 'prune', storage: 'pbs-store', vmid: 104 });
    expect(dryTyped.status).toBe(200);
    expect(dryTyped.body.data.marks.length).toBeGreaterThan(0);
    expect(dryTyped.body.data.marks.every((m: { mark: string }) => m.mark === 'keep')).toBe(true); // keep-daily=7 keeps three daily backups
    expect((await callRest(ts.url, viewer, 'backup_manage', { action: 'protect', storage: 'pbs-store', volume: oldest.volid })).status).toBe(403);
    const newest = [...volumesOf(ts.sim.state, pbs, 'pve1').values()].filter((v) => v.vmid === 103).sort((a, b) => b.ctime - a.ctime)[0];
    expect((await callRest(ts.url, token, 'backup_manage', { action: 'protect', storage: 'pbs-store', volume: newest.volid })).status).toBe(200);
    expect(newest.protected).toBe(1);
    expect((await callRest(ts.url, token, 'backup_manage', { action: 'notes', storage: 'pbs-store', volume: newest.volid, notes: 'keep for audit' })).status).toBe(200);
    expect(newest.notes).toBe('keep for audit');
    const pruned = await callRest(ts.url, token, 'backup_manage', { action: 'prune', storage: 'pbs-store', vmid: 103, keep: 'keep-last=1', dry_run: false });
    expect(pruned.status).toBe(200);
    expect(pruned.body.data.task.ok).toBe(true);
    // the protected newest one does not count toward keep-last (as in PVE): it and the next newest stay
    const kept = [...volumesOf(ts.sim.state, pbs, 'pve1').values()].filter((v) => v.vmid === 103).sort((a, b) => b.ctime - a.ctime);
    expect(kept.map((v) => v.volid)[0]).toBe(newest.volid);
    expect(kept).toHaveLength(2);
    const typedRefused = await callRest(ts.url, token, 'backup_manage', { action: 'prune', storage: 'pbs-store', vmid: 101, keep: 'keep-last=1', dry_run: false });
    expect(typedRefused.body.error?.code).toBe('protected');
    expect((await callRest(ts.url, token, 'backup_manage', { action: 'prune', storage: 'nope', vmid: 101 })).body.error?.code).toBe('not_found');
    expect((await callRest(ts.url, token, 'backup_manage', { action: 'prune', storage: 'pbs-store', keep: 'keep-daily=7;rm' })).status).toBe(400);
    expect((await callRest(ts.url, token, 'backup_manage', { action: 'protect', storage: 'pbs-store', volume: 'nfs-backup:backup/x.vma.zst' })).body.error?.message).toMatch(/not on storage pbs-store/);
    const listed = await callRest(ts.url, token, 'guest_backup_list', { storage: 'pbs-store', vmid: 100, fields: 'verification,encrypted,protected,notes' });
    expect(listed.body.data.backups.find((b: { volid: string }) => b.volid === oldest.volid)).toMatchObject({ protected: true, notes: 'before upgrade', encrypted: false });
  }, 60_000);
});

/**
 * The server watches its own Proxmox rights: the first reading of GET /access/permissions is kept, and a
 * later loss (a propagate=0 rewrite on /, a weaker role, a group that got NoAccess) makes health_check
 * degraded with a `proxmox_permissions` warning that names what was lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { checkPermissionsAtStart, lostPrivileges, permissionsBaselineKey, type PermissionsBaseline } from '../lib/policy/permissions-watch.ts';

describe('lostPrivileges', () => {
  it('finds a privilege missing on a listed path', () => {
    expect(lostPrivileges({ '/': ['VM.Audit', 'VM.PowerMgmt'], '/vms': ['VM.Audit'] }, { '/': ['VM.Audit'], '/vms': ['VM.Audit'] })).toEqual(['VM.PowerMgmt on /']);
  });

  it('counts a path that vanished from the listing as kept when a path above still has the privilege', () => {
    expect(lostPrivileges({ '/': ['VM.Audit'], '/storage/local': ['VM.Audit'] }, { '/': ['VM.Audit'] })).toEqual([]);
    expect(lostPrivileges({ '/': ['VM.Audit'], '/storage/local': ['Datastore.Audit'] }, { '/': ['VM.Audit'] })).toEqual(['Datastore.Audit on /storage/local']);
  });

  it('sees propagate=0 on / as losses on the paths Proxmox always lists', () => {
    expect(lostPrivileges({ '/': ['VM.Audit'], '/vms': ['VM.Audit'] }, { '/': ['VM.Audit'], '/vms': [] })).toEqual(['VM.Audit on /vms']);
  });
});

describe('the permissions watch', () => {
  let ts: SafetyServer;
  let admin: string;

  beforeAll(async () => {
    ts = await startSafetyServer();
    admin = await ts.createToken({ name: 'perm-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
  });
  afterAll(async () => {
    await ts?.close();
  });

  const health = async () => {
    const response = await callRest(ts.url, admin, 'health_check', {});
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { data: { status: string; checks: { name: string; status: string; detail: string; action?: string }[] }; warnings: string[] };
  };

  it('keeps the first reading at start', async () => {
    let baseline: PermissionsBaseline | undefined;
    for (let i = 0; i < 100 && !baseline; i++) {
      baseline = await ts.server.store.settings.get<PermissionsBaseline>(permissionsBaselineKey);
      if (!baseline) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(baseline?.tokenId).toBe('proxmox-mcp@pve!mcp');
    expect(baseline?.privileges['/']).toContain('VM.PowerMgmt');
    const report = await health();
    const check = report.data.checks.find((item) => item.name === 'proxmox_permissions');
    expect(check?.status, JSON.stringify(check)).toBe('ok');
  });

  it('reports loudly when the server lost rights (propagate=0 on / rewritten behind its back)', async () => {
    for (const entry of ts.sim.state.acl) if (entry.path === '/' && entry.ugid.startsWith('proxmox-mcp@pve')) entry.propagate = 0;
    const report = await health();
    expect(report.data.status).toBe('degraded');
    const check = report.data.checks.find((item) => item.name === 'proxmox_permissions');
    expect(check?.status).toBe('warn');
    expect(check?.detail).toMatch(/SHRANK/);
    expect(check?.detail).toMatch(/ \/vms \(/);
    expect(check?.action).toMatch(/pveum acl list/);
    expect(report.warnings.join(' ')).toMatch(/proxmox_permissions/);
    // The baseline is the first reading: it does not follow the loss.
    const again = (await health()).data.checks.find((item) => item.name === 'proxmox_permissions');
    expect(again?.status).toBe('warn');
    // The start-up check says it in the log, loudly.
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {}, child: () => log };
    const verdict = await checkPermissionsAtStart({ store: ts.server.store, pve: ts.server.pve, log });
    expect(verdict?.lost.length).toBeGreaterThan(0);
    expect(warnings.join('\n')).toMatch(/PERMISSIONS SHRANK/);
    for (const entry of ts.sim.state.acl) if (entry.path === '/' && entry.ugid.startsWith('proxmox-mcp@pve')) entry.propagate = 1;
    const restored = (await health()).data.checks.find((item) => item.name === 'proxmox_permissions');
    expect(restored?.status).toBe('ok');
  });
});

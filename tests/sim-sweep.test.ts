/**
 * Differences of the same kinds as issue 14's (empty-case answers, checks PVE does or does not make, exact
 * texts), found by reading the Proxmox sources endpoint by endpoint; each one as PVE answers it, on both
 * versions. The list of what was checked is in lib/simulator/README.md.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createSimulator, PVE_VERSIONS, type Simulator } from '../lib/simulator/index.ts';

let sims: Simulator[] = [];
afterEach(() => {
  for (const s of sims) s.close();
  sims = [];
});

async function call(sim: Simulator, method: string, path: string, params?: Record<string, string>, token = sim.defaultToken) {
  const headers: Record<string, string> = { authorization: `PVEAPIToken=${token.tokenId}=${token.secret}` };
  let url = `https://pve.test:8006/api2/json${path}`;
  let body: string | undefined;
  if (params) {
    const sp = new URLSearchParams(params);
    if (method === 'GET' || method === 'DELETE') url += `?${sp}`;
    else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = sp.toString();
    }
  }
  const res = await sim.fetch(new Request(url, { method, headers, body }));
  const text = await res.text();
  return { status: res.status, reason: res.statusText, json: text ? JSON.parse(text) : undefined };
}

const enc = encodeURIComponent;

describe.each(PVE_VERSIONS)('PVE %s', (pveVersion) => {
  const make = (taskDurationMs = 0) => {
    const s = createSimulator({ taskDurationMs, pveVersion });
    sims.push(s);
    return s;
  };

  test('GET /access/permissions with a path always has the path as key, even with no privileges', async () => {
    const sim = make();
    sim.state.acl.push({ path: '/vms/102', type: 'token', ugid: sim.defaultToken.tokenId, roleid: 'NoAccess', propagate: 1 });
    const r = await call(sim, 'GET', '/access/permissions', { path: '/vms/102' });
    expect(r.json.data).toEqual({ '/vms/102': {} });
  });

  test('reserved snapshot names: current and pending (any case) for VMs, current and vzdump for containers', async () => {
    const sim = make();
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot', { snapname: 'current' })).reason).toBe("unable to use snapshot name 'current' (reserved name)");
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot', { snapname: 'Pending' })).reason).toBe("unable to use snapshot name 'pending' (reserved name)");
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot', { snapname: 'vzdump' })).status).toBe(200);
    expect((await call(sim, 'POST', '/nodes/pve2/lxc/104/snapshot', { snapname: 'vzdump' })).reason).toBe("unable to use snapshot name 'vzdump' (reserved name)");
    expect((await call(sim, 'POST', '/nodes/pve2/lxc/104/snapshot', { snapname: 'pending' })).status).toBe(200);
  });

  test('destroy: the checks and texts of qemu-server and pve-container, in their order', async () => {
    const sim = make();
    // QEMU: protection, HA, running before the fork; the lock only inside the worker
    sim.state.guests.get(105)!.lock = 'backup';
    const locked = await call(sim, 'DELETE', '/nodes/pve1/qemu/105');
    expect(locked.status).toBe(200);
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(locked.json.data)}/status`);
    expect(st.json.data.exitstatus).toBe('VM 105 is locked (backup)');
    expect(sim.state.guests.has(105)).toBe(true);
    expect((await call(sim, 'DELETE', '/nodes/pve2/qemu/101')).reason).toBe("can't remove VM 101 - protection mode enabled");
    // LXC: the lock before the fork; running needs force, and force stops it in the worker
    sim.state.guests.get(104)!.lock = 'backup';
    expect((await call(sim, 'DELETE', '/nodes/pve2/lxc/104')).reason).toBe('CT 104 is locked (backup)');
    expect((await call(sim, 'DELETE', '/nodes/pve3/lxc/103')).reason).toBe('unable to destroy CT 103 - container is running');
    const forced = await call(sim, 'DELETE', '/nodes/pve3/lxc/103', { force: '1' });
    const log = await call(sim, 'GET', `/nodes/pve3/tasks/${enc(forced.json.data)}/log`);
    expect(log.json.data[0].t).toBe('forced to stop CT 103 before destroying!');
    expect(sim.state.guests.has(103)).toBe(false);
  });

  test('volume delete with delay: null when done in time, the task error as a 500, else the UPID', async () => {
    const sim = make(30);
    const vols = [...sim.state.volumes.get('nfs-backup')!.values()];
    const node = (v: (typeof vols)[number]) => sim.state.guests.get(v.vmid!)!.node;
    const ok = await call(sim, 'DELETE', `/nodes/${node(vols[0])}/storage/nfs-backup/content/${enc(vols[0].volid)}`, { delay: '5' });
    expect([ok.status, ok.json]).toEqual([200, { data: null }]);
    vols[1].protected = 1;
    const bad = await call(sim, 'DELETE', `/nodes/${node(vols[1])}/storage/nfs-backup/content/${enc(vols[1].volid)}`, { delay: '5' });
    expect(bad.status).toBe(500);
    expect(bad.reason).toMatch(/^cannot remove protected volume/);
    const slow = make(60_000);
    const v = [...slow.state.volumes.get('nfs-backup')!.values()][0];
    const later = await call(slow, 'DELETE', `/nodes/${slow.state.guests.get(v.vmid!)!.node}/storage/nfs-backup/content/${enc(v.volid)}`, { delay: '1' });
    expect(later.json.data).toMatch(/^UPID:.*:imgdel:/);
  });

  test('skiplock, keepActive and migratedfrom are for root@pam only', async () => {
    const sim = make();
    const r = await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop', { skiplock: '1', keepActive: '1' });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual({ skiplock: 'Only root may use this option.', keepActive: 'Only root may use this option.' });
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop', { skiplock: '0' })).status).toBe(200);
  });

  test('config update: conflicts are parameter errors with PVE texts; QEMU says "checksum mismatch"', async () => {
    const sim = make();
    const both = await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { description: 'x', delete: 'description' });
    expect(both.json.errors).toEqual({ delete: "you can't use '-description' and -delete description' at the same time" });
    const rev = await call(sim, 'PUT', '/nodes/pve2/lxc/104/config', { delete: 'description', revert: 'description' });
    expect(rev.json.errors).toEqual({ revert: "you can't use '-delete description' and '-revert description' at the same time" });
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', {})).reason).toBe('no options specified');
    const stale = { description: 'y', digest: '0'.repeat(40) };
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', stale)).reason).toBe('checksum mismatch (file change by other user?)');
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/105/config', stale)).reason).toBe('checksum mismatch (file change by other user?)');
    expect((await call(sim, 'PUT', '/nodes/pve2/lxc/104/config', stale)).reason).toBe('detected modified configuration - file changed by other user? Try again.');
  });
});

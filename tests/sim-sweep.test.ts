/**
 * Differences of the same kinds as issue 14's (empty-case answers, checks PVE does or does not make, exact
 * texts), found by reading the Proxmox sources endpoint by endpoint; each one as PVE answers it, on both
 * versions. The list of what was checked is in lib/simulator/README.md.
 */
import { describe, expect, test } from 'vitest';
import { PVE_VERSIONS } from '../lib/simulator/index.ts';
import { simCall as call, simulatorsClosedAfterEach } from './helpers/sim.ts';
import { decodeUrlencoded } from '../lib/simulator/urlencoded.ts';

const simulator = simulatorsClosedAfterEach();

const enc = encodeURIComponent;

describe('decode_urlencoded (pve-http-server), for query strings and form bodies', () => {
  test('pairs split on & and ;, values end at the second =, bare keys and empty values are undefined', () => {
    expect(decodeUrlencoded('a=1;b=2&c=3')).toEqual({ a: '1', b: '2', c: '3' });
    expect(decodeUrlencoded('k=a=b')).toEqual({ k: 'a' });
    expect(decodeUrlencoded('k==b')).toEqual({ k: '' });
    expect(decodeUrlencoded('k=')).toEqual({ k: undefined });
    expect(decodeUrlencoded('k')).toEqual({ k: undefined });
    expect(decodeUrlencoded('a=1&&b=2')).toEqual({ a: '1', '': undefined, b: '2' });
    expect(decodeUrlencoded('a=1&')).toEqual({ a: '1' });
  });

  test('+ and %XX in keys and values, UTF-8 only in values, bad escapes kept, repeats collected', () => {
    expect(decodeUrlencoded('de%6Cete=a+b%00c')).toEqual({ delete: 'a b\0c' });
    expect(decodeUrlencoded('name=%C3%A9t%C3%A9')).toEqual({ name: 'été' });
    expect(decodeUrlencoded('name=%C3')).toEqual({ name: '\ufffd' });
    expect(decodeUrlencoded('x=%zz%4')).toEqual({ x: '%zz%4' });
    expect(decodeUrlencoded('c=1&c=2;c=3')).toEqual({ c: ['1', '2', '3'] });
    expect(decodeUrlencoded('c=1&c')).toEqual({ c: undefined });
    expect(decodeUrlencoded('c&c=2')).toEqual({ c: '2' });
  });
});

describe.each(PVE_VERSIONS)('PVE %s', (pveVersion) => {
  const make = (taskDurationMs = 0) => simulator({ taskDurationMs, pveVersion });

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

  test('requests are decoded as pveproxy does: ; separates, _dc is dropped, bad JSON is a 500', async () => {
    const sim = make();
    const auth = { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}` };
    const send = (method: string, path: string, body?: string, type = 'application/x-www-form-urlencoded') =>
      sim.fetch(new Request(`https://pve.test:8006/api2/json${path}`, { method, headers: { ...auth, 'content-type': type }, body }));
    // a ';' inside a raw form body starts a new parameter: protection is set
    expect((await send('PUT', '/nodes/pve1/qemu/105/config', 'description=x;protection=1')).status).toBe(200);
    expect(sim.state.guests.get(105)!.config).toMatchObject({ description: 'x', protection: 1 });
    // the value ends at the second '='
    expect((await send('PUT', '/nodes/pve1/qemu/105/config', 'description=a=b')).status).toBe(200);
    expect(sim.state.guests.get(105)!.config.description).toBe('a');
    // a key without a value is absent: optional ones are ignored, required ones missing
    expect((await send('PUT', '/nodes/pve1/qemu/105/config', 'delete&description=c')).status).toBe(200);
    const missing = await send('POST', '/nodes/pve1/qemu/102/clone', 'newid');
    expect(((await missing.json()) as any).errors).toEqual({ newid: 'property is missing and it is not optional' });
    // ExtJS's cache buster is accepted anywhere
    expect((await send('GET', '/version?_dc=1733090000000')).status).toBe(200);
    const bad = await send('PUT', '/nodes/pve1/qemu/105/config', '{"description":', 'application/json');
    expect(bad.status).toBe(500);
    expect(bad.statusText).toMatch(/^malformed JSON string/);
    expect((await send('PUT', '/nodes/pve1/qemu/105/config', '["description"]', 'application/json; charset=utf-8')).statusText).toBe('Not a HASH reference');
  });

  test('clone: linked clones need base volumes, local storage stays on its node, a running CT clones from a snapshot', async () => {
    const sim = make();
    expect(String(sim.state.guests.get(102)!.config.scsi0)).toMatch(/:base-102-disk-0,/); // a template's disks are base volumes
    const linked = await call(sim, 'POST', '/nodes/pve1/qemu/105/clone', { newid: '700', full: '0' });
    expect(linked.reason).toMatch(/^Linked clone feature is not supported for '[a-z-]+:vm-105-disk-0' \(scsi0\)$/);
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', { newid: '701', storage: 'tank' })).reason).toBe("parameter 'storage' not allowed for linked clones");
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', { newid: '702', full: '1', target: 'pve2' })).reason).toBe("can't clone VM to node 'pve2' (VM uses local storage)");
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', { newid: '703' })).status).toBe(200);
    expect((await call(sim, 'POST', '/nodes/pve3/lxc/103/clone', { newid: '704', full: '1' })).reason).toBe('Full clone of a running container is only possible from a snapshot');
    expect((await call(sim, 'POST', '/nodes/pve3/lxc/103/clone', { newid: '705', full: '1', snapname: 'clean' })).status).toBe(200);
    expect((await call(sim, 'POST', '/nodes/pve2/lxc/104/clone', { newid: '706', full: '0' })).reason).toMatch(/^Linked clone feature for '[a-z-]+:(vm|subvol)-104-disk-0' is not available$/);
  });

  test('migration failures end as "migration aborted", with the reason in the log', async () => {
    const sim = make();
    const live = await call(sim, 'POST', '/nodes/pve1/qemu/100/migrate', { target: 'pve2', online: '1' });
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(live.json.data)}/status`);
    expect(st.json.data.exitstatus).toBe('migration aborted');
    const log = (await call(sim, 'GET', `/nodes/pve1/tasks/${enc(live.json.data)}/log`, { limit: '0' })).json.data.map((l: any) => l.t);
    expect(log.some((l: string) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d can't migrate local disk '[a-z-]+:vm-100-disk-0': can't live migrate attached local disks without with-local-disks option$/.test(l))).toBe(true);
    expect(log.at(-2)).toMatch(/ ERROR: migration aborted \(duration \d\d:\d\d:\d\d\): can't migrate VM - check log$/);
    expect(sim.state.guests.get(100)!.node).toBe('pve1');
    const ok = await call(sim, 'POST', '/nodes/pve1/qemu/100/migrate', { target: 'pve2', online: '1', 'with-local-disks': '1' });
    expect((await call(sim, 'GET', `/nodes/pve1/tasks/${enc(ok.json.data)}/status`)).json.data.exitstatus).toBe('OK');
    expect(sim.state.guests.get(100)!.node).toBe('pve2');
  });

  test('status/current says whether HA manages the guest (get_service_status)', async () => {
    const sim = make();
    expect((await call(sim, 'GET', '/nodes/pve2/qemu/101/status/current')).json.data.ha).toEqual({ managed: 1, state: 'started' });
    expect((await call(sim, 'GET', '/nodes/pve1/qemu/100/status/current')).json.data.ha).toEqual({ managed: 0 });
    sim.state.ha.get('vm:101')!.state = 'ignored';
    expect((await call(sim, 'GET', '/nodes/pve2/qemu/101/status/current')).json.data.ha).toEqual({ managed: 0 });
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

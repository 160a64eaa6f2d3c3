import { describe, expect, test } from 'vitest';
import { auditorToken, type Simulator } from '../lib/simulator/index.ts';
import { simCall as call, simulatorsClosedAfterEach } from './helpers/sim.ts';
import { sleep } from '../lib/abort.ts';

const make = simulatorsClosedAfterEach();

describe('envelope and errors', () => {
  test('success wraps data; content type is json', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/version');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(r.json.data.release).toBe(sim.pveVersion);
    expect(r.json.data.version.startsWith(`${sim.pveVersion}.`)).toBe(true);
  });

  test('unknown path -> 501 with the pveproxy message', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/foo');
    expect(r.status).toBe(501);
    expect(r.reason).toBe("Method 'GET /foo' not implemented");
    expect(r.json).toEqual({ data: null, message: "Method 'GET /foo' not implemented" });
    const wrongMethod = await call(sim, 'PATCH', '/version');
    expect(wrongMethod.status).toBe(501);
  });

  test('missing, unknown and mistyped parameters -> 400 with exact reasons', async () => {
    const sim = make();
    const r = await call(sim, 'POST', '/nodes/pve1/qemu/100/clone', { bogus: '1', full: 'true' });
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Parameter verification failed.');
    expect(r.json.data).toBeNull();
    expect(r.json.message).toBe('Parameter verification failed.\n');
    expect(r.json.errors).toEqual({
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
      full: "type check ('boolean') failed - got 'true'",
      newid: 'property is missing and it is not optional',
    });
    const t = await call(sim, 'GET', '/cluster/nextid', { vmid: 'abc' });
    expect(t.json.errors).toEqual({ vmid: "type check ('integer') failed - got 'abc'" });
    const min = await call(sim, 'GET', '/cluster/nextid', { vmid: '5' });
    expect(min.json.errors).toEqual({ vmid: 'value must have a minimum value of 100' });
    const e = await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop', {});
    expect(e.status).toBe(200);
    const en = await call(sim, 'GET', '/cluster/resources', { type: 'foo' });
    expect(en.json.errors).toEqual({ type: "value 'foo' does not have a value in the enumeration 'vm, storage, node, sdn'" });
  });

  test('booleans accept 0/1 and JSON true/false; integers accept numeric strings', async () => {
    const sim = make();
    const a = await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', { newid: '900', full: '1' });
    expect(a.status).toBe(200);
    const b = await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', undefined, sim.defaultToken, { json: { newid: 901, full: true } });
    expect(b.status).toBe(200);
    const c = await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', undefined, sim.defaultToken, { json: { newid: 902, full: 'false' } });
    expect(c.json.errors).toEqual({ full: "type check ('boolean') failed - got 'false'" });
    expect(sim.state.guests.has(900) && sim.state.guests.has(901)).toBe(true);
  });

  test('query parameters override body; conflicting path parameter is an error', async () => {
    const sim = make();
    const dup = await sim.fetch(new Request('https://x/api2/json/nodes/pve1/qemu/100/config?vmid=101', { method: 'PUT', headers: { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}` } }));
    expect(dup.status).toBe(400);
    expect(((await dup.json()) as any).errors.vmid).toBe('duplicate parameter (already defined in URI) with conflicting values!');
    const r = await sim.fetch(new Request('https://x/api2/json/nodes/pve1/qemu/100/config?description=fromquery', {
      method: 'PUT',
      headers: { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'description=frombody',
    }));
    expect(r.status).toBe(200);
    expect(sim.state.guests.get(100)!.config.description).toBe('fromquery');
  });

  test('indexed parameters are checked against their range', async () => {
    const sim = make();
    const ok = await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { net3: 'virtio,bridge=vmbr0' });
    expect(ok.status).toBe(200);
    const bad = await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { net32: 'virtio,bridge=vmbr0' });
    expect(bad.json.errors.net32).toBe('property is not defined in schema and the schema does not allow additional properties');
  });

  test('a handler die is a 500 whose reason phrase is the message', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/nodes/pve1/qemu/999/config');
    expect(r.status).toBe(500);
    expect(r.reason).toBe("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
    expect(r.json).toEqual({ data: null, message: "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n" });
  });

  test('nextid is a string, and a taken id is a parameter error', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/cluster/nextid');
    expect(r.json.data).toBe('110');
    const taken = await call(sim, 'GET', '/cluster/nextid', { vmid: '100' });
    expect(taken.status).toBe(400);
    expect(taken.json.errors).toEqual({ vmid: 'VM 100 already exists' });
  });
});

describe('authentication and permissions', () => {
  test('no header, wrong secret, unknown token, disabled user -> 401', async () => {
    const sim = make();
    expect((await call(sim, 'GET', '/version', undefined, null)).status).toBe(401);
    const wrong = await call(sim, 'GET', '/version', undefined, { tokenId: sim.defaultToken.tokenId, secret: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.reason).toBe('Authentication failed!');
    expect((await call(sim, 'GET', '/version', undefined, { tokenId: 'ghost@pve!x', secret: 'y' })).status).toBe(401);
    expect((await call(sim, 'GET', '/version', undefined, { tokenId: 'mallory@pve!old', secret: 'sim-disabled-user-token' })).status).toBe(401);
  });

  test('expired token -> 401', async () => {
    const sim = make();
    sim.state.users.get('proxmox-mcp@pve')!.tokens.get('mcp')!.expire = 1000;
    expect((await call(sim, 'GET', '/version')).status).toBe(401);
  });

  test('custom token id and secret', async () => {
    const sim = make({ tokenId: 'svc@pve!ci', tokenSecret: 's3cr3t=with=equals' });
    expect(sim.defaultToken).toEqual({ tokenId: 'svc@pve!ci', secret: 's3cr3t=with=equals' });
    expect((await call(sim, 'GET', '/version')).status).toBe(401);
    // the header is split at the LAST '=': a secret containing '=' cannot round-trip, like real Proxmox
    const sim2 = make({ tokenId: 'svc@pve!ci', tokenSecret: 'plain-secret' });
    expect((await call(sim2, 'GET', '/version')).status).toBe(200);
  });

  test('auditor token can read but gets 403 naming path and privilege on changes', async () => {
    const sim = make();
    const list = await call(sim, 'GET', '/cluster/resources', { type: 'vm' }, auditorToken);
    expect(list.json.data.length).toBe(10);
    const r = await call(sim, 'POST', '/nodes/pve2/qemu/101/status/stop', {}, auditorToken);
    expect(r.status).toBe(403);
    expect(r.reason).toBe('Permission check failed (/vms/101, VM.PowerMgmt)');
    expect(r.json.message).toBe('Permission check failed (/vms/101, VM.PowerMgmt)\n');
  });

  test('privilege separation: token privileges are the intersection with the user', async () => {
    const sim = make();
    // give the auditor token Administrator: the user still only has PVEAuditor, so changes stay forbidden
    sim.state.acl.push({ path: '/', type: 'token', ugid: 'auditor@pve!ro', roleid: 'Administrator', propagate: 1 });
    const r = await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop', {}, auditorToken);
    expect(r.status).toBe(403);
    // without privsep the token has exactly the user's privileges
    sim.state.users.get('auditor@pve')!.tokens.get('ro')!.privsep = 0;
    sim.state.acl.push({ path: '/vms/100', type: 'user', ugid: 'auditor@pve', roleid: 'PVEVMUser', propagate: 1 });
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop', {}, auditorToken)).status).toBe(200);
    expect((await call(sim, 'POST', '/nodes/pve2/qemu/101/status/stop', {}, auditorToken)).status).toBe(403);
  });

  test('a deeper ACL replaces inherited roles; NoAccess removes everything', async () => {
    const sim = make();
    // 102 is in no pool (pool ACLs would add to /vms/<id>, as in Proxmox)
    sim.state.acl.push({ path: '/vms/102', type: 'token', ugid: sim.defaultToken.tokenId, roleid: 'NoAccess', propagate: 1 });
    const r = await call(sim, 'GET', '/nodes/pve1/qemu/102/status/current');
    expect(r.status).toBe(403);
    expect(r.reason).toBe('Permission check failed (/vms/102, VM.Audit)');
    const list = await call(sim, 'GET', '/cluster/resources', { type: 'vm' });
    expect(list.json.data.map((g: any) => g.vmid)).not.toContain(102);
    expect(list.json.data.map((g: any) => g.vmid)).toContain(100);
  });

  test('GET /access/permissions shows the caller effective privileges', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/access/permissions', undefined, auditorToken);
    expect(r.json.data['/']).toMatchObject({ 'VM.Audit': 1, 'Sys.Audit': 1, 'Datastore.Audit': 1 });
    expect(r.json.data['/']['VM.PowerMgmt']).toBeUndefined();
    const mine = await call(sim, 'GET', '/access/permissions', { path: '/vms/100' });
    expect(mine.json.data['/vms/100']['VM.PowerMgmt']).toBe(1);
    expect(mine.json.data['/vms/100']['Sys.Modify']).toBe(1);
    expect(mine.json.data['/vms/100']['Realm.Allocate']).toBeUndefined();
  });

  test('allowtoken:0 endpoint answers 403 for tokens', async () => {
    const sim = make();
    const r = await call(sim, 'PUT', '/access/password', { userid: 'proxmox-mcp@pve', password: 'whatever1' });
    expect(r.status).toBe(403);
    expect(r.reason).toBe("Permission check failed (URI '/access/password' not available with API token, need proper ticket.)");
  });

  test('root-only endpoint refuses a non-root token', async () => {
    const sim = make();
    const r = await call(sim, 'DELETE', '/cluster/config/nodes/pve3');
    expect(r.status).toBe(403);
    expect(r.reason).toBe('Permission check failed (user != root@pam)');
  });

  test('tokens: create, list, use, delete', async () => {
    const sim = make();
    const created = await call(sim, 'POST', '/access/users/bob@pve/token/cli', { privsep: '0', comment: 'cli' });
    expect(created.json.data['full-tokenid']).toBe('bob@pve!cli');
    expect(created.json.data.info).toEqual({ privsep: 0, expire: 0, comment: 'cli' });
    const secret = created.json.data.value as string;
    expect(secret).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(sim, 'GET', '/version', undefined, { tokenId: 'bob@pve!cli', secret })).status).toBe(200);
    const list = await call(sim, 'GET', '/access/users/bob@pve/token');
    expect(list.json.data).toEqual([{ tokenid: 'cli', privsep: 0, expire: 0, comment: 'cli' }]);
    expect((await call(sim, 'DELETE', '/access/users/bob@pve/token/cli')).status).toBe(200);
    expect((await call(sim, 'GET', '/version', undefined, { tokenId: 'bob@pve!cli', secret })).status).toBe(401);
  });

  test('ACL update and role management', async () => {
    const sim = make();
    expect((await call(sim, 'POST', '/access/roles', { roleid: 'Restarter', privs: 'VM.PowerMgmt,VM.Audit' })).status).toBe(200);
    const bad = await call(sim, 'POST', '/access/roles', { roleid: 'Bad', privs: 'VM.Fly' });
    expect(bad.status).toBe(500);
    expect(bad.reason).toBe("invalid privilege 'VM.Fly'");
    expect((await call(sim, 'PUT', '/access/acl', { path: '/vms/102', roles: 'Restarter', users: 'bob@pve' })).status).toBe(200);
    const acl = await call(sim, 'GET', '/access/acl');
    expect(acl.json.data).toContainEqual({ path: '/vms/102', type: 'user', ugid: 'bob@pve', roleid: 'Restarter', propagate: 1 });
    const perms = await call(sim, 'GET', '/access/permissions', { userid: 'bob@pve', path: '/vms/102' });
    expect(perms.json.data['/vms/102']).toEqual({ 'VM.Audit': 1, 'VM.PowerMgmt': 1 });
    // bob's group has PVEVMUser on /pool/dev, and VM 104 is in that pool
    const pooled = await call(sim, 'GET', '/access/permissions', { userid: 'bob@pve', path: '/vms/104' });
    expect(pooled.json.data['/vms/104']).toMatchObject({ 'VM.PowerMgmt': 1, 'VM.Backup': 1, 'VM.Console': 1 });
  });
});

describe('tasks', () => {
  test('lifecycle: running, then stopped OK, and the state changes when the task ends', async () => {
    const sim = make({ taskDurationMs: 40 });
    const r = await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start');
    const upid = r.json.data as string;
    expect(upid).toMatch(/^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:qmstart:105:proxmox-mcp@pve!mcp:$/);
    const s1 = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(s1.json.data).toMatchObject({ status: 'running', type: 'qmstart', id: '105', user: 'proxmox-mcp@pve', tokenid: 'mcp', node: 'pve1' });
    expect(s1.json.data.exitstatus).toBeUndefined();
    expect(sim.state.guests.get(105)!.status).toBe('stopped');
    await sleep(60);
    const s2 = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(s2.json.data).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
    expect(sim.state.guests.get(105)!.status).toBe('running');
    const log = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
    expect(log.json.total).toBe(log.json.data.length);
    expect(log.json.data.at(-1)).toEqual({ n: log.json.total, t: 'TASK OK' });
    const list = await call(sim, 'GET', '/nodes/pve1/tasks', { typefilter: 'qmstart' });
    expect(list.json.total).toBe(1);
    // archive rows split a token owner into user + tokenid (Tasks.pm $convert_token_task)
    expect(list.json.data[0]).toMatchObject({ upid, status: 'OK', user: 'proxmox-mcp@pve', tokenid: 'mcp' });
    const cluster = await call(sim, 'GET', '/cluster/tasks');
    expect(cluster.json.data.map((t: any) => t.upid)).toContain(upid);
  });

  test('failures inside the worker end the task with TASK ERROR', async () => {
    const sim = make();
    const r = await call(sim, 'POST', '/nodes/pve1/qemu/100/status/start');
    expect(r.status).toBe(200);
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(r.json.data)}/status`);
    expect(st.json.data.exitstatus).toBe('VM 100 already running');
    const log = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(r.json.data)}/log`);
    expect(log.json.data.at(-1).t).toBe('TASK ERROR: VM 100 already running');
    const errs = await call(sim, 'GET', '/nodes/pve1/tasks', { errors: '1' });
    expect(errs.json.total).toBe(1);
  });

  test('failures before the worker are HTTP 500', async () => {
    const sim = make();
    const reboot = await call(sim, 'POST', '/nodes/pve1/qemu/105/status/reboot');
    expect(reboot.status).toBe(500);
    expect(reboot.reason).toBe('VM 105 not running');
    const ct = await call(sim, 'POST', '/nodes/pve3/lxc/103/status/start');
    expect(ct.reason).toBe('CT 103 already running');
    const prot = await call(sim, 'DELETE', '/nodes/pve2/qemu/101');
    expect(prot.reason).toBe("can't remove VM 101 - protection mode enabled");
    const running = await call(sim, 'DELETE', '/nodes/pve1/qemu/100');
    expect(running.reason).toBe('VM 100 is running - destroy failed');
    const noreset = await call(sim, 'POST', '/nodes/pve3/lxc/103/status/reset');
    expect(noreset.status).toBe(501);
  });

  test('unknown or malformed UPIDs', async () => {
    const sim = make();
    const bad = await call(sim, 'GET', '/nodes/pve1/tasks/garbage/status');
    expect(bad.json.errors).toEqual({ upid: 'unable to parse worker upid' });
    const none = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent('UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam:')}/status`);
    expect(none.json.errors).toEqual({ upid: 'no such task' });
  });

  test('stopping a running task', async () => {
    const sim = make({ taskDurationMs: 10_000 });
    const upid = (await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start')).json.data;
    expect((await call(sim, 'DELETE', `/nodes/pve1/tasks/${encodeURIComponent(upid)}`)).status).toBe(200);
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    expect(st.json.data).toMatchObject({ status: 'stopped', exitstatus: 'received interrupt' });
    expect(sim.state.guests.get(105)!.status).toBe('stopped');
  });

  test('auditor cannot read another user task log without Sys.Audit... but has it on /', async () => {
    const sim = make();
    const upid = (await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start')).json.data;
    expect((await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`, undefined, auditorToken)).status).toBe(200);
    expect((await call(sim, 'DELETE', `/nodes/pve1/tasks/${encodeURIComponent(upid)}`, undefined, auditorToken)).reason).toBe('Permission check failed (/nodes/pve1, Sys.Modify)');
  });
});

describe('guests, storage, network', () => {
  test('snapshots: create, list with current, rollback, delete', async () => {
    const sim = make();
    const snaps = await call(sim, 'GET', '/nodes/pve1/qemu/100/snapshot');
    expect(snaps.json.data.at(-1)).toMatchObject({ name: 'current', description: 'You are here!', running: 1, parent: 'post-upgrade' });
    await call(sim, 'POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'mine', description: 'x' });
    const dup = await call(sim, 'POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'mine' });
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(dup.json.data)}/status`);
    expect(st.json.data.exitstatus).toBe("snapshot name 'mine' already used");
    await call(sim, 'POST', '/nodes/pve1/qemu/100/snapshot/pre-upgrade/rollback');
    expect(sim.state.guests.get(100)!.parent).toBe('pre-upgrade');
    expect(sim.state.guests.get(100)!.status).toBe('stopped');
    await call(sim, 'DELETE', '/nodes/pve1/qemu/100/snapshot/mine');
    expect(sim.state.guests.get(100)!.snapshots.has('mine')).toBe(false);
  });

  test('config: digest, pending changes on a running VM, delete', async () => {
    const sim = make();
    const cfg = await call(sim, 'GET', '/nodes/pve1/qemu/100/config');
    expect(cfg.json.data.digest).toMatch(/^[0-9a-f]{40}$/);
    const stale = await call(sim, 'PUT', '/nodes/pve1/qemu/100/config', { cores: '8', digest: '0'.repeat(40) });
    expect(stale.reason).toBe('checksum mismatch (file change by other user?)'); // qemu-server's text; LXC uses assert_if_modified's
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/100/config', { cores: '8', digest: cfg.json.data.digest })).status).toBe(200);
    const pending = await call(sim, 'GET', '/nodes/pve1/qemu/100/pending');
    expect(pending.json.data.find((p: any) => p.key === 'cores')).toMatchObject({ key: 'cores', pending: 8 });
    const current = await call(sim, 'GET', '/nodes/pve1/qemu/100/config', { current: '1' });
    expect(current.json.data.cores).not.toBe(8);
    await call(sim, 'POST', '/nodes/pve1/qemu/100/status/stop');
    expect(sim.state.guests.get(100)!.config.cores).toBe(8);
  });

  test('create from ISO, clone template, migrate, destroy', async () => {
    const sim = make();
    const create = await call(sim, 'POST', '/nodes/pve2/qemu', { vmid: '300', name: 'new', memory: '2048', scsi0: 'local-lvm:32', net0: 'virtio,bridge=vmbr0', ide2: 'local:iso/debian-12.7.0-amd64-netinst.iso,media=cdrom', start: '1' });
    expect(create.status).toBe(200);
    const g = sim.state.guests.get(300)!;
    expect(g.config.scsi0).toBe('local-lvm:vm-300-disk-0,size=32G');
    expect(g.status).toBe('running');
    const exists = await call(sim, 'POST', '/nodes/pve1/qemu', { vmid: '300' });
    expect(exists.reason).toBe("VM 300 already exists on node 'pve2'");
    await call(sim, 'POST', '/nodes/pve1/qemu/102/clone', { newid: '301', name: 'linked' });
    expect(sim.state.guests.get(301)!.config.scsi0).toMatch(/^local-lvm:base-301-disk-0|^local-lvm:vm-301-disk-0|^tank:/);
    const same = await call(sim, 'POST', '/nodes/pve2/qemu/300/migrate', { target: 'pve2' });
    expect(same.json.errors).toEqual({ target: 'target is local node.' });
    const offline = await call(sim, 'POST', '/nodes/pve2/qemu/300/migrate', { target: 'pve1' });
    expect(offline.reason).toBe("can't migrate running VM without --online");
    // its disk is on local-lvm: a live migration needs with-local-disks (see sim-sweep.test.ts)
    await call(sim, 'POST', '/nodes/pve2/qemu/300/migrate', { target: 'pve1', online: '1', 'with-local-disks': '1' });
    expect(sim.state.guests.get(300)!.node).toBe('pve1');
    await call(sim, 'POST', '/nodes/pve1/qemu/300/status/stop');
    await call(sim, 'DELETE', '/nodes/pve1/qemu/300', { purge: '1' });
    expect(sim.state.guests.has(300)).toBe(false);
  });

  test('vzdump creates a backup volume; restore from it', async () => {
    const sim = make();
    const r = await call(sim, 'POST', '/nodes/pve1/vzdump', { vmid: '105', storage: 'local', mode: 'snapshot', compress: 'zstd' });
    expect(r.json.data).toMatch(/:vzdump:105:/);
    const content = await call(sim, 'GET', '/nodes/pve1/storage/local/content', { content: 'backup' });
    const vol = content.json.data.find((v: any) => v.vmid === 105);
    expect(vol.volid).toMatch(/^local:backup\/vzdump-qemu-105-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.vma\.zst$/);
    expect(vol.ctime).toBeGreaterThan(0);
    const restore = await call(sim, 'POST', '/nodes/pve1/qemu', { vmid: '400', archive: vol.volid });
    expect(restore.json.data).toMatch(/:qmrestore:400:/);
    expect(sim.state.guests.get(400)!.config.name).toBe('win-test');
  });

  test('guest agent exec and exec-status', async () => {
    const sim = make();
    const { json } = await call(sim, 'POST', '/nodes/pve1/qemu/100/agent/exec', { command: ['uname', '-a'] });
    const st = await call(sim, 'GET', '/nodes/pve1/qemu/100/agent/exec-status', { pid: String(json.data.pid) });
    expect(st.json.data.exited).toBe(true);
    expect(st.json.data.exitcode).toBe(0);
    expect(st.json.data['out-data']).toMatch(/^Linux web01 /);
    const single = await call(sim, 'POST', '/nodes/pve1/qemu/100/agent/exec', { command: 'hostname' });
    expect(single.status).toBe(200);
    const noAgent = await call(sim, 'GET', '/nodes/pve1/qemu/105/agent/get-osinfo');
    expect(noAgent.reason).toBe('No QEMU guest agent configured');
    const ifaces = await call(sim, 'GET', '/nodes/pve1/qemu/100/agent/network-get-interfaces');
    expect(ifaces.json.data.result[0].name).toBe('lo');
  });

  test('network: staged changes, apply and revert', async () => {
    const sim = make();
    expect((await call(sim, 'POST', '/nodes/pve1/network', { iface: 'vmbr9', type: 'bridge', bridge_ports: 'eno2', autostart: '1' })).status).toBe(200);
    const listed = await call(sim, 'GET', '/nodes/pve1/network', { type: 'bridge' });
    expect(listed.json.changes).toContain('vmbr9');
    expect(listed.json.data.find((i: any) => i.iface === 'vmbr9')).toMatchObject({ type: 'bridge', active: 0 });
    expect(sim.state.nodes.get('pve1')!.network.has('vmbr9')).toBe(false);
    const dup = await call(sim, 'POST', '/nodes/pve1/network', { iface: 'vmbr9', type: 'bridge' });
    expect(dup.json.errors).toEqual({ iface: 'interface already exists' });
    const apply = await call(sim, 'PUT', '/nodes/pve1/network');
    expect(apply.json.data).toMatch(/:srvreload:networking:/);
    expect(sim.state.nodes.get('pve1')!.network.has('vmbr9')).toBe(true);
    await call(sim, 'DELETE', '/nodes/pve1/network/vmbr9');
    await call(sim, 'DELETE', '/nodes/pve1/network');
    expect(sim.state.nodes.get('pve1')!.stagedNetwork).toBeNull();
    expect(sim.state.nodes.get('pve1')!.network.has('vmbr9')).toBe(true);
  });

  test('storage listing and content', async () => {
    const sim = make();
    const list = await call(sim, 'GET', '/nodes/pve1/storage');
    expect(list.json.data.map((s: any) => s.storage).sort()).toEqual(['local', 'local-lvm', 'nfs-backup', 'tank']);
    const images = await call(sim, 'GET', '/nodes/pve1/storage/local-lvm/content', { vmid: '100' });
    expect(images.json.data[0]).toMatchObject({ content: 'images', vmid: 100, format: 'raw' });
    const vol = await call(sim, 'GET', `/nodes/pve1/storage/local/content/${encodeURIComponent('local:iso/virtio-win-0.1.262.iso')}`);
    expect(vol.json.data.path).toBe('/var/lib/vz/template/iso/virtio-win-0.1.262.iso');
    const del = await call(sim, 'DELETE', `/nodes/pve1/storage/local/content/${encodeURIComponent('local:iso/virtio-win-0.1.262.iso')}`);
    expect(del.json.data).toMatch(/^UPID:pve1:.*:imgdel:/);
    expect((await call(sim, 'GET', '/storage/nfs-backup')).json.data).toMatchObject({ type: 'nfs', shared: 1, content: 'backup' });
  });

  test('cluster status and resources', async () => {
    const sim = make();
    const st = await call(sim, 'GET', '/cluster/status');
    expect(st.json.data[0]).toMatchObject({ type: 'cluster', id: 'cluster', nodes: 3, quorate: 1 });
    expect(st.json.data.filter((e: any) => e.local === 1).map((e: any) => e.name)).toEqual(['pve1']);
    const res = await call(sim, 'GET', '/cluster/resources');
    const types = new Set(res.json.data.map((r: any) => r.type));
    expect([...types].sort()).toEqual(['lxc', 'node', 'pool', 'qemu', 'storage']);
    expect(res.json.data.find((r: any) => r.vmid === 102)).toMatchObject({ template: 1, status: 'stopped' });
  });

  test('generation is deterministic for a seed', () => {
    const a = make({ seed: 7, guests: 30 });
    const b = make({ seed: 7, guests: 30 });
    const pick = (s: Simulator) => [...s.state.guests.values()].map((g) => `${g.vmid}:${g.type}:${g.node}:${g.status}:${g.config.name ?? g.config.hostname}`);
    expect(pick(a)).toEqual(pick(b));
  });
});

describe('faults', () => {
  test('offline node: 595 on its endpoints, offline in resources, guests unknown', async () => {
    const sim = make();
    sim.faults.setNodeOnline('pve2', false);
    const r = await call(sim, 'GET', '/nodes/pve2/qemu');
    expect(r.status).toBe(595);
    expect(r.reason).toBe('No route to host');
    const res = await call(sim, 'GET', '/cluster/resources');
    expect(res.status).toBe(200);
    expect(res.json.data.find((x: any) => x.id === 'node/pve2').status).toBe('offline');
    expect(res.json.data.find((x: any) => x.vmid === 101).status).toBe('unknown');
    const nodes = await call(sim, 'GET', '/nodes');
    expect(nodes.json.data.find((n: any) => n.node === 'pve2').status).toBe('offline');
    sim.faults.clear();
    expect((await call(sim, 'GET', '/nodes/pve2/qemu')).status).toBe(200);
  });

  test('failNext 500 with message, then normal', async () => {
    const sim = make();
    sim.faults.failNext(1, '500', { method: 'GET', path: /^\/version$/ }, { message: 'database locked' });
    const r = await call(sim, 'GET', '/version');
    expect(r.status).toBe(500);
    expect(r.reason).toBe('database locked');
    expect(r.json.message).toBe('database locked\n');
    expect((await call(sim, 'GET', '/version')).status).toBe(200);
  });

  test('595 and 596', async () => {
    const sim = make();
    sim.faults.failNext(1, '595');
    sim.faults.failNext(1, '596');
    expect((await call(sim, 'GET', '/version')).status).toBe(595);
    const tls = await call(sim, 'GET', '/version');
    expect(tls.status).toBe(596);
    expect(tls.reason).toMatch(/certificate/);
  });

  test('html page from a proxy, 502 and 200', async () => {
    const sim = make();
    sim.faults.failNext(1, 'html');
    sim.faults.failNext(1, 'html', undefined, { status: 200 });
    const a = await call(sim, 'GET', '/version');
    expect(a.status).toBe(502);
    expect(a.headers.get('content-type')).toBe('text/html');
    expect(a.text).toContain('<html>');
    const b = await call(sim, 'GET', '/version');
    expect(b.status).toBe(200);
    expect(b.json).toBeUndefined();
  });

  test('badJson truncates the real answer', async () => {
    const sim = make();
    sim.faults.failNext(1, 'badJson', /^\/cluster\/resources/);
    const r = await call(sim, 'GET', '/cluster/resources');
    expect(r.status).toBe(200);
    expect(r.text.startsWith('{"data":[')).toBe(true);
    expect(() => JSON.parse(r.text)).toThrow();
  });

  test('hang until the request signal aborts', async () => {
    const sim = make();
    const remove = sim.faults.fail('hang', { path: '/version' });
    const controller = new AbortController();
    const p = call(sim, 'GET', '/version', undefined, sim.defaultToken, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(p).rejects.toThrow();
    remove();
    expect((await call(sim, 'GET', '/version')).status).toBe(200);
  });

  test('latency delays answers', async () => {
    const sim = make();
    sim.faults.latency(30);
    const t0 = performance.now();
    await call(sim, 'GET', '/version');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  test('stats count requests by endpoint template', async () => {
    const sim = make();
    await call(sim, 'GET', '/nodes/pve1/qemu');
    await call(sim, 'GET', '/nodes/pve2/qemu');
    await call(sim, 'GET', '/nope');
    expect(sim.stats.requests).toBe(3);
    expect(sim.stats.byEndpoint.get('GET /nodes/{node}/qemu')).toBe(2);
    expect(sim.stats.byEndpoint.get('GET /nope')).toBe(1);
    sim.stats.reset();
    expect(sim.stats.requests).toBe(0);
  });
});

describe('scale', () => {
  test('32 nodes and 2000 guests', async () => {
    const t0 = performance.now();
    const sim = make({ nodes: 32, guests: 2000 });
    const created = performance.now() - t0;
    expect(sim.state.guests.size).toBe(2000);
    expect(sim.state.nodes.size).toBe(32);
    const r = await call(sim, 'GET', '/cluster/resources');
    expect(r.json.data.filter((x: any) => x.type === 'qemu' || x.type === 'lxc')).toHaveLength(2000);
    expect(r.json.data.filter((x: any) => x.type === 'node')).toHaveLength(32);
    // loose sanity bound only; timing targets live in bench/
    expect(created).toBeLessThan(2000);
  });
});

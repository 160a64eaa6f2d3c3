/**
 * One test per Proxmox fact the simulator was corrected on (../shared/pve-api/FACTS.md section 8), run
 * against both versions it speaks. Each asserts the answer as real PVE gives it, and where the simulator
 * used to be stricter than PVE (in-use volumes, NUL lists), that it is no longer.
 */
import { describe, expect, test } from 'vitest';
import { PVE_VERSIONS, splitList, type PveVersion, type Simulator, type SimulatorOptions } from '../lib/simulator/index.ts';
import { simCall as call, simulatorsClosedAfterEach, type SimToken as Token } from './helpers/sim.ts';

const simulator = simulatorsClosedAfterEach();

const enc = encodeURIComponent;

/** A token of `userid` with `role` on `/` for both user and token (privsep). */
function addToken(sim: Simulator, userid: string, tokenid: string, role: string, path = '/'): Token {
  let u = sim.state.users.get(userid);
  if (!u) {
    u = { userid, enable: 1, expire: 0, groups: new Set(), tokens: new Map() };
    sim.state.users.set(userid, u);
  }
  const secret = `secret-${tokenid}`;
  u.tokens.set(tokenid, { tokenid, secret, privsep: 1, expire: 0 });
  sim.state.acl.push({ path, type: 'user', ugid: userid, roleid: role, propagate: 1 }, { path, type: 'token', ugid: `${userid}!${tokenid}`, roleid: role, propagate: 1 });
  return { tokenId: `${userid}!${tokenid}`, secret };
}

describe('split_list (pve-common PVE::Tools)', () => {
  test('a value with a NUL splits on NUL only; otherwise on , ; and whitespace', () => {
    expect(splitList('alice@pve\0root@pam')).toEqual(['alice@pve', 'root@pam']);
    expect(splitList('a,b\0c')).toEqual(['a,b', 'c']);
    expect(splitList('a\0\0b')).toEqual(['a', '', 'b']);
    expect(splitList('a\0b\0\0')).toEqual(['a', 'b']);
    expect(splitList('\0a')).toEqual(['', 'a']);
    expect(splitList('description,protection')).toEqual(['description', 'protection']);
    expect(splitList(' a;b\tc\nd  e,,f ')).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(splitList('')).toEqual([]);
    expect(splitList(undefined)).toEqual([]);
    // no cleaning: other control characters stay inside an item
    expect(splitList('prot\u0001ection')).toEqual(['prot\u0001ection']);
    // Perl's Unicode \s (checked with perl on Encode::decode'd strings): NEL, NBSP, U+2028 split; U+FEFF does not
    expect(splitList('description\u0085protection\u00a0tags\u2028x\ufeffy')).toEqual(['description', 'protection', 'tags', 'x\ufeffy']);
    expect(splitList('\u3000a\u2000b\u000bc')).toEqual(['a', 'b', 'c']);
  });
});

describe.each(PVE_VERSIONS)('PVE %s', (pveVersion: PveVersion) => {
  function make(opts: SimulatorOptions = {}): Simulator {
    return simulator({ pveVersion, ...opts });
  }

  test('task lists show a token owner as user + tokenid; active rows keep the raw owner', async () => {
    const sim = make({ taskDurationMs: 60_000 });
    const done = (await call(sim, 'POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'x1' })).json.data as string;
    sim.state.tasks.tick(Date.now() + 120_000); // finish it
    const running = (await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start')).json.data as string;
    expect(running).toContain(':proxmox-mcp@pve!mcp:');

    const archive = await call(sim, 'GET', '/nodes/pve1/tasks');
    const row = archive.json.data.find((t: any) => t.upid === done);
    expect(row).toMatchObject({ user: 'proxmox-mcp@pve', tokenid: 'mcp', status: 'OK' });
    expect(archive.json.data.find((t: any) => t.upid === running)).toBeUndefined();

    const active = await call(sim, 'GET', '/nodes/pve1/tasks', { source: 'active' });
    expect(active.json.data).toHaveLength(1);
    expect(active.json.data[0]).toMatchObject({ upid: running, user: 'proxmox-mcp@pve!mcp', status: 'RUNNING' });
    expect(active.json.data[0].tokenid).toBeUndefined();

    const all = await call(sim, 'GET', '/nodes/pve1/tasks', { source: 'all' });
    expect(all.json.data[0].upid).toBe(running); // active rows first
    expect(all.json.total).toBe(2);

    const cluster = await call(sim, 'GET', '/cluster/tasks');
    for (const upid of [done, running]) expect(cluster.json.data.find((t: any) => t.upid === upid)).toMatchObject({ user: 'proxmox-mcp@pve', tokenid: 'mcp' });

    // userfilter matches the row as shown: the split user, not the token
    expect((await call(sim, 'GET', '/nodes/pve1/tasks', { userfilter: '!mcp' })).json.data).toEqual([]);
    expect((await call(sim, 'GET', '/nodes/pve1/tasks', { userfilter: 'proxmox-mcp@pve' })).json.data.length).toBe(1);
    // typefilter is an exact match
    expect((await call(sim, 'GET', '/nodes/pve1/tasks', { typefilter: 'qmsnap' })).json.data).toEqual([]);
    expect((await call(sim, 'GET', '/nodes/pve1/tasks', { typefilter: 'qmsnapshot' })).json.data.length).toBe(1);
  });

  test('/cluster/tasks without Sys.Audit on /: a token sees none of its own tasks (PVE compares the split user)', async () => {
    const sim = make();
    const tok = addToken(sim, 'carol@pve', 'ops', 'PVEVMAdmin', '/vms');
    const upid = (await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start', {}, tok)).json.data as string;
    expect(upid).toContain(':carol@pve!ops:');
    expect((await call(sim, 'GET', '/cluster/tasks', undefined, tok)).json.data).toEqual([]);
    // the node task list lets the token see its own (Tasks.pm $check_task_user)
    const own = await call(sim, 'GET', '/nodes/pve1/tasks', undefined, tok);
    expect(own.json.data.map((t: any) => t.upid)).toEqual([upid]);
  });

  test('total is left out when it is 0 and sent when it is not', async () => {
    const sim = make();
    const empty = await call(sim, 'GET', '/nodes/pve2/tasks');
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ data: [] });
    expect(empty.text).toBe('{"data":[]}');
    await call(sim, 'POST', '/nodes/pve2/qemu/101/snapshot', { snapname: 's1' });
    const one = await call(sim, 'GET', '/nodes/pve2/tasks');
    expect(one.json.total).toBe(1);
    const past = await call(sim, 'GET', '/nodes/pve2/tasks', { start: '5' });
    expect(past.json).toEqual({ data: [], total: 1 });
  });

  test('the log of a task with no lines yet is one line "no content", total 1', async () => {
    const sim = make({ taskDurationMs: 60_000 });
    const upid = (await call(sim, 'POST', '/nodes/pve1/qemu/105/status/start')).json.data as string;
    const log = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(upid)}/log`);
    expect(log.json).toEqual({ data: [{ n: 1, t: 'no content' }], total: 1 });
    sim.state.tasks.tick(Date.now() + 120_000);
    const after = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(upid)}/log`, { limit: '0' });
    expect(after.json.data.at(-1)).toEqual({ n: after.json.total, t: 'TASK OK' }); // limit 0 reads to the end
  });

  test('lxc interfaces carry hardware-address and ip-addresses; a stopped container answers data null', async () => {
    const sim = make();
    const r = await call(sim, 'GET', '/nodes/pve3/lxc/103/interfaces');
    expect(r.status).toBe(200);
    const eth0 = r.json.data.find((i: any) => i.name === 'eth0');
    const mac = String(sim.state.guests.get(103)!.config.net0).match(/hwaddr=([0-9A-F:]+)/i)![1].toLowerCase();
    expect(eth0).toMatchObject({ name: 'eth0', hwaddr: mac, 'hardware-address': mac });
    expect(eth0['ip-addresses']).toEqual([
      { 'ip-address-type': 'inet', 'ip-address': eth0.inet.split('/')[0], prefix: Number(eth0.inet.split('/')[1]) },
      { 'ip-address-type': 'inet6', 'ip-address': eth0.inet6.split('/')[0], prefix: 64 },
    ]);
    for (const row of r.json.data) for (const key of ['name', 'hwaddr', 'hardware-address', 'ip-addresses']) expect(row, key).toHaveProperty(key);
    const stopped = await call(sim, 'GET', '/nodes/pve2/lxc/104/interfaces');
    expect(stopped.status).toBe(200);
    expect(stopped.text).toBe('{"data":null}');
  });

  test('401: empty body, no JSON content type, the text in the reason phrase, and the configured delay', async () => {
    const sim = make();
    const none = await call(sim, 'GET', '/version', undefined, null);
    expect(none.status).toBe(401);
    expect(none.reason).toBe('No ticket');
    expect(none.text).toBe('');
    expect(none.headers.get('content-type')).toBeNull();
    const wrong = await call(sim, 'GET', '/cluster/resources', undefined, { tokenId: sim.defaultToken.tokenId, secret: 'wrong' });
    expect([wrong.status, wrong.reason, wrong.text]).toEqual([401, 'Authentication failed!', '']);
    expect(wrong.text).not.toContain('wrong');

    const slow = make({ authFailureDelayMs: 120 });
    const t0 = performance.now();
    expect((await call(slow, 'GET', '/version', undefined, null)).status).toBe(401);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    const t1 = performance.now();
    expect((await call(slow, 'GET', '/version')).status).toBe(200); // success is not delayed
    expect(performance.now() - t1).toBeLessThan(110);
  });

  test('roles carry the privileges of this version', async () => {
    const sim = make();
    const admin = (await call(sim, 'GET', '/access/roles/PVEVMAdmin')).json.data as Record<string, number>;
    const user = (await call(sim, 'GET', '/access/roles/PVEVMUser')).json.data as Record<string, number>;
    const all = (await call(sim, 'GET', '/access/roles/Administrator')).json.data as Record<string, number>;
    if (pveVersion === '8.4') {
      expect(admin['VM.Monitor']).toBe(1);
      for (const p of Object.keys({ ...admin, ...user, ...all })) expect(p.startsWith('VM.GuestAgent.') || p === 'VM.Replicate', p).toBe(false);
    } else {
      expect(all['VM.Monitor']).toBeUndefined();
      expect(admin).toMatchObject({ 'VM.Replicate': 1, 'VM.GuestAgent.Unrestricted': 1, 'VM.GuestAgent.FileRead': 1, 'VM.GuestAgent.FileWrite': 1, 'VM.GuestAgent.FileSystemMgmt': 1 });
      expect(user).toMatchObject({ 'VM.GuestAgent.Audit': 1, 'VM.GuestAgent.FileRead': 1, 'VM.GuestAgent.FileWrite': 1, 'VM.GuestAgent.FileSystemMgmt': 1 });
      expect(user['VM.GuestAgent.Unrestricted']).toBeUndefined();
      const auditor = (await call(sim, 'GET', '/access/roles/PVEAuditor')).json.data as Record<string, number>;
      expect(auditor['VM.GuestAgent.Audit']).toBe(1); // an audit privilege in PVE 9
    }
    // a role may only hold privileges this version knows
    const monitor = await call(sim, 'POST', '/access/roles', { roleid: 'Mon', privs: 'VM.Monitor' });
    const agent = await call(sim, 'POST', '/access/roles', { roleid: 'Agent', privs: 'VM.GuestAgent.Audit' });
    expect([monitor.status, agent.status]).toEqual(pveVersion === '8.4' ? [200, 500] : [500, 200]);
    expect((pveVersion === '8.4' ? agent : monitor).reason).toBe(`invalid privilege '${pveVersion === '8.4' ? 'VM.GuestAgent.Audit' : 'VM.Monitor'}'`);
  });

  test('the guest agent needs VM.Monitor on 8.4 and VM.GuestAgent.* on 9.x', async () => {
    const sim = make();
    sim.state.roles.set('AgentOnly', { privs: new Set([pveVersion === '8.4' ? 'VM.Monitor' : 'VM.GuestAgent.Audit']), special: 0 });
    const tok = addToken(sim, 'dave@pve', 'agent', 'AgentOnly', '/vms/100');
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/100/agent/ping', {}, tok)).status).toBe(200);
    const exec = await call(sim, 'POST', '/nodes/pve1/qemu/100/agent/exec', { command: 'true' }, tok);
    if (pveVersion === '8.4') expect(exec.status).toBe(200);
    else expect(exec.reason).toBe('Permission check failed (/vms/100, VM.GuestAgent.Unrestricted)');
  });

  test('list parameters split on NUL like split_list: delete two keys, ACL for two users', async () => {
    const sim = make();
    await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { description: 'd', onboot: '1' });
    const del = await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { delete: 'description\0onboot' });
    expect(del.status).toBe(200);
    expect(sim.state.guests.get(105)!.config.description).toBeUndefined();
    expect(sim.state.guests.get(105)!.config.onboot).toBeUndefined();
    // with a NUL, a comma is part of the item: 'tags,name' is one (invalid) key
    const mixed = await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { delete: 'tags,name\0cores' });
    expect(mixed.status).toBe(400);
    expect(mixed.json.errors.delete).toBe("invalid format - invalid configuration ID 'tags,name'");
    // the same through a JSON body
    await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { description: 'again', onboot: '1' });
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', undefined, sim.defaultToken, { json: { delete: 'description\u0000onboot' } })).status).toBe(200);
    expect(sim.state.guests.get(105)!.config.description).toBeUndefined();

    // a NEL (U+0085, sent as %C2%85) separates items too, as Perl's \s on a decoded string
    await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { description: 'nel', onboot: '1' });
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { delete: 'description\u0085onboot' })).status).toBe(200);
    expect(sim.state.guests.get(105)!.config.description).toBeUndefined();
    expect(sim.state.guests.get(105)!.config.onboot).toBeUndefined();

    const acl = await call(sim, 'PUT', '/access/acl', { path: '/vms/105', roles: 'PVEAuditor', users: 'alice@pve\0bob@pve' });
    expect(acl.status).toBe(200);
    const rows = sim.state.acl.filter((a) => a.path === '/vms/105' && a.roleid === 'PVEAuditor').map((a) => a.ugid).sort();
    expect(rows).toEqual(['alice@pve', 'bob@pve']);
  });

  test('deleting a volume a guest still uses succeeds (PVE has no in-use check); protection stops it in the task', async () => {
    const sim = make();
    const volid = String(sim.state.guests.get(100)!.config.scsi0).split(',')[0];
    const [store] = volid.split(':');
    const r = await call(sim, 'DELETE', `/nodes/pve1/storage/${store}/content/${enc(volid)}`);
    expect(r.status).toBe(200);
    expect(r.json.data).toMatch(new RegExp(`:imgdel:100@${store}:proxmox-mcp@pve!mcp:$`));
    const st = await call(sim, 'GET', `/nodes/pve1/tasks/${enc(r.json.data)}/status`);
    expect(st.json.data.exitstatus).toBe('OK');
    const content = await call(sim, 'GET', `/nodes/pve1/storage/${store}/content`, { vmid: '100' });
    expect(content.json.data.map((v: any) => v.volid)).not.toContain(volid);
    expect(String(sim.state.guests.get(100)!.config.scsi0)).toContain(volid); // the config still names it

    const nfs = sim.state.storages.get('nfs-backup')!;
    const backups = [...sim.state.volumes.get('nfs-backup')!.values()];
    const backup = backups[0];
    backup.protected = 1;
    const p = await call(sim, 'DELETE', `/nodes/${sim.state.guests.get(backup.vmid!)!.node}/storage/${nfs.storage}/content/${enc(backup.volid)}`);
    expect(p.status).toBe(200);
    const ps = await call(sim, 'GET', `/nodes/${sim.state.guests.get(backup.vmid!)!.node}/tasks/${enc(p.json.data)}/status`);
    expect(ps.json.data.exitstatus).toBe(`cannot remove protected volume '${backup.volid.slice('nfs-backup:'.length)}' on 'nfs-backup'`);
  });

  test('rollback: disks the snapshot lacks become unused, a VM gets a new vmgenid, a template cannot roll back', async () => {
    const sim = make();
    const g = sim.state.guests.get(105)!;
    expect((await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot', { snapname: 'one-disk' })).status).toBe(200);
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { scsi1: 'local-lvm:4' })).status).toBe(200);
    const added = String(g.config.scsi1).split(',')[0];
    const genid = String(g.config.vmgenid);
    await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot/one-disk/rollback');
    expect(g.config.scsi1).toBeUndefined();
    expect(g.config.unused0).toBe(added);
    expect(g.config.vmgenid).not.toBe(genid);
    // AbstractConfig: a template takes, deletes and rolls back no snapshots (inside the task)
    const tmpl = await call(sim, 'POST', '/nodes/pve1/qemu/102/snapshot', { snapname: 'base' });
    expect((await call(sim, 'GET', `/nodes/pve1/tasks/${enc(tmpl.json.data)}/status`)).json.data.exitstatus).toBe("you can't take a snapshot if it's a template");
    sim.state.guests.get(102)!.snapshots.set('old', { name: 'old', snaptime: 1, description: '', config: {} });
    const back = await call(sim, 'POST', '/nodes/pve1/qemu/102/snapshot/old/rollback');
    expect((await call(sim, 'GET', `/nodes/pve1/tasks/${enc(back.json.data)}/status`)).json.data.exitstatus).toBe("you can't rollback if vm is a template");
  });

  test('cipassword is stored hashed and always shown masked', async () => {
    const sim = make();
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { cipassword: 'hunter2' })).status).toBe(200);
    const stored = String(sim.state.guests.get(105)!.config.cipassword);
    expect(stored).toMatch(/^\$5\$/);
    expect(stored).not.toContain('hunter2');
    for (const params of [undefined, { current: '1' }]) {
      const cfg = await call(sim, 'GET', '/nodes/pve1/qemu/105/config', params);
      expect(cfg.json.data.cipassword).toBe('**********');
      expect(cfg.text).not.toContain('hunter2');
      expect(cfg.text).not.toContain(stored);
    }
    const pend = await call(sim, 'GET', '/nodes/pve1/qemu/105/pending');
    expect(pend.json.data.find((p: any) => p.key === 'cipassword')).toEqual({ key: 'cipassword', value: '**********' });
    // a pending one on a running VM is masked with a trailing space
    sim.state.guests.get(100)!.config.cipassword = '$5$x$currenthash';
    expect((await call(sim, 'PUT', '/nodes/pve1/qemu/100/config', { cipassword: 'next' })).status).toBe(200); // running: pending
    const running = await call(sim, 'GET', '/nodes/pve1/qemu/100/pending');
    expect(running.json.data.find((p: any) => p.key === 'cipassword')).toEqual({ key: 'cipassword', value: '**********', pending: '********** ' });
    // a value that already is a crypt hash is kept as given
    await call(sim, 'PUT', '/nodes/pve1/qemu/105/config', { cipassword: '$6$salt$abcdef' });
    expect(sim.state.guests.get(105)!.config.cipassword).toBe('$6$salt$abcdef');
    const snap = await call(sim, 'POST', '/nodes/pve1/qemu/105/snapshot', { snapname: 'withpw' });
    expect(snap.status).toBe(200);
    expect((await call(sim, 'GET', '/nodes/pve1/qemu/105/config', { snapshot: 'withpw' })).json.data.cipassword).toBe('**********');
  });

  test('rollback restores every key of the snapshot, protection included, drops keys it lacks, keeps the description', async () => {
    const sim = make();
    for (const [type, node, vmid] of [['qemu', 'pve1', 105], ['lxc', 'pve2', 104]] as const) {
      const base = `/nodes/${node}/${type}/${vmid}`;
      expect((await call(sim, 'POST', `${base}/snapshot`, { snapname: 'plain' })).status).toBe(200);
      await call(sim, 'PUT', `${base}/config`, { protection: '1', description: 'later', tags: 'added' });
      expect(sim.state.guests.get(vmid)!.config.protection).toBe(1);
      expect((await call(sim, 'POST', `${base}/snapshot`, { snapname: 'guarded' })).status).toBe(200);
      const back = await call(sim, 'POST', `${base}/snapshot/plain/rollback`);
      expect(back.status).toBe(200);
      const cfg = (await call(sim, 'GET', `${base}/config`)).json.data;
      expect(cfg.protection, `${type} protection cleared by the rollback`).toBeUndefined();
      expect(cfg.tags).toBe(type === 'qemu' ? 'dev;test' : 'dev'); // the snapshot's value
      expect(cfg.description).toBe('later'); // __snapshot_apply_config keeps the current description
      await call(sim, 'POST', `${base}/snapshot/guarded/rollback`);
      const again = (await call(sim, 'GET', `${base}/config`)).json.data;
      expect(again).toMatchObject({ protection: 1, description: 'later', tags: 'added' });
    }
  });
});

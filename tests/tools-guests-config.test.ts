/**
 * guest_config: read with digest, updates of CPU/memory/NICs/cloud-init/tags/boot, disk resize, deletes,
 * the digest conflict, pending changes on running guests, secrets never echoed, and refusals.
 */
import { afterEach, describe, expect, it } from 'vitest';
import guestConfig from '../functions/guest_config.ts';
import guestConfigGet from '../functions/guest_config_get.ts';
import { callTool, explainTool, privilegesOf, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('guest_config read', () => {
  it('reads a VM config with digest and summary, finding the kind itself', async () => {
    t = testContext();
    const out = await callTool(guestConfigGet, { vmid: 100 }, t.ctx);
    expect(out.data).toMatchObject({ vmid: 100, type: 'qemu', node: 'pve1', mode: 'read' });
    expect(out.data.digest).toMatch(/^[0-9a-f]{40}$/);
    expect(out.data.summary.name).toBe('web01');
    expect(out.data.config.scsi0).toBeDefined();
    expect(guestConfigGet.effect).toBe('read');
    // guest_config only changes: a call with nothing to change is refused, never run as a read
    await expect(callTool(guestConfig, { vmid: 100 }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/guest_config_get/) });
    expect(t.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it('reads a container config', async () => {
    t = testContext();
    const out = await callTool(guestConfigGet, { vmid: 103 }, t.ctx);
    expect(out.data).toMatchObject({ type: 'lxc', summary: { name: 'dns01' } });
  });

  it('names a missing guest and an offline node', async () => {
    t = testContext();
    await expect(callTool(guestConfigGet, { vmid: 999 }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/999 does not exist on any node/) });
    t.sim.faults.setNodeOnline('pve2', false);
    await expect(callTool(guestConfigGet, { vmid: 101 }, t.ctx)).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('guest_config update', () => {
  it('changes CPU, memory, tags, onboot and boot order of a stopped VM at once', async () => {
    t = testContext();
    const read = await callTool(guestConfigGet, { vmid: 105 }, t.ctx);
    const out = await callTool(guestConfig, { vmid: 105, digest: read.data.digest, cores: 4, sockets: 2, memory: '16G', tags: ['dev', 'win'], onboot: true, boot: ['scsi0', 'net0'], description: 'test box' }, t.ctx);
    const config = t.sim.state.guests.get(105)!.config;
    expect(config).toMatchObject({ cores: 4, sockets: 2, tags: 'dev;win', onboot: 1, boot: 'order=scsi0;net0', description: 'test box' });
    expect(Number(config.memory)).toBe(16384);
    expect(out.data.mode).toBe('update');
    expect(out.data.digest).not.toBe(read.data.digest);
    expect(out.data.summary).toMatchObject({ cores: 4, sockets: 2, memory_mib: 16384, vcpus_total: 8 });
    expect(out.data.pending_restart).toEqual([]);
  });

  it('refuses a stale digest as a conflict, sending nothing', async () => {
    t = testContext();
    const read = await callTool(guestConfigGet, { vmid: 105 }, t.ctx);
    await callTool(guestConfig, { vmid: 105, description: 'edited by someone else' }, t.ctx);
    t.requests.length = 0;
    await expect(callTool(guestConfig, { vmid: 105, digest: read.data.digest, cores: 8 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/changed since digest/) });
    expect(t.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('turns Proxmox\'s own digest refusal (a race) into a conflict', async () => {
    t = testContext();
    const read = await callTool(guestConfigGet, { vmid: 105 }, t.ctx);
    t.sim.faults.failNext(1, '500', { method: 'PUT', path: /\/config$/ }, { message: 'detected modified configuration - file changed by other user? Try again.' });
    await expect(callTool(guestConfig, { vmid: 105, digest: read.data.digest, cores: 8 }, t.ctx)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('adds a NIC and changes one, keeping its MAC', async () => {
    t = testContext();
    const before = String(t.sim.state.guests.get(105)!.config.net0);
    const mac = /([0-9A-F]{2}:){5}[0-9A-F]{2}/i.exec(before)![0];
    await callTool(guestConfig, { vmid: 105, nets: [{ index: 0, vlan: 20, firewall: false }, { index: 1, bridge: 'vmbr1', model: 'e1000' }] }, t.ctx);
    const config = t.sim.state.guests.get(105)!.config;
    expect(String(config.net0)).toBe(`virtio=${mac},bridge=vmbr0,firewall=0,tag=20`);
    expect(String(config.net1)).toBe('e1000,bridge=vmbr1');
    await callTool(guestConfig, { vmid: 105, nets: [{ index: 0, vlan: null, model: 'e1000e' }] }, t.ctx);
    expect(String(t.sim.state.guests.get(105)!.config.net0)).toBe(`e1000e=${mac},bridge=vmbr0,firewall=0`);
    await expect(callTool(guestConfig, { vmid: 105, nets: [{ index: 3 }] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/net3 needs a bridge/) });
  });

  it('sets cloud-init without ever echoing the password, URL-encoding the SSH keys', async () => {
    t = testContext();
    const keys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG+test/key= alice@laptop', 'ssh-rsa AAAAB3Nza bob@desk'];
    const out = await callTool(guestConfig, { vmid: 105, ciuser: 'admin', cipassword: 'hunter2-secret', sshkeys: keys, ipconfig: [{ index: 0, ip: '10.0.0.5/24', gw: '10.0.0.1' }], nameserver: '1.1.1.1' }, t.ctx);
    const config = t.sim.state.guests.get(105)!.config;
    expect(config.sshkeys).toBe(encodeURIComponent(keys.join('\n')));
    expect(String(config.sshkeys)).toMatch(/^[-%a-zA-Z0-9_.!~*'()]*$/);
    expect(config.ipconfig0).toBe('ip=10.0.0.5/24,gw=10.0.0.1');
    expect(JSON.stringify(out)).not.toContain('hunter2-secret');
    expect(out.data.summary.cloudinit).toMatchObject({ user: 'admin', password_set: true, ssh_keys: 2, ipconfig: { ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1' } });
    const plan = await explainTool(guestConfig, { vmid: 105, cipassword: 'another-secret' }, t.ctx);
    expect(JSON.stringify(plan)).not.toContain('another-secret');
    const read = await callTool(guestConfigGet, { vmid: 105 }, t.ctx);
    expect(JSON.stringify(read)).not.toContain('hunter2-secret');
  });

  it('reports changes a running VM takes only after a restart', async () => {
    t = testContext();
    const out = await callTool(guestConfig, { vmid: 100, cores: 8, memory: 8192, description: 'hot' }, t.ctx);
    expect(out.data.pending_restart).toEqual(expect.arrayContaining(['cores', 'memory']));
    expect(out.data.pending_restart).not.toContain('description');
    expect(out.warnings!.join(' ')).toMatch(/after it restarts/);
  });

  it('grows a disk, refuses shrinking and unknown disks', async () => {
    t = testContext();
    const disk = String(t.sim.state.guests.get(105)!.config.scsi0);
    const size = Number(/size=(\d+)G/.exec(disk)![1]);
    const out = await callTool(guestConfig, { vmid: 105, resize: [{ disk: 'scsi0', size: '+10G' }] }, t.ctx);
    expect(String(t.sim.state.guests.get(105)!.config.scsi0)).toContain(`size=${size + 10}G`);
    expect(out.data.resized![0]).toMatchObject({ disk: 'scsi0', from: `${size}G`, to: `${size + 10}G`, task: { ok: true } });
    expect(out.upids).toHaveLength(1);
    await expect(callTool(guestConfig, { vmid: 105, resize: [{ disk: 'scsi0', size: '1G' }] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/only grow/) });
    await expect(callTool(guestConfig, { vmid: 105, resize: [{ disk: 'scsi5', size: '+1G' }] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/no disk scsi5 \(disks: scsi0\)/) });
  });

  it('deletes keys; deleting a disk is destructive and warned', async () => {
    t = testContext();
    await callTool(guestConfig, { vmid: 105, nets: [{ index: 1, bridge: 'vmbr1' }] }, t.ctx);
    await callTool(guestConfig, { vmid: 105, delete: ['net1'] }, t.ctx);
    expect(t.sim.state.guests.get(105)!.config.net1).toBeUndefined();
    expect(guestConfig.effectOf!(guestConfig.input.parse({ vmid: 105, delete: ['net1'] }))).toBe('write');
    expect(guestConfig.effectOf!(guestConfig.input.parse({ vmid: 105, delete: ['scsi0'] }))).toBe('destructive');
    const plan = await explainTool(guestConfig, { vmid: 105, delete: ['scsi0'] }, t.ctx);
    expect(plan.risk).toBe('high');
    expect(plan.warnings!.join(' ')).toMatch(/detaches/);
    await expect(callTool(guestConfig, { vmid: 105, delete: ['net7'] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/has no net7/) });
  });

  it('changes a container: hostname, memory, swap, NIC with IP', async () => {
    t = testContext();
    await callTool(guestConfig, { vmid: 104, name: 'build02', memory: 1024, swap: 256, nets: [{ index: 0, ip: '10.1.0.4/24', gw: '10.1.0.1', vlan: 30 }] }, t.ctx);
    const config = t.sim.state.guests.get(104)!.config;
    expect(config).toMatchObject({ hostname: 'build02' });
    expect([Number(config.memory), Number(config.swap)]).toEqual([1024, 256]);
    expect(String(config.net0)).toMatch(/ip=10\.1\.0\.4\/24/);
    expect(String(config.net0)).toMatch(/gw=10\.1\.0\.1/);
    expect(String(config.net0)).toMatch(/tag=30/);
    await expect(callTool(guestConfig, { vmid: 104, ciuser: 'x' }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/only to VMs.*nets/) });
    await expect(callTool(guestConfig, { vmid: 105, swap: 1 }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/only to containers/) });
  });

  it('answers a locked guest with a conflict, and times out on a slow resize', async () => {
    t = testContext({ simOptions: { taskDurationMs: 10_000 } });
    t.sim.state.guests.get(104)!.lock = 'backup';
    await expect(callTool(guestConfig, { vmid: 104, cores: 2 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/locked \(backup\)/) });
    await expect(callTool(guestConfig, { vmid: 105, resize: [{ disk: 'scsi0', size: '+1G' }], timeout: 1 }, t.ctx)).rejects.toMatchObject({ code: 'timeout', message: expect.stringMatching(/still running/) });
  });

  it('declares the privileges per key group', async () => {
    t = testContext();
    expect(await privilegesOf(guestConfigGet, { vmid: 100 }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Audit'] }]);
    expect(await privilegesOf(guestConfig, { vmid: 100, type: 'qemu', cores: 2, memory: 1024, ciuser: 'a', nets: [{ index: 0, bridge: 'vmbr0' }], resize: [{ disk: 'scsi0', size: '+1G' }], name: 'x' }, t.ctx)).toEqual([
      { path: '/vms/100', privileges: ['VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options'] },
    ]);
  });

  it('surfaces Proxmox refusing a read-only token', async () => {
    t = testContext({ token: 'auditor' });
    await expect(callTool(guestConfig, { vmid: 105, cores: 2 }, t.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/lacks .*VM\.Config\.CPU.* on \/vms\/105/) });
  });
});

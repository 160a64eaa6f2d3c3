/**
 * vm_status and container_status: the request budget (default <= 3), config summaries, guest-agent IPs
 * and their absence as a note, snapshots, the newest backup, and the unhappy paths.
 */
import { afterEach, describe, expect, it } from 'vitest';
import vmStatus from '../functions/vm_status.ts';
import containerStatus from '../functions/container_status.ts';
import { callTool, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('vm_status', () => {
  it('answers the default call with at most 3 Proxmox requests', async () => {
    t = testContext();
    t.sim.stats.reset();
    const out = await callTool(vmStatus, { vmid: 100 }, t.ctx);
    expect(t.sim.stats.requests).toBeLessThanOrEqual(3);
    expect(out.data).toMatchObject({ vmid: 100, name: 'web01', node: 'pve1', status: 'running', qmpstatus: 'running', type: 'qemu', template: false, tags: ['prod', 'web'] });
    expect(out.data.config.memory_mib).toBe(4096);
    expect(out.data.config.disks[0]).toMatchObject({ key: 'scsi0', storage: expect.any(String), size: expect.stringMatching(/G$/) });
    expect(out.data.config.nics[0]).toMatchObject({ key: 'net0', model: 'virtio', bridge: 'vmbr0', firewall: true, mac: expect.stringMatching(/^BC:24:11/) });
    expect(out.data.config.boot_order).toEqual(['scsi0', 'ide2', 'net0']);
    expect(out.data.config.agent).toBe(true);
    expect(out.data.digest).toMatch(/^[0-9a-f]{40}$/);
    expect(out.data.ips).toBeUndefined();
    expect(out.suggestions!.join(' ')).toMatch(/include/);
    // with the node given, the lookup is skipped
    t.sim.stats.reset();
    await callTool(vmStatus, { vmid: 100, node: 'pve1' }, t.ctx);
    expect(t.sim.stats.requests).toBe(2);
  });

  it('adds IPs, snapshots and the newest backup when asked', async () => {
    t = testContext();
    const out = await callTool(vmStatus, { vmid: 100, include: ['all'] }, t.ctx);
    expect(out.data.ips!.some((ip) => /^192\.168\.100\./.test(ip))).toBe(true);
    expect(out.data.interfaces![0].name).toBeTruthy();
    expect(out.data.snapshots!.map((s) => s.name)).toEqual(['pre-upgrade', 'post-upgrade']);
    expect(out.data.current_snapshot_parent).toBe('post-upgrade');
    expect(out.data.last_backup).toMatchObject({ storage: 'nfs-backup', volid: expect.stringContaining('vzdump-qemu-100-') });
    expect(out.data.last_backup!.age_hours).toBeGreaterThan(20);
    expect(out.data.last_backup!.age_hours).toBeLessThan(30);
    expect(out.data.notes).toEqual([]);
    expect(out.summary).toMatch(/last backup/);
  });

  it('makes an absent or stopped guest agent a note, not an error', async () => {
    t = testContext();
    const win = await callTool(vmStatus, { vmid: 105, include: ['ips'] }, t.ctx);
    expect(win.data.status).toBe('stopped');
    expect(win.data.ips).toBeUndefined();
    expect(win.data.notes.join(' ')).toMatch(/not enabled|not running/);
    t.sim.state.guests.get(100)!.qmpstatus = 'paused';
    const paused = await callTool(vmStatus, { vmid: 100, include: ['ips'] }, t.ctx);
    expect(paused.data.notes.join(' ')).toMatch(/install and start it in the guest/);
  });

  it('says when a VM has no backup', async () => {
    t = testContext();
    const out = await callTool(vmStatus, { vmid: 102, include: ['backup'] }, t.ctx);
    expect(out.data.last_backup).toBeNull();
    expect(out.data.backup_storages_checked).toEqual(expect.arrayContaining(['local', 'nfs-backup']));
  });

  it('names a missing VM, a container asked as a VM, and a wrong node', async () => {
    t = testContext();
    await expect(callTool(vmStatus, { vmid: 999 }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/VM 999 does not exist on any node/) });
    await expect(callTool(vmStatus, { vmid: 103 }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/container/) });
    await expect(callTool(vmStatus, { vmid: 100, node: 'pve2' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/does not exist on node pve2/) });
    expect(() => vmStatus.input.parse({ vmid: 42 })).toThrow(/100 or more/);
  });

  it('reports a VM on an offline node as unavailable, naming the node', async () => {
    t = testContext();
    t.sim.faults.setNodeOnline('pve2', false);
    await expect(callTool(vmStatus, { vmid: 101 }, t.ctx)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/node pve2, which is offline/) });
  });

  it('turns a hanging Proxmox into a timeout when the call is cancelled', async () => {
    const controller = new AbortController();
    t = testContext({ signal: controller.signal });
    t.sim.faults.fail('hang', { path: /\/status\/current$/ });
    setTimeout(() => controller.abort(), 100);
    await expect(callTool(vmStatus, { vmid: 100, node: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: expect.stringMatching(/timeout|unavailable/) });
  });

  it('reads with a read-only token, and notes the guest-agent privilege it lacks', async () => {
    t = testContext({ token: 'auditor' });
    // PVE 9's PVEAuditor holds VM.GuestAgent.Audit (an audit privilege); without it the agent is out of reach
    t.sim.state.roles.get('PVEAuditor')!.privs.delete('VM.GuestAgent.Audit');
    const ok = await callTool(vmStatus, { vmid: 100, include: ['ips'] }, t.ctx);
    expect(ok.data.status).toBe('running');
    expect(ok.data.notes.join(' ')).toMatch(/VM\.GuestAgent\.Audit/);
  });
});

describe('container_status', () => {
  it('summarises a container: hostname, rootfs, NIC with IP setting, unprivileged', async () => {
    t = testContext();
    t.sim.stats.reset();
    const out = await callTool(containerStatus, { vmid: 103 }, t.ctx);
    expect(t.sim.stats.requests).toBeLessThanOrEqual(3);
    expect(out.data).toMatchObject({ vmid: 103, type: 'lxc', name: 'dns01', node: 'pve3', status: 'running' });
    expect(out.data.config.disks[0]).toMatchObject({ key: 'rootfs', mountpoint: '/' });
    expect(out.data.config.nics[0]).toMatchObject({ name: 'eth0', bridge: 'vmbr0', ip: 'dhcp' });
    expect(out.data.config.unprivileged).toBe(true);
    expect(out.data.config.swap_mib).toBe(512);
  });

  it('adds interfaces, snapshots and backups when asked', async () => {
    t = testContext();
    const out = await callTool(containerStatus, { vmid: 103, include: ['all'] }, t.ctx);
    expect(out.data.interfaces![0]).toMatchObject({ name: 'eth0' });
    expect(out.data.ips!.length).toBeGreaterThan(0);
    expect(out.data.snapshots!.map((s) => s.name)).toEqual(['clean']);
    expect(out.data.last_backup!.volid).toMatch(/vzdump-lxc-103-/);
  });

  it('notes that a stopped container has no addresses', async () => {
    t = testContext();
    const out = await callTool(containerStatus, { vmid: 104, include: ['ips'] }, t.ctx);
    expect(out.data.status).toBe('stopped');
    expect(out.data.notes.join(' ')).toMatch(/not running/);
  });

  it('refuses a VM id and a missing id', async () => {
    t = testContext();
    await expect(callTool(containerStatus, { vmid: 100 }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/CT 100 does not exist: 100 is a VM/) });
    await expect(callTool(containerStatus, { vmid: 999 }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/CT 999 does not exist on any node/) });
  });
});

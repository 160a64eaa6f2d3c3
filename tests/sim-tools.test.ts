/**
 * A representative set of tools against both Proxmox VE versions the simulator speaks (parametrised with
 * describe.each, not copied): the ones whose answers or privileges differ by version (system info, guest
 * agent), the ones that read answers the simulator now gives as PVE does (container interfaces, task owners),
 * and a snapshot round trip. The rest of the suite runs as 9.1 by default; SIM_PVE_VERSION=8.4 switches it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import containerStatus from '../functions/container_status.ts';
import getSystemInfo from '../functions/get_system_info.ts';
import guestExec from '../functions/guest_exec.ts';
import guestSnapshot from '../functions/guest_snapshot.ts';
import listVms from '../functions/list_vms.ts';
import taskStatus from '../functions/task_status.ts';
import vmStatus from '../functions/vm_status.ts';
import { runChecks } from '../lib/best-practice-checks.ts';
import { PVE_VERSIONS } from '../lib/simulator/index.ts';
import { callTool, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe.each(PVE_VERSIONS)('tools against PVE %s', (pveVersion) => {
  const context = (options: Parameters<typeof testContext>[0] = {}) => (t = testContext({ ...options, simOptions: { pveVersion, ...options.simOptions } }));

  it('get_system_info reports the version the cluster runs', async () => {
    const { ctx, sim } = context();
    const out = await callTool(getSystemInfo, {}, ctx);
    expect(out.data.version!.version).toBe(sim.state.version.version);
    expect(out.data.version!.version.startsWith(`${pveVersion}.`)).toBe(true);
    expect((await ctx.pve.version()).release).toBe(pveVersion);
  });

  it('list_vms and vm_status read the same guests on both versions', async () => {
    const { ctx } = context();
    const vms = (await callTool(listVms, {}, ctx)).data.guests.map((g) => g.vmid);
    expect(vms).toEqual(expect.arrayContaining([100, 101, 102, 105]));
    const status = await callTool(vmStatus, { vmid: 100, include: ['ips'] }, ctx);
    expect(status.data).toMatchObject({ vmid: 100, status: 'running' });
    expect(status.data.ips!.length).toBeGreaterThan(0);
  });

  it('container_status reads interfaces with their MAC, and a stopped container (null answer) as a note', async () => {
    const { ctx, sim } = context();
    const running = await callTool(containerStatus, { vmid: 103, include: ['ips'] }, ctx);
    const eth0 = running.data.interfaces!.find((i) => i.name === 'eth0')!;
    expect(eth0.mac).toBe(String(sim.state.guests.get(103)!.config.net0).match(/hwaddr=([0-9A-F:]+)/i)![1].toUpperCase());
    expect(eth0.ipv4.length).toBe(1);
    const stopped = await callTool(containerStatus, { vmid: 104, include: ['ips'] }, ctx);
    expect(stopped.data.notes.join(' ')).toMatch(/not running/);
  });

  it('guest_exec runs with the right privilege and names the missing one for the version', async () => {
    const { ctx } = context();
    const out = await callTool(guestExec, { vmid: 100, command: ['echo', 'hi'] }, ctx);
    expect(out.data).toMatchObject({ exitcode: 0 });
    t!.close();
    const auditor = context({ token: 'auditor' });
    const needed = pveVersion === '8.4' ? 'VM\\.Monitor' : 'VM\\.GuestAgent\\.Unrestricted';
    await expect(callTool(guestExec, { vmid: 100, command: ['hostname'] }, auditor.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(new RegExp(`${needed} on /vms/100`)) });
    // the client's hint names a role that has it: both are admin privileges (PVEVMAdmin), not PVEVMUser
    const raw = await auditor.ctx.pve.post('/nodes/pve1/qemu/100/agent/exec', { command: ['hostname'] }).catch((e: Error) => e);
    expect((raw as Error).message).toContain('--roles PVEVMAdmin');
  });

  it('guest_snapshot round trip; task_status shows the token that started it', async () => {
    const { ctx, sim } = context();
    const created = await callTool(guestSnapshot, { action: 'create', vmid: 105, snapname: 'before' }, ctx);
    expect(created.data).toMatchObject({ action: 'create' });
    await ctx.pve.put('/nodes/pve1/qemu/105/config', { protection: 1 });
    await callTool(guestSnapshot, { action: 'rollback', vmid: 105, snapname: 'before' }, ctx);
    expect(sim.state.guests.get(105)!.config.protection).toBeUndefined(); // as PVE: the snapshot had none
    const list = await callTool(taskStatus, { action: 'list', node: 'pve1', type: 'qmsnapshot' }, ctx);
    expect(list.data.tasks!.length).toBe(1);
    expect(list.data.tasks![0].user).toBe(sim.defaultToken.tokenId);
  });

  it('the HA best-practice check asks the version: groups on 8.4, node-affinity rules on 9.x', async () => {
    const { ctx, sim } = context();
    const [placed] = await runChecks([{ id: 'ha_groups', params: {} }], ctx.pve);
    expect(placed).toMatchObject({ id: 'ha_groups', status: 'pass' });
    expect(placed.summary).toMatch(pveVersion === '8.4' ? /bound to a group/ : /node-affinity rule/);
    sim.state.ha.set('vm:100', { sid: 'vm:100', type: 'vm', state: 'started', max_restart: 1, max_relocate: 1 });
    const [loose] = await runChecks([{ id: 'ha_groups', params: {} }], ctx.pve);
    expect(loose).toMatchObject({ status: 'warn', items: ['vm:100'] });
    expect(t!.requests.some((r) => r.path === (pveVersion === '8.4' ? '/cluster/ha/rules' : '/cluster/ha/groups'))).toBe(false);
  });
});

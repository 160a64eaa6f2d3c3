/**
 * vm_action and container_action called directly: every power action, the "already there" answers,
 * clone, migrate, delete with the backup warning, task failures, timeouts, wait: false, and the
 * plans explain gives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import vmAction from '../functions/vm_action.ts';
import containerAction from '../functions/container_action.ts';
import { callTool, explainTool, privilegesOf, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('vm_action power', () => {
  it('starts a stopped VM, waits, and reports the final state', async () => {
    t = testContext();
    const out = await callTool(vmAction, { vmid: 105, action: 'start' }, t.ctx);
    expect(out.data).toMatchObject({ result: 'done', action: 'start', node: 'pve1', final: { status: 'running' }, task: { ok: true, exitstatus: 'OK' } });
    expect(out.upids![0]).toMatch(/^UPID:pve1:.*:qmstart:105:/);
    expect(t.sim.state.guests.get(105)!.status).toBe('running');
    expect(out.cliEquivalent).toBe('qm start 105');
    expect(t.progress.length).toBeGreaterThan(0);
  });

  it('answers "already running" for a running VM without sending anything', async () => {
    t = testContext();
    const out = await callTool(vmAction, { vmid: 100, action: 'start' }, t.ctx);
    expect(out.data.result).toBe('unchanged');
    expect(out.data.message).toMatch(/already running/);
    expect(t.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    const stop = await callTool(vmAction, { vmid: 105, action: 'shutdown' }, t.ctx);
    expect(stop.data.message).toMatch(/already stopped/);
  });

  it('refuses reboot, reset and suspend of a stopped VM with the next step', async () => {
    t = testContext();
    for (const action of ['reboot', 'reset', 'suspend']) {
      await expect(callTool(vmAction, { vmid: 105, action }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/not running.*Start it instead/) });
    }
    await expect(callTool(vmAction, { vmid: 102, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/template/) });
  });

  it('runs shutdown, reboot, reset, suspend and resume on a running VM', async () => {
    t = testContext();
    expect((await callTool(vmAction, { vmid: 100, action: 'reboot' }, t.ctx)).data.final!.status).toBe('running');
    expect((await callTool(vmAction, { vmid: 100, action: 'reset' }, t.ctx)).data.final!.status).toBe('running');
    const suspended = await callTool(vmAction, { vmid: 100, action: 'suspend' }, t.ctx);
    expect(suspended.data.final).toMatchObject({ status: 'running', qmpstatus: 'paused' });
    expect((await callTool(vmAction, { vmid: 100, action: 'suspend' }, t.ctx)).data.result).toBe('unchanged');
    expect((await callTool(vmAction, { vmid: 100, action: 'resume' }, t.ctx)).data.final!.qmpstatus).toBe('running');
    const down = await callTool(vmAction, { vmid: 100, action: 'shutdown', force_stop: true, timeout: 60 }, t.ctx);
    expect(down.data.final!.status).toBe('stopped');
    expect(down.cliEquivalent).toBe('qm shutdown 100 --forceStop 1 --timeout 60');
  });

  it('hands HA-managed VMs to the HA manager and says so', async () => {
    t = testContext();
    const out = await callTool(vmAction, { vmid: 101, action: 'shutdown' }, t.ctx);
    expect(out.upids![0]).toMatch(/:hastop:101:/);
    expect(out.warnings!.join(' ')).toMatch(/HA-managed/);
  });

  it('returns the UPID at once with wait: false', async () => {
    t = testContext({ simOptions: { taskDurationMs: 60_000 } });
    const out = await callTool(vmAction, { vmid: 105, action: 'start', wait: false }, t.ctx);
    expect(out.data.result).toBe('started');
    expect(out.data.task).toMatchObject({ status: 'running', upid: expect.stringMatching(/^UPID:/) });
  });

  it('times out cleanly when the task takes longer than timeout', async () => {
    t = testContext({ simOptions: { taskDurationMs: 10_000 } });
    await expect(callTool(vmAction, { vmid: 105, action: 'start', timeout: 1 }, t.ctx)).rejects.toMatchObject({ code: 'timeout', message: expect.stringMatching(/still running/) });
  });

  it('reports a failed task with its log tail', async () => {
    t = testContext();
    t.sim.state.guests.get(105)!.lock = 'backup';
    const error = await callTool(vmAction, { vmid: 105, action: 'start' }, t.ctx).catch((e) => e);
    expect(error).toMatchObject({ code: 'task_failed', message: expect.stringMatching(/locked/) });
    expect(error.details.logTail.join('\n')).toMatch(/TASK ERROR/);
  });

  it('names a missing VM and an offline node', async () => {
    t = testContext();
    await expect(callTool(vmAction, { vmid: 999, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/VM 999 does not exist on any node/) });
    t.sim.faults.setNodeOnline('pve2', false);
    await expect(callTool(vmAction, { vmid: 101, action: 'stop' }, t.ctx)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/pve2/) });
  });

  it('surfaces Proxmox refusing a token that lacks the privilege', async () => {
    t = testContext({ token: 'auditor' });
    await expect(callTool(vmAction, { vmid: 105, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/lacks VM\.PowerMgmt on \/vms\/105/) });
  });
});

describe('vm_action clone, migrate, delete', () => {
  it('clones a template to the next free id with a name and waits', async () => {
    t = testContext();
    const out = await callTool(vmAction, { vmid: 102, action: 'clone', name: 'web02', full: true, storage: 'local-lvm' }, t.ctx);
    const newid = out.data.newid!;
    expect(newid).toBeGreaterThanOrEqual(106);
    expect(out.data).toMatchObject({ result: 'done', final: { vmid: newid, status: 'stopped', node: 'pve1' } });
    expect(t.sim.state.guests.get(newid)!.config.name).toBe('web02');
    expect(t.requests.some((r) => r.path === '/cluster/nextid')).toBe(true);
    expect(out.cliEquivalent).toBe(`qm clone 102 ${newid} --name web02 --full 1 --storage local-lvm`);
  });

  it('refuses a clone to an id that is taken', async () => {
    t = testContext();
    await expect(callTool(vmAction, { vmid: 102, action: 'clone', newid: 100 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already exists/) });
  });

  it('migrates a running VM live, copying local disks, and ends on the target', async () => {
    t = testContext();
    const out = await callTool(vmAction, { vmid: 100, action: 'migrate', target: 'pve3' }, t.ctx);
    expect(out.data).toMatchObject({ result: 'done', target: 'pve3', final: { node: 'pve3', status: 'running' } });
    const sent = t.requests.find((r) => r.method === 'POST' && r.path.endsWith('/migrate'))!;
    expect(sent.params).toMatchObject({ target: 'pve3', online: true, 'with-local-disks': true });
    expect(out.warnings!.join(' ')).toMatch(/local disks/);
    expect(t.sim.state.guests.get(100)!.node).toBe('pve3');
  });

  it('refuses a migration to an offline or unknown node, or without a target', async () => {
    t = testContext();
    t.sim.faults.setNodeOnline('pve3', false);
    await expect(callTool(vmAction, { vmid: 100, action: 'migrate', target: 'pve3' }, t.ctx)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/pve3 is offline/) });
    await expect(callTool(vmAction, { vmid: 100, action: 'migrate', target: 'pve9' }, t.ctx)).rejects.toMatchObject({ code: 'not_found' });
    expect(() => vmAction.input.parse({ vmid: 100, action: 'migrate' })).toThrow(/migrate needs target/);
  });

  it('explains a delete with the backup warning, and deletes a stopped VM', async () => {
    t = testContext();
    const fresh = await explainTool(vmAction, { vmid: 105, action: 'delete' }, t.ctx);
    expect(fresh.warnings!.join(' ')).not.toMatch(/no backup/);
    // age the backups of 105 beyond 7 days
    for (const volumes of t.sim.state.volumes.values()) for (const volume of volumes.values()) if (volume.vmid === 105) volume.ctime -= 10 * 86400;
    const plan = await explainTool(vmAction, { vmid: 105, action: 'delete' }, t.ctx);
    expect(plan).toMatchObject({ risk: 'high', reversible: false, cliEquivalent: 'qm destroy 105 --purge 1 --destroy-unreferenced-disks 1' });
    expect(plan.warnings![0]).toMatch(/^VM 105 has no backup in the last 7 days/);
    expect(vmAction.effectOf!(vmAction.input.parse({ vmid: 105, action: 'delete' }))).toBe('destructive');
    const out = await callTool(vmAction, { vmid: 105, action: 'delete' }, t.ctx);
    expect(out.data).toMatchObject({ result: 'done', deleted: true });
    expect(t.sim.state.guests.has(105)).toBe(false);
  });

  it('refuses to delete a running VM or a protected one', async () => {
    t = testContext();
    t.sim.state.guests.get(105)!.config.protection = 1;
    await expect(callTool(vmAction, { vmid: 105, action: 'delete' }, t.ctx)).rejects.toMatchObject({ code: 'protected', message: expect.stringMatching(/protection flag/) });
    // refused when the plan is made, before anyone is asked to confirm
    await expect(explainTool(vmAction, { vmid: 105, action: 'delete' }, t.ctx)).rejects.toMatchObject({ code: 'protected' });
    expect(t.sim.state.guests.has(105)).toBe(true);
    await expect(callTool(vmAction, { vmid: 100, action: 'delete' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/running; stop or shut it down first/) });
    await expect(explainTool(vmAction, { vmid: 100, action: 'delete' }, t.ctx)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('checks before anyone is asked: locks, migration and clone targets, a taken id; warns about HA', async () => {
    t = testContext();
    t.sim.state.guests.get(105)!.lock = 'backup';
    await expect(explainTool(vmAction, { vmid: 105, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/locked \(backup\)/) });
    t.sim.state.guests.get(105)!.lock = undefined;
    await expect(explainTool(vmAction, { vmid: 105, action: 'migrate', target: 'pve01' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no node pve01.*Nodes: pve1, pve2, pve3/) });
    await expect(explainTool(vmAction, { vmid: 105, action: 'migrate', target: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(explainTool(vmAction, { vmid: 105, action: 'clone', newid: 100 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/Id 100 is taken/) });
    await expect(explainTool(containerAction, { vmid: 103, action: 'migrate', target: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/cannot live-migrate/) });
    const ha = await explainTool(vmAction, { vmid: 101, action: 'shutdown' }, t.ctx);
    expect(ha.warnings!.join(' ')).toMatch(/managed by HA \(started\).*ha-manager set vm:101 --state stopped/);
  });

  it('explains power actions with the stop and reset hints', async () => {
    t = testContext();
    const stop = await explainTool(vmAction, { vmid: 100, action: 'stop' }, t.ctx);
    expect(stop.warnings!.join(' ')).toMatch(/hard power-off.*Prefer shutdown/);
    expect(stop.apiCalls).toContain('POST /nodes/pve1/qemu/100/status/stop');
    const reset = await explainTool(vmAction, { vmid: 100, action: 'reset' }, t.ctx);
    expect(reset.warnings!.join(' ')).toMatch(/data in the guest is lost/);
  });

  it('declares the privileges each action needs', async () => {
    t = testContext();
    expect(await privilegesOf(vmAction, { vmid: 100, action: 'start' }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.PowerMgmt'] }]);
    expect(await privilegesOf(vmAction, { vmid: 100, action: 'delete' }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Allocate'] }]);
    expect(await privilegesOf(vmAction, { vmid: 100, action: 'migrate', target: 'pve2' }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Migrate'] }]);
    expect(await privilegesOf(vmAction, { vmid: 102, action: 'clone', newid: 300, storage: 'tank' }, t.ctx)).toEqual([
      { path: '/vms/102', privileges: ['VM.Clone'] },
      { path: '/vms/300', privileges: ['VM.Allocate'] },
      { path: '/storage/tank', privileges: ['Datastore.AllocateSpace'] },
    ]);
  });
});

describe('container_action', () => {
  it('starts, reboots and shuts down a container', async () => {
    t = testContext();
    expect((await callTool(containerAction, { vmid: 104, action: 'start' }, t.ctx)).data.final!.status).toBe('running');
    expect((await callTool(containerAction, { vmid: 104, action: 'start' }, t.ctx)).data.result).toBe('unchanged');
    expect((await callTool(containerAction, { vmid: 104, action: 'reboot' }, t.ctx)).data.final!.status).toBe('running');
    const down = await callTool(containerAction, { vmid: 104, action: 'shutdown' }, t.ctx);
    expect(down.data.final!.status).toBe('stopped');
    expect(down.upids![0]).toMatch(/:vzshutdown:104:/);
  });

  it('reports a failed container task and a timeout', async () => {
    t = testContext();
    t.sim.state.guests.get(104)!.lock = 'mounted';
    await expect(callTool(containerAction, { vmid: 104, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'task_failed', message: expect.stringMatching(/locked/) });
    t.close();
    t = testContext({ simOptions: { taskDurationMs: 10_000 } });
    await expect(callTool(containerAction, { vmid: 104, action: 'start', timeout: 1 }, t.ctx)).rejects.toMatchObject({ code: 'timeout' });
  });

  it('names an offline node and a token without the privilege', async () => {
    t = testContext({ token: 'auditor' });
    await expect(callTool(containerAction, { vmid: 104, action: 'start' }, t.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/VM\.PowerMgmt on \/vms\/104/) });
    t.close();
    t = testContext();
    t.sim.faults.setNodeOnline('pve3', false);
    await expect(callTool(containerAction, { vmid: 103, action: 'stop' }, t.ctx)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/pve3/) });
  });

  it('has no reset', () => {
    expect(() => containerAction.input.parse({ vmid: 103, action: 'reset' })).toThrow();
  });

  it('needs restart: true to migrate a running container', async () => {
    t = testContext();
    await expect(callTool(containerAction, { vmid: 103, action: 'migrate', target: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/restart: true/) });
    const out = await callTool(containerAction, { vmid: 103, action: 'migrate', target: 'pve1', restart: true }, t.ctx);
    expect(out.data.final).toMatchObject({ node: 'pve1' });
    expect(out.cliEquivalent).toBe('pct migrate 103 pve1 --restart 1');
  });

  it('clones a stopped container with a hostname', async () => {
    t = testContext();
    const out = await callTool(containerAction, { vmid: 104, action: 'clone', newid: 500, hostname: 'build02' }, t.ctx);
    expect(out.data).toMatchObject({ newid: 500, final: { vmid: 500, status: 'stopped' } });
    expect(t.sim.state.guests.get(500)!.config.hostname).toBe('build02');
  });

  it('names a VM given as a container, and deletes a stopped container', async () => {
    t = testContext();
    await expect(callTool(containerAction, { vmid: 100, action: 'stop' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/CT 100 does not exist: 100 is a VM/) });
    const out = await callTool(containerAction, { vmid: 104, action: 'delete' }, t.ctx);
    expect(out.data.deleted).toBe(true);
    expect(out.cliEquivalent).toBe('pct destroy 104 --purge 1 --destroy-unreferenced-disks 1');
  });
});

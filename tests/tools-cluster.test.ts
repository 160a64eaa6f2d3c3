/**
 * The cluster tools called directly with a test ctx against the simulator: node_status, get_system_info,
 * task_status. Every request they send must be a route of the endpoint contract (the simulator serves
 * only those), and get_system_info stays within 4 requests.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import { createSimulator, SIMULATOR_ROUTES, type Simulator } from '../lib/simulator/index.ts';
import nodeStatus from '../functions/node_status.ts';
import getSystemInfo from '../functions/get_system_info.ts';
import taskStatus from '../functions/task_status.ts';
import taskStop from '../functions/task_stop.ts';
import guestSnapshot from '../functions/guest_snapshot.ts';
import guestSnapshotList from '../functions/guest_snapshot_list.ts';
import guestBackup from '../functions/guest_backup.ts';
import guestBackupList from '../functions/guest_backup_list.ts';
import storageOps from '../functions/storage_operations.ts';
import storageChange from '../functions/storage_change.ts';
import networkConfig from '../functions/network_config.ts';
import networkChange from '../functions/network_change.ts';
import userList from '../functions/user_list.ts';
import userChange from '../functions/user_change.ts';
import { createPveClient } from '../lib/pve/client.ts';
import { loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/log.ts';
import type { Caller, Services, ToolContext, ToolDefinition, ToolOutcome } from '../lib/tool.ts';
import type { z } from 'zod';

// ---------- a small test ctx (direct handler calls, no runtime) ----------

interface TestCtx {
  ctx: ToolContext;
  requests: string[];
  progress: string[];
}

const config = loadConfig({ MCP_DATA_DIR: '/tmp/pmcp-tools-cluster' }, { envFile: null });

function makeCtx(simulator: Simulator, token: { tokenId: string; secret: string } = simulator.defaultToken, signal?: AbortSignal): TestCtx {
  const requests: string[] = [];
  const progress: string[] = [];
  const pve = createPveClient({
    baseUrl: 'https://simulated-cluster:8006',
    tokenId: token.tokenId,
    tokenSecret: token.secret,
    retries: 0,
    fetch: (request) => {
      requests.push(`${request.method} ${new URL(request.url).pathname.replace(/^\/api2\/json/, '')}`);
      return simulator.fetch(request);
    },
  });
  const caller: Caller = { tokenId: 'test', name: 'test', role: 'admin', mode: 'normal', ceiling: 'normal', learning: false, door: 'internal', requestId: 'test', canElicit: false };
  const ctx: ToolContext = {
    pve,
    config,
    log: silentLogger,
    signal: signal ?? new AbortController().signal,
    caller,
    progress: (update) => progress.push(update.message ?? ''),
    services: {} as Services,
  };
  return { ctx, requests, progress };
}

/** Parse the input like the runtime does, then run. */
async function run<In extends z.ZodObject, Out extends z.ZodType>(tool: ToolDefinition<In, Out>, args: z.input<In>, ctx: ToolContext): Promise<ToolOutcome<z.output<Out>>> {
  const input = tool.input.parse(args);
  const outcome = await tool.run(input, ctx);
  const checked = tool.output.safeParse(outcome.data);
  if (!checked.success) throw new Error(`${tool.name} returned data that does not match its output schema: ${checked.error.message}`);
  return outcome;
}

async function expectToolError(promise: Promise<unknown>, code: string): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).code, (error as Error).message).toBe(code);
    return error as ToolError;
  }
  throw new Error(`expected a ToolError ${code}, but the call succeeded`);
}


let sim: Simulator;
let t: TestCtx;

beforeEach(() => {
  sim = createSimulator({ taskDurationMs: 5 });
  t = makeCtx(sim);
});
afterEach(() => {
  expect([...sim.stats.byEndpoint.keys()].filter((key) => !SIMULATOR_ROUTES.includes(key))).toEqual([]);
  sim.close();
});

describe('node_status', () => {
  it('lists every node with CPU, memory, load, kernel, version and storage', async () => {
    const out = await run(nodeStatus, {}, t.ctx);
    expect(out.data.nodes.map((n) => n.node)).toEqual(['pve1', 'pve2', 'pve3']);
    const pve1 = out.data.nodes[0];
    expect(pve1.status).toBe('online');
    expect(pve1.cores).toBeGreaterThan(0);
    expect(pve1.memory!.total).toBeGreaterThan(0);
    expect(pve1.loadavg).toHaveLength(3);
    expect(pve1.kernel).toMatch(/pve/);
    expect(pve1.pve_version).toMatch(/^pve-manager\//);
    expect(pve1.rootfs!.percent).toBeGreaterThan(0);
    expect(pve1.storage!.map((s) => s.storage)).toContain('local-lvm');
    expect(out.data.offline).toEqual([]);
  });

  it('reports an offline node as offline and still lists the others', async () => {
    sim.faults.setNodeOnline('pve2', false);
    const out = await run(nodeStatus, {}, t.ctx);
    expect(out.data.nodes.find((n) => n.node === 'pve2')!.status).toBe('offline');
    expect(out.data.nodes.find((n) => n.node === 'pve1')!.status).toBe('online');
    expect(out.data.offline).toEqual(['pve2']);
    expect(out.warnings!.join(' ')).toMatch(/pve2 is offline/);
  });

  it('one node: detail; an offline one answers offline, not an error', async () => {
    const one = await run(nodeStatus, { node: 'pve3' }, t.ctx);
    expect(one.data.nodes).toHaveLength(1);
    expect(one.data.nodes[0].uptime).toBeTruthy();
    sim.faults.setNodeOnline('pve3', false);
    t.ctx.pve.invalidate();
    const offline = await run(nodeStatus, { node: 'pve3' }, t.ctx);
    expect(offline.data.nodes[0].status).toBe('offline');
  });

  it('a node whose status call fails is reported, not fatal', async () => {
    sim.faults.fail('500', { path: '/nodes/pve2/status' }, { message: 'pvestatd not responding' });
    const out = await run(nodeStatus, {}, t.ctx);
    expect(out.data.nodes.find((n) => n.node === 'pve2')!.error).toMatch(/pvestatd/);
    expect(out.data.nodes.find((n) => n.node === 'pve1')!.pve_version).toBeTruthy();
  });

  it('names the known nodes for an unknown one', async () => {
    const error = await expectToolError(run(nodeStatus, { node: 'pve9' }, t.ctx), 'not_found');
    expect(error.message).toMatch(/pve9.*pve1/);
  });
});

describe('get_system_info', () => {
  it('gives the cluster at a glance in at most 4 parallel requests', async () => {
    t.ctx.pve.invalidate();
    sim.stats.reset();
    const out = await run(getSystemInfo, {}, t.ctx);
    expect(sim.stats.requests).toBeLessThanOrEqual(4);
    expect(out.data.cluster).toMatchObject({ name: 'simcluster', quorate: true, nodes_total: 3, nodes_online: 3, standalone: false });
    expect(out.data.version!.version).toBe(sim.state.version.version); // 9.1.2, or 8.4.1 with SIM_PVE_VERSION=8.4
    expect(out.data.totals.vms.total + out.data.totals.containers.total).toBeGreaterThan(0);
    expect(out.data.totals.vms.templates).toBe(1);
    expect(out.data.totals.memory.total).toBeGreaterThan(0);
    expect(out.data.ha.services.map((s) => s.sid)).toContain('vm:101');
    expect(out.data.storage.filter((s) => s.storage === 'nfs-backup')).toHaveLength(1);
    expect(out.data.storage.filter((s) => s.storage === 'local')).toHaveLength(3);
    expect(out.data.problems).toEqual([]);
  });

  it('the requests run in parallel', async () => {
    t.ctx.pve.invalidate();
    sim.faults.latency(60);
    const started = Date.now();
    await run(getSystemInfo, {}, t.ctx);
    expect(Date.now() - started).toBeLessThan(4 * 60);
  });

  it('finds what looks wrong: offline node, full storage, locked guest', async () => {
    sim.faults.setNodeOnline('pve3', false);
    sim.state.guests.get(100)!.lock = 'backup';
    const tank = sim.state.storages.get('tank')!;
    tank.total = 1024 ** 3; // the guest disks on it now overfill it
    const out = await run(getSystemInfo, {}, t.ctx);
    const kinds = out.data.problems.map((p) => p.kind);
    expect(kinds).toContain('offline_node');
    expect(kinds).toContain('guest_locked');
    expect(out.data.problems[0].severity).toBe('critical');
    expect(out.data.cluster.nodes_online).toBe(2);
    expect(out.data.cluster.quorate).toBe(true);
    expect(out.summary).toMatch(/2\/3 nodes online/);
  });

  it('loses quorum with two of three nodes down', async () => {
    sim.faults.setNodeOnline('pve2', false);
    sim.faults.setNodeOnline('pve3', false);
    const out = await run(getSystemInfo, {}, t.ctx);
    expect(out.data.cluster.quorate).toBe(false);
    expect(out.data.problems.map((p) => p.kind)).toContain('no_quorum');
  });

  it('a failing HA status is a warning, not a failure', async () => {
    sim.faults.fail('500', { path: '/cluster/ha/status/current' });
    const out = await run(getSystemInfo, {}, t.ctx);
    expect(out.data.ha.available).toBe(false);
    expect(out.warnings!.join(' ')).toMatch(/HA status/);
  });

  it('fails clearly when Proxmox cannot be read at all', async () => {
    sim.faults.fail('595', /^\/(cluster|version)/);
    await expectToolError(run(getSystemInfo, {}, t.ctx), 'unavailable');
  });
});


describe('task_status', () => {
  const startVm = async (ctx: ToolContext, vmid: number, node: string) => ctx.pve.post<string>(`/nodes/${node}/qemu/${vmid}/status/start`);

  it('status, wait and log of a task', async () => {
    const upid = await startVm(t.ctx, 105, 'pve1');
    const status = await run(taskStatus, { action: 'status', upid }, t.ctx);
    expect(status.data.task).toMatchObject({ upid, node: 'pve1', type: 'qmstart', id: '105' });
    const waited = await run(taskStatus, { action: 'wait', upid, timeout: 10 }, t.ctx);
    expect(waited.data.task).toMatchObject({ status: 'stopped', exitstatus: 'OK', ok: true });
    const log = await run(taskStatus, { action: 'log', upid, lines: 5 }, t.ctx);
    expect(log.data.log!.at(-1)).toBe('TASK OK');
  });

  it('a failed task: status carries the log tail, wait fails with task_failed', async () => {
    const upid = await startVm(t.ctx, 100, 'pve1'); // already running
    const error = await expectToolError(run(taskStatus, { action: 'wait', upid }, t.ctx), 'task_failed');
    expect(error.message).toMatch(/already running/);
    const status = await run(taskStatus, { action: 'status', upid }, t.ctx);
    expect(status.data.task!.ok).toBe(false);
    expect(status.data.log!.join('\n')).toMatch(/TASK ERROR/);
  });

  it('wait times out and says the task goes on', async () => {
    const slow = createSimulator({ taskDurationMs: 60_000 });
    try {
      const s = makeCtx(slow);
      const upid = await startVm(s.ctx, 105, 'pve1');
      const error = await expectToolError(run(taskStatus, { action: 'wait', upid, timeout: 1 }, s.ctx), 'timeout');
      expect(error.message).toMatch(/still running/);
      const stopped = await run(taskStop, { upid }, s.ctx);
      expect(stopped.data.task!.status).toBe('stopped');
      expect(stopped.data.task!.exitstatus).toMatch(/interrupt/);
      await expectToolError(run(taskStop, { upid }, s.ctx), 'conflict');
    } finally {
      slow.close();
    }
  });

  it('lists tasks cluster-wide and per node, with filters', async () => {
    const ok = await startVm(t.ctx, 105, 'pve1');
    const bad = await startVm(t.ctx, 100, 'pve1');
    await t.ctx.pve.waitForTask(ok);
    await t.ctx.pve.waitForTask(bad).catch(() => undefined);
    const all = await run(taskStatus, { action: 'list' }, t.ctx);
    expect(all.data.tasks!.map((task) => task.upid)).toEqual(expect.arrayContaining([ok, bad]));
    const errors = await run(taskStatus, { action: 'list', node: 'pve1', errors_only: true }, t.ctx);
    expect(errors.data.tasks!.map((task) => task.upid)).toEqual([bad]);
    const byVm = await run(taskStatus, { action: 'list', vmid: 105 }, t.ctx);
    expect(byVm.data.tasks!.every((task) => task.id === '105')).toBe(true);
  });

  it('unhappy paths: bad upid, unknown task, unknown or offline node', async () => {
    expect(taskStatus.input.safeParse({ action: 'status', upid: 'nope' }).success).toBe(false);
    await expectToolError(run(taskStatus, { action: 'status' }, t.ctx), 'invalid_input');
    await expectToolError(run(taskStatus, { action: 'status', upid: 'UPID:pve1:00000001:00000001:00000001:qmstart:100:root@pam:' }, t.ctx), 'not_found');
    await expectToolError(run(taskStatus, { action: 'list', node: 'nosuch' }, t.ctx), 'not_found');
    sim.faults.setNodeOnline('pve2', false);
    t.ctx.pve.invalidate();
    await expectToolError(run(taskStatus, { action: 'list', node: 'pve2' }, t.ctx), 'unavailable');
  });
});

describe('guest_snapshot', () => {
  it('lists without the current pseudo-entry, with age and the current parent', async () => {
    const out = await run(guestSnapshotList, { vmid: 100 }, t.ctx);
    expect(out.data.type).toBe('qemu');
    expect(out.data.snapshots!.map((s) => s.name)).toEqual(['pre-upgrade', 'post-upgrade']);
    expect(out.data.snapshots!.find((s) => s.current_parent)!.name).toBe('post-upgrade');
    expect(out.data.snapshots![0].age).toMatch(/d/);
    const ct = await run(guestSnapshotList, { vmid: 103 }, t.ctx);
    expect(ct.data).toMatchObject({ type: 'lxc', node: 'pve3' });
  });

  it('creates, rolls back and deletes, waiting for each task', async () => {
    const created = await run(guestSnapshot, { action: 'create', vmid: 104, snapname: 'before_test', description: 'test' }, t.ctx);
    expect(created.data.task!.ok).toBe(true);
    expect(sim.state.guests.get(104)!.snapshots.has('before_test')).toBe(true);
    sim.state.guests.get(104)!.config.memory = 4096;
    const rolled = await run(guestSnapshot, { action: 'rollback', vmid: 104, snapname: 'before_test' }, t.ctx);
    expect(rolled.data.task!.ok).toBe(true);
    expect(sim.state.guests.get(104)!.config.memory).toBe(2048);
    await run(guestSnapshot, { action: 'delete', vmid: 104, snapname: 'before_test' }, t.ctx);
    expect(sim.state.guests.get(104)!.snapshots.has('before_test')).toBe(false);
    expect(t.progress.length).toBeGreaterThan(0);
  });

  it('vmstate for a running VM; refused for a container', async () => {
    const out = await run(guestSnapshot, { action: 'create', vmid: 100, snapname: 'with_ram', vmstate: true }, t.ctx);
    expect(out.data.task!.ok).toBe(true);
    expect(sim.state.guests.get(100)!.snapshots.get('with_ram')!.vmstate).toBe(1);
    await expectToolError(run(guestSnapshot, { action: 'create', vmid: 103, snapname: 'x1', vmstate: true }, t.ctx), 'invalid_input');
  });

  it('unhappy paths: unknown guest, unknown snapshot, duplicate name, missing snapname, failing task, bad name', async () => {
    await expectToolError(run(guestSnapshotList, { vmid: 999 }, t.ctx), 'not_found');
    const missing = await expectToolError(run(guestSnapshot, { action: 'rollback', vmid: 100, snapname: 'nope' }, t.ctx), 'not_found');
    expect(missing.message).toMatch(/pre-upgrade/);
    await expectToolError(run(guestSnapshot, { action: 'create', vmid: 100, snapname: 'pre-upgrade' }, t.ctx), 'conflict');
    await expectToolError(run(guestSnapshot, { action: 'delete', vmid: 100 }, t.ctx), 'invalid_input');
    expect(guestSnapshot.input.safeParse({ action: 'create', vmid: 100, snapname: '1bad name' }).success).toBe(false);
    sim.state.guests.get(105)!.lock = 'backup';
    const failed = await expectToolError(run(guestSnapshot, { action: 'create', vmid: 105, snapname: 'locked_one' }, t.ctx), 'task_failed');
    expect(failed.message).toMatch(/locked/);
  });

  it('an offline node: the guest cannot be reached', async () => {
    sim.faults.setNodeOnline('pve3', false);
    t.ctx.pve.invalidate();
    await expectToolError(run(guestSnapshotList, { vmid: 103 }, t.ctx), 'unavailable');
  });

  it('effect per action', () => {
    expect(guestSnapshotList.effect).toBe('read');
    expect(guestSnapshot.effectOf!({ action: 'create' } as never)).toBe('write');
    expect(guestSnapshot.effectOf!({ action: 'rollback' } as never)).toBe('destructive');
    expect(guestSnapshot.effectOf!({ action: 'delete' } as never)).toBe('destructive');
  });
});

describe('guest_backup', () => {
  it('lists backups across storages with age, and guests without a recent backup', async () => {
    const out = await run(guestBackupList, {}, t.ctx);
    const of100 = out.data.backups!.filter((b) => b.vmid === 100);
    expect(of100).toHaveLength(2);
    expect(of100[0].storage).toBe('nfs-backup');
    expect(of100[0].age_seconds).toBeLessThan(of100[1].age_seconds!);
    const guests = await run(guestBackupList, { view: 'guests' }, t.ctx);
    expect(guests.data.guests!.find((g) => g.vmid === 100)!.stale).toBe(false);
    const stale = (await run(guestBackupList, { view: 'guests', stale_only: true }, t.ctx)).data.guests!.map((g) => g.vmid);
    expect(stale).toContain(106);
    expect(stale).not.toContain(100);
    expect(out.data.stale_guests).toBe(stale.length);
    const one = await run(guestBackupList, { vmid: 101, stale_days: 1 }, t.ctx);
    expect(one.data.backups!.every((b) => b.vmid === 101)).toBe(true);
    expect((await run(guestBackupList, { view: 'guests', vmid: 101 }, t.ctx)).data.guests!).toHaveLength(1);
  });

  it('pages and sorts the backups', async () => {
    const all = (await run(guestBackupList, { limit: 1000 }, t.ctx)).data;
    const first = await run(guestBackupList, { limit: 2, sort: 'size' }, t.ctx);
    expect(first.data.total).toBe(all.total);
    expect(first.data.returned).toBe(2);
    expect(first.data.next_cursor).toBe('2');
    expect(first.data.backups![0].size!).toBeLessThanOrEqual(first.data.backups![1].size!);
    const second = await run(guestBackupList, { limit: 2, sort: 'size', cursor: first.data.next_cursor!, fields: ['vmid', 'size'] }, t.ctx);
    expect(Object.keys(second.data.backups![0]).sort()).toEqual(['size', 'vmid', 'volid']);
    expect(second.data.backups![0].size!).toBeGreaterThanOrEqual(first.data.backups![1].size!);
    expect(first.summary).toMatch(/next page: cursor "2"/);
  });

  it('creates a backup of guests on two nodes (one vzdump per node) and restores one to a new id', async () => {
    const created = await run(guestBackup, { action: 'create', vmids: [104, 105], storage: 'nfs-backup', notes: '{{guestname}} test' }, t.ctx);
    expect(created.data.tasks).toHaveLength(2);
    expect(created.data.tasks!.every((task) => task.ok)).toBe(true);
    expect(t.requests.filter((r) => r.endsWith('/vzdump'))).toHaveLength(2);
    const listed = await run(guestBackupList, { vmid: 105 }, t.ctx);
    expect(listed.data.backups).toHaveLength(3);
    const newest = listed.data.backups![0];
    expect(newest.notes).toBe('win-test test');

    const restored = await run(guestBackup, { action: 'restore', volume: newest.volid }, t.ctx);
    const id = restored.data.restored!.vmid;
    expect(id).not.toBe(105);
    expect(restored.data.restored).toMatchObject({ type: 'qemu', node: 'pve1', overwrote: false });
    expect(sim.state.guests.get(id)!.config.name).toBe('win-test');

    const ctBackup = (await run(guestBackupList, { vmid: 104 }, t.ctx)).data.backups![0];
    const ct = await run(guestBackup, { action: 'restore', volume: ctBackup.volid, vmid: 950, node: 'pve3' }, t.ctx);
    expect(ct.data.restored).toMatchObject({ vmid: 950, type: 'lxc', node: 'pve3' });
    expect(sim.state.guests.get(950)!.type).toBe('lxc');
  });

  it('backs up a selection in one call: a tag, a node, the guests not backed up in N days; an empty one is refused in the plan', async () => {
    const stalePlan = await guestBackup.explain!(guestBackup.input.parse({ action: 'create', not_backed_up_days: 7 }), t.ctx);
    expect(stalePlan.summary).toMatch(/106/);
    expect(stalePlan.summary).not.toMatch(/\b100\b/);
    const tagged = [...sim.state.guests.values()].filter((g) => String(g.config.tags ?? '').split(/[;,]/).includes('prod') && !g.config.template).map((g) => g.vmid).sort((a, b) => a - b);
    const byTag = await run(guestBackup, { action: 'create', select_tag: 'prod', storage: 'nfs-backup' }, t.ctx);
    expect(byTag.summary).toMatch(new RegExp(`${tagged.length === 1 ? `guest ${tagged[0]}` : `${tagged.length} guests`}`));
    await expect(guestBackup.explain!(guestBackup.input.parse({ action: 'create', select_tag: 'no-such-tag' }), t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/No guest tagged no-such-tag/) });
    await expect(guestBackup.explain!(guestBackup.input.parse({ action: 'create', select_node: 'pve01' }), t.ctx)).rejects.toMatchObject({ code: 'not_found' });
    const onNode = await guestBackup.explain!(guestBackup.input.parse({ action: 'create', select_node: 'pve2' }), t.ctx);
    expect(onNode.summary).toMatch(/101/);
  });

  it('defaults to a shared backup storage; refuses a storage without backup content', async () => {
    const out = await run(guestBackup, { action: 'create', vmid: 104 }, t.ctx);
    expect(out.data.storage).toBe('nfs-backup');
    const error = await expectToolError(run(guestBackup, { action: 'create', vmid: 104, storage: 'local-lvm' }, t.ctx), 'invalid_input');
    expect(error.message).toMatch(/images, rootdir/);
    await expectToolError(run(guestBackup, { action: 'create', vmid: 104, storage: 'nosuch' }, t.ctx), 'not_found');
    await expectToolError(run(guestBackup, { action: 'create' }, t.ctx), 'invalid_input');
    await expectToolError(run(guestBackup, { action: 'create', vmid: 998 }, t.ctx), 'not_found');
  });

  it('restoring over an existing guest needs force, and the guest must be stopped', async () => {
    const volume = (await run(guestBackupList, { vmid: 104 }, t.ctx)).data.backups![0].volid;
    await expectToolError(run(guestBackup, { action: 'restore', volume, vmid: 104 }, t.ctx), 'conflict');
    expect(guestBackup.effectOf!(guestBackup.input.parse({ action: 'restore', volume, vmid: 104, force: true }))).toBe('destructive');
    expect(guestBackup.effectOf!(guestBackup.input.parse({ action: 'restore', volume }))).toBe('write');
    const over = await run(guestBackup, { action: 'restore', volume, vmid: 104, force: true }, t.ctx);
    expect(over.data.restored!.overwrote).toBe(true);
    const running = (await run(guestBackupList, { vmid: 103 }, t.ctx)).data.backups![0].volid;
    await expectToolError(run(guestBackup, { action: 'restore', volume: running, vmid: 103, force: true }, t.ctx), 'conflict');
    await expectToolError(run(guestBackup, { action: 'restore', volume: 'nfs-backup:backup/vzdump-qemu-100-2001_01_01-00_00_00.vma.zst' }, t.ctx), 'not_found');
    await expectToolError(run(guestBackup, { action: 'restore', volume: 'nonsense' }, t.ctx), 'invalid_input');
  });

  it('a failing backup task and a timeout', async () => {
    const slow = createSimulator({ taskDurationMs: 60_000 });
    try {
      const s = makeCtx(slow);
      const error = await expectToolError(run(guestBackup, { action: 'create', vmid: 105, timeout: 1 }, s.ctx), 'timeout');
      expect(error.message).toMatch(/still running/);
      const started = await run(guestBackup, { action: 'create', vmid: 104, wait: false }, s.ctx);
      expect(started.data.tasks![0].status).toBe('running');
    } finally {
      slow.close();
    }
    // the guest disappears before the worker runs: vzdump ends with an error
    const vzdump = createSimulator({ taskDurationMs: 50 });
    try {
      const s = makeCtx(vzdump);
      const pending = run(guestBackup, { action: 'create', vmid: 104 }, s.ctx);
      await new Promise((resolve) => setTimeout(resolve, 20));
      vzdump.state.guests.delete(104);
      const error = await expectToolError(pending, 'task_failed');
      expect(JSON.stringify(error.details)).toMatch(/unable to find VM/);
    } finally {
      vzdump.close();
    }
  });
});

describe('storage_operations', () => {
  it('lists storages with type, content, shared and use per node', async () => {
    const out = await run(storageOps, { action: 'list' }, t.ctx);
    const nfs = out.data.storages!.find((s) => s.storage === 'nfs-backup')!;
    expect(nfs).toMatchObject({ type: 'nfs', shared: true, content: ['backup'] });
    expect(out.data.storages!.find((s) => s.storage === 'local')!.nodes).toHaveLength(3);
    const one = await run(storageOps, { action: 'list', node: 'pve2', content: 'images' }, t.ctx);
    expect(one.data.storages!.map((s) => s.storage).sort()).toEqual(['local-lvm', 'tank']);
  });

  it('status and content (filters), node needed for node-local storage', async () => {
    const status = await run(storageOps, { action: 'status', storage: 'nfs-backup' }, t.ctx);
    expect(status.data.status!.total).toBeGreaterThan(0);
    await expectToolError(run(storageOps, { action: 'content', storage: 'local' }, t.ctx), 'invalid_input');
    const isos = await run(storageOps, { action: 'content', storage: 'local', node: 'pve1', content: 'iso' }, t.ctx);
    expect(isos.data.volumes!.every((v) => v.content === 'iso')).toBe(true);
    expect(isos.data.volumes!.length).toBe(3);
    const disks = await run(storageOps, { action: 'content', storage: 'local-lvm', node: 'pve1', vmid: 100 }, t.ctx);
    expect(disks.data.volumes!.every((v) => v.vmid === 100)).toBe(true);
  });

  it('downloads an ISO by URL and waits; refuses a duplicate and a storage without that content', async () => {
    const out = await run(storageChange, { action: 'download', storage: 'local', node: 'pve2', url: 'https://example.invalid/isos/alpine-3.20.iso', checksum: 'a'.repeat(64), checksum_algorithm: 'sha256' }, t.ctx);
    expect(out.data.volume).toBe('local:iso/alpine-3.20.iso');
    expect(out.data.task!.ok).toBe(true);
    await expectToolError(run(storageChange, { action: 'download', storage: 'local', node: 'pve2', url: 'https://example.invalid/isos/alpine-3.20.iso' }, t.ctx), 'conflict');
    await expectToolError(run(storageChange, { action: 'download', storage: 'nfs-backup', url: 'https://example.invalid/x.iso' }, t.ctx), 'invalid_input');
    await expectToolError(run(storageChange, { action: 'download', storage: 'local', node: 'pve2', url: 'https://example.invalid/x.iso', checksum: 'ab'.repeat(16) }, t.ctx), 'invalid_input');
    await expectToolError(run(storageChange, { action: 'download', storage: 'local', node: 'pve2', url: 'https://example.invalid/download?id=3' }, t.ctx), 'invalid_input');
    expect(storageChange.input.safeParse({ action: 'download', url: 'ftp://x/y.iso' }).success).toBe(false);
  });

  it('deletes a volume: warns about the newest backup, refuses a disk in use and a protected one', async () => {
    const backups = (await run(storageOps, { action: 'content', storage: 'nfs-backup', vmid: 104 }, t.ctx)).data.volumes!;
    const newest = [...backups].sort((a, b) => b.created!.localeCompare(a.created!))[0];
    const plan = await storageChange.explain!(storageChange.input.parse({ action: 'delete_volume', storage: 'nfs-backup', volume: newest.volid }), t.ctx);
    expect(plan.warnings!.join(' ')).toMatch(/NEWEST backup of guest 104/);
    const out = await run(storageChange, { action: 'delete_volume', storage: 'nfs-backup', volume: newest.volid }, t.ctx);
    expect(out.warnings!.join(' ')).toMatch(/NEWEST/);
    const last = (await run(storageOps, { action: 'content', storage: 'nfs-backup', vmid: 104 }, t.ctx)).data.volumes![0];
    const lastPlan = await storageChange.explain!(storageChange.input.parse({ action: 'delete_volume', storage: 'nfs-backup', volume: last.volid }), t.ctx);
    expect(lastPlan.warnings!.join(' ')).toMatch(/ONLY backup/);

    const disk = await expectToolError(run(storageChange, { action: 'delete_volume', storage: 'local-lvm', node: 'pve1', volume: 'local-lvm:vm-100-disk-0' }, t.ctx), 'conflict');
    expect(disk.message).toMatch(/disk scsi0 of VM 100/);
    [...sim.state.volumes.get('nfs-backup')!.values()].find((v) => v.vmid === 103)!.protected = 1;
    const prot = (await run(storageOps, { action: 'content', storage: 'nfs-backup', vmid: 103 }, t.ctx)).data.volumes!.find((v) => v.protected)!;
    await expectToolError(run(storageChange, { action: 'delete_volume', storage: 'nfs-backup', volume: prot.volid }, t.ctx), 'conflict');
    await expectToolError(run(storageChange, { action: 'delete_volume', storage: 'local', node: 'pve1', volume: 'iso/nope.iso' }, t.ctx), 'not_found');
    const iso = await run(storageChange, { action: 'delete_volume', storage: 'local', node: 'pve3', volume: 'iso/virtio-win-0.1.262.iso' }, t.ctx);
    expect(iso.data.volume).toBe('local:iso/virtio-win-0.1.262.iso');
  });

  it('unhappy paths: unknown storage, unknown or offline node, effect per action', async () => {
    const unknown = await expectToolError(run(storageOps, { action: 'status', storage: 'nosuch' }, t.ctx), 'not_found');
    expect(unknown.message).toMatch(/local-lvm/);
    await expectToolError(run(storageOps, { action: 'content', storage: 'local', node: 'pve7' }, t.ctx), 'not_found');
    sim.faults.setNodeOnline('pve2', false);
    t.ctx.pve.invalidate();
    await expectToolError(run(storageOps, { action: 'status', storage: 'local', node: 'pve2' }, t.ctx), 'unavailable');
    await expectToolError(run(storageOps, { action: 'status' }, t.ctx), 'invalid_input');
    expect(storageOps.effect).toBe('read');
    expect(storageChange.effectOf!({ action: 'download' } as never)).toBe('write');
    expect(storageChange.effectOf!({ action: 'delete_volume' } as never)).toBe('destructive');
  });

  it('a failing download task reports the task log', async () => {
    const failing = createSimulator({ taskDurationMs: 5 });
    try {
      const s = makeCtx(failing);
      const volumes = failing.state.volumes;
      const realGet = volumes.get.bind(volumes);
      volumes.get = (key: string) => {
        if (s.requests.some((r) => r.endsWith('/download-url'))) throw new Error('write error: No space left on device');
        return realGet(key);
      };
      const error = await expectToolError(run(storageChange, { action: 'download', storage: 'local', node: 'pve1', url: 'https://example.invalid/a.iso' }, s.ctx), 'task_failed');
      expect(error.message).toMatch(/No space left/);
    } finally {
      failing.close();
    }
  });
});

describe('network_config', () => {
  it('lists interfaces and marks the ones carrying the node address', async () => {
    const out = await run(networkConfig, { action: 'list', node: 'pve1' }, t.ctx);
    const names = out.data.interfaces!.map((i) => i.iface);
    expect(names).toEqual(expect.arrayContaining(['vmbr0', 'vmbr1', 'bond0', 'vmbr1.50', 'eno1']));
    expect(out.data.management).toEqual({ address: '192.168.100.11', interfaces: expect.arrayContaining(['vmbr0', 'eno1']) });
    expect(out.data.interfaces!.find((i) => i.iface === 'vmbr1')!).toMatchObject({ bridge_vlan_aware: true, bridge_ports: 'bond0', management: false });
    const vlan = await run(networkConfig, { action: 'get', node: 'pve1', iface: 'vmbr1.50' }, t.ctx);
    expect(vlan.data.interface).toMatchObject({ type: 'vlan', vlan_id: 50, vlan_raw_device: 'vmbr1', cidr: '10.50.0.11/24' });
  });

  it('creates a bridge, a bond and a VLAN, shows them pending, applies, and reverts a staged change', async () => {
    await run(networkChange, { action: 'create', node: 'pve2', iface: 'bond1', type: 'bond', slaves: 'eno2', bond_mode: 'active-backup' }, t.ctx);
    const bridge = await run(networkChange, { action: 'create', node: 'pve2', iface: 'vmbr2', type: 'bridge', bridge_ports: 'bond1', bridge_vlan_aware: true, cidr: '10.20.0.2/24', comments: 'lab' }, t.ctx);
    expect(bridge.data.interface).toMatchObject({ iface: 'vmbr2', bridge_ports: 'bond1', cidr: '10.20.0.2/24', active: false });
    await run(networkChange, { action: 'create', node: 'pve2', iface: 'vlan70', type: 'vlan', vlan_raw_device: 'vmbr2', vlan_id: 70 }, t.ctx);
    const pending = await run(networkConfig, { action: 'pending', node: 'pve2' }, t.ctx);
    expect(pending.data.pending!.new_interfaces).toEqual(expect.arrayContaining(['bond1', 'vmbr2', 'vlan70']));
    // The staged diff Proxmox sends beside the list reaches the tool, so changes to existing
    // interfaces show too, not only new ones.
    expect(pending.data.pending!.complete).toBe(true);
    expect(pending.data.pending!.changes).toMatch(/vmbr2/);
    const applied = await run(networkChange, { action: 'apply', node: 'pve2' }, t.ctx);
    expect(applied.data.task!.ok).toBe(true);
    expect(applied.warnings!.join(' ')).toMatch(/console/);
    expect(sim.state.nodes.get('pve2')!.network.has('vmbr2')).toBe(true);

    await run(networkChange, { action: 'update', node: 'pve2', iface: 'vmbr2', mtu: 9000, remove: ['comments'] }, t.ctx);
    expect(sim.state.nodes.get('pve2')!.stagedNetwork!.get('vmbr2')!.mtu).toBe(9000);
    await run(networkChange, { action: 'revert', node: 'pve2' }, t.ctx);
    expect(sim.state.nodes.get('pve2')!.stagedNetwork).toBeNull();
    expect(sim.state.nodes.get('pve2')!.network.get('vmbr2')!.mtu).toBeUndefined();
  });

  it('guards the management interface: loud warning on update, delete needs force', async () => {
    const plan = await networkChange.explain!(networkChange.input.parse({ action: 'update', node: 'pve1', iface: 'vmbr0', mtu: 9000 }), t.ctx);
    expect(plan.risk).toBe('high');
    expect(plan.warnings!.join(' ')).toMatch(/DANGER: vmbr0 carries node pve1's own address \(192\.168\.100\.11\)/);
    const updated = await run(networkChange, { action: 'update', node: 'pve1', iface: 'vmbr0', mtu: 9000 }, t.ctx);
    expect(updated.warnings!.join(' ')).toMatch(/DANGER/);
    await expectToolError(run(networkChange, { action: 'delete', node: 'pve1', iface: 'eno1' }, t.ctx), 'protected');
    const forced = await run(networkChange, { action: 'delete', node: 'pve1', iface: 'vmbr1.50', force: true }, t.ctx);
    expect(forced.data.interface!.iface).toBe('vmbr1.50');
    const removed = await run(networkChange, { action: 'delete', node: 'pve1', iface: 'vmbr1' }, t.ctx);
    expect(removed.warnings!.join(' ')).not.toMatch(/DANGER/);
  });

  it('unhappy paths: unknown iface/node, offline node, bad input, duplicate, missing ports', async () => {
    await expectToolError(run(networkConfig, { action: 'get', node: 'pve1', iface: 'vmbr9' }, t.ctx), 'not_found');
    await expectToolError(run(networkConfig, { action: 'list', node: 'pve9' }, t.ctx), 'not_found');
    await expectToolError(run(networkChange, { action: 'create', node: 'pve1', iface: 'vmbr0', type: 'bridge' }, t.ctx), 'conflict');
    await expectToolError(run(networkChange, { action: 'create', node: 'pve1', iface: 'vmbr5', type: 'bridge', bridge_ports: 'eth9' }, t.ctx), 'invalid_input');
    await expectToolError(run(networkChange, { action: 'create', node: 'pve1', iface: 'vlan5', type: 'vlan' }, t.ctx), 'invalid_input');
    await expectToolError(run(networkChange, { action: 'create', node: 'pve1', iface: 'bond5', type: 'bond' }, t.ctx), 'invalid_input');
    await expectToolError(run(networkChange, { action: 'update', node: 'pve1', iface: 'vmbr1' }, t.ctx), 'invalid_input');
    await expectToolError(run(networkChange, { action: 'update', node: 'pve1', iface: 'vmbr1', type: 'bond', mtu: 1500 }, t.ctx), 'invalid_input');
    expect(networkChange.input.safeParse({ action: 'create', node: 'pve1', iface: 'vmbr5', cidr: '10.0.0.300/24' }).success).toBe(false);
    expect(networkChange.input.safeParse({ action: 'create', node: 'pve1', iface: 'bad name' }).success).toBe(false);
    sim.faults.setNodeOnline('pve3', false);
    t.ctx.pve.invalidate();
    await expectToolError(run(networkConfig, { action: 'list', node: 'pve3' }, t.ctx), 'unavailable');
    expect(networkChange.effectOf!({ action: 'delete' } as never)).toBe('destructive');
    expect(networkConfig.effect).toBe('read');
  });

  it('a failing apply task', async () => {
    const node = sim.state.nodes.get('pve1')!;
    Object.defineProperty(node, 'stagedNetwork', {
      configurable: true,
      get: () => new Map(),
      set: () => {
        throw new Error('ifreload: error: vmbr0: bridge port eno9 does not exist');
      },
    });
    await expectToolError(run(networkChange, { action: 'apply', node: 'pve1' }, t.ctx), 'task_failed');
  });
});

describe('user_list and user_change', () => {
  it('lists and reads users, groups, roles, ACLs and tokens', async () => {
    const users = await run(userList, { kind: 'user', action: 'list' }, t.ctx);
    expect(users.data.users!.map((u) => u.userid)).toEqual(expect.arrayContaining(['root@pam', 'alice@pve', 'proxmox-mcp@pve']));
    expect(users.data.users!.find((u) => u.userid === 'root@pam')!.protected).toBe(true);
    const alice = await run(userList, { kind: 'user', action: 'get', userid: 'alice@pve' }, t.ctx);
    expect(alice.data.user!.groups).toEqual(['admins']);
    const groups = await run(userList, { kind: 'group', action: 'list' }, t.ctx);
    expect(groups.data.groups!.find((g) => g.groupid === 'admins')!.members).toEqual(['alice@pve']);
    const roles = await run(userList, { kind: 'role', action: 'list' }, t.ctx);
    expect(roles.data.roles!.find((r) => r.roleid === 'ProxmoxMCP')!.builtin).toBe(false);
    const role = await run(userList, { kind: 'role', action: 'get', roleid: 'PVEAuditor' }, t.ctx);
    expect(role.data.role!.privs).toContain('Sys.Audit');
    const acl = await run(userList, { kind: 'acl', action: 'list', path: '/pool/dev' }, t.ctx);
    expect(acl.data.acl).toEqual([{ path: '/pool/dev', type: 'group', ugid: 'ops', roleid: 'PVEVMUser', propagate: true }]);
    const tokens = await run(userList, { kind: 'token', action: 'list' }, t.ctx);
    expect(tokens.data.tokens!.map((tk) => tk.full_tokenid)).toEqual(expect.arrayContaining(['proxmox-mcp@pve!mcp', 'auditor@pve!ro']));
    expect(tokens.warnings!.join(' ')).toMatch(/mallory@pve!old has no privilege separation/);
  });

  it('creates, updates and deletes a user with groups; the password never comes back', async () => {
    const created = await run(userChange, { kind: 'user', action: 'create', userid: 'carol@pve', email: 'carol@example.invalid', groups: ['ops'], password: 'correct horse battery', expire: '2030-01-01' }, t.ctx);
    expect(JSON.stringify(created)).not.toContain('correct horse');
    expect(sim.state.users.get('carol@pve')!.groups.has('ops')).toBe(true);
    expect(sim.state.users.get('carol@pve')!.expire).toBe(Date.UTC(2030, 0, 1) / 1000);
    await run(userChange, { kind: 'user', action: 'update', userid: 'carol@pve', groups: ['admins'], append_groups: true, enable: false }, t.ctx);
    expect([...sim.state.users.get('carol@pve')!.groups].sort()).toEqual(['admins', 'ops']);
    expect(sim.state.users.get('carol@pve')!.enable).toBe(0);
    const password = await expectToolError(run(userChange, { kind: 'user', action: 'update', userid: 'carol@pve', password: 'another-password' }, t.ctx), 'forbidden');
    expect(password.message).toMatch(/pveum passwd carol@pve/);
    expect(password.message).not.toContain('another-password');
    await run(userChange, { kind: 'user', action: 'delete', userid: 'carol@pve' }, t.ctx);
    expect(sim.state.users.has('carol@pve')).toBe(false);
  });

  it('groups, roles and ACLs: create, grant, revoke, delete', async () => {
    await run(userChange, { kind: 'group', action: 'create', groupid: 'auditors', comment: 'read only' }, t.ctx);
    await run(userChange, { kind: 'role', action: 'create', roleid: 'VMOperator', privs: ['VM.Audit', 'VM.PowerMgmt'] }, t.ctx);
    await run(userChange, { kind: 'role', action: 'update', roleid: 'VMOperator', privs: ['VM.Console'], append_privs: true }, t.ctx);
    expect([...sim.state.roles.get('VMOperator')!.privs].sort()).toEqual(['VM.Audit', 'VM.Console', 'VM.PowerMgmt']);
    await run(userChange, { kind: 'acl', action: 'create', path: '/vms/105', roles: ['VMOperator'], groups: ['auditors'], users: ['bob@pve'] }, t.ctx);
    expect(sim.state.acl.filter((a) => a.path === '/vms/105')).toHaveLength(2);
    await run(userChange, { kind: 'acl', action: 'delete', path: '/vms/105', roles: ['VMOperator'], users: ['bob@pve'] }, t.ctx);
    expect(sim.state.acl.filter((a) => a.path === '/vms/105').map((a) => a.ugid)).toEqual(['auditors']);
    await run(userChange, { kind: 'role', action: 'delete', roleid: 'VMOperator' }, t.ctx);
    await run(userChange, { kind: 'group', action: 'delete', groupid: 'auditors' }, t.ctx);
    expect(sim.state.acl.filter((a) => a.path === '/vms/105')).toEqual([]);
  });

  it('a new token returns its secret once, with a warning to store it', async () => {
    const out = await run(userChange, { kind: 'token', action: 'create', userid: 'alice@pve', tokenid: 'ci', comment: 'pipeline' }, t.ctx);
    const secret = sim.state.users.get('alice@pve')!.tokens.get('ci')!.secret;
    expect(out.data.token).toMatchObject({ full_tokenid: 'alice@pve!ci', privsep: true, value: secret });
    expect(out.summary).not.toContain(secret);
    expect(out.warnings!.join(' ')).toMatch(/only this once/);
    const read = await run(userList, { kind: 'token', action: 'get', userid: 'alice@pve', tokenid: 'ci' }, t.ctx);
    expect(read.data.token!.value).toBeUndefined();
    await run(userChange, { kind: 'token', action: 'update', userid: 'alice@pve', tokenid: 'ci', comment: 'changed' }, t.ctx);
    expect(sim.state.users.get('alice@pve')!.tokens.get('ci')).toMatchObject({ comment: 'changed', privsep: 1 });
    await run(userChange, { kind: 'token', action: 'delete', userid: 'alice@pve', tokenid: 'ci' }, t.ctx);
    expect(sim.state.users.get('alice@pve')!.tokens.has('ci')).toBe(false);
  });

  it('a privsep token whose user holds no ACL entry is named dead, on create and in the list, until the user is granted', async () => {
    await run(userChange, { kind: 'user', action: 'create', userid: 'dora@pve' }, t.ctx);
    const created = await run(userChange, { kind: 'token', action: 'create', userid: 'dora@pve', tokenid: 'auto' }, t.ctx);
    expect(created.warnings!.join(' ')).toMatch(/dora@pve!auto is dead: .*dora@pve holds no ACL entry/);
    // granting the token alone does not help: its rights are the intersection with its user's
    await run(userChange, { kind: 'acl', action: 'create', path: '/vms', roles: ['PVEVMUser'], tokens: ['dora@pve!auto'] }, t.ctx);
    const listed = await run(userList, { kind: 'token', userid: 'dora@pve' }, t.ctx);
    expect(listed.warnings!.join(' ')).toMatch(/dora@pve!auto is dead/);
    // a token without privilege separation is not dead by this rule (it carries the user's rights, none here)
    await run(userChange, { kind: 'token', action: 'create', userid: 'dora@pve', tokenid: 'full', privsep: false }, t.ctx);
    expect((await run(userList, { kind: 'token', userid: 'dora@pve' }, t.ctx)).warnings!.join(' ')).not.toMatch(/dora@pve!full is dead/);
    // a NoAccess entry grants nothing; a real role through a group does
    await run(userChange, { kind: 'acl', action: 'create', path: '/', roles: ['NoAccess'], users: ['dora@pve'] }, t.ctx);
    expect((await run(userList, { kind: 'token', userid: 'dora@pve' }, t.ctx)).warnings!.join(' ')).toMatch(/dora@pve!auto is dead/);
    await run(userChange, { kind: 'group', action: 'create', groupid: 'doras' }, t.ctx);
    await run(userChange, { kind: 'user', action: 'update', userid: 'dora@pve', groups: ['doras'] }, t.ctx);
    await run(userChange, { kind: 'acl', action: 'create', path: '/vms', roles: ['PVEVMUser'], groups: ['doras'] }, t.ctx);
    expect((await run(userList, { kind: 'token', userid: 'dora@pve' }, t.ctx)).warnings!.join(' ')).not.toMatch(/is dead/);
    // root@pam needs no ACL entry
    expect((await run(userList, { kind: 'token' }, t.ctx)).warnings!.join(' ')).not.toMatch(/root@pam![^ ]* is dead/);
  });

  it('protects root@pam and the server\'s own user and token, early and in plain words', async () => {
    const before = JSON.stringify([...sim.state.users.keys()]);
    for (const args of [
      { kind: 'user', action: 'delete', userid: 'root@pam' },
      { kind: 'user', action: 'update', userid: 'root@pam', comment: 'x' },
      { kind: 'token', action: 'create', userid: 'root@pam', tokenid: 'backdoor' },
      { kind: 'acl', action: 'create', path: '/', roles: ['NoAccess'], users: ['root@pam'] },
      { kind: 'user', action: 'delete', userid: 'proxmox-mcp@pve' },
      { kind: 'user', action: 'update', userid: 'proxmox-mcp@pve', enable: false },
      { kind: 'token', action: 'delete', userid: 'proxmox-mcp@pve', tokenid: 'mcp' },
      { kind: 'acl', action: 'delete', path: '/', roles: ['ProxmoxMCP'], tokens: ['proxmox-mcp@pve!mcp'] },
    ] as const) {
      const error = await expectToolError(run(userChange, args as never, t.ctx), 'protected');
      expect(error.message).toMatch(/root@pam|proxmox-mcp@pve/);
    }
    expect(JSON.stringify([...sim.state.users.keys()])).toBe(before);
    expect(t.requests.filter((r) => !r.startsWith('GET'))).toEqual([]);
  });

  it('unhappy paths: unknown user/group/role, duplicates, missing fields, bad ids', async () => {
    await expectToolError(run(userList, { kind: 'user', action: 'get', userid: 'nobody@pve' }, t.ctx), 'not_found');
    await expectToolError(run(userList, { kind: 'group', action: 'get', groupid: 'nogroup' }, t.ctx), 'not_found');
    await expectToolError(run(userList, { kind: 'role', action: 'get', roleid: 'NoRole' }, t.ctx), 'not_found');
    await expectToolError(run(userChange, { kind: 'user', action: 'create', userid: 'alice@pve' }, t.ctx), 'conflict');
    await expectToolError(run(userChange, { kind: 'user', action: 'create', userid: 'dave@pve', groups: ['nogroup'] }, t.ctx), 'not_found');
    await expectToolError(run(userChange, { kind: 'acl', action: 'create', path: '/', roles: ['PVEAuditor'] }, t.ctx), 'invalid_input');
    await expectToolError(run(userChange, { kind: 'token', action: 'create', userid: 'alice@pve' }, t.ctx), 'invalid_input');
    await expectToolError(run(userChange, { kind: 'user', action: 'update', userid: 'alice@pve' }, t.ctx), 'invalid_input');
    expect(userList.input.safeParse({ kind: 'user', action: 'get', userid: 'alice' }).success).toBe(false);
    expect(userChange.input.safeParse({ kind: 'role', action: 'create', roleid: 'X', privs: ['not a priv'] }).success).toBe(false);
    expect(userChange.effectOf!(userChange.input.parse({ kind: 'token', action: 'delete' }))).toBe('destructive');
    expect(userChange.effectOf!(userChange.input.parse({ kind: 'acl', action: 'create' }))).toBe('write');
    // Each half takes only its own actions, and says where the other ones are.
    expect(userList.effect).toBe('read');
    expect(userList.input.parse({ kind: 'user' }).action).toBe('list');
    expect(userList.input.safeParse({ kind: 'user', action: 'delete', userid: 'alice@pve' }).error?.issues[0]?.message).toMatch(/user_change/);
    expect(userChange.input.safeParse({ kind: 'user', action: 'list' }).error?.issues[0]?.message).toMatch(/user_list/);
    expect(userChange.roles).toEqual(['admin']);
  });
});

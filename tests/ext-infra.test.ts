/**
 * Issue 17, Ceph/SDN/replication: infra_status reads each against the simulator in both versions (and
 * without Ceph), says what is wrong, and sdn_apply applies pending SDN changes; unhappy paths; both doors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import infraStatus from '../functions/infra_status.ts';
import sdnApply from '../functions/sdn_apply.ts';
import { callTool, explainTool, testContext } from './helpers/ctx.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { settingsKeyForToolsets } from '../lib/toolsets.ts';
import { ToolError } from '../lib/errors.ts';
import { runChecks } from '../lib/best-practice-checks.ts';

const all = { ceph: true, sdn: true, replication: true };

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`infra on PVE ${pveVersion}`, () => {
    test('ceph: health, OSDs, pools and what is wrong; a cluster without Ceph says so', async () => {
      const sim = createSimulator({ pveVersion, ...all, taskDurationMs: 5 });
      const t = testContext({ sim });
      try {
        const out = await callTool(infraStatus, { view: 'ceph' }, t.ctx);
        const ceph = out.data.ceph as Record<string, any>;
        expect(ceph.health).toBe('HEALTH_WARN');
        expect(ceph.osds).toMatchObject({ total: 6, up: 5, in: 6 });
        expect(ceph.osds.list.find((o: { status: string }) => o.status === 'down')).toMatchObject({ id: 5, host: 'pve3' });
        expect(ceph.pools.map((p: { name: string }) => p.name)).toEqual(['rbd-vm', '.mgr', 'cephfs_data']);
        expect(out.data.problems.join(' ')).toMatch(/osd\.5 on pve3 is down/);
        expect(out.data.problems.join(' ')).toMatch(/Pool cephfs_data keeps 2 copies and accepts writes with 1/);
        expect(out.summary).toMatch(/^Ceph HEALTH_WARN: 5\/6 OSDs up/);
      } finally {
        t.close();
        sim.close();
      }
      const plain = testContext({ simOptions: { pveVersion } });
      try {
        const none = await callTool(infraStatus, { view: 'ceph' }, plain.ctx);
        expect(none.data.ceph).toEqual({ installed: false });
        expect(none.summary).toBe('Ceph is not installed on this cluster.');
        expect((await callTool(infraStatus, { view: 'sdn' }, plain.ctx)).summary).toMatch(/0 zone\(s\).*nothing pending/);
        expect((await callTool(infraStatus, { view: 'replication' }, plain.ctx)).data.total).toBe(0);
        expect(await callTool(sdnApply, {}, plain.ctx).catch((e: ToolError) => e.code)).toBe('conflict');
      } finally {
        plain.close();
      }
    });

    test('sdn: pending changes listed, applied in a task, then nothing pending', async () => {
      const sim = createSimulator({ pveVersion, ...all, taskDurationMs: 5 });
      const t = testContext({ sim });
      try {
        const before = await callTool(infraStatus, { view: 'sdn' }, t.ctx);
        const sdn = before.data.sdn as { pending: string[]; zones: unknown[]; subnets: unknown[] };
        expect(sdn.pending).toEqual(['zone lab: new (zone=lab, type=simple, ipam=pve, dhcp=dnsmasq)', 'vnet vnet200: changed (alias=db tier)']);
        expect(sdn.zones).toHaveLength(2);
        expect(sdn.subnets).toHaveLength(1);
        const plan = await explainTool(sdnApply, {}, t.ctx);
        expect(plan.requests).toEqual([{ method: 'PUT', path: '/cluster/sdn' }]);
        expect(plan.summary).toContain('Apply 2 pending SDN change(s)');
        const applied = await callTool(sdnApply, {}, t.ctx);
        expect(applied.data.task.ok).toBe(true);
        const after = await callTool(infraStatus, { view: 'sdn' }, t.ctx);
        expect((after.data.sdn as { pending: string[] }).pending).toEqual([]);
        expect((after.data.sdn as { vnets: { vnet: string; alias?: string }[] }).vnets.find((v) => v.vnet === 'vnet200')?.alias).toBe('db tier');
        expect(await explainTool(sdnApply, {}, t.ctx).catch((e: ToolError) => e.message)).toMatch(/nothing to apply/);
      } finally {
        t.close();
        sim.close();
      }
    });

    test('replication: jobs with their last result; a failing one and an offline source say so', async () => {
      const sim = createSimulator({ pveVersion, ...all, taskDurationMs: 5 });
      const t = testContext({ sim });
      try {
        const out = await callTool(infraStatus, { view: 'replication', sort: '-fail_count' }, t.ctx);
        expect(out.data.total).toBe(3);
        const failing = out.data.jobs![0] as { state: string; error: string; fail_count: number };
        expect(failing).toMatchObject({ state: 'failing', fail_count: 3 });
        expect(failing.error).toMatch(/zfs snapshot/);
        expect(out.data.problems[0]).toMatch(/failed 3 time\(s\)/);
        const source = String((out.data.jobs![1] as { source: string }).source);
        sim.faults.setNodeOnline(source, false);
        t.pve.invalidate();
        const offline = await callTool(infraStatus, { view: 'replication' }, t.ctx);
        expect(offline.data.jobs!.filter((j) => j.source === source).every((j) => j.state === 'unknown')).toBe(true);
        expect(offline.data.problems.join(' ')).toContain(`source node ${source} did not answer`);
        expect(() => infraStatus.input.parse({ view: 'zfs' })).toThrow();
        expect(() => infraStatus.input.parse({})).toThrow();
      } finally {
        t.close();
        sim.close();
      }
    });
  });
}

describe('best_practices uses Ceph where it applies', () => {
  test('health, pool copies and monitors from the live cluster; a cluster without Ceph passes', async () => {
    const checks = [{ id: 'ceph_health' }, { id: 'ceph_pool_replication' }, { id: 'ceph_mon_count' }] as never;
    const withCeph = createSimulator({ ceph: true, taskDurationMs: 5 });
    const t = testContext({ sim: withCeph });
    const results = await runChecks(checks, t.pve);
    expect(results.map((r) => [r.id, r.status])).toEqual([['ceph_health', 'warn'], ['ceph_pool_replication', 'fail'], ['ceph_mon_count', 'pass']]);
    expect(results[0].items).toEqual(['osd.5']);
    expect(results[1].summary).toContain('cephfs_data (size 2, min_size 1)');
    t.close();
    withCeph.close();
    const u = testContext();
    expect((await runChecks(checks, u.pve)).map((r) => r.status)).toEqual(['pass', 'pass', 'pass']);
    u.close();
  });
});

describe('infra through both doors', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer({ simulator: createSimulator({ ...all, taskDurationMs: 5 }) });
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('reads for every role, apply for operators, listed once the toolset is on', async () => {
    const viewer = await ts.createToken({ name: 'infra-viewer', role: 'viewer' });
    const operator = await ts.createToken({ name: 'infra-op', role: 'operator', mode: 'normal', ceiling: 'normal' });
    expect((await callRest(ts.url, viewer, 'infra_status', { view: 'ceph' })).body.error.message).toMatch(/'infra' toolset.*npm run token -- toolsets infra-viewer infra/);
    await ts.server.store.settings.set(settingsKeyForToolsets((await ts.server.store.tokens.byName('infra-viewer'))!.id), ['infra', 'ha']);
    expect((await callRest(ts.url, viewer, 'infra_status', { view: 'ceph' })).body.data.ceph.health).toBe('HEALTH_WARN');
    expect((await callRest(ts.url, viewer, 'sdn_apply', {})).status).toBe(403);
    expect(ts.changesSent).toEqual([]);
    const record = await ts.server.store.tokens.byName('infra-op');
    await ts.server.store.settings.set(settingsKeyForToolsets(record!.id), ['infra']);
    const client = await connectClient(ts.mcpUrl, operator, 'modern');
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['infra_status', 'sdn_apply']));
    expect(names).not.toContain('ha_status');
    const answer = await client.callTool({ name: 'infra_status', arguments: { view: 'replication' } });
    expect(JSON.stringify(answer.content)).toContain('failed 3 time(s)');
    const applied = await client.callTool({ name: 'sdn_apply', arguments: {} });
    expect(applied.isError).toBeFalsy();
    await client.close();
    expect(ts.changesSent).toEqual(['PUT /cluster/sdn']);
  }, 60_000);
});

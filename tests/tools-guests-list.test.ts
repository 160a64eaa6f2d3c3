/**
 * list_vms and list_containers: one /cluster/resources request at any cluster size, filters, offline
 * nodes as warnings, and the privilege-filtered view of a read-only token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import listVms from '../functions/list_vms.ts';
import listContainers from '../functions/list_containers.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { callTool, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('list_vms', () => {
  it('lists every QEMU VM with the fields an agent needs', async () => {
    t = testContext();
    const out = await callTool(listVms, {}, t.ctx);
    const ids = out.data.guests.map((row) => row.vmid);
    expect(ids).toEqual(expect.arrayContaining([100, 101, 102, 105]));
    expect(ids).not.toContain(103);
    const web = out.data.guests.find((row) => row.vmid === 100)!;
    expect(web).toMatchObject({ name: 'web01', node: 'pve1', status: 'running', tags: ['prod', 'web'], pool: 'prod', template: false });
    expect(web.cpu_percent).toBeTypeOf('number');
    expect(web.maxmem).toBe(4096 * 1024 ** 2);
    expect(out.data.guests.find((row) => row.vmid === 101)!.hastate).toBe('started');
    expect(out.data.guests.find((row) => row.vmid === 102)!.template).toBe(true);
    expect(out.summary).toMatch(/VMs/);
  });

  it('makes exactly one Proxmox request, at any cluster size', async () => {
    for (const size of [{ nodes: 1, guests: 6 }, { nodes: 3, guests: 10 }, { nodes: 32, guests: 2000 }]) {
      const sim = createSimulator({ ...size, taskDurationMs: 5 });
      t = testContext({ sim });
      sim.stats.reset();
      const out = await callTool(listVms, { limit: 10000 }, t.ctx);
      expect(sim.stats.requests, JSON.stringify(size)).toBe(1);
      expect(sim.stats.byEndpoint.get('GET /cluster/resources')).toBe(1);
      expect(out.data.total).toBe([...sim.state.guests.values()].filter((g) => g.type === 'qemu').length);
      t.close();
      sim.close();
      t = undefined;
    }
  });

  it('filters by node, status, name glob or substring, tag, pool and templates', async () => {
    t = testContext();
    const ids = async (args: Record<string, unknown>) => (await callTool(listVms, args, t!.ctx)).data.guests.map((row) => row.vmid);
    expect(await ids({ node: 'pve2' })).toEqual(expect.arrayContaining([101]));
    expect((await ids({ node: 'pve2' })).every((id) => t!.sim.state.guests.get(id)!.node === 'pve2')).toBe(true);
    expect(await ids({ name: 'web*' })).toEqual([100]);
    expect(await ids({ name: 'WIN' })).toContain(105);
    expect(await ids({ name: 'win-t?st' })).toEqual([105]);
    expect(await ids({ tag: 'prod' })).toEqual(expect.arrayContaining([100, 101]));
    expect(await ids({ tag: 'pro*' })).toEqual(expect.arrayContaining([100, 101]));
    expect((await ids({ pool: 'dev' })).every((id) => t!.sim.state.guests.get(id)!.pool === 'dev')).toBe(true);
    expect(await ids({ pool: 'dev' })).toContain(105);
    expect(await ids({ templates: 'only' })).toEqual([102]);
    expect(await ids({ templates: 'exclude' })).not.toContain(102);
    const stopped = await ids({ status: 'stopped' });
    expect(stopped).toContain(105);
    expect(stopped.every((id) => t!.sim.state.guests.get(id)!.status === 'stopped')).toBe(true);
    const limited = await callTool(listVms, { limit: 1 }, t.ctx);
    expect(limited.data.truncated).toBe(true);
    expect(limited.data.returned).toBe(1);
  });

  it('reports an offline node as a warning, its VMs as unknown', async () => {
    t = testContext();
    t.sim.faults.setNodeOnline('pve2', false);
    const out = await callTool(listVms, {}, t.ctx);
    expect(out.data.offline_nodes).toEqual(['pve2']);
    expect(out.data.guests.find((row) => row.vmid === 101)!.status).toBe('unknown');
    expect(out.warnings!.join(' ')).toMatch(/Node pve2 is offline/);
    expect(out.data.guests.find((row) => row.vmid === 100)!.status).toBe('running');
  });

  it('gives up on a hanging Proxmox when the call is cancelled', async () => {
    const controller = new AbortController();
    t = testContext({ signal: controller.signal });
    t.sim.faults.fail('hang', { path: '/cluster/resources' });
    setTimeout(() => controller.abort(), 100);
    await expect(callTool(listVms, {}, t.ctx)).rejects.toMatchObject({ code: 'timeout' });
  });

  it('rejects bad filters with a message a person can act on', () => {
    expect(() => listVms.input.parse({ node: 'bad node!' })).toThrow(/node must be a Proxmox node name/);
    expect(() => listVms.input.parse({ status: 'asleep' })).toThrow();
  });

  it('shows a read-only token what it may see', async () => {
    t = testContext({ token: 'auditor' });
    const out = await callTool(listVms, {}, t.ctx);
    expect(out.data.total).toBeGreaterThan(0);
  });
});

describe('list_containers', () => {
  it('lists containers only, with hostnames as names', async () => {
    t = testContext();
    const out = await callTool(listContainers, {}, t.ctx);
    const ids = out.data.guests.map((row) => row.vmid);
    expect(ids).toEqual(expect.arrayContaining([103, 104]));
    expect(ids).not.toContain(100);
    expect(out.data.guests.find((row) => row.vmid === 103)).toMatchObject({ name: 'dns01', node: 'pve3', status: 'running' });
    expect(t.requests).toHaveLength(1);
  });

  it('filters and reports offline nodes like list_vms', async () => {
    t = testContext();
    t.sim.faults.setNodeOnline('pve3', false);
    const out = await callTool(listContainers, { status: 'unknown' }, t.ctx);
    expect(out.data.guests.map((row) => row.vmid)).toContain(103);
    expect(out.warnings!.join(' ')).toMatch(/pve3 is offline.*containers?/);
    expect((await callTool(listContainers, { pool: 'dev' }, t.ctx)).data.guests.map((row) => row.vmid)).toEqual([104]);
  });
});

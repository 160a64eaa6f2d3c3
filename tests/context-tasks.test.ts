/**
 * Task-level operations (issue 15): evacuating a node is one plan and one approval; everything that
 * would stop it is refused before anyone is asked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import nodeEvacuate from '../functions/node_evacuate.ts';
import { callTool, explainTool, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('node_evacuate', () => {
  it('plans every guest of the node with its target and mode, then moves them all', async () => {
    t = testContext();
    const on = (node: string) => [...t!.sim.state.guests.values()].filter((guest) => guest.node === node).map((guest) => guest.vmid).sort((a, b) => a - b);
    const before = on('pve1');
    expect(before.length).toBeGreaterThan(1);
    const plan = await explainTool(nodeEvacuate, { node: 'pve1' }, t.ctx);
    for (const vmid of before) expect(plan.summary).toContain(` ${vmid}`);
    expect(plan.summary).toMatch(/-> pve[23] \(live/);
    expect(t.requests.filter((request) => request.method !== 'GET')).toEqual([]);

    const out = await callTool(nodeEvacuate, { node: 'pve1' }, t.ctx);
    expect(out.data.results.every((result) => result.ok)).toBe(true);
    expect(on('pve1')).toEqual([]);
    expect(out.data.moves.map((m) => m.vmid).sort((a, b) => a - b)).toEqual(before);
  });

  it('refuses before anyone is asked: an unknown node or target, the node itself as target, a locked guest', async () => {
    t = testContext();
    await expect(explainTool(nodeEvacuate, { node: 'pve01' }, t.ctx)).rejects.toMatchObject({ code: 'not_found' });
    await expect(explainTool(nodeEvacuate, { node: 'pve1', target: 'pve9' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no node pve9/) });
    await expect(explainTool(nodeEvacuate, { node: 'pve1', target: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input' });
    t.sim.state.guests.get(100)!.lock = 'backup';
    await expect(explainTool(nodeEvacuate, { node: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/100 \(backup\)/) });
    expect(t.requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });
});

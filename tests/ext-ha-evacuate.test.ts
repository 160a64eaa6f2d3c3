/**
 * Issue 17, node maintenance and HA: node_evacuate's plan lists each guest with its route: HA-managed
 * guests through the HA manager (POST /cluster/ha/resources/{sid}/migrate, to a node their group or rule
 * allows), the others through their own migration; it says when HA would bring a guest straight back
 * (failback to a preferred node) and what maintenance mode on the host does, since the API has no call
 * for it. Both PVE versions (HA groups on 8.4, rules on 9.1), the unhappy paths, and both doors.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import nodeEvacuate from '../functions/node_evacuate.ts';
import { callTool, explainTool, testContext, type TestContext } from './helpers/ctx.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const nodeOf = (vmid: number) => t!.sim.state.guests.get(vmid)!.node;
const sent = () => t!.requests.filter((request) => request.method !== 'GET').map((request) => `${request.method} ${request.path}`);

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`node_evacuate and HA on PVE ${pveVersion}`, () => {
    const placement = (nodes: string, strict = false) => {
      const state = t!.sim.state;
      if (pveVersion === '8.4') Object.assign(state.haGroups.get('prefer-fast')!, { nodes, restricted: strict ? 1 : 0 });
      else Object.assign(state.haRules.get('ha-group-prefer-fast')!, { nodes, strict: strict ? 1 : 0 });
    };
    const placedBy = pveVersion === '8.4' ? 'prefer-fast' : 'ha-group-prefer-fast';

    test('the plan names each guest\'s route; HA guests move through HA to the node their placement ranks next', async () => {
      t = testContext({ simOptions: { pveVersion } });
      const node = nodeOf(101);
      expect(node).toBe('pve2');
      // prefer-fast ranks pve1 (2) above pve2 (1): VM 101 goes to pve1 and stays there
      const plan = await explainTool(nodeEvacuate, { node }, t.ctx);
      expect(plan.summary).toMatch(/VM 101 \S* ?-> pve1 \(live[^)]*, through HA as vm:101\)/);
      expect(plan.apiCalls!).toContain('POST /cluster/ha/resources/vm:101/migrate (node pve1)');
      expect(plan.apiCalls!.some((call) => call.includes('/qemu/101/migrate'))).toBe(false);
      expect(String(plan.cliEquivalent)).toContain('ha-manager migrate vm:101 pve1');
      const warnings = plan.warnings!.join('\n');
      expect(warnings).toContain(`VM 101 (vm:101, requested started) moves through HA to pve1 (placed by ${placedBy}).`);
      expect(warnings).toContain('ha-manager crm-command node-maintenance enable pve2');
      expect(warnings).toContain('The API has no call for HA node maintenance');
      // a placement that ranks this node first: HA would bring it straight back
      placement('pve2:3,pve3:1');
      const back = await explainTool(nodeEvacuate, { node }, t.ctx);
      expect(back.warnings!.join('\n')).toContain(`VM 101 (vm:101, requested started) moves through HA to pve3 (placed by ${placedBy}); HA would bring it back to pve2 at once (failback, pve2 ranks highest) unless pve2 is in HA maintenance mode.`);
      expect(sent()).toEqual([]);

      const out = await callTool(nodeEvacuate, { node }, t.ctx);
      const ha = out.data.moves.find((m) => m.vmid === 101)!;
      expect(ha).toMatchObject({ route: 'ha', sid: 'vm:101', target: 'pve3', comes_back: true });
      expect(out.data.moves.filter((m) => m.vmid !== 101).every((m) => m.route === 'migrate')).toBe(true);
      expect(out.data.results.every((r) => r.ok)).toBe(true);
      expect(sent()).toContain('POST /cluster/ha/resources/vm:101/migrate');
      expect(sent().some((request) => request.includes('/qemu/101/migrate'))).toBe(false);
      expect(nodeOf(101)).toBe('pve3');
      expect([...t.sim.state.guests.values()].filter((g) => g.node === node)).toEqual([]);
    });

    test('strict placement, failback off, ignored and disabled HA states', async () => {
      t = testContext({ simOptions: { pveVersion } });
      const state = t.sim.state;
      // only pve2 allowed: VM 101 cannot leave; the plan says so and moves the rest
      placement('pve2:2', true);
      let plan = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(plan.summary).not.toMatch(/VM 101/);
      expect(plan.warnings!.join('\n')).toMatch(/Left on pve2.*VM 101 \(vm:101: HA \S+ allows only pve2, none of them online besides pve2\)/);
      // pve2 and pve3 allowed: pve3 (pve1 may have more room); a target outside the set leaves 101 only
      placement('pve2:2,pve3:1', true);
      plan = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(plan.apiCalls!).toContain('POST /cluster/ha/resources/vm:101/migrate (node pve3)');
      plan = await explainTool(nodeEvacuate, { node: 'pve2', target: 'pve1' }, t.ctx);
      expect(plan.warnings!.join('\n')).toMatch(/VM 101 \(vm:101: HA \S+ allows only pve2, pve3, not pve1\)/);
      expect(plan.summary).toMatch(/-> pve1/);
      // failback off: no "comes back"
      if (pveVersion === '8.4') state.haGroups.get('prefer-fast')!.nofailback = 1;
      else state.ha.get('vm:101')!.failback = 0;
      plan = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(plan.warnings!.join('\n')).not.toMatch(/bring it back/);
      // ignored: HA leaves it alone, the guest's own migration moves it
      state.ha.get('vm:101')!.state = 'ignored';
      plan = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(plan.apiCalls!.some((call) => call.startsWith('POST /nodes/pve2/qemu/101/migrate'))).toBe(true);
      expect(plan.warnings!.join('\n')).toMatch(/VM 101 \(vm:101\): HA state ignored/);
      expect(plan.warnings!.join('\n')).not.toMatch(/HA and maintenance/);
      // disabled: the HA manager does not move it; left with the reason
      state.ha.get('vm:101')!.state = 'disabled';
      plan = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(plan.warnings!.join('\n')).toMatch(/VM 101 \(HA state disabled: the HA manager does not move it/);
      const out = await callTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(out.data.skipped.join(' ')).toContain('VM 101');
      expect(nodeOf(101)).toBe('pve2');
      expect(sent().some((request) => request.includes('/101/'))).toBe(false);
    });

    test('a move HA refuses is a failed move, named, and the rest go on; the HA config unreadable still routes through HA', async () => {
      t = testContext({ simOptions: { pveVersion } });
      const stop = t.sim.faults.fail('500', { method: 'GET', path: '/cluster/ha/resources' });
      const fallback = await explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      expect(fallback.apiCalls!.some((call) => call.startsWith('POST /cluster/ha/resources/vm:101/migrate'))).toBe(true);
      stop();
      const refuse = t.sim.faults.fail('500', { method: 'POST', path: '/cluster/ha/resources/vm:101/migrate' });
      const out = await callTool(nodeEvacuate, { node: 'pve2' }, t.ctx);
      refuse();
      expect(out.data.results.find((r) => r.vmid === 101)).toMatchObject({ ok: false, error: expect.any(String) });
      expect(out.data.results.filter((r) => r.vmid !== 101).every((r) => r.ok)).toBe(true);
      expect(out.warnings?.join(' ')).toMatch(/Guest 101 did not move/);
      expect(nodeOf(101)).toBe('pve2');
      // no other online node its strict placement allows: nothing of it is sent
      t.sim.state.nodes.get('pve1')!.online = false;
      t.sim.state.nodes.get('pve3')!.online = false;
      await expect(explainTool(nodeEvacuate, { node: 'pve2' }, t.ctx)).rejects.toMatchObject({ code: 'unavailable' });
    });
  });
}

describe('node_evacuate with HA through every door', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer();
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('REST and MCP (both eras) move the HA guest through HA and the rest normally', async () => {
    const token = await ts.createToken({ name: 'evac-op', role: 'operator', mode: 'normal', ceiling: 'normal' });
    const rest = await callRest(ts.url, token, 'node_evacuate', { node: 'pve2' });
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    expect(rest.body.data.moves.find((m: { vmid: number }) => m.vmid === 101)).toMatchObject({ route: 'ha', sid: 'vm:101', target: 'pve1' });
    expect(ts.changesSent).toContain('POST /cluster/ha/resources/vm:101/migrate');
    expect(ts.sim.state.guests.get(101)!.node).toBe('pve1');
    // back and forth through both MCP eras: from pve1 HA's placement ranks pve2 next, then pve1 again
    for (const [era, from, to] of [['legacy', 'pve1', 'pve2'], ['modern', 'pve2', 'pve1']] as const) {
      const before = ts.changesSent.length;
      const client = await connectClient(ts.mcpUrl, token, era);
      const answer = await client.callTool({ name: 'node_evacuate', arguments: { node: from } });
      expect(answer.isError, JSON.stringify(answer.content)).toBeFalsy();
      const data = (answer.structuredContent as { data: { moves: { vmid: number; route: string; target: string }[] } }).data;
      expect(data.moves.find((m) => m.vmid === 101)).toMatchObject({ route: 'ha', target: to });
      await client.close();
      expect(ts.changesSent.slice(before).filter((line) => /\b101\b/.test(line))).toEqual(['POST /cluster/ha/resources/vm:101/migrate']);
      expect(ts.sim.state.guests.get(101)!.node).toBe(to);
    }
  }, 120_000);
});

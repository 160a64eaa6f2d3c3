/**
 * Issue 17, HA: ha_status and ha_change against the simulator speaking PVE 8.4 (groups) and 9.1 (rules),
 * the unhappy paths (refused before anything is sent), and both doors with the toolset that lists them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import haStatus from '../functions/ha_status.ts';
import haChange from '../functions/ha_change.ts';
import { callTool, explainTool, privilegesOf, testContext } from './helpers/ctx.ts';
import { connectClient, callRest } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { settingsKeyForToolsets, parseToolsetList } from '../lib/toolsets.ts';
import { visibleTo } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';

async function refusal(promise: Promise<unknown>): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    return error as ToolError;
  }
  throw new Error('expected a refusal');
}

const changes = (requests: { method: string }[]) => requests.filter((r) => r.method !== 'GET');

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`HA on PVE ${pveVersion}`, () => {
    test('status: quorum, manager, LRMs and vm:101 with its node and state', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const out = await callTool(haStatus, {}, t.ctx);
        expect(out.data.quorum?.ok).toBe(true);
        expect(out.data.manager?.active).toBe(true);
        expect(out.data.lrms?.length).toBe(t.sim.state.nodes.size);
        const row = out.data.resources?.find((r) => r.sid === 'vm:101');
        expect(row).toMatchObject({ sid: 'vm:101', node: t.sim.state.guests.get(101)!.node, state: 'started', request_state: 'started', name: 'db01' });
        expect(row?.placement).toEqual([pveVersion === '8.4' ? 'prefer-fast' : 'ha-group-prefer-fast']);
        expect(out.data.pve_major).toBe(pveVersion === '8.4' ? 8 : 9);
        expect(out.summary).toMatch(/quorum OK, manager active/);
        // fields and sort as every list
        const picked = await callTool(haStatus, { fields: 'node', sort: '-vmid' }, t.ctx);
        expect(Object.keys(picked.data.resources![0]).sort()).toEqual(['node', 'sid']);
      } finally {
        t.close();
      }
    });

    test('placement: groups on 8.4, rules on 9.1', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const out = await callTool(haStatus, { view: 'placement' }, t.ctx);
        expect(out.data.placement_kind).toBe(pveVersion === '8.4' ? 'groups' : 'rules');
        expect(out.data.placement?.[0]).toMatchObject(pveVersion === '8.4' ? { name: 'prefer-fast', kind: 'group' } : { name: 'ha-group-prefer-fast', kind: 'node-affinity', resources: ['vm:101'] });
        // the other version's endpoint is never asked
        expect(t.requests.some((r) => r.path.includes(pveVersion === '8.4' ? '/ha/rules' : '/ha/groups'))).toBe(false);
      } finally {
        t.close();
      }
    });

    test('add, request a state, migrate, relocate and remove through HA', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const ct = t.sim.state.guests.get(104)!; // build01, a stopped container
        expect(ct.status).toBe('stopped');
        const plan = await explainTool(haChange, { action: 'add', vmid: 104 }, t.ctx);
        expect(plan.requests).toEqual([{ method: 'POST', path: '/cluster/ha/resources', params: { sid: 'ct:104' } }]);
        expect(plan.warnings?.join(' ')).toMatch(/HA starts ct:104/);
        expect(await privilegesOf(haChange, { action: 'add', vmid: 104 }, t.ctx)).toEqual([{ path: '/', privileges: ['Sys.Console'] }]);
        await callTool(haChange, { action: 'add', vmid: 104 }, t.ctx);
        expect(t.sim.state.ha.get('ct:104')?.state).toBe('started');
        expect(ct.status).toBe('running');

        await callTool(haChange, { action: 'update', vmid: 104, state: 'stopped', max_restart: 3 }, t.ctx);
        expect(t.sim.state.ha.get('ct:104')).toMatchObject({ state: 'stopped', max_restart: 3 });
        expect(ct.status).toBe('stopped');

        const nodes = [...t.sim.state.nodes.keys()];
        const db = t.sim.state.guests.get(101)!;
        const target = nodes.find((n) => n !== db.node)!;
        const moved = await callTool(haChange, { action: 'migrate', vmid: 101, node: target }, t.ctx);
        expect(db.node).toBe(target);
        expect(moved.data.answers[0]).toEqual(pveVersion === '8.4' ? null : { sid: 'vm:101', 'requested-node': target });
        const back = nodes.find((n) => n !== target)!;
        const relocate = await explainTool(haChange, { action: 'relocate', vmid: 101, node: back }, t.ctx);
        expect(relocate.risk).toBe('high');
        expect(relocate.warnings?.join(' ')).toMatch(/downtime/);
        await callTool(haChange, { action: 'relocate', vmid: 101, node: back }, t.ctx);
        expect(db.node).toBe(back);

        await callTool(haChange, { action: 'remove', vmid: 104 }, t.ctx);
        expect(t.sim.state.ha.has('ct:104')).toBe(false);
      } finally {
        t.close();
      }
    });

    test('placement_set and placement_remove speak the version', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const nodes = [...t.sim.state.nodes.keys()];
        await callTool(haChange, { action: 'placement_set', name: 'db-pin', nodes: [nodes[2]], vmids: [101], strict: true }, t.ctx);
        if (pveVersion === '8.4') {
          expect(t.sim.state.haGroups.get('db-pin')).toMatchObject({ nodes: nodes[2], restricted: 1 });
          expect(t.sim.state.ha.get('vm:101')?.group).toBe('db-pin');
          await callTool(haChange, { action: 'update', vmid: 101, name: 'prefer-fast' }, t.ctx);
        } else {
          expect(t.sim.state.haRules.get('db-pin')).toMatchObject({ type: 'node-affinity', resources: 'vm:101', nodes: nodes[2], strict: 1 });
        }
        await callTool(haChange, { action: 'placement_remove', name: 'db-pin' }, t.ctx);
        expect(pveVersion === '8.4' ? t.sim.state.haGroups.has('db-pin') : t.sim.state.haRules.has('db-pin')).toBe(false);
      } finally {
        t.close();
      }
    });

    test('unhappy paths are refused before anything is sent', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        expect((await refusal(callTool(haChange, { action: 'add', vmid: 101 }, t.ctx))).code).toBe('conflict');
        const unmanaged = await refusal(callTool(haChange, { action: 'update', vmid: 100, state: 'stopped' }, t.ctx));
        expect(unmanaged.code).toBe('not_found');
        expect(unmanaged.message).toContain('HA resources: vm:101');
        expect((await refusal(callTool(haChange, { action: 'remove', vmid: 99999 }, t.ctx))).code).toBe('not_found');
        expect((await refusal(callTool(haChange, { action: 'update', vmid: 101 }, t.ctx))).message).toMatch(/needs something to change/);
        expect((await refusal(callTool(haChange, { action: 'migrate', vmid: 101 }, t.ctx))).message).toMatch(/needs node/);
        const db = t.sim.state.guests.get(101)!;
        expect((await refusal(callTool(haChange, { action: 'migrate', vmid: 101, node: db.node }, t.ctx))).message).toMatch(/already runs on/);
        expect((await refusal(callTool(haChange, { action: 'migrate', vmid: 101, node: 'nowhere' }, t.ctx))).code).toBe('not_found');
        const other = [...t.sim.state.nodes.keys()].find((n) => n !== db.node)!;
        t.sim.faults.setNodeOnline(other, false);
        t.pve.invalidate();
        expect((await refusal(callTool(haChange, { action: 'relocate', vmid: 101, node: other }, t.ctx))).code).toBe('conflict');
        t.sim.faults.setNodeOnline(other, true);
        if (pveVersion === '8.4') {
          expect((await refusal(callTool(haChange, { action: 'placement_set', name: 'apart', vmids: [101], affinity: 'negative' }, t.ctx))).message).toMatch(/PVE 9/);
        } else {
          expect((await refusal(callTool(haChange, { action: 'add', vmid: 100, name: 'prefer-fast' }, t.ctx))).message).toMatch(/no HA groups/);
          expect((await refusal(callTool(haChange, { action: 'placement_set', name: 'x1', vmids: [100], nodes: ['pve1'] }, t.ctx))).code).toBe('not_found');
        }
        expect(changes(t.requests)).toEqual([]);
        expect(() => haChange.input.parse({ action: 'add', vmid: 101, state: 'running' })).toThrow();
        expect(() => haChange.input.parse({ action: 'placement_set', name: 'x;rm', nodes: ['pve1'] })).toThrow();
      } finally {
        t.close();
      }
    });
  });
}

describe('the simulator answers HA resource calls as Proxmox does', () => {
  test('errors and the PVE 9 purge of rules', async () => {
    for (const pveVersion of ['8.4', '9.1'] as const) {
      const sim = createSimulator({ pveVersion, taskDurationMs: 5 });
      const call = (method: string, path: string, body?: Record<string, string>) =>
        sim.fetch(new Request(`https://sim:8006/api2/json${path}`, {
          method,
          headers: { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}`, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
          ...(body ? { body: new URLSearchParams(body).toString() } : {}),
        }));
      expect((await call('POST', '/cluster/ha/resources', { sid: '100', state: 'started' })).status).toBe(200);
      expect(sim.state.ha.get('vm:100')?.state).toBe('started');
      const dup = await call('POST', '/cluster/ha/resources', { sid: 'vm:100' });
      expect(dup.status).toBe(500);
      expect(dup.statusText).toContain("resource ID 'vm:100' already defined");
      expect((await call('GET', '/cluster/ha/resources/vm:555')).statusText).toContain("no such resource 'vm:555'");
      expect((await call('POST', '/cluster/ha/resources', { sid: 'ct:100' })).statusText).toContain('does not exist in cluster');
      expect((await call('POST', '/cluster/ha/resources/vm:100/migrate', { node: 'nope' })).statusText).toContain("no such cluster node 'nope'");
      const del = await call('DELETE', '/cluster/ha/resources/vm:101');
      expect(del.status).toBe(200);
      if (pveVersion === '9.1') expect(sim.state.haRules.has('ha-group-prefer-fast')).toBe(false);
      sim.close();
    }
  });
});

describe('toolsets keep HA out of the default list', () => {
  test('visibleTo and the CLI list parser', () => {
    expect(visibleTo(haStatus as never, { role: 'viewer', ceiling: 'read-only' })).toBe(false);
    expect(visibleTo(haStatus as never, { role: 'viewer', ceiling: 'read-only', toolsets: ['ha'] })).toBe(true);
    expect(visibleTo(haStatus as never, { role: 'viewer', ceiling: 'read-only', toolsets: ['all'] })).toBe(true);
    expect(visibleTo(haChange as never, { role: 'viewer', ceiling: 'read-only', toolsets: ['ha'] })).toBe(false);
    expect(parseToolsetList('ha, metrics')).toEqual(['ha', 'metrics']);
    expect(parseToolsetList('none')).toEqual([]);
    expect(parseToolsetList('ha,all')).toEqual(['all']);
    expect(() => parseToolsetList('ha,constructor')).toThrow(/unknown toolset constructor/);
    expect(() => parseToolsetList('__proto__')).toThrow(/unknown toolset/);
  });

  describe('through both doors', () => {
    let ts: SafetyServer;
    beforeAll(async () => {
      ts = await startSafetyServer();
    }, 60_000);
    afterAll(async () => {
      await ts?.close();
    });

    test('tools/list shows ha_* only once the token enabled the toolset; REST refuses them until then', async () => {
      const token = await ts.createToken({ name: 'ha-op', role: 'operator', mode: 'normal', ceiling: 'normal' });
      const record = await ts.server.store.tokens.byName('ha-op');
      for (const era of ['legacy', 'modern'] as const) {
        const client = await connectClient(ts.mcpUrl, token, era);
        const names = (await client.listTools()).tools.map((tool) => tool.name);
        expect(names).not.toContain('ha_status');
        const hidden = await client.callTool({ name: 'ha_status', arguments: {} }).catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
        expect(hidden.isError).toBe(true);
        await client.close();
      }
      const hiddenRest = await callRest(ts.url, token, 'ha_status', {});
      expect(hiddenRest.status).toBe(403);
      expect(hiddenRest.body.error.message).toBe("ha_status is in the 'ha' toolset, which this client token (ha-op) has not enabled. An admin enables it on the Proxmox MCP host: npm run token -- toolsets ha-op ha");
      // another toolset enabled is not this one
      await ts.server.store.settings.set(settingsKeyForToolsets(record!.id), ['metrics']);
      expect((await callRest(ts.url, token, 'ha_change', { action: 'add', vmid: 100 })).status).toBe(403);

      await ts.server.store.settings.set(settingsKeyForToolsets(record!.id), ['ha']);
      const rest = await callRest(ts.url, token, 'ha_status', {});
      expect(rest.status).toBe(200);
      expect(rest.body.data.resources.some((r: { sid: string }) => r.sid === 'vm:101')).toBe(true);
      for (const era of ['legacy', 'modern'] as const) {
        const client = await connectClient(ts.mcpUrl, token, era);
        const tools = (await client.listTools()).tools;
        const status = tools.find((tool) => tool.name === 'ha_status');
        expect(status?.annotations?.readOnlyHint).toBe(true);
        expect(tools.find((tool) => tool.name === 'ha_change')?.annotations?.readOnlyHint).toBe(false);
        const answer = await client.callTool({ name: 'ha_status', arguments: { view: 'placement' } });
        expect(answer.isError).toBeFalsy();
        await client.close();
      }
      const before = ts.changesSent.length;
      const added = await callRest(ts.url, token, 'ha_change', { action: 'add', vmid: 100, state: 'started' });
      expect(added.status).toBe(200);
      expect(ts.changesSent.slice(before)).toEqual(['POST /cluster/ha/resources']);
      const history = await callRest(ts.url, token, 'get_command_history', {});
      expect(JSON.stringify(history.body.data)).toContain('ha_change');
      const refused = await callRest(ts.url, token, 'ha_change', { action: 'add', vmid: 100 });
      expect(refused.status).toBe(409);
      const help = await callRest(ts.url, token, 'help_llm', { topic: 'tools' });
      expect(help.body.data.text).toContain('- ha (enabled for you): High availability');
      expect(help.body.data.text).toMatch(/- metrics: .*Tools: metrics_history\./);
      const viewer = await ts.createToken({ name: 'ha-viewer', role: 'viewer' });
      const denied = await callRest(ts.url, viewer, 'ha_change', { action: 'remove', vmid: 100 });
      expect(denied.status).toBe(403);
      expect(ts.changesSent.length).toBe(before + 1);
    }, 60_000);
  });
});

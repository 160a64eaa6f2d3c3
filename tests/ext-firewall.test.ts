/**
 * Issue 17, firewall: the evaluator (what a rule set would cut), the firewall-self-access policy rule
 * through every door (typed tool over REST and both MCP eras, proxmox_api), nothing sent when refused,
 * and the firewall tools against both simulated versions.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import firewallGet from '../functions/firewall_get.ts';
import firewallChange from '../functions/firewall_change.ts';
import { callTool, explainTool, privilegesOf, testContext } from './helpers/ctx.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { cidrContains, cutsOf, type FirewallSet } from '../lib/firewall/evaluate.ts';
import { checkProtections } from '../lib/policy/protections.ts';
import { vetCommandLine } from '../lib/policy/command-guard.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { createPveClient } from '../lib/pve/client.ts';
import { silentLogger } from '../lib/log.ts';
import { firewallOf } from '../lib/simulator/handlers/firewall.ts';
import { settingsKeyForToolsets } from '../lib/toolsets.ts';
import { ToolError } from '../lib/errors.ts';

const nodes = [{ name: 'pve1', ip: '10.0.0.11' }, { name: 'pve2', ip: '10.0.0.12' }];

function set(partial: Partial<FirewallSet> = {}): FirewallSet {
  return { options: { enable: 1, policy_in: 'DROP' }, rules: [], groups: new Map(), aliases: new Map(), ipsets: new Map(), nodes: new Map(), ...partial };
}

const judge = (s: FirewallSet, serverSource: string | undefined, inManagement = false) => cutsOf(s, { mainNode: 'pve1', nodes, serverSource, inManagement });

describe('what a rule set cuts', () => {
  test('cidr matching', () => {
    expect(cidrContains('10.0.0.0/24', '10.0.0.99')).toBe(true);
    expect(cidrContains('10.0.0.0/24', '10.0.1.1')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '192.0.2.1')).toBe(true);
    expect(cidrContains('10.0.0.5', '10.0.0.5')).toBe(true);
    expect(cidrContains('fe80::/64', '10.0.0.5')).toBeUndefined();
    expect(cidrContains('10.0.0.0/33', '10.0.0.5')).toBeUndefined();
  });

  test('firewall off, or the server in the management set: nothing is cut', () => {
    expect(judge(set({ options: { enable: 0, policy_in: 'DROP' } }), undefined)).toEqual([]);
    expect(judge(set(), '10.0.0.50', true)).toEqual([]);
    expect(judge(set({ nodes: new Map([['pve1', { options: { enable: 0 }, rules: [] }]]) }), '192.0.2.7')).toEqual([]);
  });

  test('policy_in DROP without an accept for the server cuts API and SSH; an ACCEPT from its address opens them', () => {
    const cuts = judge(set(), '192.0.2.7');
    expect(cuts.map((c) => c.what)).toEqual(["this server's API access (tcp/8006)", "this server's SSH access (tcp/22)"]);
    expect(cuts[0].why).toMatch(/policy_in DROP/);
    const open = set({ rules: [{ type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '22,8006', source: '192.0.2.0/28', enable: 1 }] });
    expect(judge(open, '192.0.2.7')).toEqual([]);
    // the same ACCEPT, disabled or for another source, does not count
    expect(judge(set({ rules: [{ ...open.rules[0], enable: 0 }] }), '192.0.2.7')).toHaveLength(2);
    expect(judge(set({ rules: [{ ...open.rules[0], source: '198.51.100.0/24' }] }), '192.0.2.7')).toHaveLength(2);
    // unknown own address: an ACCEPT with a source does not count, one without does
    expect(judge(open, undefined)).toHaveLength(2);
    expect(judge(set({ rules: [{ type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '8006' }, { type: 'in', action: 'ACCEPT', macro: 'SSH' }] }), undefined)).toEqual([]);
  });

  test('a DROP before the defaults cuts even the management set; node rules come before cluster rules', () => {
    const drop = set({ rules: [{ type: 'in', action: 'DROP', proto: 'tcp', dport: '8000:8010' }] });
    const cuts = judge(drop, '10.0.0.50', true);
    expect(cuts).toEqual([{ node: 'pve1', what: "this server's API access (tcp/8006)", why: expect.stringContaining('cluster rule 0 (DROP tcp dport 8000:8010)') }]);
    const nodeAccept = set({ rules: drop.rules, nodes: new Map([['pve1', { options: {}, rules: [{ type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '8006', source: '10.0.0.50' }] }]]) });
    expect(judge(nodeAccept, '10.0.0.50', true)).toEqual([]);
    // out rules and other ports are not about us
    expect(judge(set({ rules: [{ type: 'out', action: 'DROP', proto: 'tcp', dport: '8006' }, { type: 'in', action: 'DROP', proto: 'tcp', dport: '443' }, { type: 'in', action: 'DROP', proto: 'udp', dport: '8006' }] }), '10.0.0.50', true)).toEqual([]);
  });

  test('security groups, aliases, IP sets with nomatch, and corosync between nodes', () => {
    const group = set({ rules: [{ type: 'group', action: 'Lockdown' }], groups: new Map([['lockdown', [{ type: 'in', action: 'REJECT', macro: 'SSH', source: 'office' }]]]), aliases: new Map([['office', '192.0.2.0/24']]) });
    expect(judge(group, '192.0.2.7', true).map((c) => c.why)).toEqual([expect.stringContaining('security group Lockdown, rule 0')]);
    expect(judge(group, '10.0.0.50', true)).toEqual([]);
    const ipset = set({ rules: [{ type: 'in', action: 'DROP', source: '+blocked' }], ipsets: new Map([['blocked', [{ cidr: '10.0.0.0/24', nomatch: false }, { cidr: '10.0.0.50', nomatch: true }]]]) });
    const cuts = judge(ipset, '10.0.0.50', true);
    expect(cuts.every((c) => c.what.includes('from pve'))).toBe(true); // the server is excepted, the nodes are not
    expect(cuts.map((c) => c.what)).toContain('corosync (udp/5405-5412) from pve2');
    const corosync = set({ nodes: new Map([['pve2', { options: {}, rules: [{ type: 'in', action: 'DROP', proto: 'udp', dport: '5404:5412' }] }]]) });
    expect(judge(corosync, '10.0.0.50', true)).toEqual([{ node: 'pve2', what: 'corosync (udp/5405-5412) from pve1', why: expect.stringContaining('rule 0 of node pve2') }]);
    // an alias nobody defined may be anything: a DROP naming it is taken to match
    expect(judge(set({ rules: [{ type: 'in', action: 'DROP', proto: 'tcp', dport: '22', source: 'nosuchalias' }] }), '10.0.0.50', true)[0].why).toMatch(/may match/);
  });
});

describe('the cluster\'s traffic is judged over its whole port ranges', () => {
  const onNode = (rules: FirewallSet['rules']) => set({ options: { enable: 1, policy_in: 'ACCEPT' }, nodes: new Map([['pve2', { options: {}, rules }]]) });
  test('one knet link, one insecure-migration port, SSH by service name', () => {
    // corosync's second knet link (udp/5406) and the last one (5412)
    for (const dport of ['5406', '5412', '5410:5420', '1000,5411']) {
      const cuts = judge(onNode([{ type: 'in', action: 'DROP', proto: 'udp', dport }]), '10.0.0.50', true);
      expect(cuts.map((c) => c.what), dport).toEqual(['corosync (udp/5405-5412) from pve1']);
    }
    expect(judge(onNode([{ type: 'in', action: 'REJECT', proto: 'udp', dport: '5406' }]), '10.0.0.50', true)[0].why).toMatch(/^udp\/5406: rule 0 of node pve2/);
    // insecure migration's direct ports
    for (const dport of ['60000', '60050', '60025:60030', '59000:61000']) {
      const cuts = judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport }]), '10.0.0.50', true);
      expect(cuts.map((c) => c.what), dport).toEqual(['insecure migration (tcp/60000-60050) from pve1']);
    }
    // just outside every range, or the other protocol: nothing
    for (const [proto, dport] of [['udp', '5404'], ['udp', '5413'], ['tcp', '5406'], ['tcp', '59999'], ['tcp', '60051'], ['udp', '60010']]) {
      expect(judge(onNode([{ type: 'in', action: 'DROP', proto, dport }]), '10.0.0.50', true), `${proto} ${dport}`).toEqual([]);
    }
    // a DROP from another source leaves the members alone; from a member's address it cuts
    expect(judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport: '60000:60050', source: '192.0.2.0/24' }]), '10.0.0.50', true)).toEqual([]);
    expect(judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport: '60000:60050', source: '10.0.0.11' }]), '10.0.0.50', true)).toHaveLength(1);
    // SSH named as a service, in any case; a port name this server cannot resolve is taken to match a DROP
    expect(judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport: 'SSH' }]), '10.0.0.50', true).map((c) => c.what)).toEqual(['migration and SSH between nodes (tcp/22) from pve1']);
    expect(judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport: 'https' }]), '10.0.0.50', true)).toEqual([]);
    expect(judge(onNode([{ type: 'in', action: 'DROP', proto: 'tcp', dport: 'nosuchservice' }]), '10.0.0.50', true)[0].why).toMatch(/cannot resolve/);
    // an ACCEPT of only one knet link before a DROP of all of them still cuts the others
    expect(judge(onNode([{ type: 'in', action: 'ACCEPT', proto: 'udp', dport: '5405' }, { type: 'in', action: 'DROP', proto: 'udp' }]), '10.0.0.50', true)[0].why).toMatch(/^udp\/5406: rule 1/);
  });

  test('the policy rule refuses them on both versions, in every spelling', async () => {
    for (const pveVersion of ['8.4', '9.1'] as const) {
      const sim = createSimulator({ pveVersion, taskDurationMs: 5 });
      const pve = createPveClient({ baseUrl: 'https://simulated-cluster:8006', tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret, fetch: sim.fetch, retries: 0, log: silentLogger });
      const ctx = { mainNode: async () => 'pve1', serviceTokenId: sim.defaultToken.tokenId, pve };
      firewallOf(sim.state).options.enable = 1;
      firewallOf(sim.state).options.policy_in = 'ACCEPT';
      for (const params of [{ type: 'in', action: 'DROP', proto: 'udp', dport: '5408' }, { type: 'in', action: 'REJECT', proto: '17', dport: '5411:5412' }, { type: 'in', action: 'DROP', proto: 'tcp', dport: '60040' }, { type: 'in', action: 'drop', proto: 'tcp', dport: '60000:60001', enable: '1' }]) {
        const error = await checkProtections('POST', '/nodes/pve2/firewall/rules', params, ctx).then(() => undefined, (e: unknown) => e);
        expect(error, JSON.stringify(params)).toBeInstanceOf(ToolError);
        expect((error as ToolError).message).toMatch(/(corosync \(udp\/5405-5412\)|insecure migration \(tcp\/60000-60050\)) from pve\d to pve2 would be dropped/);
      }
      await checkProtections('POST', '/nodes/pve2/firewall/rules', { type: 'in', action: 'DROP', proto: 'tcp', dport: '60051:60100' }, ctx);
      // the advice fits the cut: the cluster's ports for cluster traffic, the server's ports for its own access
      const cluster = await checkProtections('POST', '/nodes/pve2/firewall/rules', { type: 'in', action: 'DROP', proto: 'udp', dport: '5405' }, ctx).catch((e: ToolError) => e);
      expect((cluster as ToolError).message).toMatch(/udp dport 5405:5412 for corosync, tcp dport 22 and 60000:60050 for migration/);
      const own = await checkProtections('POST', '/nodes/pve1/firewall/rules', { type: 'in', action: 'DROP', proto: 'tcp', dport: '8006' }, ctx).catch((e: ToolError) => e);
      expect((own as ToolError).message).toMatch(/dport 8006 and 22, source this server's address/);
      sim.close();
    }
  });
});

describe('the policy rule on the simulator', () => {
  test('refuses what adds a cut, lets the rest through, fails closed', async () => {
    for (const pveVersion of ['8.4', '9.1'] as const) {
      const sim = createSimulator({ pveVersion, taskDurationMs: 5 });
      const pve = createPveClient({ baseUrl: 'https://simulated-cluster:8006', tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret, fetch: sim.fetch, retries: 0, log: silentLogger });
      const ctx = { mainNode: async () => 'pve1', serviceTokenId: sim.defaultToken.tokenId, pve };
      const refused = async (method: string, path: string, params?: Record<string, unknown>) => {
        const error = await checkProtections(method, path, params, ctx).then(() => undefined, (e: unknown) => e);
        expect(error, `${method} ${path} ${JSON.stringify(params)}`).toBeInstanceOf(ToolError);
        return error as ToolError;
      };
      const enable = await refused('PUT', '/cluster/firewall/options', { enable: 1 });
      expect(enable.code).toBe('protected');
      expect(enable.message).toMatch(/API access \(tcp\/8006\) to pve1 would be dropped by policy_in DROP/);
      // other spellings of the same change
      await refused('PUT', '/cluster/firewall/options', { enable: 'on' });
      await refused('PUT', '/cluster//firewall/./options', { enable: 'true' });
      await refused('PUT', '/cluster/firewall/options', { enable: '%31' });
      // firewall off: a DROP rule cuts nothing yet
      await checkProtections('POST', '/nodes/pve1/firewall/rules', { type: 'in', action: 'DROP', proto: 'tcp', dport: '22', enable: 1 }, ctx);
      // allowed: policy ACCEPT first, then enable; an unrelated rule; a guest's firewall
      await checkProtections('PUT', '/cluster/firewall/options', { policy_in: 'ACCEPT' }, ctx);
      firewallOf(sim.state).options.policy_in = 'ACCEPT';
      await checkProtections('PUT', '/cluster/firewall/options', { enable: 1 }, ctx);
      firewallOf(sim.state).options.enable = 1;
      await checkProtections('POST', '/cluster/firewall/rules', { type: 'in', action: 'DROP', proto: 'tcp', dport: '3306' }, ctx);
      await checkProtections('PUT', '/nodes/pve1/qemu/100/firewall/options', { enable: 1, policy_in: 'DROP' }, ctx);
      // enabled now: a DROP of SSH (by macro, in a node, at the top) or of everything is refused
      expect((await refused('POST', '/nodes/pve1/firewall/rules', { type: 'in', action: 'DROP', macro: 'SSH' })).message).toMatch(/SSH access \(tcp\/22\) to pve1 would be dropped by rule 0 of node pve1 \(DROP macro SSH\)/i);
      await refused('POST', '/cluster/firewall/rules', { type: 'in', action: 'REJECT', enable: 1 });
      await refused('PUT', '/cluster/firewall/options', { policy_in: 'REJECT' });
      // deleting policy_in brings back the default DROP, in any list spelling
      await refused('PUT', '/cluster/firewall/options', { delete: 'policy_in' });
      await refused('PUT', '/cluster/firewall/options', { delete: 'log_ratelimit\u0000policy_in' });
      await refused('PUT', '/cluster/firewall/options', { delete: 'log_ratelimit;policy_in' });
      await checkProtections('PUT', '/cluster/firewall/options', { delete: 'log_ratelimit' }, ctx);
      // the webserver group is used by no host rule: its rules guard nothing of ours
      await checkProtections('POST', '/cluster/firewall/groups/webserver', { type: 'in', action: 'DROP', proto: 'udp', dport: '5405' }, ctx);
      firewallOf(sim.state).rules.push({ type: 'group', action: 'webserver', enable: 1 });
      expect((await refused('POST', '/cluster/firewall/groups/webserver', { type: 'in', action: 'DROP', proto: 'udp', dport: '5405' })).message).toMatch(/corosync \(udp\/5405-5412\) from pve\d to pve\d would be dropped by udp\/5405: cluster rule \d \(security group webserver, rule 0\)/);
      // fail closed: the rule set cannot be read
      const stop = sim.faults.fail('500', { method: 'GET', path: '/cluster/firewall/rules' });
      expect((await refused('POST', '/cluster/firewall/rules', { type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '443' })).message).toMatch(/Could not read the firewall/);
      stop();
      sim.close();
    }
  });
});

describe('host command lines reach the same rule', () => {
  test('pvesh lines that would cut the server are protected; harmless ones are not', async () => {
    const sim = createSimulator({ taskDurationMs: 5 });
    const pve = createPveClient({ baseUrl: 'https://simulated-cluster:8006', tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret, fetch: sim.fetch, retries: 0, log: silentLogger });
    const vet = (line: string) => vetCommandLine(line, 'pve1', { pve, mainNode: 'pve1', caller: { tokenId: 't', name: 't', role: 'admin' } });
    for (const line of ['pvesh set /cluster/firewall/options --enable 1', 'pvesh set /cluster/firewall/options -enable=1', 'pvesh set /cluster/firewall/options --enable 1 --policy_in REJECT']) {
      expect((await vet(line)).protectedReasons.join(' '), line).toMatch(/would be dropped by policy_in/);
    }
    firewallOf(sim.state).options.enable = 1;
    firewallOf(sim.state).options.policy_in = 'ACCEPT';
    expect((await vet('pvesh create /nodes/pve1/firewall/rules --type in --action DROP --macro SSH')).protectedReasons.join(' ')).toMatch(/SSH access \(tcp\/22\) to pve1/);
    // localhost is the node answering the API
    expect((await vet('pvesh create /nodes/localhost/firewall/rules --type in --action DROP --macro SSH')).protectedReasons.join(' ')).toMatch(/SSH access \(tcp\/22\) to pve1/);
    expect((await vet('pvesh create /nodes/LocalHost/firewall/rules --type in --action REJECT --proto tcp --dport 8006')).protectedReasons.join(' ')).toMatch(/API access/);
    expect((await vet('pvesh create /cluster/firewall/rules --type in --action DROP --proto tcp --dport 3306')).protectedReasons).toEqual([]);
    // the cluster's whole port ranges, in the CLI's spellings too
    for (const line of ['pvesh create /nodes/pve2/firewall/rules --type in --action DROP --proto udp --dport 5407', 'pvesh create /nodes/pve2/firewall/rules -type=in -action=REJECT -proto=udp -dport=5410:5412', 'pvesh create /cluster/firewall/rules --type in --action DROP --proto tcp --dport 60000:60050', 'pvesh create /nodes/pve3/firewall/rules --type in --action DROP --proto tcp --dport 1,60049']) {
      expect((await vet(line)).protectedReasons.join(' '), line).toMatch(/(corosync \(udp\/5405-5412\)|insecure migration \(tcp\/60000-60050\)) from pve\d to pve\d would be dropped/);
    }
    expect((await vet('pvesh create /nodes/pve2/firewall/rules --type in --action DROP --proto udp --dport 5413')).protectedReasons).toEqual([]);
    sim.close();
  });
});

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`firewall tools on PVE ${pveVersion}`, () => {
    test('read every view and change each kind of object', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const options = await callTool(firewallGet, { view: 'options' }, t.ctx);
        expect(options.data.options).toMatchObject({ enable: 0, policy_in: 'DROP' });
        expect(options.summary).toContain('disabled');
        expect((await callTool(firewallGet, { view: 'groups' }, t.ctx)).data.rows).toEqual([{ group: 'webserver', comment: 'web servers' }]);
        expect((await callTool(firewallGet, { view: 'rules', group: 'webserver' }, t.ctx)).data.total).toBe(2);
        expect((await callTool(firewallGet, { view: 'aliases' }, t.ctx)).data.rows?.[0]).toMatchObject({ name: 'admin_net' });
        expect((await callTool(firewallGet, { view: 'ipsets', ipset: 'blocklist' }, t.ctx)).data.rows).toEqual([{ cidr: '203.0.113.0/24' }]);

        await callTool(firewallChange, { action: 'rule_add', type: 'in', rule_action: 'ACCEPT', proto: 'tcp', dport: '8006', comment: 'api' }, t.ctx);
        await callTool(firewallChange, { action: 'rule_add', type: 'in', rule_action: 'DROP', proto: 'tcp', dport: '3306', pos: 1 }, t.ctx);
        const rules = await callTool(firewallGet, {}, t.ctx);
        expect(rules.data.rows?.map((r) => [r.pos, r.action, r.dport])).toEqual([[0, 'ACCEPT', '8006'], [1, 'DROP', '3306']]);
        await callTool(firewallChange, { action: 'rule_move', pos: 1, moveto: 0 }, t.ctx);
        await callTool(firewallChange, { action: 'rule_update', pos: 0, enable: false }, t.ctx);
        expect(firewallOf(t.sim.state).rules[0]).toMatchObject({ dport: '3306', enable: 0 });
        await callTool(firewallChange, { action: 'rule_delete', pos: 0 }, t.ctx);
        await callTool(firewallChange, { action: 'alias_set', name: 'admin_net', cidr: '10.9.0.0/16' }, t.ctx);
        await callTool(firewallChange, { action: 'alias_set', name: 'backup_host', cidr: '10.9.0.5' }, t.ctx);
        expect(firewallOf(t.sim.state).aliases.get('admin_net')?.cidr).toBe('10.9.0.0/16');
        await callTool(firewallChange, { action: 'ipset_create', name: 'office' }, t.ctx);
        await callTool(firewallChange, { action: 'ipset_add', name: 'office', cidr: '192.0.2.0/24' }, t.ctx);
        await callTool(firewallChange, { action: 'ipset_remove', name: 'office', cidr: '192.0.2.0/24' }, t.ctx);
        await callTool(firewallChange, { action: 'ipset_delete', name: 'office' }, t.ctx);
        await callTool(firewallChange, { action: 'group_create', group: 'db' }, t.ctx);
        await callTool(firewallChange, { action: 'rule_add', group: 'db', type: 'in', rule_action: 'ACCEPT', proto: 'tcp', dport: '5432' }, t.ctx);
        expect(firewallOf(t.sim.state).groups.get('db')?.rules).toHaveLength(1);

        const guest = await callTool(firewallChange, { scope: 'guest', vmid: 100, action: 'options_set', enable: true, policy_in: 'DROP' }, t.ctx);
        expect(guest.data.sent).toBe(`PUT /nodes/${t.sim.state.guests.get(100)!.node}/qemu/100/firewall/options`);
        expect((await callTool(firewallGet, { scope: 'guest', vmid: 100, view: 'options' }, t.ctx)).data.options).toMatchObject({ enable: 1, policy_in: 'DROP' });
        await callTool(firewallChange, { scope: 'guest', vmid: 103, action: 'rule_add', type: 'group', rule_action: 'webserver' }, t.ctx);
        expect((await callTool(firewallGet, { scope: 'guest', vmid: 103 }, t.ctx)).data.rows).toEqual([{ pos: 0, type: 'group', action: 'webserver' }]);
        await callTool(firewallChange, { scope: 'node', node: 'pve2', action: 'options_set', enable: false }, t.ctx);
        expect(await privilegesOf(firewallChange, { scope: 'guest', vmid: 100, action: 'options_set', enable: true }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Config.Network'] }]);
        const plan = await explainTool(firewallChange, { action: 'options_set', enable: true }, t.ctx);
        expect(plan.requests).toEqual([{ method: 'PUT', path: '/cluster/firewall/options', params: { enable: 1 } }]);
        expect(plan.risk).toBe('high');
      } finally {
        t.close();
      }
    });

    test('unhappy paths', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      const refusal = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected a refusal'); }, (e: ToolError) => e);
      try {
        expect((await refusal(callTool(firewallChange, { action: 'rule_add', type: 'in' }, t.ctx))).message).toMatch(/needs rule_action/);
        expect((await refusal(callTool(firewallChange, { action: 'rule_update', pos: 0 }, t.ctx))).message).toMatch(/needs something to change/);
        expect((await refusal(callTool(firewallChange, { scope: 'node', node: 'pve1', action: 'alias_set', name: 'x1', cidr: '10.0.0.1' }, t.ctx))).message).toMatch(/scope cluster/);
        expect((await refusal(callTool(firewallChange, { scope: 'node', node: 'pve1', action: 'options_set', policy_in: 'DROP' }, t.ctx))).message).toMatch(/no policy of its own/);
        expect((await refusal(callTool(firewallChange, { scope: 'guest', action: 'options_set', enable: true }, t.ctx))).message).toMatch(/needs vmid/);
        expect((await refusal(callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'aliases' }, t.ctx))).message).toMatch(/scope cluster/);
        expect((await refusal(callTool(firewallChange, { scope: 'guest', vmid: 99999, action: 'options_set', enable: true }, t.ctx))).code).toBe('not_found');
        // Proxmox's own refusals come back as errors
        expect(await refusal(callTool(firewallChange, { action: 'rule_delete', pos: 42 }, t.ctx))).toBeInstanceOf(ToolError);
        expect(await refusal(callTool(firewallChange, { action: 'group_delete', group: 'webserver' }, t.ctx))).toBeInstanceOf(ToolError);
        expect(await refusal(callTool(firewallChange, { action: 'rule_add', type: 'group', rule_action: 'nosuchgroup' }, t.ctx))).toBeInstanceOf(ToolError);
        expect(() => firewallChange.input.parse({ action: 'rule_add', dport: '22;reboot' })).toThrow();
        expect(() => firewallChange.input.parse({ action: 'alias_set', name: '../x', cidr: '1.2.3.4' })).toThrow();
      } finally {
        t.close();
      }
    });
  });
}

describe('firewall through every door', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer({ env: { MCP_MAIN_NODE: 'pve1' } });
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('enabling the firewall with policy_in DROP is refused through REST, MCP (both eras) and proxmox_api; nothing sent', async () => {
    const token = await ts.createToken({ name: 'fw-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
    const record = await ts.server.store.tokens.byName('fw-admin');
    await ts.server.store.settings.set(settingsKeyForToolsets(record!.id), ['firewall']);
    const before = ts.changesSent.length;
    const rest = await callRest(ts.url, token, 'firewall_change', { action: 'options_set', enable: true });
    expect(rest.status).toBe(403);
    expect(rest.body.error.code).toBe('protected');
    expect(rest.body.error.message).toMatch(/API access \(tcp\/8006\) to pve1 would be dropped by policy_in DROP/);
    const raw = await callRest(ts.url, token, 'proxmox_api', { method: 'PUT', path: '/cluster/firewall/options', params: { enable: '1' } });
    expect(raw.body.error?.code).toBe('protected');
    const dropSsh = await callRest(ts.url, token, 'proxmox_api', { method: 'POST', path: '/nodes/pve1/firewall/rules', params: { type: 'in', action: 'DROP', macro: 'SSH', enable: 1 } });
    expect(dropSsh.body.error?.code ?? 'sent').toBe('sent'); // firewall off: the rule cuts nothing yet
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['firewall_get', 'firewall_change']));
      const answer = await client.callTool({ name: 'firewall_change', arguments: { action: 'options_set', enable: true } });
      expect(answer.isError).toBe(true);
      expect(JSON.stringify(answer.content)).toContain('would be dropped');
      await client.close();
    }
    expect(ts.changesSent.slice(before)).toEqual(['POST /nodes/pve1/firewall/rules']);
    expect(firewallOf(ts.sim.state).options.enable).toBe(0);
    // open the API and SSH without a source, then enabling passes; the node's DROP SSH rule still blocks until removed
    await callRest(ts.url, token, 'firewall_change', { action: 'rule_add', type: 'in', rule_action: 'ACCEPT', proto: 'tcp', dport: '8006' });
    await callRest(ts.url, token, 'firewall_change', { action: 'rule_add', type: 'in', rule_action: 'ACCEPT', macro: 'SSH' });
    const stillCut = await callRest(ts.url, token, 'firewall_change', { action: 'options_set', enable: true });
    expect(stillCut.body.error.message).toMatch(/SSH access \(tcp\/22\) to pve1 would be dropped by rule 0 of node pve1/);
    await callRest(ts.url, token, 'firewall_change', { scope: 'node', node: 'pve1', action: 'rule_delete', pos: 0 });
    const enabled = await callRest(ts.url, token, 'firewall_change', { action: 'options_set', enable: true });
    expect(enabled.status).toBe(200);
    expect(firewallOf(ts.sim.state).options.enable).toBe(1);
    // now removing the API accept would cut the server off
    const removing = await callRest(ts.url, token, 'firewall_change', { action: 'rule_delete', pos: 1 });
    expect(removing.body.error?.code).toBe('protected');
    // one knet link or the insecure-migration ports of a peer: refused through every door, nothing sent
    const sentBefore = ts.changesSent.length;
    const knet = await callRest(ts.url, token, 'firewall_change', { scope: 'node', node: 'pve2', action: 'rule_add', type: 'in', rule_action: 'DROP', proto: 'udp', dport: '5407' });
    expect(knet.body.error?.message).toMatch(/corosync \(udp\/5405-5412\) from pve\d to pve2 would be dropped by udp\/5407/);
    const rawMigration = await callRest(ts.url, token, 'proxmox_api', { method: 'POST', path: '/nodes/pve2/firewall/rules', params: { type: 'in', action: 'DROP', proto: 'tcp', dport: '60000:60050' } });
    expect(rawMigration.body.error?.message).toMatch(/insecure migration \(tcp\/60000-60050\)/);
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      const answer = await client.callTool({ name: 'firewall_change', arguments: { scope: 'node', node: 'pve2', action: 'rule_add', type: 'in', rule_action: 'REJECT', proto: 'tcp', dport: '60010' } });
      expect(answer.isError).toBe(true);
      expect(JSON.stringify(answer.content)).toContain('insecure migration (tcp/60000-60050)');
      await client.close();
    }
    expect(ts.changesSent.slice(sentBefore)).toEqual([]);
    const viewer = await ts.createToken({ name: 'fw-viewer', role: 'viewer' });
    await ts.server.store.settings.set(settingsKeyForToolsets((await ts.server.store.tokens.byName('fw-viewer'))!.id), ['all']);
    expect((await callRest(ts.url, viewer, 'firewall_get', { view: 'rules' })).body.data.total).toBe(2);
    expect((await callRest(ts.url, viewer, 'firewall_change', { action: 'rule_delete', pos: 0 })).status).toBe(403);
  }, 90_000);
});

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`guest aliases and IP sets, the firewall log, the vnet firewall on PVE ${pveVersion}`, () => {
    test('a guest\'s own aliases and IP sets: read and change, each request on the guest\'s path', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const ct = [...t.sim.state.guests.values()].find((g) => g.type === 'lxc')!;
        for (const [vmid, kind] of [[100, 'qemu'], [ct.vmid, 'lxc']] as const) {
          const node = t.sim.state.guests.get(vmid)!.node;
          expect((await callTool(firewallGet, { scope: 'guest', vmid, view: 'aliases' }, t.ctx)).data.rows).toEqual([]);
          const plan = await explainTool(firewallChange, { scope: 'guest', vmid, action: 'alias_set', name: 'backup_srv', cidr: '10.20.0.5' }, t.ctx);
          expect(plan.requests).toEqual([{ method: 'POST', path: `/nodes/${node}/${kind}/${vmid}/firewall/aliases`, params: { name: 'backup_srv', cidr: '10.20.0.5' } }]);
          expect(plan.risk).toBe('medium');
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'alias_set', name: 'backup_srv', cidr: '10.20.0.5' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'alias_set', name: 'backup_srv', cidr: '10.20.0.6', comment: 'moved' }, t.ctx);
          expect((await callTool(firewallGet, { scope: 'guest', vmid, view: 'aliases' }, t.ctx)).data.rows).toEqual([{ name: 'backup_srv', cidr: '10.20.0.6', comment: 'moved' }]);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_create', name: 'clients' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_add', name: 'clients', cidr: '192.0.2.0/24' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_add', name: 'clients', cidr: '192.0.2.9', nomatch: true }, t.ctx);
          expect((await callTool(firewallGet, { scope: 'guest', vmid, view: 'ipsets', ipset: 'clients' }, t.ctx)).data.rows).toEqual([{ cidr: '192.0.2.0/24' }, { cidr: '192.0.2.9', nomatch: 1 }]);
          expect(firewallOf(t.sim.state).guests.get(vmid)!.ipsets.get('clients')!.entries.size).toBe(2);
          // the cluster's sets are untouched
          expect(firewallOf(t.sim.state).ipsets.has('clients')).toBe(false);
          // Proxmox refuses to delete a set that is not empty
          await expect(callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_delete', name: 'clients' }, t.ctx)).rejects.toThrow(/not empty/);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_remove', name: 'clients', cidr: '192.0.2.0/24' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_remove', name: 'clients', cidr: '192.0.2.9' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'ipset_delete', name: 'clients' }, t.ctx);
          await callTool(firewallChange, { scope: 'guest', vmid, action: 'alias_delete', name: 'backup_srv' }, t.ctx);
          expect((await callTool(firewallGet, { scope: 'guest', vmid, view: 'ipsets' }, t.ctx)).data.rows).toEqual([]);
        }
        expect(await privilegesOf(firewallChange, { scope: 'guest', vmid: 100, action: 'alias_delete', name: 'x1' }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Config.Network'] }]);
        // a node has no aliases or IP sets of its own; a security group is the cluster's
        await expect(callTool(firewallChange, { scope: 'node', node: 'pve1', action: 'ipset_create', name: 'x1' }, t.ctx)).rejects.toThrow(/scope cluster or guest/);
        await expect(callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'ipsets' }, t.ctx)).rejects.toThrow(/scope cluster or guest/);
        await expect(callTool(firewallChange, { scope: 'guest', vmid: 100, action: 'group_create', group: 'g1' }, t.ctx)).rejects.toThrow(/scope cluster/);
        await expect(callTool(firewallChange, { scope: 'guest', vmid: 100, action: 'rule_add', type: 'forward', rule_action: 'ACCEPT' }, t.ctx)).rejects.toThrow(/scope vnet/);
      } finally {
        t.close();
      }
    });

    test('the firewall log of a node and a guest pages by start, filters by time, counts the drops', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const first = await callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'log', limit: 20 }, t.ctx);
        expect(first.data.lines).toHaveLength(20);
        expect(first.data.lines![0]).toEqual({ n: 1, t: expect.stringMatching(/^0 5 - \d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000 starting pvefw logger$/) });
        expect(first.data.next_start).toBe(20);
        expect(first.summary).toMatch(/lines 1-20; dropped\/rejected \d+ to port \d+.*; more from start 20/);
        const second = await callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'log', limit: 20, start: 20 }, t.ctx);
        expect(second.data.lines![0].n).toBe(21);
        expect(second.data.lines!.map((l) => l.t)).not.toContain(first.data.lines![19].t);
        const dropped = Object.values(first.data.dropped!).reduce((a, b) => a + b, 0);
        expect(dropped).toBe(first.data.lines!.filter((l) => /DROP|REJECT/.test(l.t)).length);
        // a guest's log holds its own lines only
        const vmid = [...t.sim.state.guests.values()].find((g) => g.node === 'pve1')!.vmid;
        const guest = await callTool(firewallGet, { scope: 'guest', vmid, view: 'log', limit: 500 }, t.ctx);
        expect(guest.data.lines!.length).toBeGreaterThan(0);
        expect(guest.data.lines!.every((l) => l.t.startsWith(`${vmid} `))).toBe(true);
        expect(guest.data.next_start).toBeNull();
        // since/until as ISO 8601 or UNIX seconds: only lines inside
        const now = Math.floor(Date.now() / 1000);
        const recent = await callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'log', limit: 500, since: new Date((now - 3 * 3600) * 1000).toISOString() }, t.ctx);
        const all = await callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'log', limit: 500 }, t.ctx);
        expect(recent.data.lines!.length).toBeGreaterThan(0);
        expect(recent.data.lines!.length).toBeLessThan(all.data.lines!.length);
        expect((await callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'log', until: now - 2 * 86400 }, t.ctx)).data.lines).toEqual([]);
        expect(t.requests.some((r) => r.path === '/nodes/pve1/firewall/log')).toBe(true);
        expect(await privilegesOf(firewallGet, { scope: 'guest', vmid: 100, view: 'log' }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.Console'] }]);
        expect(await privilegesOf(firewallGet, { scope: 'node', node: 'pve1', view: 'log' }, t.ctx)).toEqual([{ path: '/nodes/pve1', privileges: ['Sys.Syslog'] }]);
        // unhappy paths
        await expect(callTool(firewallGet, { view: 'log' }, t.ctx)).rejects.toThrow(/scope node or guest/);
        await expect(callTool(firewallGet, { scope: 'node', node: 'pve1', view: 'rules', start: 5 }, t.ctx)).rejects.toThrow(/go with view log/);
        expect(() => firewallGet.input.parse({ scope: 'node', node: 'pve1', view: 'log', since: 'yesterday' })).toThrow();
        expect(() => firewallGet.input.parse({ scope: 'node', node: 'pve1', view: 'log', start: -1 })).toThrow();
        await expect(callTool(firewallGet, { scope: 'guest', vmid: 99999, view: 'log' }, t.ctx)).rejects.toMatchObject({ code: 'not_found' });
      } finally {
        t.close();
      }
    });

    test('an SDN vnet\'s firewall: forward rules and options, read and change; unknown vnets and other rule kinds refused', async () => {
      const t = testContext({ simOptions: { pveVersion, sdn: true } });
      try {
        expect((await callTool(firewallGet, { scope: 'vnet', vnet: 'vnet100', view: 'options' }, t.ctx)).data.options).toEqual({ enable: 0 });
        const plan = await explainTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', rule_action: 'DROP', proto: 'tcp', dport: '25' }, t.ctx);
        expect(plan.requests).toEqual([{ method: 'POST', path: '/cluster/sdn/vnets/vnet100/firewall/rules', params: { type: 'forward', action: 'DROP', proto: 'tcp', dport: '25' } }]);
        expect(plan.privileges).toEqual([{ path: '/sdn/zones/evpnz/vnet100', privileges: ['SDN.Allocate'] }]);
        await callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', rule_action: 'DROP', proto: 'tcp', dport: '25', comment: 'no mail out' }, t.ctx);
        await callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', type: 'forward', rule_action: 'ACCEPT', proto: 'tcp', dport: '443', pos: 1 }, t.ctx);
        await callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'options_set', enable: true, policy_forward: 'DROP' }, t.ctx);
        const rules = await callTool(firewallGet, { scope: 'vnet', vnet: 'vnet100' }, t.ctx);
        expect(rules.data.rows?.map((r) => [r.pos, r.type, r.action, r.dport])).toEqual([[0, 'forward', 'DROP', '25'], [1, 'forward', 'ACCEPT', '443']]);
        const options = await callTool(firewallGet, { scope: 'vnet', vnet: 'vnet100', view: 'options' }, t.ctx);
        expect(options.data.options).toEqual({ enable: 1, policy_forward: 'DROP' });
        expect(options.summary).toContain('policy_forward DROP');
        await callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'rule_delete', pos: 0 }, t.ctx);
        expect(firewallOf(t.sim.state).vnets.get('vnet100')!.rules).toHaveLength(1);
        expect(await privilegesOf(firewallGet, { scope: 'vnet', vnet: 'vnet100' }, t.ctx)).toEqual([{ path: '/sdn/zones/evpnz/vnet100', privileges: ['SDN.Audit'] }]);
        // not a host firewall: the self-access rule does not judge it
        await checkProtections('PUT', '/cluster/sdn/vnets/vnet100/firewall/options', { enable: 1, policy_forward: 'DROP' }, { mainNode: async () => 'pve1', serviceTokenId: t.sim.defaultToken.tokenId, pve: t.ctx.pve });
        // unhappy paths
        await expect(callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', type: 'in', rule_action: 'DROP' }, t.ctx)).rejects.toThrow(/forward rules only/);
        await expect(callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'options_set', policy_in: 'DROP' }, t.ctx)).rejects.toThrow(/policy_forward, not policy_in/);
        await expect(callTool(firewallChange, { scope: 'vnet', vnet: 'vnet100', action: 'alias_set', name: 'x1', cidr: '10.0.0.1' }, t.ctx)).rejects.toThrow(/scope cluster or guest/);
        await expect(callTool(firewallChange, { action: 'options_set', policy_forward: 'DROP' }, t.ctx)).rejects.toThrow(/vnet option/);
        await expect(callTool(firewallGet, { scope: 'vnet', vnet: 'nosuch' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no SDN vnet 'nosuch'\. Vnets: vnet100, vnet200/) });
        await expect(callTool(firewallGet, { scope: 'vnet' }, t.ctx)).rejects.toThrow(/needs vnet/);
        await expect(callTool(firewallGet, { scope: 'vnet', vnet: 'vnet100', view: 'log' }, t.ctx)).rejects.toThrow(/scope node or guest/);
        expect(() => firewallGet.input.parse({ scope: 'vnet', vnet: '../x' })).toThrow();
        // Proxmox's own refusal: a vnet rule of another type sent raw
        await expect(t.ctx.pve.post('/cluster/sdn/vnets/vnet100/firewall/rules', { type: 'in', action: 'ACCEPT' })).rejects.toThrow(/forward/);
      } finally {
        t.close();
      }
      const plain = testContext({ simOptions: { pveVersion } });
      try {
        await expect(callTool(firewallGet, { scope: 'vnet', vnet: 'vnet100' }, plain.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/Vnets: none/) });
      } finally {
        plain.close();
      }
    });
  });
}

describe('guest IP sets, the log and vnet rules through every door', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer({ simulator: createSimulator({ sdn: true, taskDurationMs: 5 }) });
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('REST and MCP (both eras) read and change them; a viewer reads but does not change', async () => {
    const token = await ts.createToken({ name: 'fw2-op', role: 'operator', mode: 'normal', ceiling: 'normal' });
    const viewer = await ts.createToken({ name: 'fw2-viewer', role: 'viewer' });
    for (const name of ['fw2-op', 'fw2-viewer']) await ts.server.store.settings.set(settingsKeyForToolsets((await ts.server.store.tokens.byName(name))!.id), ['firewall']);
    const created = await callRest(ts.url, token, 'firewall_change', { scope: 'guest', vmid: 100, action: 'ipset_create', name: 'office' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect((await callRest(ts.url, token, 'firewall_change', { scope: 'guest', vmid: 100, action: 'ipset_add', name: 'office', cidr: '198.51.100.0/24' })).status).toBe(200);
    const log = await callRest(ts.url, viewer, 'firewall_get', { scope: 'node', node: 'pve1', view: 'log', limit: 5 });
    expect(log.body.data.lines).toHaveLength(5);
    expect(log.body.data.next_start).toBe(5);
    expect((await callRest(ts.url, viewer, 'firewall_change', { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', rule_action: 'DROP' })).status).toBe(403);
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      const sets = await client.callTool({ name: 'firewall_get', arguments: { scope: 'guest', vmid: 100, view: 'ipsets', ipset: 'office' } });
      expect(JSON.stringify(sets.structuredContent)).toContain('198.51.100.0/24');
      const rule = await client.callTool({ name: 'firewall_change', arguments: { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', rule_action: 'ACCEPT', proto: 'tcp', dport: era === 'legacy' ? '80' : '443' } });
      expect(rule.isError, JSON.stringify(rule.content)).toBeFalsy();
      const refused = await client.callTool({ name: 'firewall_change', arguments: { scope: 'vnet', vnet: 'vnet100', action: 'rule_add', type: 'in', rule_action: 'DROP' } });
      expect(refused.isError).toBe(true);
      const guestLog = await client.callTool({ name: 'firewall_get', arguments: { scope: 'guest', vmid: 100, view: 'log' } });
      expect(guestLog.isError, JSON.stringify(guestLog.content)).toBeFalsy();
      await client.close();
    }
    expect(firewallOf(ts.sim.state).vnets.get('vnet100')!.rules.map((r) => r.dport)).toEqual(['443', '80']);
    expect(ts.changesSent).toEqual([
      'POST /nodes/pve1/qemu/100/firewall/ipset',
      'POST /nodes/pve1/qemu/100/firewall/ipset/office',
      'POST /cluster/sdn/vnets/vnet100/firewall/rules',
      'POST /cluster/sdn/vnets/vnet100/firewall/rules',
    ]);
  }, 90_000);
});

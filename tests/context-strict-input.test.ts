/**
 * Strict input (issue 15): unknown argument names are an error that names the closest real one, at any
 * depth and through both doors; Proxmox-style names are taken with their Proxmox meaning or refused
 * with the right name; a node or pool that does not exist is an error listing the real ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import guestConfig from '../functions/guest_config.ts';
import guestCreate from '../functions/guest_create.ts';
import listVms from '../functions/list_vms.ts';
import { parseArguments, runtimeArguments } from '../lib/runtime/invoke.ts';
import { closestNames, unknownArguments } from '../lib/runtime/strict-input.ts';
import type { AnyTool } from '../lib/tool.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

const parse = (tool: unknown, args: unknown) => parseArguments(tool as AnyTool, args);
const refusal = (tool: unknown, args: unknown): string => {
  try {
    parse(tool, args);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('closest names', () => {
  it('finds typos, swapped letters, other spellings and aliases', () => {
    expect(closestNames('memroy', ['vmid', 'memory', 'cores'])).toEqual(['memory']);
    expect(closestNames('nodes', ['node', 'status'])).toEqual(['node']);
    expect(closestNames('vm_id', ['vmid', 'node'])).toEqual(['vmid']);
    expect(closestNames('VMID', ['vmid'])).toEqual(['vmid']);
    expect(closestNames('tag', ['index', 'vlan', 'bridge'])).toEqual(['vlan']);
    expect(closestNames('hostname', ['name', 'node'])).toEqual(['name']);
    expect(closestNames('zzzzzz', ['vmid', 'node'])).toEqual([]);
  });
});

describe('parseArguments refuses unknown names', () => {
  it('names the closest real argument, and nothing runs', () => {
    expect(refusal(guestConfig, { vmid: 100, memroy: 4096 })).toMatch(/unknown argument 'memroy': did you mean 'memory'\?/);
    expect(refusal(listVms, { nodes: 'pve1' })).toMatch(/'nodes'.*did you mean 'node'/);
    expect(refusal(guestConfig, { vmid: 100, nets: [{ index: 0, tag: 5 }] })).toMatch(/'tag' \(at nets\[0\]\.tag\): did you mean 'vlan'/);
  });

  it('lists the arguments when nothing is close', () => {
    expect(refusal(listVms, { everything: true })).toMatch(/list_vms takes node, status, name, tag, pool, templates, limit, cursor, sort, fields/);
  });

  it('reports every unknown name at once, in a detail programs can read', () => {
    const found = unknownArguments(guestConfig.input, { vmid: 1, memroy: 1, corse: 2 });
    expect(found.map((entry) => [entry.name, entry.suggestions[0]])).toEqual([
      ['memroy', 'memory'],
      ['corse', 'cores'],
    ]);
  });

  it('is not fooled by names of Object.prototype or odd characters', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'node\u0000', 'node ', 'NODE', 'nöde']) {
      const args = JSON.parse(`{"${name.replace('\u0000', '\\u0000')}": "pve1"}`) as Record<string, unknown>;
      expect(() => parse(listVms, args), name).toThrow(/unknown argument/);
    }
  });

  it('lets the runtime-level arguments through', () => {
    expect(runtimeArguments).toContain('confirmation_id');
    const parsed = parse(guestConfig, { vmid: 100, cores: 2, confirmation_id: 'abc' });
    expect(parsed.confirmationId).toBe('abc');
    expect(parsed.input).not.toHaveProperty('confirmation_id');
    expect(() => parse(listVms, { wait_seconds: 5 })).not.toThrow();
  });

  it('still takes object arguments sent as JSON strings, and checks inside them', () => {
    expect(parse(guestConfig, { vmid: 100, nets: '[{"index":0,"vlan":5}]' }).input.nets).toEqual([expect.objectContaining({ index: 0, vlan: 5 })]);
    expect(refusal(guestConfig, { vmid: 100, nets: '[{"index":0,"tag":5}]' })).toMatch(/did you mean 'vlan'/);
  });
});

describe('Proxmox-style names', () => {
  it('takes net0 and ipconfig0 with their Proxmox meaning', () => {
    const { input } = parse(guestCreate, { template: 102, ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1', net0: 'virtio,bridge=vmbr0,tag=20,firewall=1' });
    expect(input.ipconfig).toEqual([{ index: 0, ip: '10.0.0.5/24', gw: '10.0.0.1' }]);
    expect(input.nets).toEqual([expect.objectContaining({ index: 0, model: 'virtio', bridge: 'vmbr0', vlan: 20, firewall: true })]);
    const withMac = parse(guestConfig, { vmid: 100, net1: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr1' }).input;
    expect(withMac.nets).toEqual([expect.objectContaining({ index: 1, model: 'virtio', mac: 'BC:24:11:AA:BB:CC', bridge: 'vmbr1' })]);
  });

  it('takes memory with a unit', () => {
    expect(parse(guestConfig, { vmid: 100, memory: '4G' }).input.memory).toBe('4G');
  });

  it('refuses disk keys with the argument to use instead', () => {
    expect(refusal(guestCreate, { template: 102, scsi0: 'local-lvm:32' })).toMatch(/scsi0 is a Proxmox disk key; this tool takes disks as disk_size/);
    expect(refusal(guestConfig, { vmid: 100, virtio1: 'local-lvm:10' })).toMatch(/resize/);
    expect(refusal(listVms, { net0: 'virtio' })).toMatch(/guest_config sets NICs/);
  });

  it('refuses a NIC string with a key Proxmox has and we do not', () => {
    expect(refusal(guestConfig, { vmid: 100, net0: 'virtio,bridge=vmbr0,queues=4' })).toMatch(/'queues' \(at nets\[0\]\.queues\)/);
  });
});

describe('through both doors', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('REST: an unknown name is a 400 with did-you-mean, and a change never runs', async () => {
    const before = ts.server.simulator!.state.guests.get(100)!.config.memory;
    const answer = await callRest(ts.url, ts.adminToken, 'guest_config', { vmid: 100, memroy: 1024 });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_input');
    expect(answer.body.error.message).toMatch(/did you mean 'memory'/);
    expect(ts.server.simulator!.state.guests.get(100)!.config.memory).toBe(before);
  });

  it('REST and MCP: a node that does not exist is an error naming the real ones', async () => {
    const rest = await callRest(ts.url, ts.adminToken, 'list_vms', { node: 'pve01' });
    expect(rest.body.success).toBe(false);
    expect(rest.body.error.code).toBe('not_found');
    expect(rest.body.error.message).toMatch(/Node 'pve01' does not exist.*did you mean 'pve1'.*Nodes: pve1, pve2, pve3/);
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'modern');
    try {
      const result = await client.callTool({ name: 'list_containers', arguments: { node: 'pve01' } });
      expect(result.isError).toBe(true);
      expect((result.content as { text: string }[])[0]!.text).toMatch(/not_found: Node 'pve01' does not exist/);
      const pool = await client.callTool({ name: 'list_vms', arguments: { pool: 'prd' } });
      expect((pool.content as { text: string }[])[0]!.text).toMatch(/Pool 'prd' does not exist.*Pools: .*prod/);
      const typo = await client.callTool({ name: 'list_vms', arguments: { nodes: 'pve1' } });
      expect(typo.isError).toBe(true);
      expect((typo.content as { text: string }[])[0]!.text).toMatch(/did you mean 'node'/);
    } finally {
      await client.close();
    }
  });

  it('MCP 2025 (legacy) refuses the same way', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'legacy');
    try {
      const result = await client.callTool({ name: 'guest_config', arguments: { vmid: 100, memroy: 4096 } });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as { error: { message: string } }).error.message).toMatch(/did you mean 'memory'/);
    } finally {
      await client.close();
    }
  });

  it('a failing precondition is refused before anyone is asked to confirm, through both doors', async () => {
    const safe = await ts.createToken({ name: 'precheck-safe', role: 'admin', mode: 'safe', ceiling: 'normal' });
    const existing = [...ts.server.simulator!.state.guests.get(100)!.snapshots.keys()][0];
    expect(existing).toBeDefined();
    const rest = await callRest(ts.url, safe, 'guest_create', { template: 102, nets: [{ index: 0, bridge: 'vmbr9' }] });
    expect(rest.body.error.code).toBe('not_found');
    expect(rest.body.error.message).toMatch(/Bridge vmbr9 does not exist/);
    const client = await connectClient(ts.mcpUrl, safe, 'modern');
    try {
      const taken = await client.callTool({ name: 'guest_snapshot', arguments: { action: 'create', vmid: 100, snapname: existing } });
      expect(taken.isError).toBe(true);
      expect((taken.structuredContent as { error: { code: string; message: string } }).error).toMatchObject({ code: 'conflict', message: expect.stringMatching(/already has a snapshot named/) });
      const protectedDelete = await client.callTool({ name: 'vm_action', arguments: { vmid: 100, action: 'delete' } });
      expect((protectedDelete.structuredContent as { error: { code: string } }).error.code).toBe('conflict'); // running: stop it first
    } finally {
      await client.close();
    }
  });

  it('an existing node with no guests is an empty answer, not an error', async () => {
    const rest = await callRest(ts.url, ts.adminToken, 'list_vms', { node: 'pve3', name: 'no-such-name-*' });
    expect(rest.body.success).toBe(true);
    expect(rest.body.data.total).toBe(0);
  });
});

/**
 * The cluster tools through both doors against the simulator: a real MCP client and REST, with the
 * runtime around them (roles, modes, privileges checked before the call, confirmation, history).
 * Also: a low-privilege Proxmox token (auditor@pve!ro) gets a message naming privilege and path,
 * get_system_info stays within 4 Proxmox requests, and a token secret never reaches the history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Client } from '@modelcontextprotocol/client';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { createSimulator, auditorToken, SIMULATOR_ROUTES, type Simulator } from '../lib/simulator/index.ts';
import { serveSimulator } from '../lib/simulator/serve.ts';
import { loadRouteTable } from '../lib/runtime/rest.ts';
import { defineTool, type AnyTool } from '../lib/tool.ts';
import nodeStatus from '../functions/node_status.ts';
import getSystemInfo from '../functions/get_system_info.ts';
import storageOperations from '../functions/storage_operations.ts';
import storageChange from '../functions/storage_change.ts';
import networkConfig from '../functions/network_config.ts';
import networkChange from '../functions/network_change.ts';
import userList from '../functions/user_list.ts';
import userChange from '../functions/user_change.ts';
import guestSnapshot from '../functions/guest_snapshot.ts';
import guestSnapshotList from '../functions/guest_snapshot_list.ts';
import guestBackup from '../functions/guest_backup.ts';
import guestBackupList from '../functions/guest_backup_list.ts';
import taskStatus from '../functions/task_status.ts';
import taskStop from '../functions/task_stop.ts';
import getCommandHistory from '../functions/get_command_history.ts';

const mine = [nodeStatus, getSystemInfo, storageOperations, storageChange, networkConfig, networkChange, userList, userChange, guestSnapshot, guestSnapshotList, guestBackup, guestBackupList, taskStatus, taskStop] as unknown as AnyTool[];

/** Our tools, the history tool, and inert stand-ins for other tools routes.json names (not ours to load). */
function toolSet(): AnyTool[] {
  const tools = [...mine, getCommandHistory as unknown as AnyTool];
  const names = new Set(tools.map((tool) => tool.name));
  for (const name of new Set(loadRouteTable().routes.map((route) => route.function))) {
    if (names.has(name)) continue;
    tools.push(defineTool({ name, title: name, description: 'stand-in for a tool another test covers', input: z.object({}), output: z.unknown(), effect: 'read', run: async () => ({ data: null }) }) as unknown as AnyTool);
  }
  return tools;
}

let sim: Simulator;
let ts: TestServer;
let normal: string;
let client: Client;

beforeAll(async () => {
  sim = createSimulator({ taskDurationMs: 5 });
  ts = await startTestServer({ build: { simulator: sim, tools: toolSet() } });
  normal = await ts.createToken({ name: 'cluster-normal', role: 'admin', mode: 'normal', ceiling: 'normal' });
  client = await connectClient(ts.mcpUrl, normal, 'modern');
});
afterAll(async () => {
  await client?.close();
  await ts?.close();
  sim?.close();
});

const structured = (result: unknown) => (result as { structuredContent: { success: boolean; data: any; warnings: string[]; error?: { code: string; message: string } } }).structuredContent;

describe('cluster tools over MCP', () => {
  it('are listed with annotations from their effect and an input schema', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const tool of mine) expect(byName.has(tool.name), tool.name).toBe(true);
    expect(byName.get('get_system_info')!.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('node_status')!.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('storage_operations')!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(byName.get('storage_change')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: true });
    expect(byName.get('guest_snapshot')!.annotations?.destructiveHint).toBe(true);
    expect(byName.get('task_status')!.annotations?.readOnlyHint).toBe(true);
    expect(byName.get('task_stop')!.annotations?.readOnlyHint).toBe(false);
    expect(byName.get('network_config')!.inputSchema.type).toBe('object');
  });

  it('answer every tool with structured content', async () => {
    const calls: [string, Record<string, unknown>][] = [
      ['get_system_info', {}],
      ['node_status', { node: 'pve1' }],
      ['storage_operations', { action: 'list' }],
      ['network_config', { action: 'list', node: 'pve2' }],
      ['user_list', { kind: 'group', action: 'list' }],
      ['guest_snapshot_list', { vmid: 100 }],
      ['guest_backup_list', { vmid: 100 }],
      ['task_status', { action: 'list' }],
    ];
    for (const [name, args] of calls) {
      const result = await client.callTool({ name, arguments: args });
      expect(result.isError, `${name}: ${JSON.stringify(result.content)}`).toBeFalsy();
      expect(structured(result).success).toBe(true);
      expect(structured(result).data).toBeTruthy();
    }
  });

  it('node_status keeps listing with a node offline', async () => {
    sim.faults.setNodeOnline('pve3', false);
    try {
      ts.server.pve.invalidate();
      const result = await client.callTool({ name: 'node_status', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(structured(result).data.offline).toEqual(['pve3']);
      expect(structured(result).data.nodes.find((n: { node: string }) => n.node === 'pve1').status).toBe('online');
    } finally {
      sim.faults.clear();
      ts.server.pve.invalidate();
    }
  });

  it('a created token secret is in the answer once, never in the history', async () => {
    const result = await client.callTool({ name: 'user_change', arguments: { kind: 'token', action: 'create', userid: 'bob@pve', tokenid: 'door' } });
    expect(result.isError).toBeFalsy();
    const secret = sim.state.users.get('bob@pve')!.tokens.get('door')!.secret;
    expect(structured(result).data.token.value).toBe(secret);
    expect(structured(result).warnings.join(' ')).toMatch(/only this once/);
    const created = await client.callTool({ name: 'user_change', arguments: { kind: 'user', action: 'create', userid: 'erin@pve', password: 'erins-secret-password' } });
    expect(created.isError).toBeFalsy();
    const history = await callRest(ts.url, ts.adminToken, 'get_command_history', { tool: 'user_change' });
    const text = JSON.stringify(history.body);
    expect(history.body.data.entries.length).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('erins-secret-password');
  });

  it('a locked guest is refused before anything is sent or anyone is asked', async () => {
    sim.state.guests.get(105)!.lock = 'backup';
    try {
      const posts = sim.stats.byEndpoint.get('POST /nodes/{node}/qemu/{vmid}/snapshot') ?? 0;
      const result = await client.callTool({ name: 'guest_snapshot', arguments: { action: 'create', vmid: 105, snapname: 'mcp_locked' } });
      expect(result.isError).toBe(true);
      expect(structured(result).error!.code).toBe('conflict');
      expect(structured(result).error!.message).toMatch(/locked \(backup\)/);
      expect(sim.stats.byEndpoint.get('POST /nodes/{node}/qemu/{vmid}/snapshot') ?? 0).toBe(posts);
    } finally {
      sim.state.guests.get(105)!.lock = undefined;
    }
  });
});

describe('cluster tools over REST', () => {
  it('answer every tool', async () => {
    const calls: [string, Record<string, unknown>][] = [
      ['get_system_info', {}],
      ['node_status', {}],
      ['storage_operations', { action: 'content', storage: 'nfs-backup' }],
      ['network_config', { action: 'get', node: 'pve1', iface: 'vmbr0' }],
      ['user_list', { kind: 'user', action: 'list' }],
      ['guest_snapshot_list', { vmid: 103 }],
      ['guest_backup_list', {}],
      ['task_status', { action: 'list', node: 'pve1' }],
    ];
    for (const [name, args] of calls) {
      const response = await callRest(ts.url, normal, name, args);
      expect(response.status, `${name}: ${JSON.stringify(response.body.error)}`).toBe(200);
      expect(response.body.success).toBe(true);
    }
  });

  it('GET /v1/cluster and /v1/nodes (routes.json) reach get_system_info and node_status', async () => {
    const get = (path: string) => fetch(`${ts.url}${path}`, { headers: { authorization: `Bearer ${normal}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const cluster = await get('/v1/cluster');
    expect(cluster.status).toBe(200);
    expect(cluster.body.data.cluster.name).toBe('simcluster');
    const node = await get('/v1/nodes?node=pve2');
    expect(node.status).toBe(200);
    expect(node.body.data.nodes.map((n: { node: string }) => n.node)).toEqual(['pve2']);
  });

  it('changes with a normal-mode token: snapshot, backup, then follow the task', async () => {
    const snap = await callRest(ts.url, normal, 'guest_snapshot', { action: 'create', vmid: 104, snapname: 'rest_snap' });
    expect(snap.status).toBe(200);
    expect(snap.body.data.task.ok).toBe(true);
    const backup = await callRest(ts.url, normal, 'guest_backup', { action: 'create', vmid: 104, wait: false });
    expect(backup.status).toBe(200);
    const upid = backup.body.data.tasks[0].upid;
    const waited = await callRest(ts.url, normal, 'task_status', { action: 'wait', upid, timeout: 30 });
    expect(waited.status).toBe(200);
    expect(waited.body.data.task.exitstatus).toBe('OK');
    const history = await callRest(ts.url, normal, 'get_command_history', { tool: 'guest_backup', outcome: 'ok' });
    expect(history.body.data.entries[0].upids).toEqual([upid]);
  });

  it('maps errors to HTTP statuses: 404 unknown node/storage/user, 400 bad input, 403 protection, 503 offline node', async () => {
    expect((await callRest(ts.url, normal, 'node_status', { node: 'pve99' })).status).toBe(404);
    expect((await callRest(ts.url, normal, 'storage_operations', { action: 'status', storage: 'nope' })).status).toBe(404);
    expect((await callRest(ts.url, normal, 'user_list', { kind: 'user', action: 'get', userid: 'ghost@pve' })).status).toBe(404);
    const bad = await callRest(ts.url, normal, 'guest_snapshot', { action: 'create', vmid: 42, snapname: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/vmid must be 100 or more/);
    const root = await callRest(ts.url, normal, 'user_change', { kind: 'user', action: 'delete', userid: 'root@pam' });
    expect(root.status).toBe(403);
    expect(root.body.error.code).toBe('protected');
    sim.faults.setNodeOnline('pve2', false);
    try {
      ts.server.pve.invalidate();
      const offline = await callRest(ts.url, normal, 'network_config', { action: 'list', node: 'pve2' });
      expect(offline.status).toBe(503);
      expect(offline.body.error.message).toMatch(/Node 'pve2' is offline/);
    } finally {
      sim.faults.clear();
      ts.server.pve.invalidate();
    }
  });

  it('safe mode asks first, with the plan\'s warnings (newest backup of a guest)', async () => {
    const safe = await ts.createToken({ role: 'admin', mode: 'safe', ceiling: 'normal' });
    // guest 100: the backups of 101, a protected guest, are its data and are refused before anyone is asked
    const volumes = (await callRest(ts.url, normal, 'storage_operations', { action: 'content', storage: 'nfs-backup', vmid: 100 })).body.data.volumes;
    const newest = [...volumes].sort((a: { created: string }, b: { created: string }) => b.created.localeCompare(a.created))[0];
    const asked = await callRest(ts.url, safe, 'storage_change', { action: 'delete_volume', storage: 'nfs-backup', volume: newest.volid });
    expect(asked.status).toBe(428);
    expect(asked.body.warnings.join(' ')).toMatch(/NEWEST backup of guest 100/);
    const readOnly = await ts.createToken({ role: 'admin', mode: 'read-only', ceiling: 'normal' });
    expect((await callRest(ts.url, readOnly, 'network_change', { action: 'revert', node: 'pve1' })).status).toBe(403);
    expect((await callRest(ts.url, readOnly, 'network_config', { action: 'pending', node: 'pve1' })).status).toBe(200);
  });

  it('a viewer token reads but cannot change; user changes are for admins', async () => {
    const viewer = await ts.createToken({ role: 'viewer', mode: 'normal', ceiling: 'normal' });
    expect((await callRest(ts.url, viewer, 'get_system_info', {})).status).toBe(200);
    expect((await callRest(ts.url, viewer, 'storage_operations', { action: 'list' })).status).toBe(200);
    const refused = await callRest(ts.url, viewer, 'guest_snapshot', { action: 'create', vmid: 104, snapname: 'viewer_snap' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/role admin or operator/);
    expect(sim.state.guests.get(104)!.snapshots.has('viewer_snap')).toBe(false);
    const operator = await ts.createToken({ role: 'operator', mode: 'normal', ceiling: 'normal' });
    expect((await callRest(ts.url, operator, 'user_list', { kind: 'user', action: 'list' })).status).toBe(200);
    const noUsers = await callRest(ts.url, operator, 'user_change', { kind: 'group', action: 'create', groupid: 'opgroup' });
    expect(noUsers.status).toBe(403);
    expect(noUsers.body.error.message).toMatch(/role admin/);
  });

  it('user_list only reads and user_change only changes, in every door; each names the other for the wrong action', async () => {
    const before = JSON.stringify([...sim.state.users.keys()]);
    const wrongRest = await callRest(ts.url, ts.adminToken, 'user_list', { kind: 'user', action: 'delete', userid: 'alice@pve' });
    expect(wrongRest.status).toBe(400);
    expect(wrongRest.body.error.message).toMatch(/user_change/);
    // a change-only argument is not a user_list argument at all
    const extra = await callRest(ts.url, ts.adminToken, 'user_list', { kind: 'user', action: 'get', userid: 'alice@pve', enable: false });
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/enable/);
    expect((await callRest(ts.url, ts.adminToken, 'user_change', { kind: 'user', action: 'list' })).body.error.message).toMatch(/user_list/);
    for (const era of ['modern', 'legacy'] as const) {
      const admin = await connectClient(ts.mcpUrl, ts.adminToken, era);
      const viewerClient = await connectClient(ts.mcpUrl, await ts.createToken({ role: 'viewer' }), era);
      try {
        const tools = new Map((await admin.listTools()).tools.map((tool) => [tool.name, tool]));
        expect(tools.get('user_list')!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
        expect(tools.get('user_change')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
        const wrong = await admin.callTool({ name: 'user_list', arguments: { kind: 'token', action: 'create', userid: 'alice@pve', tokenid: 'x' } });
        expect(wrong.isError).toBe(true);
        expect(JSON.stringify(wrong.content)).toMatch(/user_change/);
        const names = (await viewerClient.listTools()).tools.map((tool) => tool.name);
        expect(names).toContain('user_list');
        expect(names).not.toContain('user_change');
        const read = await viewerClient.callTool({ name: 'user_list', arguments: { kind: 'group' } });
        expect(read.isError, JSON.stringify(read.content)).toBeFalsy();
      } finally {
        await admin.close();
        await viewerClient.close();
      }
    }
    expect(JSON.stringify([...sim.state.users.keys()])).toBe(before);
    expect(sim.state.users.get('alice@pve')!.tokens.has('x')).toBe(false);
  });

  it('get_system_info issues at most 4 Proxmox requests, and only contract endpoints were used', async () => {
    await callRest(ts.url, normal, 'get_system_info', {}); // warm the permission cache
    ts.server.pve.invalidate();
    sim.stats.reset();
    const response = await callRest(ts.url, normal, 'get_system_info', {});
    expect(response.status).toBe(200);
    expect(sim.stats.requests).toBeLessThanOrEqual(4);
    expect([...sim.stats.byEndpoint.keys()].filter((key) => !SIMULATOR_ROUTES.includes(key))).toEqual([]);
  });
});

describe('with a low-privilege Proxmox token (auditor@pve!ro)', () => {
  let auditSim: Simulator;
  let served: { url: string; close(): Promise<void> };
  let audit: TestServer;
  let token: string;

  beforeAll(async () => {
    auditSim = createSimulator({ taskDurationMs: 5 });
    served = await serveSimulator(auditSim, { port: 0 });
    audit = await startTestServer({
      env: { PROXMOX_URL: served.url, PROXMOX_TOKEN_ID: auditorToken.tokenId, PROXMOX_TOKEN_SECRET: auditorToken.secret },
      build: { tools: toolSet() },
    });
    token = await audit.createToken({ role: 'admin', mode: 'normal', ceiling: 'normal' });
  });
  afterAll(async () => {
    await audit?.close();
    await served?.close();
    auditSim?.close();
  });

  it('reads work', async () => {
    const info = await callRest(audit.url, token, 'get_system_info', {});
    expect(info.status).toBe(200);
    expect(info.body.data.cluster.nodes_total).toBe(3);
  });

  it.each([
    ['network_change', { action: 'create', node: 'pve1', iface: 'vmbr7', type: 'bridge' }, /lacks Sys\.Modify on \/nodes\/pve1/],
    ['guest_snapshot', { action: 'create', vmid: 100, snapname: 'nope' }, /lacks VM\.Snapshot on \/vms\/100/],
    ['guest_backup', { action: 'create', vmid: 100, storage: 'nfs-backup' }, /lacks VM\.Backup on \/vms\/100/],
    ['storage_change', { action: 'download', storage: 'local', node: 'pve1', url: 'https://example.invalid/a.iso' }, /lacks Datastore\.AllocateTemplate on \/storage\/local/],
    ['user_change', { kind: 'group', action: 'create', groupid: 'g1' }, /lacks Group\.Allocate on \/access\/groups/],
  ])('%s is refused naming the privilege and path', async (tool, args, message) => {
    const response = await callRest(audit.url, token, tool, args);
    expect(response.status).toBe(403);
    expect(response.body.error.message).toMatch(message);
  });

  it('task lists still work; a role change names Sys.Modify on /access', async () => {
    const response = await callRest(audit.url, token, 'task_status', { action: 'list', node: 'pve1' });
    expect(response.status).toBe(200);
    const denied = await callRest(audit.url, token, 'user_change', { kind: 'role', action: 'create', roleid: 'X1', privs: ['VM.Audit'] });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toMatch(/Sys\.Modify on \/access/);
  });
});

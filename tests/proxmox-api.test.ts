/**
 * proxmox_api end to end over REST and MCP against the simulator: path spellings that reach the same
 * endpoint, the effect by method (read-only refuses changes, safe mode confirms them), task waiting,
 * Proxmox's 501 for an unknown endpoint, and history with the task id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { canonicalApiPath, normalizePath } from '../lib/policy/normalize.ts';

let ts: SafetyServer;
let normal: string;

beforeAll(async () => {
  ts = await startSafetyServer();
  normal = await ts.createToken({ name: 'api-normal', role: 'admin', mode: 'normal', ceiling: 'normal' });
});
afterAll(async () => {
  await ts?.close();
});

describe('canonicalApiPath', () => {
  it.each([
    ['/cluster/resources', '/cluster/resources'],
    ['/api2/json/cluster/resources', '/cluster/resources'],
    ['//cluster///resources/', '/cluster/resources'],
    ['/cluster/./resources', '/cluster/resources'],
    ['/nodes/x/../../cluster/resources', '/cluster/resources'],
    ['/nodes/%2e%2e/cluster/resources', '/cluster/resources'],
    ['/access/users/root%40pam', '/access/users/root@pam'],
    ['/access/users/root%2540pam', '/access/users/root@pam'],
    ['/nodes/pve1/storage/local/content/local%3Abackup%2Fvzdump.vma', '/nodes/pve1/storage/local/content/local:backup%2Fvzdump.vma'],
  ])('%s -> %s', (raw, expected) => {
    expect(canonicalApiPath(raw).path).toBe(expected);
  });

  it('moves a query string into parameters', () => {
    expect(canonicalApiPath('/cluster/resources?type=vm')).toEqual({ path: '/cluster/resources', queryParams: { type: 'vm' } });
  });

  it('refuses what is not a path', () => {
    expect(() => canonicalApiPath('cluster/resources')).toThrow(/must start with/);
    expect(() => canonicalApiPath('https://evil/api2/json/x')).toThrow();
  });

  it('judges every spelling of root@pam as root@pam', () => {
    for (const raw of ['/ACCESS/Users/ROOT@PAM/', '/access//users/root%40pam', '/access%2Fusers%2Froot%2540pam', '/api2/json/access/users/root@pam;x', '/access/users/root@pam%00']) {
      expect(normalizePath(raw).path).toBe('/access/users/root@pam');
    }
  });
});

describe('proxmox_api over REST', () => {
  it('reads with any spelling of the same path', async () => {
    for (const path of ['/cluster/resources', '/api2/json/cluster/resources/', '//cluster//resources', '/cluster/./resources']) {
      const response = await callRest(ts.url, normal, 'proxmox_api', { method: 'GET', path, params: { type: 'vm' } });
      expect(response.status, path).toBe(200);
      expect(Array.isArray(response.body.data.result)).toBe(true);
      expect(response.body.data.path).toBe('/cluster/resources');
    }
    const viaQuery = await callRest(ts.url, normal, 'proxmox_api', { method: 'GET', path: '/cluster/resources?type=node' });
    expect(viaQuery.body.data.result.every((row: { type: string }) => row.type === 'node')).toBe(true);
  });

  it('refuses a path without a leading slash and a parameter given twice', async () => {
    expect((await callRest(ts.url, normal, 'proxmox_api', { method: 'GET', path: 'cluster/resources' })).status).toBe(400);
    const twice = await callRest(ts.url, normal, 'proxmox_api', { method: 'GET', path: '/cluster/resources?type=vm', params: { type: 'node' } });
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/both/);
  });

  it('maps an endpoint Proxmox does not have to a clear error', async () => {
    const response = await callRest(ts.url, normal, 'proxmox_api', { method: 'GET', path: '/no/such/endpoint' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.body.success).toBe(false);
    expect(response.body.error.message).toMatch(/no such endpoint|nothing at/i);
  });

  it('starts a VM, waits for its task and records the UPID', async () => {
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && g.status === 'stopped' && !g.config.template)!;
    const response = await callRest(ts.url, normal, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/status/start` });
    expect(response.status).toBe(200);
    expect(response.body.data.upid).toMatch(/^UPID:/);
    expect(response.body.data.task.ok).toBe(true);
    expect(ts.sim.state.guests.get(guest.vmid)!.status).toBe('running');
    const history = await callRest(ts.url, normal, 'get_command_history', { tool: 'proxmox_api', outcome: 'ok', vmid: guest.vmid });
    expect(history.body.data.entries[0].upids).toEqual([response.body.data.upid]);
    expect(history.body.data.entries[0].node).toBe(guest.node);
  });

  it('returns the UPID at once with wait false', async () => {
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'lxc' && g.status === 'stopped')!;
    const response = await callRest(ts.url, normal, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/lxc/${guest.vmid}/status/start`, wait: false });
    expect(response.status).toBe(200);
    expect(response.body.data.task).toBeNull();
    expect(response.body.data.upid).toMatch(/^UPID:/);
  });

  it('follows the mode: read-only refuses a POST, safe mode asks with the exact request', async () => {
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.template)!;
    const readOnly = await ts.createToken({ role: 'admin', mode: 'read-only', ceiling: 'normal' });
    const refused = await callRest(ts.url, readOnly, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/status/reboot` });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('mode_denied');
    expect((await callRest(ts.url, readOnly, 'proxmox_api', { method: 'GET', path: '/version' })).status).toBe(200);

    const safe = await ts.createToken({ role: 'admin', mode: 'safe', ceiling: 'normal' });
    const asked = await callRest(ts.url, safe, 'proxmox_api', { method: 'PUT', path: `/api2/json/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: 'x' } });
    expect(asked.status).toBe(428);
    expect(asked.body.error.details.plan.apiCalls).toEqual([`PUT /nodes/${guest.node}/qemu/${guest.vmid}/config`]);
    expect(asked.body.explanation).toContain(`PUT /api2/json/nodes/${guest.node}/qemu/${guest.vmid}/config with description=x`);
  });
});

describe('proxmox_api over MCP', () => {
  it('answers a read with structured content', async () => {
    const client = await connectClient(ts.mcpUrl, normal, 'modern');
    try {
      const tools = await client.listTools();
      const tool = tools.tools.find((t) => t.name === 'proxmox_api')!;
      expect(tool.annotations?.destructiveHint).toBe(true);
      const result = await client.callTool({ name: 'proxmox_api', arguments: { method: 'GET', path: '/nodes' } });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as any).data.result.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });
});

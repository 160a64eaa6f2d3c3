/**
 * History: every call through every door is on record with who, where, what (secrets redacted), mode,
 * outcome, duration, task ids, node and guest; a change is on record as `running` before it runs (so a
 * crash mid-call leaves a trace); rows older than 7 days are pruned and newer ones kept;
 * get_command_history filters and pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { defineTool, type AnyTool } from '../lib/tool.ts';
import { redactText } from '../lib/policy/redact-text.ts';

let release: (() => void) | undefined;
let entered: (() => void) | undefined;

const hang = defineTool({
  name: 'hang_write',
  title: 'Hangs until released (test tool)',
  description: 'Test tool: a change that waits for the test.',
  input: z.object({ node: z.string(), vmid: z.number() }),
  output: z.unknown(),
  effect: 'write',
  async run() {
    entered?.();
    await new Promise<void>((resolve) => (release = resolve));
    return { data: 'released' };
  },
});

const crash = defineTool({
  name: 'crash_write',
  title: 'Crashes (test tool)',
  description: 'Test tool: a change that fails with a bug.',
  input: z.object({}),
  output: z.unknown(),
  effect: 'write',
  async run() {
    throw new TypeError('boom');
  },
});

let ts: SafetyServer;
let admin: string;
let operator: string;

beforeAll(async () => {
  ts = await startSafetyServer({ extraTools: [hang, crash] as unknown as AnyTool[] });
  admin = await ts.createToken({ name: 'hist-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
  operator = await ts.createToken({ name: 'hist-operator', role: 'operator', mode: 'normal', ceiling: 'normal' });
});
afterAll(async () => {
  await ts?.close();
});

const history = async (args: Record<string, unknown>, token = admin) => {
  const response = await callRest(ts.url, token, 'get_command_history', args);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.data as { entries: any[]; next_cursor: number | string | null; count: number; total: number };
};

describe('what is recorded', () => {
  it('every call through both doors, with client, door, mode, outcome, duration, task ids, node and guest', async () => {
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && g.status === 'stopped' && !g.config.template)!;
    const started = await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/status/start` });
    expect(started.status).toBe(200);
    const client = await connectClient(ts.mcpUrl, admin, 'modern');
    try {
      await client.callTool({ name: 'proxmox_api', arguments: { method: 'GET', path: '/version' } });
    } finally {
      await client.close();
    }
    const [change] = (await history({ tool: 'proxmox_api', vmid: guest.vmid })).entries;
    expect(change).toMatchObject({ client: 'hist-admin', door: 'rest', tool: 'proxmox_api', mode: 'normal', outcome: 'ok', node: guest.node, vmid: guest.vmid });
    expect(change.upids).toEqual([started.body.data.upid]);
    expect(change.duration_ms).toBeGreaterThanOrEqual(0);
    expect(change.arguments.path).toBe(`/nodes/${guest.node}/qemu/${guest.vmid}/status/start`);
    expect(Date.parse(change.time)).toBeGreaterThan(Date.now() - 60_000);
    const read = (await history({ tool: 'proxmox_api', outcome: 'ok' })).entries.find((row) => row.arguments.path === '/version');
    expect(read).toMatchObject({ door: 'mcp', client: 'hist-admin' });
  });

  it('records refusals too', async () => {
    await callRest(ts.url, admin, 'proxmox_api', { method: 'DELETE', path: '/access/users/root@pam' });
    const [row] = (await history({ tool: 'proxmox_api', outcome: 'refused' })).entries;
    expect(row).toMatchObject({ error_code: 'protected', outcome: 'refused' });
  });

  it('never stores a password or secret', async () => {
    const secrets = ['Sup3r-Secret-pw!', 'tok-secret-12345', 'mysql-pass-999', 'query-pass-777'];
    await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: '/access/password', params: { userid: 'bob@pve', password: secrets[0] } });
    await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: '/access/users', params: { userid: 'carol@pve', password: secrets[0] } });
    await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: `/access/password?password=${secrets[3]}`, params: { userid: 'bob@pve' } });
    await callRest(ts.url, admin, 'execute_command', { node: 'pve1', command: `curl -H 'Authorization: PVEAPIToken=a@pve!b=${secrets[1]}' https://x; mysql -p${secrets[2]} -e 'select 1'` });
    const rows = await ts.server.store.client.execute('SELECT args, message FROM history');
    const everything = JSON.stringify(rows.rows);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).toContain('[redacted]');
  });

  it('redacts secrets written inside text', () => {
    expect(redactText('pveum passwd x --password hunter2')).not.toContain('hunter2');
    expect(redactText('qm set 101 --cipassword="a b"')).not.toContain('a b');
    expect(redactText('wget https://user:pw123@host/file')).not.toContain('pw123');
    expect(redactText('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----')).not.toContain('abc');
    expect(redactText('pvesm status')).toBe('pvesm status');
  });
});

describe('a change is on record before it runs', () => {
  it('shows as running while it hangs, and ok when it ends', async () => {
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const pending = callRest(ts.url, admin, 'hang_write', { node: 'pve2', vmid: 4242 });
    await inside;
    const rows = await ts.server.store.client.execute("SELECT outcome, tool, node, vmid FROM history WHERE tool = 'hang_write'");
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0].outcome).toBe('running');
    expect(rows.rows[0].vmid).toBe(4242);
    release?.();
    expect((await pending).status).toBe(200);
    const [done] = (await history({ tool: 'hang_write' })).entries;
    expect(done.outcome).toBe('ok');
  });

  it('keeps the row when the handler crashes, with the error', async () => {
    const response = await callRest(ts.url, admin, 'crash_write', {});
    expect(response.status).toBe(500);
    expect(response.body.error.message).not.toMatch(/at .*\.ts:\d+/);
    const [row] = (await history({ tool: 'crash_write' })).entries;
    expect(row).toMatchObject({ outcome: 'error', error_code: 'internal' });
  });
});

describe('pruning', () => {
  it('removes rows older than 7 days and keeps newer ones', async () => {
    const day = 24 * 3600_000;
    const repo = ts.server.store.history;
    const base = { client: 'prune-test', door: 'internal', tool: 'prune_probe', args: '{}', mode: 'safe', requestId: 'p' };
    repo.record({ ...base, callId: crypto.randomUUID(), startedAt: Date.now() - 8 * day }, { outcome: 'ok', durationMs: 1 });
    repo.record({ ...base, callId: crypto.randomUUID(), startedAt: Date.now() - 7 * day - 60_000 }, { outcome: 'ok', durationMs: 1 });
    repo.record({ ...base, callId: crypto.randomUUID(), startedAt: Date.now() - 6 * day }, { outcome: 'ok', durationMs: 1 });
    repo.record({ ...base, callId: crypto.randomUUID(), startedAt: Date.now() }, { outcome: 'ok', durationMs: 1 });
    await repo.flush();
    const removed = await repo.prune(Date.now() - ts.server.config.historyDays * day);
    expect(removed).toBe(2);
    const left = await repo.query({ tool: 'prune_probe' });
    expect(left.rows).toHaveLength(2);
    expect(left.rows.every((row) => row.startedAt > Date.now() - 7 * day)).toBe(true);
  });
});

describe('get_command_history', () => {
  it('filters by tool, client, outcome, node, guest and time, and pages', async () => {
    for (let i = 0; i < 7; i++) await callRest(ts.url, operator, 'proxmox_api', { method: 'GET', path: `/nodes/pve2/qemu/${900 + i}/config` });
    const mine = await history({ client: 'hist-operator', tool: 'proxmox_api' });
    expect(mine.entries.every((row) => row.client === 'hist-operator')).toBe(true);
    expect(mine.entries.length).toBeGreaterThanOrEqual(7);

    const onlyOwn = await history({ client: 'hist-admin' }, operator);
    expect(onlyOwn.entries.every((row) => row.client === 'hist-operator')).toBe(true);

    const failed = await history({ client: 'hist-operator', outcome: 'error' });
    expect(failed.entries.length).toBeGreaterThanOrEqual(7);
    expect(failed.entries.every((row) => row.outcome === 'error')).toBe(true);

    const byGuest = await history({ vmid: 903 });
    expect(byGuest.entries).toHaveLength(1);
    expect(byGuest.entries[0].node).toBe('pve2');
    expect((await history({ node: 'pve2', client: 'hist-operator' })).entries.length).toBeGreaterThanOrEqual(7);

    expect((await history({ since: '1m', client: 'hist-operator' })).entries.length).toBeGreaterThanOrEqual(7);
    expect((await history({ until: '2000-01-01T00:00:00Z' })).entries).toHaveLength(0);

    const seen = new Set<number>();
    let cursor: number | string | null = null;
    let pages = 0;
    do {
      const page: { entries: any[]; next_cursor: number | string | null } = await history({ client: 'hist-operator', tool: 'proxmox_api', limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      for (const row of page.entries) {
        expect(seen.has(row.id)).toBe(false);
        seen.add(row.id);
      }
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen.size).toBe(mine.entries.length);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('says how many matched, sorts by any column, pages a sorted list by cursor, and picks fields', async () => {
    for (let i = 0; i < 5; i++) await callRest(ts.url, operator, 'node_status', { node: 'pve1' });
    const all = await history({ client: 'hist-operator', tool: 'node_status' });
    expect(all.total).toBe(5);
    expect(all.count).toBe(5);
    expect(all.next_cursor).toBeNull();
    const byDuration = await history({ client: 'hist-operator', sort: '-duration_ms', limit: 2 });
    const everything = await history({ client: 'hist-operator', limit: 500 });
    expect(byDuration.total).toBe(everything.total);
    const durations = [...everything.entries.map((row) => row.duration_ms ?? -1)].sort((a, b) => b - a);
    expect(byDuration.entries.map((row) => row.duration_ms ?? -1)).toEqual(durations.slice(0, 2));
    expect(byDuration.next_cursor).toBe('2');
    // a sorted list pages by offset: every row once
    const seen = new Set<number>();
    let cursor: number | string | null = null;
    do {
      const page = await history({ client: 'hist-operator', sort: 'tool,-time', limit: 4, fields: 'tool,time', ...(cursor !== null ? { cursor } : {}) });
      for (const row of page.entries) {
        expect(Object.keys(row).sort()).toEqual(['id', 'time', 'tool']);
        expect(seen.has(row.id)).toBe(false);
        seen.add(row.id);
      }
      cursor = page.next_cursor;
    } while (cursor !== null && seen.size < 1000);
    expect(seen.size).toBe(everything.total);
    // wrong names are refused with the real ones
    const badSort = await callRest(ts.url, admin, 'get_command_history', { sort: '-durration' });
    expect(badSort.status).toBe(400);
    expect(badSort.body.error.message).toMatch(/did you mean 'duration_ms'/);
    const badField = await callRest(ts.url, admin, 'get_command_history', { fields: ['tol'] });
    expect(badField.body.error.message).toMatch(/did you mean 'tool'/);
    const badCursor = await callRest(ts.url, admin, 'get_command_history', { cursor: 'abc' });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.message).toMatch(/not one this server gave/);
  });

  it('keeps a page within what an agent can read: long arguments cut, the page ends early and the cursor goes on', async () => {
    const long = `ls ${'a'.repeat(6_000)}`;
    const medium = (i: number) => `ls ${String(i).padStart(4, '0')}${'b'.repeat(1_800)}`;
    await callRest(ts.url, operator, 'explain_command', { command: long, node: 'pve1' });
    const one = await history({ client: 'hist-operator', tool: 'explain_command', limit: 1 });
    expect(typeof one.entries[0].arguments).toBe('string');
    expect(one.entries[0].arguments).toMatch(/\.\.\. \(\d+ characters in all\)$/);
    expect(one.entries[0].arguments.length).toBeLessThan(2_100);
    for (let i = 0; i < 30; i++) {
      const response = await callRest(ts.url, operator, 'explain_command', { command: medium(i), node: 'pve1' });
      expect(response.status, JSON.stringify(response.body).slice(0, 300)).toBe(200);
    }
    const first = await history({ client: 'hist-operator', tool: 'explain_command', limit: 100 });
    expect(first.total).toBe(31);
    expect(first.count).toBeLessThan(31);
    expect(JSON.stringify(first.entries).length).toBeLessThanOrEqual(30_000);
    expect(first.next_cursor).not.toBeNull();
    const ids = first.entries.map((row) => row.id);
    let cursor = first.next_cursor;
    while (cursor !== null && ids.length < 100) {
      const page = await history({ client: 'hist-operator', tool: 'explain_command', limit: 100, cursor });
      expect(JSON.stringify(page.entries).length).toBeLessThanOrEqual(30_000);
      ids.push(...page.entries.map((row) => row.id));
      cursor = page.next_cursor;
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(31);
    // through MCP the whole default answer stays under 40,000 characters
    const client = await connectClient(ts.mcpUrl, admin, 'modern');
    try {
      const answer = await client.callTool({ name: 'get_command_history', arguments: { limit: 500 } });
      expect(JSON.stringify(answer).length).toBeLessThanOrEqual(100_000);
      const plain = await client.callTool({ name: 'get_command_history', arguments: {} });
      expect(JSON.stringify(plain).length).toBeLessThanOrEqual(40_000);
    } finally {
      await client.close();
    }
  });
});

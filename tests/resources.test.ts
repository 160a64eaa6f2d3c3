/**
 * MCP resources end to end through the official client, in both protocol eras: list, templates,
 * read, completions, cache hints, errors, roles, and no secret in any of it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectClient, startTestServer, testAdminToken, type TestServer } from './helpers/server.ts';
import { loadKnowledge } from '../lib/knowledge.ts';
import { readerFor } from '../lib/resources/common.ts';
import { redactConfig } from '../lib/resources/guest-config.ts';
import type { Caller } from '../lib/tool.ts';

let ts: TestServer;
let knowledgeDir: string;
const cloudInitPassword = 'Cl0udInit-Secret-Passw0rd';

function topicFile(id: string) {
  return {
    id,
    title: 'Backups',
    appliesTo: 'every cluster',
    summary: 'Back up every guest, keep copies off the node, test restores.',
    practices: [{ title: 'Schedule a job', why: 'People forget.', how: ['Create a job for all guests'], commands: ['vzdump --all 1 --storage pbs'] }],
    mistakes: ['Backups only on the node they protect'],
    checks: [{ id: 'guest_backup_age', params: { maxDays: 3 } }],
  };
}

beforeAll(async () => {
  ts = await startTestServer();
  // A knowledge base of our own, so the best-practice resources do not depend on the shipped topics.
  knowledgeDir = mkdtempSync(join(tmpdir(), 'pmcp-knowledge-'));
  mkdirSync(join(knowledgeDir, 'commands'));
  mkdirSync(join(knowledgeDir, 'best-practices'));
  writeFileSync(join(knowledgeDir, 'best-practices', 'backups.json'), JSON.stringify(topicFile('backups')));
  ts.server.runtime.services.knowledge = loadKnowledge(knowledgeDir);
  // A secret in a guest config: the resource must never show it.
  const guest = ts.server.simulator!.state.guests.get(100)!;
  guest.config.cipassword = cloudInitPassword;
  guest.config.ciuser = 'debian';
});

afterAll(async () => {
  await ts?.close();
  rmSync(knowledgeDir, { recursive: true, force: true });
});

function json(result: { contents: Array<{ text?: string; mimeType?: string }> }): any {
  expect(result.contents[0].mimeType).toBe('application/json');
  return JSON.parse(result.contents[0].text ?? 'null');
}

async function readError(client: Client, uri: string): Promise<Error & { code?: number }> {
  try {
    await client.readResource({ uri }, { cacheMode: 'bypass' });
  } catch (error) {
    return error as Error & { code?: number };
  }
  throw new Error(`reading ${uri} should have failed`);
}

describe.each(['legacy', 'modern', 'auto'] as const)('resources (%s era)', (era) => {
  let client: Client;
  beforeAll(async () => {
    client = await connectClient(ts.mcpUrl, ts.adminToken, era);
  });
  afterAll(async () => {
    await client?.close();
  });

  it('announces resources, prompts and completions', () => {
    const capabilities = client.getServerCapabilities();
    expect(capabilities?.resources).toBeDefined();
    expect(capabilities?.prompts).toBeDefined();
    expect(capabilities?.completions).toBeDefined();
  });

  it('lists the inventory, the history, one status per node, one config per guest and the topics', async () => {
    const { resources } = await client.listResources(undefined, { cacheMode: 'bypass' });
    const uris = resources.map((resource) => resource.uri);
    expect(uris).toContain('proxmox://cluster/inventory');
    expect(uris).toContain('proxmox://history/me');
    for (const node of ['pve1', 'pve2', 'pve3']) expect(uris).toContain(`proxmox://nodes/${node}/status`);
    for (const guest of ts.server.simulator!.state.guests.values()) expect(uris).toContain(`proxmox://guests/${guest.node}/${guest.vmid}/config`);
    expect(uris).toContain('proxmox://best-practices/backups');
    for (const resource of resources) {
      expect(resource.name).toBeTruthy();
      expect(resource.mimeType).toMatch(/^(application\/json|text\/markdown)$/);
    }
    const web01 = resources.find((resource) => resource.uri === 'proxmox://guests/pve1/100/config');
    expect(web01?.title).toBe('VM 100 web01 config');
  });

  it('lists the resource templates', async () => {
    const { resourceTemplates } = await client.listResourceTemplates(undefined, { cacheMode: 'bypass' });
    expect(resourceTemplates.map((template) => template.uriTemplate).sort()).toEqual([
      'proxmox://best-practices/{topic}',
      'proxmox://guests/{node}/{vmid}/config',
      'proxmox://metrics/{kind}/{id}/{timeframe}/{metric}',
      'proxmox://nodes/{node}/status',
    ]);
  });

  it('reads the cluster inventory as compact JSON', async () => {
    const inventory = json(await client.readResource({ uri: 'proxmox://cluster/inventory' }, { cacheMode: 'bypass' }));
    expect(inventory.nodes.map((node: { node: string }) => node.node)).toEqual(['pve1', 'pve2', 'pve3']);
    expect(inventory.summary.nodes_online).toBe(3);
    const db01 = inventory.guests.find((guest: { vmid: number }) => guest.vmid === 101);
    expect(db01).toMatchObject({ name: 'db01', type: 'qemu', node: 'pve2', status: 'running' });
    expect(inventory.guests.find((guest: { vmid: number }) => guest.vmid === 102).template).toBe(true);
    expect(inventory.storages.some((storage: { storage: string; shared?: boolean }) => storage.storage === 'nfs-backup' && storage.shared)).toBe(true);
  });

  it('reads a node\'s status with the guests on it', async () => {
    const status = json(await client.readResource({ uri: 'proxmox://nodes/pve1/status' }, { cacheMode: 'bypass' }));
    expect(status.node).toBe('pve1');
    expect(status.status).toBe('online');
    expect(typeof status.cpu_percent).toBe('number');
    expect(typeof status.mem_percent).toBe('number');
    expect(status.pve_version).toMatch(/^pve-manager\//);
    expect(status.guests.map((guest: { vmid: number }) => guest.vmid)).toContain(100);
  });

  it('reads a guest\'s config, VM and container, with the secrets removed', async () => {
    const vm = json(await client.readResource({ uri: 'proxmox://guests/pve1/100/config' }, { cacheMode: 'bypass' }));
    expect(vm).toMatchObject({ vmid: 100, node: 'pve1', type: 'qemu', name: 'web01', cli: 'qm config 100' });
    expect(vm.config.cores).toBeDefined();
    expect(vm.config.ciuser).toBe('debian');
    expect(vm.config.cipassword).toBeUndefined();
    expect(vm.hidden).toEqual(['cipassword']);
    const ct = json(await client.readResource({ uri: 'proxmox://guests/pve3/103/config' }, { cacheMode: 'bypass' }));
    expect(ct).toMatchObject({ vmid: 103, type: 'lxc', cli: 'pct config 103' });
  });

  it('says clearly when a guest or node does not exist, or the guest is elsewhere', async () => {
    const missing = await readError(client, 'proxmox://guests/pve1/999/config');
    expect(missing.message).toMatch(/999 does not exist on any node/);
    const elsewhere = await readError(client, 'proxmox://guests/pve2/100/config');
    expect(elsewhere.message).toContain('Guest 100 is on node pve1, not pve2');
    expect(elsewhere.message).toContain('proxmox://guests/pve1/100/config');
    const noNode = await readError(client, 'proxmox://nodes/pve9/status');
    expect(noNode.message).toContain("Node 'pve9' is not in this cluster");
    expect(noNode.message).toContain('pve1, pve2, pve3');
    const badId = await readError(client, 'proxmox://guests/pve1/abc/config');
    expect(badId.message).toMatch(/'abc' is not a guest id/);
    const unknown = await readError(client, 'proxmox://nowhere/at/all');
    expect(unknown.message).toMatch(/not found/i);
  });

  it('reads a best-practice topic as Markdown', async () => {
    const result = await client.readResource({ uri: 'proxmox://best-practices/backups' }, { cacheMode: 'bypass' });
    expect(result.contents[0].mimeType).toBe('text/markdown');
    const text = (result.contents[0] as { text: string }).text;
    expect(text).toContain('# Backups');
    expect(text).toContain('vzdump --all 1 --storage pbs');
    expect(text).toContain('`guest_backup_age`');
    const missing = await readError(client, 'proxmox://best-practices/nope');
    expect(missing.message).toContain("No best-practice topic 'nope'. Topics: backups");
  });

  it('completes node names, guest ids on a node and topic ids', async () => {
    const nodes = await client.complete({ ref: { type: 'ref/resource', uri: 'proxmox://nodes/{node}/status' }, argument: { name: 'node', value: 'pve' } });
    expect(nodes.completion.values).toEqual(['pve1', 'pve2', 'pve3']);
    const onPve1 = ts.server.simulator!.state.guestsByNode.get('pve1')!;
    const vmids = await client.complete({
      ref: { type: 'ref/resource', uri: 'proxmox://guests/{node}/{vmid}/config' },
      argument: { name: 'vmid', value: '10' },
      context: { arguments: { node: 'pve1' } },
    });
    const expected = [...onPve1].map(String).filter((id) => id.startsWith('10')).sort((a, b) => Number(a) - Number(b));
    expect(vmids.completion.values).toEqual(expected);
    expect(vmids.completion.values).toContain('100');
    expect(vmids.completion.values).not.toContain('101');
    const topics = await client.complete({ ref: { type: 'ref/resource', uri: 'proxmox://best-practices/{topic}' }, argument: { name: 'topic', value: 'ba' } });
    expect(topics.completion.values).toEqual(['backups']);
  });

  it('shows the caller its own calls of the last 24 hours', async () => {
    await client.callTool({ name: 'toggle_mode', arguments: { learning: false } });
    const history = json(await client.readResource({ uri: 'proxmox://history/me' }, { cacheMode: 'bypass' }));
    expect(history.client).toBe('admin-env');
    expect(history.count).toBeGreaterThan(0);
    expect(history.calls[0]).toMatchObject({ tool: 'toggle_mode', door: 'mcp', outcome: 'ok' });
    expect(Date.parse(history.calls[0].time)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('cache hints (2026-07-28)', () => {
  it('sets ttlMs and cacheScope per resource, private for the caller\'s history', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'modern');
    try {
      const read = async (uri: string) => (await client.readResource({ uri }, { cacheMode: 'bypass' })) as { ttlMs?: number; cacheScope?: string };
      expect(await read('proxmox://cluster/inventory')).toMatchObject({ ttlMs: 10_000, cacheScope: 'public' });
      expect(await read('proxmox://nodes/pve1/status')).toMatchObject({ ttlMs: 5_000, cacheScope: 'public' });
      expect(await read('proxmox://guests/pve1/100/config')).toMatchObject({ ttlMs: 15_000, cacheScope: 'public' });
      expect(await read('proxmox://history/me')).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
      expect(await read('proxmox://best-practices/backups')).toMatchObject({ ttlMs: 3_600_000, cacheScope: 'public' });
    } finally {
      await client.close();
    }
  });

  it('sends no cache fields to the 2025 revisions', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'legacy');
    try {
      const result = (await client.readResource({ uri: 'proxmox://cluster/inventory' })) as Record<string, unknown>;
      expect(result.ttlMs).toBeUndefined();
      expect(result.cacheScope).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});

describe('who can read what', () => {
  it('a viewer token in read-only mode reads every resource', async () => {
    const token = await ts.createToken({ name: 'viewer-res', role: 'viewer', mode: 'read-only', ceiling: 'read-only' });
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      try {
        const { resources } = await client.listResources(undefined, { cacheMode: 'bypass' });
        expect(resources.length).toBeGreaterThan(5);
        for (const uri of ['proxmox://cluster/inventory', 'proxmox://nodes/pve2/status', 'proxmox://guests/pve2/101/config', 'proxmox://history/me']) {
          const result = await client.readResource({ uri }, { cacheMode: 'bypass' });
          expect(result.contents[0].uri).toBe(uri);
        }
      } finally {
        await client.close();
      }
    }
  });

  it('the history shows only the caller\'s own calls', async () => {
    const token = await ts.createToken({ name: 'history-other', role: 'operator' });
    const client = await connectClient(ts.mcpUrl, token, 'auto');
    try {
      const before = json(await client.readResource({ uri: 'proxmox://history/me' }, { cacheMode: 'bypass' }));
      expect(before).toMatchObject({ client: 'history-other', count: 0, calls: [] });
      await client.callTool({ name: 'get_command_history', arguments: {} });
      const after = json(await client.readResource({ uri: 'proxmox://history/me' }, { cacheMode: 'bypass' }));
      expect(after.calls.map((call: { tool: string }) => call.tool)).toEqual(['get_command_history']);
    } finally {
      await client.close();
    }
  });

  it('resource reads only ever send GET, whatever the caller\'s mode', async () => {
    const caller: Caller = { tokenId: 't', name: 'n', role: 'admin', mode: 'normal', ceiling: 'normal', learning: false, door: 'mcp', requestId: 'r', canElicit: false };
    const pve = readerFor(ts.server.runtime, caller);
    const guest = ts.server.simulator!.state.guests.get(105)!;
    expect(guest.status).toBe('stopped');
    await expect(pve.post('/nodes/pve1/qemu/105/status/start')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(pve.delete('/nodes/pve1/qemu/105')).rejects.toThrow(/Resources only read: DELETE/);
    expect(guest.status).toBe('stopped');
  });

  it('an unauthenticated request gets 401 before any resource', async () => {
    const response = await fetch(ts.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'proxmox://cluster/inventory' } }),
    });
    expect(response.status).toBe(401);
  });
});

describe('no secrets in resource output', () => {
  it('nothing listed or read carries a password, the client token or the Proxmox token secret', async () => {
    const secrets = [cloudInitPassword, testAdminToken, ts.server.simulator!.defaultToken.secret];
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, ts.adminToken, era);
      try {
        await client.callTool({ name: 'proxmox_api', arguments: { method: 'GET', path: '/nodes/pve1/qemu/100/config' } });
        const { resources } = await client.listResources(undefined, { cacheMode: 'bypass' });
        const texts = [JSON.stringify(resources), JSON.stringify(await client.listResourceTemplates(undefined, { cacheMode: 'bypass' }))];
        for (const resource of resources) texts.push(JSON.stringify(await client.readResource({ uri: resource.uri }, { cacheMode: 'bypass' })));
        const all = texts.join('\n');
        for (const secret of secrets) expect(all).not.toContain(secret);
        expect(all).toContain('cipassword'); // named in `hidden`, so the reader knows one is set
      } finally {
        await client.close();
      }
    }
  });

  it('redactConfig removes every key named like a secret and keeps the rest', () => {
    const { config, hidden } = redactConfig({ cipassword: 'x', password: 'y', 'api-token': 'z', cores: 2, sshkeys: 'ssh-ed25519%20AAAA', keyboard: 'de' });
    expect(config).toEqual({ cores: 2, sshkeys: 'ssh-ed25519%20AAAA', keyboard: 'de' });
    expect(hidden).toEqual(['api-token', 'cipassword', 'password']);
  });
});

describe('when Proxmox fails', () => {
  it('a read says what Proxmox answered, without a stack trace', async () => {
    const sim = ts.server.simulator!;
    sim.faults.failNext(1, '500', /\/nodes\/pve2\/status$/);
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'modern');
    try {
      const error = await readError(client, 'proxmox://nodes/pve2/status');
      expect(error.message).toMatch(/^(upstream|unavailable): /);
      expect(error.message).not.toMatch(/\bat .*\.ts:\d+/);
    } finally {
      sim.faults.clear();
      await client.close();
    }
  });
});

describe('a node that is offline', () => {
  it('still lists, and its status says it is offline instead of failing', async () => {
    const sim = ts.server.simulator!;
    sim.faults.setNodeOnline('pve3', false);
    ts.server.pve.invalidate();
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'legacy');
    try {
      const { resources } = await client.listResources();
      expect(resources.map((resource) => resource.uri)).toContain('proxmox://nodes/pve3/status');
      const status = json(await client.readResource({ uri: 'proxmox://nodes/pve3/status' }));
      expect(status.status).not.toBe('online');
      expect(status.note).toContain('Node pve3 is');
    } finally {
      sim.faults.clear();
      ts.server.pve.invalidate();
      await client.close();
    }
  });
});

/**
 * Answers that fit an agent's context at any cluster size (issue 15): lists sort, page and pick fields
 * and say how to get the next page; the MCP text block is a summary and a table, never the JSON again;
 * resources/list pages; the inventory counts guests per node past a few hundred. No size targets are
 * asserted here (those live in bench/, scenario "context"); only behaviour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { createSimulator, type Simulator } from '../lib/simulator/index.ts';
import { renderAnswer, table } from '../lib/runtime/render-text.ts';
import { cursorOffset, paginate, sortKeys } from '../lib/cluster/paging.ts';
import { inventoryGuestLimit } from '../lib/resources/inventory.ts';
import { resourcePageSize } from '../lib/resources/index.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

const text = (result: { content?: unknown }) => ((result.content as { type: string; text: string }[])[0]?.text ?? '');

describe('paging', () => {
  const rows = [
    { vmid: 1, name: 'a', mem: 30 },
    { vmid: 2, name: 'b', mem: 10 },
    { vmid: 3, name: 'c' },
    { vmid: 4, name: 'd', mem: 20 },
  ];
  const options = { sortable: ['vmid', 'name', 'mem'], tieBreak: ['vmid'], columns: ['vmid', 'name', 'mem'], key: ['vmid'] };

  it('sorts descending with missing values last, pages with a cursor, keeps the key column', () => {
    const first = paginate(rows, { limit: 2, sort: '-mem' }, options);
    expect(first.rows.map((row) => row.vmid)).toEqual([1, 4]);
    expect(first).toMatchObject({ total: 4, returned: 2, next_cursor: '2' });
    const second = paginate(rows, { limit: 2, sort: '-mem', cursor: first.next_cursor!, fields: ['mem'] }, options);
    expect(second.rows).toEqual([{ vmid: 2, mem: 10 }, { vmid: 3 }]);
    expect(second.next_cursor).toBeNull();
  });

  it('refuses an unknown sort field or column with did-you-mean, and a cursor it did not give', () => {
    expect(() => sortKeys('-memroy', ['vmid', 'mem', 'name'])).toThrow(/Cannot sort by 'memroy'.*Sort by: vmid, mem, name/);
    expect(() => paginate(rows, { limit: 2, fields: ['nmae'] }, options)).toThrow(/Unknown field 'nmae' \(did you mean 'name'\?\)/);
    for (const cursor of ['-1', 'abc', '1e3', '0x10', ' 1', '1\u0000', '9999999999']) expect(() => cursorOffset(cursor), cursor).toThrow(/cursor/);
  });
});

describe('the text block', () => {
  it('is a summary, warnings and a compact table, not the JSON', () => {
    const rendered = renderAnswer({
      headline: '2 VMs',
      data: { total: 2, next_cursor: null, guests: [{ vmid: 100, name: 'web', mem: 4 * 1024 ** 3, tags: ['a', 'b'], template: false }, { vmid: 101, name: 'db|x', mem: 0, tags: [], template: true }] },
      warnings: ['Node pve3 is offline'],
      suggestions: ['vm_status for one'],
    });
    expect(rendered).toContain('2 VMs');
    expect(rendered).toContain('Warning: Node pve3 is offline');
    expect(rendered).toContain('| vmid | name | mem | tags | template |');
    expect(rendered).toContain('| 100 | web | 4.0G | a,b | no |');
    expect(rendered).toContain('db/x'); // a pipe in a value does not break the table
    expect(rendered).not.toContain('{"total"');
    expect(table([])).toBe('');
  });
});

describe('at 32 nodes and 2,000 guests', () => {
  let sim: Simulator;
  let ts: TestServer;
  let client: Client;

  beforeAll(async () => {
    sim = createSimulator({ nodes: 32, guests: 2000, taskDurationMs: 5 });
    ts = await startTestServer({ build: { simulator: sim } });
    client = await connectClient(ts.mcpUrl, ts.adminToken, 'modern');
  });
  afterAll(async () => {
    await client?.close();
    await ts?.close();
    sim?.close();
  });

  it('list_vms answers "which VM uses the most memory" with sort, and pages through the rest', async () => {
    const top = await client.callTool({ name: 'list_vms', arguments: { sort: '-mem', limit: 3, fields: ['name', 'mem', 'node'] } });
    const data = (top.structuredContent as { data: { guests: { vmid: number; mem?: number }[]; total: number; next_cursor: string } }).data;
    const qemu = [...sim.state.guests.values()].filter((guest) => guest.type === 'qemu');
    expect(data.total).toBeGreaterThan(500);
    expect(data.guests).toHaveLength(3);
    expect(data.guests[0]!.mem!).toBeGreaterThanOrEqual(data.guests[1]!.mem!);
    expect(Object.keys(data.guests[0]!).sort()).toEqual(['mem', 'name', 'node', 'vmid']);
    expect(data.next_cursor).toBe('3');
    expect(text(top)).toMatch(/VMs 1-3 of \d+ sorted by -mem; next page: cursor "3"/);
    expect(text(top)).toContain('| vmid | name | mem | node |');
    expect(qemu.length).toBeGreaterThan(0);

    let seen = 0;
    let cursor: string | null = null;
    do {
      const page = await callRest(ts.url, ts.adminToken, 'list_vms', { limit: 1000, ...(cursor ? { cursor } : {}) });
      seen += page.body.data.returned;
      cursor = page.body.data.next_cursor;
    } while (cursor);
    expect(seen).toBe(data.total);
  });

  it('a default answer carries no size hint; one the caller asked to be large says how large it is', async () => {
    const small = await client.callTool({ name: 'list_vms', arguments: {} });
    expect(small._meta?.['anthropic/maxResultSizeChars']).toBeUndefined();
    const large = await client.callTool({ name: 'list_vms', arguments: { limit: 5000 } });
    const size = text(large).length + JSON.stringify(large.structuredContent).length;
    expect(size).toBeGreaterThan(40_000);
    expect(large._meta?.['anthropic/maxResultSizeChars']).toBeGreaterThanOrEqual(size);
  });

  it('resources/list gives pages with a cursor, and all pages together list every guest once', async () => {
    const first = await client.listResources({ cursor: '0' });
    expect(first.resources).toHaveLength(resourcePageSize);
    expect(first.nextCursor).toBe(String(resourcePageSize));
    const everything = await client.listResources();
    const uris = everything.resources.map((resource) => resource.uri);
    expect(new Set(uris).size).toBe(uris.length);
    expect(uris.filter((uri) => uri.startsWith('proxmox://guests/'))).toHaveLength(sim.state.guests.size);
    await expect(client.listResources({ cursor: 'nope' })).rejects.toThrow(/not one this server gave/);
  });

  it('the inventory counts guests per node past its limit, and says how to list them', async () => {
    const read = await client.readResource({ uri: 'proxmox://cluster/inventory' });
    const inventory = JSON.parse((read.contents[0] as { text: string }).text) as { summary: { guests: number }; guests?: unknown[]; guests_by_node?: { guests: number }[]; next: string[] };
    expect(inventory.summary.guests).toBeGreaterThan(inventoryGuestLimit);
    expect(inventory.guests).toBeUndefined();
    expect(inventory.guests_by_node!.reduce((sum, node) => sum + node.guests, 0)).toBe(inventory.summary.guests);
    expect(inventory.next[0]).toMatch(/list_vms and list_containers sort and page/);
  });

  it('node_status gives the top N nodes by a measure', async () => {
    const top = await callRest(ts.url, ts.adminToken, 'node_status', { sort: '-cpu', limit: 3 });
    const nodes = top.body.data.nodes as { cpu_percent?: number }[];
    expect(nodes).toHaveLength(3);
    expect(nodes[0]!.cpu_percent!).toBeGreaterThanOrEqual(nodes[1]!.cpu_percent!);
    expect(nodes[1]!.cpu_percent!).toBeGreaterThanOrEqual(nodes[2]!.cpu_percent!);
    expect(top.body.data.online + top.body.data.offline.length).toBe(32);
    const wrong = await callRest(ts.url, ts.adminToken, 'node_status', { sort: '-cpuu' });
    expect(wrong.body.error.message).toMatch(/did you mean 'cpu'/);
  });

  it('node_status for all nodes leaves out each node\'s storages, and gives them for one node', async () => {
    const all = await callRest(ts.url, ts.adminToken, 'node_status', {});
    expect(all.body.data.nodes).toHaveLength(32);
    expect(all.body.data.nodes[0].storage).toBeUndefined();
    const one = await callRest(ts.url, ts.adminToken, 'node_status', { node: 'pve7' });
    expect(one.body.data.nodes[0].storage.length).toBeGreaterThan(0);
  });
});

/**
 * Issue 17, metrics history: the PNG the server draws is a real PNG (signature, every chunk's CRC, IHDR
 * size, IDAT inflates to the rows), the summaries answer "why was VM 101 slow last night" and "which node is
 * the busiest", both simulated versions, both doors (image block over MCP, base64 over REST, the chart
 * resource), and the unhappy paths.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import metricsHistory from '../functions/metrics_history.ts';
import { callTool, explainTool, privilegesOf, testContext } from './helpers/ctx.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { crc32, encodePalettePng } from '../lib/metrics/png.ts';
import { renderLineChart, niceCeiling } from '../lib/metrics/chart.ts';
import { settingsKeyForToolsets } from '../lib/toolsets.ts';
import { ToolError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';

interface Decoded {
  width: number;
  height: number;
  colourType: number;
  chunks: string[];
  rows: Uint8Array;
}

/** Decode a PNG far enough to prove it is one: signature, chunk CRCs, IHDR, IDAT inflating to the rows. */
function decodePng(bytes: Uint8Array): Decoded {
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: string[] = [];
  const idat: Uint8Array[] = [];
  let at = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  while (at < bytes.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    expect(view.getUint32(at + 8 + length), `CRC of ${type}`).toBe(crc32(bytes, at + 4, at + 8 + length));
    chunks.push(type);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      expect(data[8]).toBe(8);
      colourType = data[9];
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  expect(chunks[0]).toBe('IHDR');
  expect(chunks.at(-1)).toBe('IEND');
  const rows = new Uint8Array(inflateSync(Buffer.concat(idat)));
  expect(rows.length).toBe((width + 1) * height);
  for (let y = 0; y < height; y++) expect(rows[y * (width + 1)]).toBe(0);
  return { width, height, colourType, chunks, rows };
}

async function refusal(promise: Promise<unknown>): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    return error as ToolError;
  }
  throw new Error('expected a refusal');
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

describe('the PNG encoder and the chart', () => {
  test('a known image: CRC-32 check value, pixels back out of IDAT', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const pixels = Uint8Array.from({ length: 6 }, (_, i) => i % 2);
    const png = decodePng(encodePalettePng(3, 2, pixels, [[0, 0, 0], [255, 255, 255]]));
    expect(png).toMatchObject({ width: 3, height: 2, colourType: 3, chunks: ['IHDR', 'PLTE', 'IDAT', 'IEND'] });
    expect([...png.rows]).toEqual([0, 0, 1, 0, 0, 1, 0, 1]);
    expect(() => encodePalettePng(0, 1, new Uint8Array(0), [[0, 0, 0]])).toThrow();
    expect(() => encodePalettePng(2, 2, new Uint8Array(3), [[0, 0, 0]])).toThrow();
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(730)).toBe(1000);
    expect(niceCeiling(42)).toBe(50);
  });

  test('a chart with gaps, NaN and no data still draws', () => {
    const times = Array.from({ length: 10 }, (_, i) => 1_700_000_000 + i * 60);
    for (const values of [[1, 2, null, 4, Number.NaN, 6, 7, 8, 9, 10], Array(10).fill(null), Array(10).fill(0)]) {
      const png = decodePng(renderLineChart({ times, series: [{ name: 'cpu', values }], format: (v) => `${v}%`, timeLabel: (t) => String(t % 100), width: 200, height: 100 }));
      expect(png.width).toBe(200);
    }
    decodePng(renderLineChart({ times: [], series: [], format: String, timeLabel: String }));
  });
});

for (const pveVersion of ['8.4', '9.1'] as const) {
  describe(`metrics_history on PVE ${pveVersion}`, () => {
    test('"why was VM 101 slow last night": the nightly CPU peak, when, and whether the node was busy too; a chart', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const out = await callTool(metricsHistory, { vmid: 101, timeframe: 'day', chart: 'cpu' }, t.ctx);
        expect(out.data.target).toBe('VM 101 (db01)');
        expect(out.data.points).toBe(70);
        const cpu = out.data.metrics!.cpu.series.cpu;
        expect(cpu.peak).toBeGreaterThan(80);
        const hour = Number(cpu.peak_at.slice(11, 13));
        expect(hour === 2 || hour === 3).toBe(true);
        expect(out.data.stands_out.join(' ')).toMatch(/cpu \d+% peak from \S+T0[23]:\d\dZ to \S+T0[23]:\d\dZ/);
        expect(out.data.node_at_peak).toMatchObject({ node: t.sim.state.guests.get(101)!.node, at: cpu.peak_at });
        expect(out.summary).toContain('VM 101 (db01) over the day');
        expect(out.data.metrics!.disk.series.read.avg).toBeGreaterThan(0);
        expect(out.data.chart).toMatchObject({ metric: 'cpu', uri: 'proxmox://metrics/guest/101/day/cpu', width: 720, height: 300 });
        expect(out.data.chart?.png_base64).toBeUndefined(); // only REST carries it in the data
        const png = fromBase64(out.images![0].data);
        expect(decodePng(png)).toMatchObject({ width: 720, height: 300, colourType: 3 });
        mkdirSync(join(projectRoot, 'test-artifacts'), { recursive: true });
        writeFileSync(join(projectRoot, 'test-artifacts', `metrics-vm101-day-cpu-pve${pveVersion}.png`), png);
        expect(await privilegesOf(metricsHistory, { vmid: 101 }, t.ctx)).toEqual([{ path: '/vms/101', privileges: ['VM.Audit'] }]);
        expect((await explainTool(metricsHistory, { vmid: 101 }, t.ctx)).risk).toBe('none');
      } finally {
        t.close();
      }
    });

    test('a storage\'s use over time: rising, when it fills, a chart; a storage is named with its node', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const out = await callTool(metricsHistory, { node: 'pve1', storage: 'local-lvm', timeframe: 'month', chart: 'disk' }, t.ctx);
        expect(out.data.target).toBe('storage local-lvm on pve1');
        expect(out.data.points).toBe(70);
        const used = out.data.metrics!.disk.series.used;
        expect(used.trend).toBe('rising');
        expect(used.peak).toBeGreaterThan(used.min);
        expect(Object.keys(out.data.metrics!)).toEqual(['disk']);
        expect(out.data.stands_out.join(' ')).toMatch(/at the pace of this month, local-lvm on pve1 is full in about [\d.]+ days/);
        expect(out.data.chart?.uri).toBe('proxmox://metrics/storage/pve1%3Alocal-lvm/month/disk');
        expect(decodePng(fromBase64(out.images![0].data)).width).toBe(720);
        const plan = await explainTool(metricsHistory, { node: 'pve1', storage: 'local-lvm' }, t.ctx);
        expect(plan.apiCalls).toEqual(['GET /nodes/pve1/storage/local-lvm/rrddata?timeframe=day&cf=AVERAGE']);
        expect(await privilegesOf(metricsHistory, { node: 'pve1', storage: 'local-lvm' }, t.ctx)).toEqual([{ path: '/storage/local-lvm', privileges: ['Datastore.Audit'] }]);
        // the request the simulator validated against the schema
        expect(t.requests.some((r) => r.method === 'GET' && r.path === '/nodes/pve1/storage/local-lvm/rrddata')).toBe(true);
        // unhappy paths: no node, no such storage, a metric a storage has not, two targets
        const refusal = (args: Record<string, unknown>) => callTool(metricsHistory, args, t.ctx).then(() => { throw new Error('expected a refusal'); }, (e: ToolError) => e);
        expect((await refusal({ storage: 'local-lvm' })).message).toMatch(/needs node/);
        expect((await refusal({ node: 'pve1', storage: 'nosuch' })).message).toMatch(/Storage 'nosuch' is not on node pve1\. Storages there: .*local-lvm/);
        expect((await refusal({ node: 'pve9', storage: 'local' })).code).toBe('not_found');
        expect((await refusal({ node: 'pve1', storage: 'local', metrics: ['cpu'] })).message).toMatch(/use only: metrics disk/);
        expect((await refusal({ node: 'pve1', storage: 'local', chart: 'network' })).message).toMatch(/not network/);
        expect((await refusal({ node: 'pve1', storage: 'local', vmid: 101 })).message).toMatch(/two targets/);
        expect(() => metricsHistory.input.parse({ node: 'pve1', storage: '../x' })).toThrow();
        expect(() => metricsHistory.input.parse({ node: 'pve1', storage: 'a%2fb' })).toThrow();
      } finally {
        t.close();
      }
    });

    test('"which node is the busiest this week": every node, busiest first, with a comparison chart', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        const out = await callTool(metricsHistory, { timeframe: 'week', chart: 'cpu' }, t.ctx);
        const rows = out.data.nodes as { node: string; cpu_avg: number }[];
        expect(rows.length).toBe(t.sim.state.nodes.size);
        expect(rows.map((r) => r.cpu_avg)).toEqual([...rows.map((r) => r.cpu_avg)].sort((a, b) => b - a));
        expect(out.summary).toContain(`busiest ${rows[0].node}`);
        decodePng(fromBase64(out.images![0].data));
        const node = await callTool(metricsHistory, { node: rows[0].node, timeframe: 'hour', cf: 'MAX', metrics: ['memory', 'network'] }, t.ctx);
        expect(Object.keys(node.data.metrics!).sort()).toEqual(['memory', 'network']);
        expect(node.data.metrics!.memory.unit).toBe('%');
        const sorted = await callTool(metricsHistory, { sort: 'node', fields: 'mem_avg', limit: 1 }, t.ctx);
        expect(Object.keys(sorted.data.nodes![0]).sort()).toEqual(['mem_avg', 'node']);
        expect(sorted.data.next_cursor).toBe('1');
      } finally {
        t.close();
      }
    });

    test('unhappy paths', async () => {
      const t = testContext({ simOptions: { pveVersion } });
      try {
        expect((await refusal(callTool(metricsHistory, { vmid: 99999 }, t.ctx))).code).toBe('not_found');
        const unknown = await refusal(callTool(metricsHistory, { node: 'nope' }, t.ctx));
        expect(unknown.code).toBe('not_found');
        expect(unknown.message).toMatch(/Nodes: /);
        const db = t.sim.state.guests.get(101)!;
        const other = [...t.sim.state.nodes.keys()].find((n) => n !== db.node)!;
        expect((await refusal(callTool(metricsHistory, { vmid: 101, node: other }, t.ctx))).code).toBe('invalid_input');
        expect(() => metricsHistory.input.parse({ timeframe: 'decade' })).toThrow();
        expect(() => metricsHistory.input.parse({ chart: 'disk;rm' })).toThrow();
        expect(() => metricsHistory.input.parse({ metrics: [] })).toThrow();
        t.sim.faults.setNodeOnline(db.node, false);
        t.pve.invalidate();
        expect((await refusal(callTool(metricsHistory, { node: db.node }, t.ctx))).code).toBe('unavailable');
        const all = await callTool(metricsHistory, {}, t.ctx);
        expect(all.data.offline_nodes).toEqual([db.node]);
        expect(all.warnings?.join(' ')).toContain(db.node);
      } finally {
        t.close();
      }
    });
  });
}

describe('metrics through both doors', () => {
  let ts: SafetyServer;
  beforeAll(async () => {
    ts = await startSafetyServer();
  }, 60_000);
  afterAll(async () => {
    await ts?.close();
  });

  test('REST gives the PNG as base64; MCP an image block (both eras); the chart resource a PNG blob', async () => {
    const token = await ts.createToken({ name: 'metrics-viewer', role: 'viewer' });
    const record = await ts.server.store.tokens.byName('metrics-viewer');
    const before = await connectClient(ts.mcpUrl, token, 'modern');
    expect((await before.listTools()).tools.map((tool) => tool.name)).not.toContain('metrics_history');
    await before.close();
    // REST refuses what MCP does not list, naming the toolset and the command
    const refused = await callRest(ts.url, token, 'metrics_history', { vmid: 101, chart: 'memory' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("'metrics' toolset");
    expect(refused.body.error.message).toContain('npm run token -- toolsets metrics-viewer metrics');
    await ts.server.store.settings.set(settingsKeyForToolsets(record!.id), ['metrics']);
    const rest = await callRest(ts.url, token, 'metrics_history', { vmid: 101, chart: 'memory' });
    expect(rest.status).toBe(200);
    decodePng(fromBase64(rest.body.data.chart.png_base64));
    const storageRest = await callRest(ts.url, token, 'metrics_history', { node: 'pve2', storage: 'local', chart: 'disk' });
    expect(storageRest.status, JSON.stringify(storageRest.body)).toBe(200);
    expect(storageRest.body.data.metrics.disk.series.used.avg).toBeGreaterThan(0);
    decodePng(fromBase64(storageRest.body.data.chart.png_base64));
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      const listed = (await client.listTools()).tools.find((tool) => tool.name === 'metrics_history');
      expect(listed?.annotations?.readOnlyHint).toBe(true);
      const answer = await client.callTool({ name: 'metrics_history', arguments: { vmid: 101, chart: 'cpu' } });
      const image = (answer.content as { type: string; data?: string; mimeType?: string }[]).find((block) => block.type === 'image');
      expect(image?.mimeType).toBe('image/png');
      decodePng(fromBase64(image!.data!));
      const resource = await client.readResource({ uri: 'proxmox://metrics/guest/101/week/network' });
      const content = resource.contents[0] as { mimeType?: string; blob?: string };
      expect(content.mimeType).toBe('image/png');
      expect(decodePng(fromBase64(content.blob!)).width).toBe(720);
      const storage = await client.callTool({ name: 'metrics_history', arguments: { node: 'pve1', storage: 'local', timeframe: 'week' } });
      expect(JSON.stringify(storage.structuredContent)).toContain('storage local on pve1');
      const storageChart = await client.readResource({ uri: 'proxmox://metrics/storage/pve1:local/week/disk' });
      expect(decodePng(fromBase64((storageChart.contents[0] as { blob: string }).blob)).height).toBe(300);
      await expect(client.readResource({ uri: 'proxmox://metrics/storage/pve1:local/week/cpu' })).rejects.toThrow(/storage chart/);
      await expect(client.readResource({ uri: 'proxmox://metrics/guest/101/decade/cpu' })).rejects.toThrow(/Timeframe 'decade'/);
      await expect(client.readResource({ uri: 'proxmox://metrics/guest/99999/day/cpu' })).rejects.toThrow(/99999/);
      await client.close();
    }
    expect(ts.changesSent).toEqual([]);
  }, 60_000);
});

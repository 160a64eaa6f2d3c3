/**
 * The health report names each failing dependency and what to do about it: Proxmox down or unreachable,
 * a wrong Proxmox token, the database closed or refusing writes, SSH failing, the backup directory
 * unwritable or short of space, and a host updater that does not answer. Also through both doors.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../lib/config.ts';
import { silentLogger } from '../lib/log.ts';
import { createPveClient } from '../lib/pve/client.ts';
import type { PveClient } from '../lib/pve/types.ts';
import { healthReport, type HealthDeps, type HealthReport } from '../lib/runtime/health.ts';
import { createSimulator, type Simulator } from '../lib/simulator/index.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import type { CommandExecutor } from '../lib/exec/executor.ts';
import { writeUpdateRequest } from '../lib/self/update-protocol.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

let dir: string;
let config: Config;
let store: Store;
let simulator: Simulator;
let pve: PveClient;

function client(secret = simulator.defaultToken.secret, baseUrl = 'https://simulated-cluster:8006'): PveClient {
  return createPveClient({
    baseUrl,
    tokenId: simulator.defaultToken.tokenId,
    tokenSecret: secret,
    ...(baseUrl.startsWith('https://simulated') ? { fetch: simulator.fetch } : {}),
    timeoutMs: 1500,
    retries: 0,
    log: silentLogger,
  });
}

const check = (report: HealthReport, name: string) => report.checks.find((item) => item.name === name);
const run = (overrides: Partial<HealthDeps> = {}) =>
  healthReport({ name: 'proxmox-mcp', version: '0.1.0', startedAt: new Date(Date.now() - 5000), config, store, pve, simulated: false, ...overrides });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pmcp-health-'));
  config = loadConfig({ MCP_DATA_DIR: dir }, { envFile: null });
  store = await openStore(config.databaseUrl);
  simulator = createSimulator();
  pve = client();
});
afterEach(async () => {
  await store.close().catch(() => undefined);
  simulator.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the health report', () => {
  it('is ok when everything answers', async () => {
    const report = await run();
    expect(report.status).toBe('ok');
    expect(report.uptime_s).toBeGreaterThanOrEqual(5);
    expect(check(report, 'proxmox_api')?.status).toBe('ok');
    expect(check(report, 'proxmox_token')?.status).toBe('ok');
    expect(check(report, 'database')?.detail).toMatch(/takes writes/);
    expect(check(report, 'backup_space')?.status).toBe('ok');
    // the write probe leaves nothing behind (the permissions baseline is the one setting a health check keeps)
    expect(Object.keys(await store.settings.all()).filter((key) => key !== 'proxmox.permissions.baseline')).toEqual([]);
  });

  it('reports Proxmox answering with errors (simulated 500s)', async () => {
    simulator.faults.fail('500', /^\/version/, { message: 'internal error' });
    const report = await run();
    expect(report.status).toBe('degraded');
    expect(check(report, 'proxmox_api')).toMatchObject({ status: 'fail', action: expect.stringMatching(/PROXMOX_URL|pveproxy/) });
    expect(check(report, 'proxmox_token')?.status).toBe('skipped');
  });

  it('reports an unreachable Proxmox URL', async () => {
    const report = await run({ pve: client(simulator.defaultToken.secret, 'https://127.0.0.1:1') });
    expect(check(report, 'proxmox_api')).toMatchObject({ status: 'fail', action: expect.stringMatching(/PROXMOX_URL/) });
  });

  it('reports a hanging Proxmox within its own time limit', async () => {
    simulator.faults.fail('hang', /^\/version/);
    const started = Date.now();
    const report = await run();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(check(report, 'proxmox_api')?.status).toBe('fail');
  });

  it('tells a wrong token apart from an unreachable API', async () => {
    const report = await run({ pve: client('wrong-secret-value') });
    expect(check(report, 'proxmox_api')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/refuses the token/) });
    expect(check(report, 'proxmox_token')).toMatchObject({ status: 'fail', action: expect.stringMatching(/PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET/) });
  });

  it('reports a closed database as down', async () => {
    await store.close();
    const report = await run();
    expect(report.status).toBe('down');
    expect(check(report, 'database')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/does not answer/), action: expect.stringMatching(/DATABASE_URL/) });
  });

  it('reports a database that answers but refuses writes', async () => {
    const readOnly = new Proxy(store.client, {
      get(target, property, receiver) {
        if (property === 'batch') return async () => Promise.reject(new Error('SQLITE_READONLY: attempt to write a readonly database'));
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const report = await run({ store: { ...store, client: readOnly, ping: store.ping, sizeBytes: store.sizeBytes } as Store });
    expect(report.status).toBe('down');
    expect(check(report, 'database')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/cannot be written: .*readonly/) });
  });

  it('reports SSH failing on a node, with what to do', async () => {
    const exec: CommandExecutor = {
      run: async () => {
        throw new Error('not used');
      },
      check: async (node) => (node === 'pve2' ? { ok: false, error: 'host key for pve2 changed' } : { ok: true, latencyMs: 3 }),
      close: async () => undefined,
    };
    const report = await run({ exec });
    expect(check(report, 'ssh_pve1')?.status).toBe('ok');
    expect(check(report, 'ssh_pve2')).toMatchObject({ status: 'fail', detail: 'host key for pve2 changed', action: expect.stringMatching(/authorized_keys|host key/) });
    expect(report.status).toBe('degraded');
  });

  it('reports an unwritable backup directory, and one short of space', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const unwritable = await run({ config: { ...config, backupDir: join(file, 'backups') } });
    expect(check(unwritable, 'backup_space')).toMatchObject({ status: 'fail', action: expect.stringMatching(/MCP_BACKUP_DIR/) });
    const full = await run({ minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(check(full, 'backup_space')).toMatchObject({ status: 'warn', action: expect.stringMatching(/Free some space/) });
  });

  it('warns when the host-side updater has not answered an update request', async () => {
    mkdirSync(config.updateDir, { recursive: true });
    writeUpdateRequest(config.updateDir, { id: 'x1', action: 'update', target_tag: 'v0.2.0', previous_tag: 'v0.1.0', requested_at: new Date(Date.now() - 30 * 60_000).toISOString(), requested_by: 'admin' });
    const report = await run();
    expect(check(report, 'updater')).toMatchObject({ status: 'warn', action: expect.stringMatching(/proxmox-mcp-update\.path/) });
  });
});

describe('health_check through both doors', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('gives the full report over REST and MCP, with the failing checks as warnings and actions as suggestions', async () => {
    const ok = await callRest(ts.url, ts.adminToken, 'health_check', {});
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ status: 'ok', simulated: true, notice: expect.stringMatching(/SIMULATED/) });

    const stop = ts.server.simulator!.faults.fail('500', /^\/version/);
    try {
      const viewer = await ts.createToken({ role: 'viewer' });
      const client = await connectClient(ts.mcpUrl, viewer);
      try {
        const result = await client.callTool({ name: 'health_check', arguments: {} });
        const envelope = result.structuredContent as any;
        expect(result.isError).toBeFalsy();
        expect(envelope.data.status).toBe('degraded');
        expect(envelope.warnings.join('\n')).toMatch(/proxmox_api/);
        expect(envelope.suggestions.join('\n')).toMatch(/PROXMOX_URL/);
      } finally {
        await client.close();
      }
    } finally {
      stop();
    }
  });

  it('/health with a token is the same report; without one, liveness only', async () => {
    const full = (await (await fetch(`${ts.url}/health`, { headers: { authorization: `Bearer ${ts.adminToken}` } })).json()) as any;
    expect(full.checks.map((item: { name: string }) => item.name)).toEqual(expect.arrayContaining(['proxmox_api', 'proxmox_token', 'database', 'backup_space']));
    const live = (await (await fetch(`${ts.url}/health`)).json()) as any;
    expect(live.checks).toBeUndefined();
  });
});

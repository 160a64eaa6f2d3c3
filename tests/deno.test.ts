/** The server runs on Deno 2 too: start server.ts under Deno and make one MCP call with the official client. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoBin, freePort, startAndWait, type Started } from './helpers/processes.ts';
import { connectClient, testAdminToken } from './helpers/server.ts';

let started: Started;
let port: number;
const dataDir = mkdtempSync(join(tmpdir(), 'pmcp-deno-'));

beforeAll(async () => {
  port = await freePort();
  started = await startAndWait(denoBin, ['run', '-A', 'server.ts'], `http://127.0.0.1:${port}/health`, {
    env: { MCP_PORT: String(port), MCP_HOST: '127.0.0.1', MCP_DATA_DIR: dataDir, MCP_ADMIN_TOKEN: testAdminToken, PROXMOX_URL: '' },
    timeoutMs: 90_000,
  });
}, 120_000);

afterAll(async () => {
  await started?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Deno 2', () => {
  it('serves /health and an MCP tool call', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    const client = await connectClient(`http://127.0.0.1:${port}/mcp`, testAdminToken, 'auto');
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { data: { mode: string } }).data.mode).toBe('safe');
      expect(started.output()).toMatch(/Deno/);
    } finally {
      await client.close();
    }
  });
});

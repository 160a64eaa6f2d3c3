/** The server runs on Deno 2 too: start server.ts under Deno and make one MCP call with the official client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDenoServer, type DenoServer } from './helpers/processes.ts';
import { connectClient, testAdminToken } from './helpers/server.ts';

let started: DenoServer;
let port: number;

beforeAll(async () => {
  started = await startDenoServer(testAdminToken, 'pmcp-deno-');
  port = started.port;
}, 120_000);

afterAll(async () => {
  await started?.stop();
});

describe('Deno 2', () => {
  it('serves /health and an MCP tool call', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    const client = await connectClient(`http://127.0.0.1:${port}/mcp`, testAdminToken, 'auto');
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: { learning: false } });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { data: { mode: string } }).data.mode).toBe('safe');
      expect(started.output()).toMatch(/Deno/);
    } finally {
      await client.close();
    }
  });
});

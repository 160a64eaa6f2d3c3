/**
 * The doors under Deno 2 (Deno.serve instead of @hono/node-server): no body is read before the token is
 * checked, bodies are capped with and without Content-Length, and the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBig } from './helpers/big-body.ts';
import { startDenoServer, type DenoServer } from './helpers/processes.ts';
import { testAdminToken } from './helpers/server.ts';

let started: DenoServer;
let base: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  started = await startDenoServer(testAdminToken, 'pmcp-deno-doors-');
  base = started.base;
}, 120_000);

afterAll(async () => {
  await started?.stop();
});

async function healthOk(): Promise<void> {
  const response = await fetch(`${base}/health`);
  expect(response.status).toBe(200);
  await response.text();
}

describe('doors on Deno', () => {
  for (const path of ['/mcp', '/v1/tools/list_vms']) {
    it(`${path}: 100 MB chunked without a token is 401, with one 413; over the cap by Content-Length 413`, async () => {
      const anonymous = await sendBig(base, path, { total: 100 * MiB, chunked: true });
      expect(anonymous.status).toBe(401);
      expect(anonymous.written).toBeLessThan(100 * MiB);
      const authorized = await sendBig(base, path, { total: 100 * MiB, chunked: true, headers: { authorization: `Bearer ${testAdminToken}` } });
      expect(authorized.status).toBe(413);
      expect(authorized.body).toContain('MCP_MAX_BODY_BYTES');
      const declared = await sendBig(base, path, { total: 100 * MiB, chunked: false, headers: { authorization: `Bearer ${testAdminToken}` } });
      expect(declared.status).toBe(413);
      await healthOk();
    }, 120_000);
  }

  it('a wrong method is 405 with Allow, and the OAuth registration explains the token', async () => {
    const wrong = await fetch(`${base}/v1/tools/list_vms`, { headers: { authorization: `Bearer ${testAdminToken}` } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, OPTIONS');
    const register = await fetch(`${base}/register`, { method: 'POST', body: '{}' });
    expect(register.status).toBe(400);
    expect(((await register.json()) as { error_description: string }).error_description).toContain('Authorization: Bearer <token>');
  });
});

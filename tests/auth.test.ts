/** Client authentication on every door, and Host/Origin checks. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, startTestServer, type TestServer } from './helpers/server.ts';

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

async function postMcp(token: string | undefined, headers: Record<string, string> = {}) {
  return fetch(ts.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(initialize),
  });
}

describe('client tokens', () => {
  it('401 with WWW-Authenticate when the token is missing', async () => {
    const response = await postMcp(undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const rest = await callRest(ts.url, undefined, 'toggle_mode');
    expect(rest.status).toBe(401);
    expect(rest.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('401 for a wrong token, without echoing it', async () => {
    const response = await postMcp('pmcp_wrongwrongwrongwrongwrongwrongwrongwrong12');
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(text).not.toContain('wrongwrong');
  });

  it('401 for a revoked token', async () => {
    const token = await ts.createToken({ name: 'to-revoke' });
    expect((await postMcp(token)).status).toBe(200);
    await ts.server.store.tokens.revoke('to-revoke');
    const response = await postMcp(token);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('revoked');
  });

  it('401 for an expired token', async () => {
    const token = await ts.createToken({ name: 'expired', expiresAt: Date.now() - 1000 });
    const response = await postMcp(token);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('expired');
    expect((await callRest(ts.url, token, 'toggle_mode')).status).toBe(401);
  });

  it('a rotated token replaces the old one at once', async () => {
    const old = await ts.createToken({ name: 'rotating' });
    const fresh = await ts.server.store.tokens.rotate('rotating');
    expect((await postMcp(old)).status).toBe(401);
    expect((await postMcp(fresh)).status).toBe(200);
  });

  it('stores only a hash of the token', async () => {
    const token = await ts.createToken({ name: 'hashed' });
    const rows = await ts.server.store.client.execute('SELECT * FROM client_tokens');
    expect(JSON.stringify(rows.rows)).not.toContain(token);
  });

  it('slows down an address that keeps failing', async () => {
    for (let i = 0; i < 6; i++) await postMcp('pmcp_bad-token-for-throttle-test-xxxxxxxxxxxxxxxxx');
    const started = performance.now();
    await postMcp('pmcp_bad-token-for-throttle-test-xxxxxxxxxxxxxxxxx');
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
  });
});

describe('health', () => {
  it('answers liveness without a token and without secrets', async () => {
    const response = await fetch(`${ts.url}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['name', 'simulated', 'status', 'uptime_s', 'version']);
  });

  it('gives the full report with a token', async () => {
    const response = await fetch(`${ts.url}/health`, { headers: { authorization: `Bearer ${ts.adminToken}` } });
    const body = (await response.json()) as { checks: { name: string }[]; notice?: string };
    expect(body.checks.map((check) => check.name)).toContain('database');
    expect(body.notice).toMatch(/SIMULATED/);
  });

  it('refuses a wrong token on the full report', async () => {
    const response = await fetch(`${ts.url}/health`, { headers: { authorization: 'Bearer nope-nope-nope' } });
    expect(response.status).toBe(401);
  });
});

describe('Host and Origin', () => {
  it('403 for a Host that is not allowed (DNS rebinding)', async () => {
    // fetch() will not send a Host header of our choosing; node:http will.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(ts.mcpUrl);
      const req = request({ host: '127.0.0.1', port: url.port, path: '/mcp', method: 'POST', headers: { host: 'evil.example.com', authorization: `Bearer ${ts.adminToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify(initialize));
    });
    expect(status).toBe(403);
  });

  it('403 for a foreign Origin, allowed for localhost', async () => {
    expect((await postMcp(ts.adminToken, { origin: 'https://evil.example.com' })).status).toBe(403);
    expect((await postMcp(ts.adminToken, { origin: 'http://localhost:5173' })).status).toBe(200);
  });
});

/**
 * The Origin check and CORS, driven by MCP_ALLOWED_ORIGINS: preflights and real requests from an
 * allowed origin, a foreign one, look-alikes (other scheme, other port), localhost, and no origin; the
 * official MCP client in both eras from a browser origin. Allowed origins are echoed exactly, with
 * credentials, never `*`, always with Vary: Origin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { checkOrigin, originPolicy } from '../lib/runtime/cors.ts';

const allowed = 'https://console.example.com';
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ env: { MCP_ALLOWED_ORIGINS: `${allowed}, tools.example.org, vscode-webview://*` } });
});
afterAll(async () => {
  await ts?.close();
});

function preflight(origin: string, requestHeaders = 'authorization, content-type, mcp-protocol-version', extra: Record<string, string> = {}) {
  return fetch(ts.mcpUrl, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders, ...extra },
  });
}

function initialize(origin: string | undefined, token: string | null = ts.adminToken) {
  return fetch(ts.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(origin ? { origin } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser', version: '1' } },
    }),
  });
}

function expectNoCors(response: Response) {
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
  expect(response.headers.get('access-control-allow-credentials')).toBeNull();
}

function expectEchoed(response: Response, origin: string) {
  expect(response.headers.get('access-control-allow-origin')).toBe(origin);
  expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
}

describe('preflight (OPTIONS)', () => {
  it('answers an allowed origin with 204 and exactly that origin, credentials, methods and headers', async () => {
    const response = await preflight(allowed, 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-param-vmid, x-evil');
    expect(response.status).toBe(204);
    expectEchoed(response, allowed);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS');
    const allowedHeaders = response.headers.get('access-control-allow-headers')!.split(', ');
    for (const name of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id', 'mcp-method', 'last-event-id', 'mcp-param-vmid']) expect(allowedHeaders).toContain(name);
    expect(allowedHeaders).not.toContain('x-evil');
    expect(response.headers.get('access-control-max-age')).toBe('600');
    expect(await response.text()).toBe('');
  });

  it('refuses a foreign origin with 403 and no CORS headers', async () => {
    const response = await preflight('https://evil.example.net');
    expect(response.status).toBe(403);
    expectNoCors(response);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('MCP_ALLOWED_ORIGINS');
  });

  it('refuses look-alikes of the allowed origin: plain http, another port, a longer host name', async () => {
    for (const origin of ['http://console.example.com', 'https://console.example.com:8443', 'https://console.example.com.evil.net', 'https://evilconsole.example.com', 'null']) {
      const response = await preflight(origin);
      expect(response.status, origin).toBe(403);
      expectNoCors(response);
    }
  });

  it('lets in a bare host name over http or https on any port, localhost, and a configured app scheme', async () => {
    for (const origin of ['https://tools.example.org', 'http://tools.example.org:8080', 'http://localhost:6274', 'http://127.0.0.1:5173', 'http://[::1]:3000', 'vscode-webview://abcdef']) {
      const response = await preflight(origin);
      expect(response.status, origin).toBe(204);
      expectEchoed(response, origin);
    }
  });

  it('answers Chrome\'s private-network question for an allowed origin only', async () => {
    const yes = await preflight(allowed, 'content-type', { 'access-control-request-private-network': 'true' });
    expect(yes.headers.get('access-control-allow-private-network')).toBe('true');
    const no = await preflight('https://evil.example.net', 'content-type', { 'access-control-request-private-network': 'true' });
    expect(no.status).toBe(403);
    expect(no.headers.get('access-control-allow-private-network')).toBeNull();
  });
});

describe('actual requests', () => {
  it('an allowed origin gets its answer with the origin echoed, credentials and exposed headers', async () => {
    const response = await initialize(allowed);
    expect(response.status).toBe(200);
    expectEchoed(response, allowed);
    expect(response.headers.get('access-control-expose-headers')).toContain('mcp-protocol-version');
    expect(response.headers.get('access-control-expose-headers')).toContain('www-authenticate');
    const body = await response.text();
    expect(body).toContain('"serverInfo"');
  });

  it('never answers with a wildcard, for any origin', async () => {
    for (const origin of [allowed, 'http://localhost:1234', undefined]) {
      const response = await initialize(origin);
      expect(response.headers.get('access-control-allow-origin')).not.toBe('*');
      await response.body?.cancel();
    }
  });

  it('a foreign origin is refused with 403 before the token is even looked at', async () => {
    const response = await initialize('https://evil.example.net');
    expect(response.status).toBe(403);
    expectNoCors(response);
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toContain("Origin 'https://evil.example.net' is not allowed");
  });

  it('a 401 to an allowed origin carries CORS headers, so the web client can read why', async () => {
    const response = await initialize(allowed, null);
    expect(response.status).toBe(401);
    expectEchoed(response, allowed);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('without an Origin header (not a browser) there are no CORS headers but Vary: Origin', async () => {
    const response = await initialize(undefined);
    expect(response.status).toBe(200);
    expectNoCors(response);
    expect(response.headers.get('vary')).toMatch(/\bOrigin\b/);
    await response.body?.cancel();
  });

  it('the REST door and /health follow the same rules', async () => {
    const rest = await fetch(`${ts.url}/v1/tools/toggle_mode`, {
      method: 'POST',
      headers: { origin: allowed, 'content-type': 'application/json', authorization: `Bearer ${ts.adminToken}` },
      body: '{"learning":false}',
    });
    expect(rest.status).toBe(200);
    expectEchoed(rest, allowed);
    const health = await fetch(`${ts.url}/health`, { headers: { origin: allowed } });
    expectEchoed(health, allowed);
    const foreign = await fetch(`${ts.url}/health`, { headers: { origin: 'https://evil.example.net' } });
    expect(foreign.status).toBe(403);
    expectNoCors(foreign);
  });
});

describe('the official MCP client from a browser origin', () => {
  async function connect(origin: string, era: 'legacy' | 'modern') {
    const client = new Client(
      { name: 'browser-client', version: '1.0.0' },
      (era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}) as never,
    );
    const transport = new StreamableHTTPClientTransport(new URL(ts.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${ts.adminToken}`, Origin: origin } } });
    await client.connect(transport);
    return client;
  }

  it.each(['legacy', 'modern'] as const)('works from an allowed origin (%s era)', async (era) => {
    const client = await connect(allowed, era);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain('toggle_mode');
      const { resources } = await client.listResources();
      expect(resources.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it.each(['legacy', 'modern'] as const)('cannot connect from a foreign origin (%s era)', async (era) => {
    await expect(connect('https://evil.example.net', era)).rejects.toThrow();
  });
});

describe('the origin rules', () => {
  it('parses MCP_ALLOWED_ORIGINS entries and reports the ones it cannot use', () => {
    const policy = originPolicy(['https://a.example.com', 'https://b.example.com:8443/', 'c.example.com', 'app://*', 'https://*', 'not a host', '']);
    expect([...policy.origins]).toEqual(['https://a.example.com', 'https://b.example.com:8443']);
    expect(policy.hosts.has('c.example.com')).toBe(true);
    expect(policy.schemes.has('app:')).toBe(true);
    expect(policy.invalid).toEqual(['https://*', 'not a host']);
    expect(checkOrigin('https://b.example.com:8443', policy)).toEqual({ ok: true, origin: 'https://b.example.com:8443' });
    expect(checkOrigin('https://b.example.com', policy).ok).toBe(false);
    expect(checkOrigin('https://a.example.com:443', policy).ok).toBe(true);
    expect(checkOrigin('https://a.example.com/path', policy).ok).toBe(false);
    expect(checkOrigin('file://', policy).ok).toBe(false);
    expect(checkOrigin(undefined, policy)).toEqual({ ok: true });
  });
});

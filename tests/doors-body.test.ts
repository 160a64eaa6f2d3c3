/**
 * The doors read no body before the caller is known, read none bigger than MCP_MAX_BODY_BYTES, and no
 * body of any size or shape stops the server. Big bodies are streamed in 64 KiB chunks (never held whole
 * in this process); the test server runs in this process, so its heap is watched too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyTooLarge } from '../lib/runtime/app.ts';
import { jsonNestsDeeperThan } from '../lib/runtime/rest.ts';
import { sendBig } from './helpers/big-body.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

let ts: TestServer;
let small: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  small = await startTestServer({ env: { MCP_MAX_BODY_BYTES: '4096' } });
});
afterAll(async () => {
  await ts?.close();
  await small?.close();
});

const MiB = 1024 * 1024;
async function healthOk(server: TestServer): Promise<void> {
  const response = await fetch(`${server.url}/health`);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { status: string }).status).toBe('ok');
}

const doors = [
  { door: 'REST', path: '/v1/tools/list_vms' },
  { door: 'MCP', path: '/mcp' },
];

describe('300 MB bodies', () => {
  for (const { door, path } of doors) {
    for (const chunked of [false, true]) {
      const how = chunked ? 'chunked' : 'with Content-Length';
      it(`${door} without a token, ${how}: ${chunked ? '401' : '413'} before the body is read; the server keeps serving`, async () => {
        const heapBefore = process.memoryUsage().heapUsed;
        const sent = await sendBig(ts.url, path, { total: 300 * MiB, chunked });
        // A declared length over the cap is refused on the header alone; otherwise the token is checked first.
        expect(sent.status).toBe(chunked ? 401 : 413);
        expect(sent.ms).toBeLessThan(10_000);
        expect(sent.written).toBeLessThan(300 * MiB);
        expect(JSON.parse(sent.body).error.message).toMatch(chunked ? /Authorization: Bearer/ : /MCP_MAX_BODY_BYTES/);
        expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MiB);
        await healthOk(ts);
      });

      it(`${door} with a valid token, ${how}: 413 with a clear message; the server keeps serving`, async () => {
        const heapBefore = process.memoryUsage().heapUsed;
        const sent = await sendBig(ts.url, path, { total: 300 * MiB, chunked, headers: { authorization: `Bearer ${ts.adminToken}` } });
        expect(sent.status).toBe(413);
        expect(sent.ms).toBeLessThan(10_000);
        expect(sent.written).toBeLessThan(300 * MiB);
        const body = JSON.parse(sent.body) as { error: { message: string } };
        expect(body.error.message).toMatch(/larger than 1048576 bytes.*MCP_MAX_BODY_BYTES/);
        if (door === 'MCP') expect(body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
        expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * MiB);
        await healthOk(ts);
      });
    }
  }
}, 120_000);

describe('every other route is capped too', () => {
  it('the approval page form, chunked and 300 MB with a same-host Origin: 413, nothing decided, server alive', async () => {
    const sent = await sendBig(ts.url, '/approve/approval_x', {
      total: 300 * MiB,
      chunked: true,
      headers: { origin: ts.url, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(sent.status).toBe(413);
    expect(sent.written).toBeLessThan(300 * MiB);
    await healthOk(ts);
  });

  it('routes that read no body (/health, the OAuth hints, unknown paths) answer without reading one', async () => {
    for (const path of ['/health', '/register', '/.well-known/oauth-protected-resource', '/nowhere']) {
      const sent = await sendBig(ts.url, path, { total: 50 * MiB, chunked: true });
      expect(sent.status, path).toBeLessThan(500);
      expect(sent.written, path).toBeLessThan(50 * MiB);
    }
    await healthOk(ts);
  });
});

describe('the cap', () => {
  it('is 1 MiB by default: just over it is 413 (chunked, no Content-Length), just under it is read', async () => {
    const over = await sendBig(ts.url, '/v1/tools/list_vms', { total: MiB + 1, chunked: true, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(over.status).toBe(413);
    const padding = 'p'.repeat(MiB - 200);
    const under = await callRest(ts.url, ts.adminToken, 'list_vms', { padding });
    expect(under.status).not.toBe(413);
    expect(under.status).toBeLessThan(500);
  });

  it('follows MCP_MAX_BODY_BYTES on both doors', async () => {
    const rest = await callRest(small.url, small.adminToken, 'list_vms', { padding: 'p'.repeat(5000) });
    expect(rest.status).toBe(413);
    expect(rest.body.error.message).toMatch(/larger than 4096 bytes/);
    expect((await callRest(small.url, small.adminToken, 'list_vms', {})).status).toBe(200);
    const mcp = await sendBig(small.url, '/mcp', { total: 5000, chunked: true, headers: { authorization: `Bearer ${small.adminToken}` } });
    expect(mcp.status).toBe(413);
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(small.mcpUrl, small.adminToken, era);
      try {
        await expect(client.callTool({ name: 'list_vms', arguments: { padding: 'p'.repeat(5000) } }), era).rejects.toThrow(/413|larger than 4096/);
        expect((await client.callTool({ name: 'list_vms', arguments: {} })).isError, era).toBeFalsy();
      } finally {
        await client.close();
      }
    }
  });

  it('the 413 body names the limit and the variable, on every door', async () => {
    const rest = (await bodyTooLarge(2048, 'rest').json()) as { error: { code: string; message: string } };
    expect(rest.error.code).toBe('payload_too_large');
    expect(rest.error.message).toContain('2048');
    expect(rest.error.message).toContain('MCP_MAX_BODY_BYTES');
  });
});

describe('bodies of any shape', () => {
  const auth = () => ({ authorization: `Bearer ${ts.adminToken}`, 'content-type': 'application/json' });
  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const shapes: Array<[string, string | Buffer]> = [
    ['malformed JSON', '{"vmid": 101,,'],
    ['a JSON array', '[1,2,3]'],
    ['a bare string', '"list"'],
    ['deeply nested arrays', `{"a":${deep(400_000)}}`],
    ['deeply nested objects', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d])],
    ['a lone surrogate escape', '{"node":"\\ud800"}'],
    ['a NUL in a key', '{"no\\u0000de":"pve1"}'],
    ['a 900 KB string', JSON.stringify({ node: 'n'.repeat(900_000) })],
    ['900 KB of secret-shaped words', JSON.stringify({ node: 'pve1', command: 'mysql -pX sshpass -p Y --password Z a:b '.repeat(20_000).slice(0, 900_000) })],
    ['thousands of secret-named keys', JSON.stringify({ params: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`password${i}`, `Secret-value-${i}`])) })],
    ['a __proto__ key', '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'],
  ];

  for (const [name, body] of shapes) {
    it(`REST: ${name} gets a 4xx answer or a result, never a crash`, async () => {
      const response = await fetch(`${ts.url}/v1/tools/list_vms`, { method: 'POST', headers: auth(), body: body as unknown as BodyInit });
      expect(response.status).toBeLessThan(500);
      expect(() => JSON.parse('{}')).not.toThrow();
      await response.text();
      await healthOk(ts);
    });

    it(`MCP: ${name} as a tools/call gets an answer, never a crash`, async () => {
      const text = typeof body === 'string' ? body : Buffer.from(body).toString('latin1');
      const envelope = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_vms","arguments":${text}}}`;
      const response = await fetch(ts.mcpUrl, {
        method: 'POST',
        headers: { ...auth(), accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
        body: envelope,
      });
      expect(response.status).toBeLessThan(500);
      await response.text();
      await healthOk(ts);
    });
  }

  it('counts nesting without parsing, skipping strings and escapes', () => {
    expect(jsonNestsDeeperThan('{"a":[[1]]}', 3)).toBe(false);
    expect(jsonNestsDeeperThan('{"a":[[[1]]]}', 3)).toBe(true);
    expect(jsonNestsDeeperThan('{"a":"[[[[[[\\"[[[["}', 2)).toBe(false);
    expect(jsonNestsDeeperThan(deep(65), 64)).toBe(true);
    expect(jsonNestsDeeperThan(deep(64), 64)).toBe(false);
  });
});

/**
 * The REST door's HTTP manners: a wrong method on a known route is 405 with Allow (not "No route"), an
 * unknown tool is still 404, and the OpenAPI document names the server and holds together (the checks a
 * standard linter makes that matter to a client generator).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRouteTable } from '../lib/runtime/rest.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

const auth = () => ({ authorization: `Bearer ${ts.adminToken}` });

describe('405 with Allow', () => {
  it('GET /v1/tools/list_vms: 405, Allow: POST, and a message that shows the right call', async () => {
    const response = await fetch(`${ts.url}/v1/tools/list_vms`, { headers: auth() });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('method_not_allowed');
    expect(body.error.message).toMatch(/GET is not served at \/v1\/tools\/list_vms; use POST/);
    expect(body.error.message).toContain('GET /v1/vms');
  });

  it('every wrong method on every known route, with or without a token', async () => {
    const table = loadRouteTable();
    const tools = [...ts.server.runtime.tools.keys()];
    const checks: Array<[string, string, string]> = [];
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) checks.push([method, `/v1/tools/${tools[0]}`, 'POST, OPTIONS']);
    for (const route of table.routes) {
      const path = route.pattern.replace(/:[a-z_]+/g, '101');
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) checks.push([method, path, 'GET, HEAD, OPTIONS']);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      checks.push([method, '/v1/openapi.json', 'GET, HEAD, OPTIONS']);
      checks.push([method, '/health', 'GET, HEAD, OPTIONS']);
    }
    for (const [method, path, allow] of checks) {
      for (const headers of [{}, auth()]) {
        const response = await fetch(`${ts.url}${path}`, { method, headers });
        expect(`${method} ${path} ${response.status}`).toBe(`${method} ${path} 405`);
        expect(response.headers.get('allow')).toBe(allow);
        await response.text();
      }
    }
  });

  it('OPTIONS (not a CORS preflight) answers 204 with Allow; HEAD rides on GET', async () => {
    const options = await fetch(`${ts.url}/v1/tools/list_vms`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('POST, OPTIONS');
    const head = await fetch(`${ts.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('an unknown tool stays 404 whatever the method', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${ts.url}/v1/tools/no_such_tool`, { method, headers: auth() });
      expect(response.status).toBe(404);
      await response.text();
    }
    const post = await fetch(`${ts.url}/v1/tools/no_such_tool`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(404);
  });

  it('a wrong method never reaches a tool (nothing in history)', async () => {
    const before = (await ts.server.store.client.execute('SELECT COUNT(*) AS n FROM history')).rows[0].n;
    await (await fetch(`${ts.url}/v1/tools/vm_action`, { method: 'DELETE', headers: auth() })).text();
    await (await fetch(`${ts.url}/v1/vms/101`, { method: 'DELETE', headers: auth() })).text();
    await ts.server.store.history.flush();
    const after = (await ts.server.store.client.execute('SELECT COUNT(*) AS n FROM history')).rows[0].n;
    expect(after).toBe(before);
  });
});

interface OpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, { operationId?: string; tags?: string[]; summary?: string; description?: string; responses?: Record<string, { description?: string }>; parameters?: { name: string; in: string; required?: boolean }[] }>>;
  components?: { securitySchemes?: Record<string, unknown> };
  security?: Record<string, unknown[]>[];
}

describe('the OpenAPI document', () => {
  it('names the server as the request reached it', async () => {
    const doc = (await (await fetch(`${ts.url}/v1/openapi.json`)).json()) as OpenApi;
    expect(doc.servers).toEqual([expect.objectContaining({ url: ts.url })]);
    const viaLocalhost = (await (await fetch(`${ts.url.replace('127.0.0.1', 'localhost')}/v1/openapi.json`)).json()) as OpenApi;
    expect(viaLocalhost.servers?.[0].url).toBe(ts.url.replace('127.0.0.1', 'localhost'));
  });

  it('holds together: unique operationIds, described responses, declared path parameters, known security', async () => {
    const doc = (await (await fetch(`${ts.url}/v1/openapi.json`)).json()) as OpenApi;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title && doc.info.version).toBeTruthy();
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      for (const [method, operation] of Object.entries(item)) {
        expect(['get', 'post', 'put', 'patch', 'delete']).toContain(method);
        expect(operation.operationId, `${method} ${path}`).toMatch(/^[A-Za-z0-9_.-]+$/);
        expect(operationIds.has(operation.operationId!), `duplicate ${operation.operationId}`).toBe(false);
        // What spectral:oas asks of an operation: tags that are declared, a summary and a description.
        expect(operation.tags?.length, `${method} ${path} tags`).toBeGreaterThan(0);
        for (const tag of operation.tags ?? []) expect(doc.tags?.map((declared) => declared.name)).toContain(tag);
        expect(operation.summary && operation.description, `${method} ${path} summary/description`).toBeTruthy();
        operationIds.add(operation.operationId!);
        for (const [status, response] of Object.entries(operation.responses ?? {})) {
          expect(status).toMatch(/^[1-5]\d\d$|^default$/);
          expect(response.description, `${method} ${path} ${status}`).toBeTruthy();
        }
        const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
        expect(declared.sort()).toEqual([...templated].sort());
      }
    }
    for (const requirement of doc.security ?? []) for (const name of Object.keys(requirement)) expect(doc.components?.securitySchemes).toHaveProperty(name);
  });
});

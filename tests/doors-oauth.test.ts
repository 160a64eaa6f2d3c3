/**
 * A client without a token (Claude Code added without --header) falls into OAuth discovery after the 401.
 * It must end on a message that tells the person what to add and how to make a token, not on "No route".
 * The official SDK client runs its real discovery and registration against the server here.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport, auth, type OAuthClientProvider } from '@modelcontextprotocol/client';
import { malformedReason } from '../lib/auth/authenticate.ts';
import { bearerChallenge } from '../lib/runtime/app.ts';
import { callRest, startTestServer, type TestServer } from './helpers/server.ts';

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

/** A provider like an interactive client's: no client registered, no tokens, a redirect URL. */
function interactiveProvider(): OAuthClientProvider & { requested: string[] } {
  let clientInformation: unknown;
  return {
    requested: [],
    get redirectUrl() {
      return 'http://localhost:53682/callback';
    },
    get clientMetadata() {
      return { client_name: 'claude-code-like', redirect_uris: ['http://localhost:53682/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
    },
    clientInformation: () => clientInformation as never,
    saveClientInformation: (info: unknown) => {
      clientInformation = info;
    },
    tokens: () => undefined,
    saveTokens: () => undefined,
    redirectToAuthorization: () => {
      throw new Error('must not get as far as a browser sign-in');
    },
    saveCodeVerifier: () => undefined,
    codeVerifier: () => 'verifier',
  } as never;
}

function recordingFetch(log: string[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    log.push(`${init?.method ?? (input instanceof Request ? input.method : 'GET')} ${url.pathname} `);
    const response = await fetch(input, init);
    log[log.length - 1] += String(response.status);
    return response;
  }) as typeof fetch;
}

describe('OAuth discovery without a token', () => {
  it('the SDK client connecting without a token ends on the help text (what to add, how to make a token)', async () => {
    const log: string[] = [];
    const transport = new StreamableHTTPClientTransport(new URL(ts.mcpUrl), { authProvider: interactiveProvider(), fetch: recordingFetch(log) });
    const client = new Client({ name: 'no-token', version: '1.0.0' });
    const error = await client.connect(transport).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toContain('Authorization: Bearer <token>');
    expect(error!.message).toContain('npm run token -- create');
    expect(error!.message).toContain(`${ts.url}/mcp`);
    expect(error!.message).not.toMatch(/No route/);
    // It went the documented way: 401, the well-known documents (404: none here), then registration (400).
    expect(log[0]).toBe('POST /mcp 401');
    expect(log).toContain('GET /.well-known/oauth-protected-resource/mcp 404');
    expect(log).toContain('GET /.well-known/oauth-protected-resource 404');
    expect(log).toContain('GET /.well-known/oauth-authorization-server 404');
    expect(log).toContain('GET /.well-known/openid-configuration 404');
    expect(log.at(-1)).toBe('POST /register 400');
    await client.close().catch(() => undefined);
  });

  it('auth() itself surfaces the registration error with its description', async () => {
    const error = await auth(interactiveProvider(), { serverUrl: ts.mcpUrl }).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toMatch(/Dynamic Client Registration rejected \(HTTP 400\)/);
    const body = JSON.parse(error!.message.slice(error!.message.indexOf('{'))) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toMatch(/does not use OAuth.*--header "Authorization: Bearer <token>".*npm run token -- create NAME --role operator/);
  });

  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/mcp', '/.well-known/openid-configuration', '/mcp/.well-known/openid-configuration']) {
    it(`GET ${path}: 404 with an OAuth error body that says what to do`, async () => {
      const response = await fetch(`${ts.url}${path}`);
      expect(response.status).toBe(404);
      const body = (await response.json()) as { error: string; error_description: string };
      expect(body.error).toBe('not_found');
      expect(body.error_description).toContain('Authorization: Bearer <token>');
      expect(body.error_description).toContain('npm run token -- create');
    });
  }

  it('/register, /token and /authorize explain too, without reading a body', async () => {
    const register = await fetch(`${ts.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":["x"]}' });
    expect(register.status).toBe(400);
    expect(((await register.json()) as { error: string }).error).toBe('invalid_client_metadata');
    const token = await fetch(`${ts.url}/token`, { method: 'POST', body: 'grant_type=client_credentials' });
    expect(token.status).toBe(400);
    expect(((await token.json()) as { error_description: string }).error_description).toContain('Authorization: Bearer');
    const authorize = await fetch(`${ts.url}/authorize?response_type=code`);
    expect(authorize.status).toBe(400);
    expect(await authorize.text()).toContain('npm run token -- create');
  });

  it('the 401 names no resource_metadata (nothing to follow that leads nowhere), on MCP and REST', async () => {
    const mcp = await fetch(ts.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(mcp.status).toBe(401);
    expect(mcp.headers.get('www-authenticate')).toBe('Bearer realm="proxmox-mcp"');
    const rest = await callRest(ts.url, undefined, 'list_vms');
    expect(rest.headers.get('www-authenticate')).not.toContain('resource_metadata');
    expect(rest.body.error.message).toContain('Authorization: Bearer <token>');
  });
});

/** One good call from this address clears its failures, so the brake on repeated failures does not slow the next case. */
async function succeed(): Promise<void> {
  expect((await callRest(ts.url, ts.adminToken, 'list_vms')).status).toBe(200);
}

describe('malformed Authorization headers say exactly what is wrong', () => {
  const secretish = 'pmcp_abcdefghijklmnopqrstuvwxyz0123456789ABCD';
  const cases: Array<[string, string, RegExp]> = [
    ['the token without "Bearer "', secretish, /no "Bearer " prefix/],
    ['Basic credentials', `Basic ${Buffer.from('root@pam:hunter2hunter2').toString('base64')}`, /"Basic" scheme; this server only takes "Bearer"/],
    ['a Proxmox API token', 'PVEAPIToken=root@pam!mcp=11111111-2222-3333-4444-555555555555', /Proxmox API token/],
    ['"Bearer" alone', 'Bearer', /says "Bearer" but no token follows/],
    ['"Bearer" and spaces', 'Bearer    ', /says "Bearer" but no token follows/],
    ['two words after Bearer', `Bearer ${secretish} extra`, /more than one word after "Bearer"/],
    ['Token scheme', `Token ${secretish}`, /"Token" scheme/],
    ['free text', 'let me in please', /not of the form "Bearer <token>"/],
  ];
  for (const [name, header, expected] of cases) {
    it(`${name}: 401 with that message on REST, MCP and /health, never echoing the value`, async () => {
      const rest = await fetch(`${ts.url}/v1/tools/list_vms`, { method: 'POST', headers: { authorization: header, 'content-type': 'application/json' }, body: '{}' });
      const mcp = await fetch(ts.mcpUrl, { method: 'POST', headers: { authorization: header, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
      const health = await fetch(`${ts.url}/health`, { headers: { authorization: header } });
      for (const response of [rest, mcp, health]) {
        const text = await response.text();
        if (!header.trim()) {
          // An empty header is no header: /health answers the liveness, the doors the "no token" 401.
          continue;
        }
        expect(response.status).toBe(401);
        expect(JSON.parse(text).error.message).toMatch(expected);
        expect(text).not.toContain('hunter2');
        expect(text).not.toContain('11111111-2222');
        expect(text).not.toContain(secretish);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="proxmox-mcp", error="invalid_request"/);
      }
      await succeed();
    });
  }

  it('no header gets the "no client token" message, an empty one says it is empty', async () => {
    expect(malformedReason('')).toMatch(/^The Authorization header is empty/);
    expect(malformedReason('   ')).toMatch(/^The Authorization header is empty/);
    const rest = await callRest(ts.url, undefined, 'list_vms');
    expect(rest.body.error.message).toMatch(/^No client token/);
    const empty = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${ts.url}/v1/tools/list_vms`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: '', 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (part: Buffer) => (body += part.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(empty.status).toBe(401);
    expect(JSON.parse(empty.body).error.message).toMatch(/^The Authorization header is empty/);
    await succeed();
  });

  it('a well-formed but unknown token is "not valid", with invalid_token in the challenge', async () => {
    const response = await callRest(ts.url, 'pmcp_unknownunknownunknownunknown0123456789', 'list_vms');
    expect(response.status).toBe(401);
    expect(response.body.error.message).toMatch(/not valid/);
    expect(response.headers.get('www-authenticate')).toBe(bearerChallenge('invalid'));
    expect(bearerChallenge('invalid')).toContain('error="invalid_token"');
    await succeed();
  });

  it('lower-case "bearer" still works (the scheme is case-insensitive)', async () => {
    const response = await fetch(`${ts.url}/v1/tools/list_vms`, { method: 'POST', headers: { authorization: `bearer ${ts.adminToken}`, 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(200);
  });
});

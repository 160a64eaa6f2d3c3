/**
 * A whole server for tests: temp data dir and database, the in-process simulated cluster, listening on
 * a random port on 127.0.0.1. Tokens are made through the store, like the CLI does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { buildServer, type BuildOptions, type Server } from '../../lib/runtime/start.ts';
import { listen } from '../../lib/runtime/listen.ts';
import type { Mode, Role } from '../../lib/tool.ts';

export const testAdminToken = 'pmcp_test-admin-token-0123456789abcdefghijklmnop';

export interface TestServer {
  url: string;
  mcpUrl: string;
  server: Server;
  dataDir: string;
  adminToken: string;
  createToken(input: { name?: string; role?: Role; mode?: Mode; ceiling?: Mode; expiresAt?: number | null }): Promise<string>;
  close(): Promise<void>;
}

let counter = 0;

export async function startTestServer(options: { env?: Record<string, string>; build?: BuildOptions } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pmcp-test-'));
  const config = loadConfig(
    {
      MCP_PORT: '3001',
      MCP_HOST: '127.0.0.1',
      MCP_DATA_DIR: dataDir,
      MCP_ADMIN_TOKEN: testAdminToken,
      // The machine the tests run on may itself be a container (/.dockerenv); the server under test is not.
      MCP_IN_CONTAINER: '0',
      ...options.env,
    },
    { envFile: null },
  );
  const server = await buildServer({ config, log: silentLogger, ...options.build });
  const listening = await listen(server, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${listening.port}`;
  return {
    url,
    mcpUrl: `${url}/mcp`,
    server,
    dataDir,
    adminToken: testAdminToken,
    async createToken(input) {
      const { secret } = await server.store.tokens.create({
        name: input.name ?? `client-${++counter}`,
        role: input.role ?? 'operator',
        mode: input.mode,
        ceiling: input.ceiling,
        expiresAt: input.expiresAt,
      });
      return secret;
    },
    async close() {
      await listening.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Era = 'auto' | 'legacy' | 'modern';

/** An official v2 MCP client connected with a token, in the given era. */
export async function connectClient(mcpUrl: string, token: string, era: Era = 'auto', capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client(
    { name: 'proxmox-mcp-tests', version: '1.0.0' },
    {
      capabilities,
      ...(era === 'auto' ? { versionNegotiation: { mode: 'auto' } } : era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    } as never,
  );
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return client;
}

/** POST a tool through the REST door. */
export async function callRest(base: string, token: string | undefined, tool: string, args: unknown = {}, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/v1/tools/${tool}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(args),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

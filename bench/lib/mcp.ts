/**
 * A minimal MCP client for load: one `tools/call` per HTTP POST, over keep-alive connections (node:http,
 * which costs the load generator far less CPU than fetch). By default it speaks the current revision
 * (2026-07-28): every request is self-contained, carrying protocol version, client info and capabilities
 * in `_meta` plus the Mcp-Method/Mcp-Name headers, exactly what the official client sends (checked by
 * `verifyWithOfficialClient`). `era: 'legacy'` sends stateless 2025-06-18 JSON-RPC POSTs instead.
 */
import { Agent, request } from 'node:http';

export type Era = 'modern' | 'legacy';

export const modernVersion = '2026-07-28';
export const legacyVersion = '2025-06-18';

export interface CallOutcome {
  ok: boolean;
  ms: number;
  /** Why it failed (HTTP status, isError code, socket error). */
  error?: string;
  /** The structuredContent, when asked for. */
  structured?: Record<string, unknown>;
}

export interface McpLoadClient {
  call(tool: string, args?: Record<string, unknown>, keep?: boolean): Promise<CallOutcome>;
  /** Any JSON-RPC method (tools/list...), result returned as parsed JSON. */
  rpc(method: string, params?: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

const clientInfo = { name: 'proxmox-mcp-bench', version: '1.0.0' };

function modernMeta(): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': modernVersion,
    'io.modelcontextprotocol/clientInfo': clientInfo,
    'io.modelcontextprotocol/clientCapabilities': {},
  };
}

function parseBody(contentType: string, text: string): Record<string, unknown> {
  if (contentType.includes('text/event-stream')) {
    // The last JSON-RPC message in the stream is the response.
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .filter(Boolean);
    return JSON.parse(data[data.length - 1] ?? '{}') as Record<string, unknown>;
  }
  return JSON.parse(text) as Record<string, unknown>;
}

export function createLoadClient(mcpUrl: string, token: string, options: { connections?: number; era?: Era; timeoutMs?: number } = {}): McpLoadClient {
  const url = new URL(mcpUrl);
  const era = options.era ?? 'modern';
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 1, maxFreeSockets: options.connections ?? 1 });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const bodies = new Map<string, Buffer>();
  let nextId = 1;

  function post(method: string, params: Record<string, unknown>, name?: string, cacheKey?: string): Promise<{ status: number; json: Record<string, unknown> }> {
    let body = cacheKey ? bodies.get(cacheKey) : undefined;
    if (!body) {
      const withMeta = era === 'modern' ? { ...params, _meta: modernMeta() } : params;
      body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: withMeta }));
      if (cacheKey) bodies.set(cacheKey, body);
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      'content-length': body.length,
      'mcp-protocol-version': era === 'modern' ? modernVersion : legacyVersion,
    };
    if (era === 'modern') {
      headers['mcp-method'] = method;
      if (name) headers['mcp-name'] = name;
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: parseBody(String(res.headers['content-type'] ?? ''), text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, json: { unparsable: text.slice(0, 200) } });
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  return {
    async call(tool, args = {}, keep = false) {
      const started = performance.now();
      try {
        const { status, json } = await post('tools/call', { name: tool, arguments: args }, tool, `${tool}\n${JSON.stringify(args)}`);
        const ms = performance.now() - started;
        const result = json.result as { isError?: boolean; structuredContent?: Record<string, unknown> } | undefined;
        if (status !== 200 || !result) return { ok: false, ms, error: `HTTP ${status} ${JSON.stringify(json.error ?? json).slice(0, 200)}` };
        if (result.isError) {
          const error = (result.structuredContent?.error as { code?: string; message?: string } | undefined) ?? {};
          return { ok: false, ms, error: `isError ${error.code ?? ''}: ${(error.message ?? '').slice(0, 200)}` };
        }
        return { ok: true, ms, ...(keep ? { structured: result.structuredContent } : {}) };
      } catch (error) {
        return { ok: false, ms: performance.now() - started, error: (error as Error).message };
      }
    },
    async rpc(method, params = {}) {
      const { status, json } = await post(method, params);
      if (status !== 200 || !json.result) throw new Error(`${method}: HTTP ${status} ${JSON.stringify(json).slice(0, 300)}`);
      return json.result;
    },
    close() {
      agent.destroy();
    },
  };
}

/** The same call through the official SDK client (auto version negotiation): proves the raw envelope is what a real client sends, and gives its latency for reference. */
export async function officialClientLatency(mcpUrl: string, token: string, tool: string, args: Record<string, unknown>, calls: number): Promise<number[]> {
  const { Client, StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
  const client = new Client({ name: 'proxmox-mcp-bench', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } } as never);
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  const samples: number[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      const result = await client.callTool({ name: tool, arguments: args });
      samples.push(performance.now() - started);
      if (result.isError) throw new Error(`${tool} failed through the official client: ${JSON.stringify(result.structuredContent ?? result.content).slice(0, 300)}`);
    }
  } finally {
    await client.close();
  }
  return samples;
}

/**
 * The HTTP surface: one Hono app for every runtime (Node through @hono/node-server, Deno.serve).
 * /health, /mcp, the REST routes from routes.json and the OpenAPI document. Host and Origin are checked
 * before anything else (DNS rebinding), then the client token, the same way for every door.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMcpHandler, validateHostHeader, localhostAllowedHostnames, type McpServer } from '@modelcontextprotocol/server';
import { authenticate, FailureThrottle, LastUsedTracker } from '../auth/authenticate.ts';
import type { ClientToken } from '../store/tokens.ts';
import { modeRank } from '../store/tokens.ts';
import type { Caller, Door, Mode } from '../tool.ts';
import { createMcpServerFactory, type McpExtension } from './mcp.ts';
import { methodNotAllowed, mountRest, on } from './rest.ts';
import type { Runtime } from './runtime.ts';
import { checkOrigin, corsHeaders, isPreflight, originPolicy, type OriginPolicy } from './cors.ts';
import { mountOAuthHints } from './oauth-hints.ts';
import { isApprovalPath, mountApprovalPage, recordRefusedApprovalRequest } from './approval-page.ts';
import { enabledToolsets } from '../toolsets.ts';

export interface AppOptions {
  name: string;
  version: string;
  instructions: string;
  startedAt: Date;
  extensions?: McpExtension[];
  /** Full health report (token holders). */
  health: () => Promise<unknown>;
  simulated: boolean;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host) || host.startsWith('127.');
}

export function allowedHostnames(runtime: Runtime): string[] {
  const hosts = new Set([...localhostAllowedHostnames(), ...runtime.config.allowedHosts]);
  const bound = runtime.config.host;
  if (bound !== '0.0.0.0' && bound !== '::') hosts.add(bound.includes(':') ? `[${bound}]` : bound);
  return [...hosts];
}

/** Browser origins allowed (MCP_ALLOWED_ORIGINS plus localhost); the rules are in cors.ts. */
export function allowedOrigins(runtime: Runtime): OriginPolicy {
  const policy = originPolicy(runtime.config.allowedOrigins);
  if (policy.invalid.length) {
    runtime.log.warn('Ignoring MCP_ALLOWED_ORIGINS entries that are not origins (use https://host[:port], a host name, or scheme://*)', { entries: policy.invalid });
  }
  return policy;
}

export function callerFromToken(token: ClientToken, door: Door, requestId: string): Caller {
  const mode: Mode = modeRank[token.mode] <= modeRank[token.ceiling] ? token.mode : token.ceiling;
  return { tokenId: token.id, name: token.name, role: token.role, mode, ceiling: token.ceiling, learning: token.learning, door, requestId, canElicit: false };
}

function remoteAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; remoteAddr?: { hostname?: string } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.remoteAddr?.hostname ?? 'unknown';
}

function jsonError(status: number, code: string, message: string, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ success: false, error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...extraHeaders },
  });
}

/**
 * The 401 challenge (RFC 6750): no error code when no credentials came, invalid_request for a header
 * that is not "Bearer <token>", invalid_token otherwise. No resource_metadata: there is no OAuth here
 * (lib/runtime/oauth-hints.ts answers the discovery a client tries anyway).
 */
export function bearerChallenge(reason: string): string {
  if (reason === 'missing') return 'Bearer realm="proxmox-mcp"';
  if (reason === 'malformed') return 'Bearer realm="proxmox-mcp", error="invalid_request", error_description="The Authorization header must be: Bearer <token>"';
  return `Bearer realm="proxmox-mcp", error="invalid_token", error_description="The client token is ${reason}"`;
}

/** A body stream that stops (errors) as soon as more than `maxBytes` have come, without reading ahead. */
class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`request body over ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

function cappedStream(body: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(new BodyTooLargeError(maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
}

/** The 413 every door sends for a body over MCP_MAX_BODY_BYTES; MCP callers get it as JSON-RPC. */
export function bodyTooLarge(maxBytes: number, door: Door | 'other'): Response {
  const message = `The request body is larger than ${maxBytes} bytes, the limit of this server. Send smaller arguments; an admin can raise the limit with MCP_MAX_BODY_BYTES.`;
  if (door === 'mcp') {
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }), { status: 413, headers: { 'content-type': 'application/json', connection: 'close' } });
  }
  return jsonError(413, 'payload_too_large', message, { connection: 'close' });
}

export function createApp(runtime: Runtime, options: AppOptions) {
  const app = new Hono();
  const throttle = new FailureThrottle();
  const lastUsed = new LastUsedTracker(runtime.store);
  const hosts = allowedHostnames(runtime);
  const origins = allowedOrigins(runtime);
  const noAuth = runtime.config.testNoAuth && isLoopback(runtime.config.host);
  const mcpHandler = createMcpHandler(createMcpServerFactory(runtime, options) as (context: { authInfo?: unknown }) => McpServer, {
    maxRequestBodySize: runtime.config.maxBodyBytes,
    onerror: (error) => runtime.log.debug('MCP request rejected', { error: error.message }),
  });

  /** Resolve the caller of a request, or the 401 response to send. */
  async function resolveCaller(c: Context, door: Door, requestId: string): Promise<Caller | Response> {
    if (noAuth) {
      return { tokenId: 'no-auth-test', name: 'no-auth-test', role: 'viewer', mode: 'read-only', ceiling: 'read-only', learning: false, door, requestId, canElicit: false };
    }
    const address = remoteAddress(c);
    const delay = throttle.delayFor(address);
    const result = await authenticate(runtime.store, c.req.header('authorization'));
    if (!result.ok) {
      throttle.fail(address);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      runtime.log.info('Client authentication failed', { door, reason: result.reason, address, requestId });
      return jsonError(401, 'unauthenticated', result.message, { 'www-authenticate': bearerChallenge(result.reason) });
    }
    throttle.succeed(address);
    lastUsed.touch(result.token.id);
    const caller = callerFromToken(result.token, door, requestId);
    const toolsets = await enabledToolsets(runtime.store.settings, result.token.id);
    return toolsets.length ? { ...caller, toolsets } : caller;
  }

  /**
   * A door's guard: the caller is known (or the 401 is sent) before a byte of the body is read, then the
   * body is capped. Content-Length over the cap is refused at once; a chunked body is counted as it
   * streams in and refused as soon as it passes the cap (hono/body-limit).
   */
  function guardDoor(door: Door): MiddlewareHandler[] {
    const authenticateFirst: MiddlewareHandler = async (c, next) => {
      const caller = await resolveCaller(c, door, c.get('requestId' as never) as string);
      if (caller instanceof Response) return caller;
      c.set('caller' as never, caller as never);
      await next();
    };
    const maxBytes = runtime.config.maxBodyBytes;
    return [authenticateFirst, bodyLimit({ maxSize: maxBytes, onError: () => bodyTooLarge(maxBytes, door) })];
  }

  app.use('*', async (c, next) => {
    const requestId = c.req.header('x-request-id')?.slice(0, 64) || crypto.randomUUID();
    c.set('requestId' as never, requestId as never);
    const host = validateHostHeader(c.req.header('host'), hosts);
    if (!host.ok) {
      const message = `Host '${c.req.header('host') ?? ''}' is not allowed. Add it to MCP_ALLOWED_HOSTS if this server should answer to that name.`;
      if (isApprovalPath(c.req.path)) await recordRefusedApprovalRequest(runtime, c, message); // on the approval record too
      return jsonError(403, 'forbidden', message);
    }
    const origin = checkOrigin(c.req.header('origin'), origins);
    if (!origin.ok) {
      if (isApprovalPath(c.req.path)) await recordRefusedApprovalRequest(runtime, c, origin.message);
      return jsonError(403, 'forbidden', origin.message, { vary: 'Origin' });
    }
    if (origin.origin && isPreflight(c.req.raw)) {
      return new Response(null, { status: 204, headers: corsHeaders(origin.origin, true, c.req.raw) });
    }
    // Every route, including ones that read their body themselves (the approval page's form): a declared
    // length over the cap is refused at once; a body without one is capped as it is read (never ahead of
    // the handler, so the doors still authenticate first). The doors add hono/body-limit after auth.
    const maxBytes = runtime.config.maxBodyBytes;
    const door: Door | 'other' = c.req.path === '/mcp' ? 'mcp' : 'rest';
    const declared = c.req.header('content-length');
    if (declared !== undefined && !(Number(declared) <= maxBytes)) return bodyTooLarge(maxBytes, door);
    if (declared === undefined && c.req.raw.body) {
      c.req.raw = new Request(c.req.raw, { body: cappedStream(c.req.raw.body, maxBytes), duplex: 'half' } as RequestInit);
    }
    await next();
    c.header('x-request-id', requestId);
    if (origin.origin) for (const [name, value] of Object.entries(corsHeaders(origin.origin, false))) c.header(name, value, { append: name === 'vary' });
    else c.header('vary', 'Origin', { append: true });
  });

  app.get('/health', async (c) => {
    const basic = { status: 'ok', name: options.name, version: options.version, uptime_s: Math.round((Date.now() - options.startedAt.getTime()) / 1000), simulated: options.simulated };
    if (!c.req.header('authorization')) return c.json(basic);
    const caller = await resolveCaller(c, 'rest', c.get('requestId' as never) as string);
    if (caller instanceof Response) return caller;
    const report = (await options.health()) as { status?: string };
    return c.json(report, report.status === 'down' ? 503 : 200);
  });

  methodNotAllowed(app, '/health', ['GET']);

  on(app, 'ALL', '/mcp', [
    ...guardDoor('mcp'),
    async (c) => {
      const caller = c.get('caller' as never) as Caller;
      return mcpHandler.fetch(c.req.raw, {
        authInfo: { token: '[redacted]', clientId: caller.name, scopes: [caller.role], extra: { caller } },
      });
    },
  ]);

  mountRest(app, runtime, { guard: guardDoor('rest'), name: options.name, version: options.version });
  mountOAuthHints(app);
  mountApprovalPage(app, runtime); // /approve: human approval an agent cannot give (issue 13)

  app.notFound((c) => jsonError(404, 'not_found', `No route ${c.req.method} ${c.req.path}. MCP is at POST /mcp, tools at POST /v1/tools/<name>, the API description at GET /v1/openapi.json.`));
  app.onError((error, c) => {
    if (error instanceof BodyTooLargeError || (error instanceof Error && error.cause instanceof BodyTooLargeError)) {
      return bodyTooLarge(error instanceof BodyTooLargeError ? error.maxBytes : (error.cause as BodyTooLargeError).maxBytes, c.req.path === '/mcp' ? 'mcp' : 'rest');
    }
    runtime.log.error('Unhandled error in request', { path: c.req.path, error: error.stack ?? error.message });
    return jsonError(500, 'internal', 'Internal error; the server log has the details (request id ' + (c.get('requestId' as never) ?? '?') + ').');
  });

  return { app, mcpHandler };
}

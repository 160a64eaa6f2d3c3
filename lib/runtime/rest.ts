/**
 * The REST door for plain HTTP automation: the same handlers over JSON, reached through routes.json.
 * Every tool answers at POST /v1/tools/<name> (the default pattern); routes.json may add GET routes
 * whose query string and path parameters become the arguments. Errors carry the HTTP status of their
 * code (400, 401, 403, 404, 409, 428 for a confirmation, 502/503/504 for Proxmox trouble).
 */
import { readFileSync } from 'node:fs';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { httpStatusFor } from '../errors.ts';
import { projectPath } from '../paths.ts';
import type { AnyTool, Caller } from '../tool.ts';
import { confirmationArgument, invokeTool } from './invoke.ts';
import { inputJsonSchema, outputJsonSchema } from './mcp.ts';
import type { Runtime } from './runtime.ts';

export interface RouteTable {
  defaults: { pattern: string; method: string };
  routes: { pattern: string; method: string; function: string }[];
}

const routeTableSchema = z.object({
  defaults: z.object({ pattern: z.string().includes(':tool'), method: z.enum(['GET', 'POST']) }),
  routes: z.array(z.object({ pattern: z.string().startsWith('/'), method: z.enum(['GET', 'POST']), function: z.string() })),
});

export function loadRouteTable(file = projectPath('routes.json')): RouteTable {
  const parsed = routeTableSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`routes.json is not valid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  return parsed.data;
}

/** Query-string values are text; numbers and booleans are given their JSON meaning. */
function queryArguments(query: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (/^-?\d+(\.\d+)?$/.test(value) || value === 'true' || value === 'false') out[key] = JSON.parse(value);
    else out[key] = value;
  }
  return out;
}

interface RestOptions {
  /** Runs before every route: authenticates (the caller lands in c.get('caller')) and caps the body. */
  guard: MiddlewareHandler[];
  name: string;
  version: string;
}

/** app.on with a list of handlers (Hono's typed overloads want them one by one). */
export function on(app: Hono, method: string, pattern: string, handlers: MiddlewareHandler[]): void {
  (app.on as unknown as (method: string, path: string, ...rest: MiddlewareHandler[]) => void)(method, pattern, ...handlers);
}

const httpMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * Every method a path does not serve answers 405 with the methods it does serve in `Allow` (HEAD rides
 * on GET, OPTIONS answers 204 with `Allow`). Register after the path's real routes. `known` decides, for
 * a pattern with parameters, whether the concrete path exists at all (404 otherwise).
 */
export function methodNotAllowed(app: Hono, pattern: string, allowed: string[], options: { known?: (c: Context) => boolean; hint?: (c: Context) => string } = {}): void {
  const allow = [...new Set([...allowed.map((method) => method.toUpperCase()), ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'])].join(', ');
  const others = httpMethods.filter((method) => !allowed.includes(method));
  app.on([...others], pattern, (c) => {
    if (options.known && !options.known(c)) {
      return c.json({ success: false, error: { code: 'not_found', message: `No route ${c.req.method} ${c.req.path}. GET /v1/openapi.json lists the routes.` } }, 404);
    }
    if (c.req.method === 'OPTIONS') return new Response(null, { status: 204, headers: { allow } });
    const message = `${c.req.method} is not served at ${c.req.path}; use ${allowed.join(' or ')}.${options.hint ? ' ' + options.hint(c) : ''}`;
    return c.json({ success: false, error: { code: 'method_not_allowed', message } }, 405, { allow });
  });
}

/** Deepest nesting of arrays/objects a body may have; no tool takes anything near it. */
const maxJsonDepth = 64;

/** Whether JSON text nests deeper than `max`, found by scanning (strings skipped) without parsing. */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) {
      if (++depth > max) return true;
    } else if (ch === 93 || ch === 125) depth--;
  }
  return false;
}

export function mountRest(app: Hono, runtime: Runtime, options: RestOptions): void {
  const table = loadRouteTable();
  for (const route of table.routes) {
    if (!runtime.tools.has(route.function)) throw new Error(`routes.json: ${route.method} ${route.pattern} names function '${route.function}', which is not in functions/`);
  }

  async function serve(c: Context, tool: AnyTool, args: Record<string, unknown>): Promise<Response> {
    const caller = c.get('caller' as never) as Caller;
    const headerConfirmation = c.req.header('x-confirmation-id');
    const result = await invokeTool(runtime, tool, headerConfirmation ? { ...args, [confirmationArgument]: headerConfirmation } : args, caller, { signal: c.req.raw.signal });
    const status = result.kind === 'ok' ? 200 : httpStatusFor(result.error.code);
    return c.json(result.envelope as never, status as never);
  }

  async function bodyArguments(c: Context): Promise<Record<string, unknown> | Response> {
    const text = await c.req.text();
    if (!text.trim()) return {};
    if (jsonNestsDeeperThan(text, maxJsonDepth)) {
      return c.json({ success: false, error: { code: 'invalid_input', message: `The request body nests arrays/objects deeper than ${maxJsonDepth} levels; no tool takes arguments like that.` } }, 400);
    }
    try {
      const value = JSON.parse(text) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through
    }
    return c.json({ success: false, error: { code: 'invalid_input', message: 'The request body must be a JSON object of arguments, e.g. {"vmid": 101}.' } }, 400);
  }

  for (const route of table.routes) {
    const tool = runtime.tools.get(route.function) as AnyTool;
    const handler = async (c: Context) => {
      const params = queryArguments(c.req.param() as Record<string, string>);
      if (route.method === 'GET') return serve(c, tool, { ...queryArguments(c.req.query()), ...params });
      const body = await bodyArguments(c);
      return body instanceof Response ? body : serve(c, tool, { ...body, ...params });
    };
    on(app, route.method, route.pattern, [...options.guard, handler]);
  }

  const defaultPattern = table.defaults.pattern;
  const defaultHandler = async (c: Context) => {
    const tool = runtime.tools.get(c.req.param('tool') ?? '');
    if (!tool) return c.json({ success: false, error: { code: 'not_found', message: `No tool '${c.req.param('tool')}'. GET /v1/openapi.json lists them.` } }, 404);
    if (table.defaults.method === 'GET') return serve(c, tool, queryArguments(c.req.query()));
    const body = await bodyArguments(c);
    return body instanceof Response ? body : serve(c, tool, body);
  };
  on(app, table.defaults.method, defaultPattern, [...options.guard, defaultHandler]);

  // Built on first request: converting every schema costs ~100 ms of start-up and heap nobody may need.
  let openapi: ReturnType<typeof buildOpenApi> | undefined;
  app.get('/v1/openapi.json', (c) => {
    openapi ??= buildOpenApi(runtime, table, options);
    return c.json({ ...openapi, servers: [{ url: new URL(c.req.url).origin, description: 'This server, as this request reached it' }] });
  });

  // Wrong methods on known paths: 405 with Allow (registered after the real routes, which win).
  const methodsByPattern = new Map<string, Set<string>>();
  for (const route of table.routes) methodsByPattern.set(route.pattern, (methodsByPattern.get(route.pattern) ?? new Set()).add(route.method));
  const getRoutesOf = (toolName: string) => table.routes.filter((route) => route.function === toolName && route.method === 'GET').map((route) => `GET ${route.pattern}`);
  for (const [pattern, methods] of methodsByPattern) methodNotAllowed(app, pattern, [...methods]);
  methodNotAllowed(app, defaultPattern, [table.defaults.method], {
    known: (c) => runtime.tools.has(c.req.param('tool') ?? ''),
    hint: (c) => {
      const name = c.req.param('tool') ?? '';
      const also = getRoutesOf(name);
      return table.defaults.method === 'POST'
        ? `Send the arguments as a JSON object body, e.g. curl -X POST -H "Authorization: Bearer <token>" -H "Content-Type: application/json" -d '{}' ${new URL(c.req.url).origin}${c.req.path}${also.length ? ` (reads also at ${also.join(', ')})` : ''}.`
        : '';
    },
  });
  methodNotAllowed(app, '/v1/openapi.json', ['GET']);
}

export function buildOpenApi(runtime: Runtime, table: RouteTable, info: { name: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponses = {
    '400': { description: 'Invalid arguments' },
    '401': { description: 'Missing, wrong, expired or revoked client token' },
    '403': { description: 'Not allowed: role, mode, Proxmox privilege or a protection' },
    '404': { description: 'Not found' },
    '428': { description: 'Confirmation required (safe mode): repeat with confirmation_id' },
    '502': { description: 'Proxmox answered with an error' },
    '503': { description: 'Proxmox or a node is unreachable' },
    '504': { description: 'Timed out' },
  };
  for (const tool of runtime.tools.values()) {
    const path = table.defaults.pattern.replace(':tool', tool.name).replace(/:([a-z_]+)/g, '{$1}');
    paths[path] = {
      [table.defaults.method.toLowerCase()]: {
        operationId: tool.name,
        tags: [tool.effect],
        summary: tool.title,
        description: tool.description,
        'x-effect': tool.effect,
        requestBody: { required: false, content: { 'application/json': { schema: inputJsonSchema(tool) } } },
        responses: { '200': { description: 'Envelope with data', content: { 'application/json': { schema: outputJsonSchema(tool) } } }, ...errorResponses },
      },
    };
  }
  for (const route of table.routes) {
    const tool = runtime.tools.get(route.function) as AnyTool;
    const path = route.pattern.replace(/:([a-z_]+)/g, '{$1}');
    const pathParams = [...route.pattern.matchAll(/:([a-z_]+)/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string' } }));
    paths[path] = {
      ...(paths[path] ?? {}),
      [route.method.toLowerCase()]: {
        operationId: `${tool.name}_${route.method.toLowerCase()}_${path.replace(/[^a-z]+/g, '_')}`,
        tags: [tool.effect],
        summary: tool.title,
        description: tool.description,
        'x-effect': tool.effect,
        parameters: pathParams,
        responses: { '200': { description: 'Envelope with data', content: { 'application/json': { schema: outputJsonSchema(tool) } } }, ...errorResponses },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.name, version: info.version, description: 'REST door of proxmox-mcp: the same tools as the MCP endpoint, as plain JSON.', license: { name: 'MIT', identifier: 'MIT' } },
    tags: [
      { name: 'read', description: 'Tools that only read; they run in every mode.' },
      { name: 'write', description: 'Tools that change something; safe mode asks first, read-only mode refuses.' },
      { name: 'destructive', description: 'Tools that can destroy data or stop service; confirmation or proof as the token is set up.' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

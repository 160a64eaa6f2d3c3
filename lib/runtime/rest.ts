/**
 * The REST door for plain HTTP automation: the same handlers over JSON, reached through routes.json.
 * Every tool answers at POST /v1/tools/<name> (the default pattern); routes.json may add GET routes
 * whose query string and path parameters become the arguments. Errors carry the HTTP status of their
 * code (400, 401, 403, 404, 409, 428 for a confirmation, 502/503/504 for Proxmox trouble).
 */
import { readFileSync } from 'node:fs';
import type { Context, Hono } from 'hono';
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
  resolveCaller: (c: Context, requestId: string) => Promise<Caller | Response>;
  name: string;
  version: string;
}

export function mountRest(app: Hono, runtime: Runtime, options: RestOptions): void {
  const table = loadRouteTable();
  for (const route of table.routes) {
    if (!runtime.tools.has(route.function)) throw new Error(`routes.json: ${route.method} ${route.pattern} names function '${route.function}', which is not in functions/`);
  }

  async function serve(c: Context, tool: AnyTool, args: Record<string, unknown>): Promise<Response> {
    const requestId = c.get('requestId' as never) as string;
    const caller = await options.resolveCaller(c, requestId);
    if (caller instanceof Response) return caller;
    const headerConfirmation = c.req.header('x-confirmation-id');
    const result = await invokeTool(runtime, tool, headerConfirmation ? { ...args, [confirmationArgument]: headerConfirmation } : args, caller, { signal: c.req.raw.signal });
    const status = result.kind === 'ok' ? 200 : httpStatusFor(result.error.code);
    return c.json(result.envelope as never, status as never);
  }

  async function bodyArguments(c: Context): Promise<Record<string, unknown> | Response> {
    const text = await c.req.text();
    if (!text.trim()) return {};
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
    if (route.method === 'GET') app.get(route.pattern, handler);
    else app.post(route.pattern, handler);
  }

  const defaultPattern = table.defaults.pattern;
  const defaultHandler = async (c: Context) => {
    const tool = runtime.tools.get(c.req.param('tool') ?? '');
    if (!tool) return c.json({ success: false, error: { code: 'not_found', message: `No tool '${c.req.param('tool')}'. GET /v1/openapi.json lists them.` } }, 404);
    if (table.defaults.method === 'GET') return serve(c, tool, queryArguments(c.req.query()));
    const body = await bodyArguments(c);
    return body instanceof Response ? body : serve(c, tool, body);
  };
  if (table.defaults.method === 'GET') app.get(defaultPattern, defaultHandler);
  else app.post(defaultPattern, defaultHandler);

  // Built on first request: converting every schema costs ~100 ms of start-up and heap nobody may need.
  let openapi: ReturnType<typeof buildOpenApi> | undefined;
  app.get('/v1/openapi.json', (c) => c.json((openapi ??= buildOpenApi(runtime, table, options))));
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
        summary: tool.title,
        'x-effect': tool.effect,
        parameters: pathParams,
        responses: { '200': { description: 'Envelope with data', content: { 'application/json': { schema: outputJsonSchema(tool) } } }, ...errorResponses },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.name, version: info.version, description: 'REST door of proxmox-mcp: the same tools as the MCP endpoint, as plain JSON.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

import { z } from 'zod';
import { defineTool, type Effect, type Plan } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { isUpid } from '../lib/pve/upid.ts';
import { canonicalApiPath } from '../lib/policy/normalize.ts';
import { judgeRequest } from '../lib/policy/guard.ts';
import { isSensitiveRead } from '../lib/policy/sensitive-reads.ts';
import { redactArgs } from '../lib/runtime/redact-args.ts';
import type { PveParams } from '../lib/pve/types.ts';

const methods = ['GET', 'POST', 'PUT', 'DELETE'] as const;
type Method = (typeof methods)[number];

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]);

const effectByMethod: Record<Method, Effect> = { GET: 'read', POST: 'write', PUT: 'write', DELETE: 'destructive' };

interface Prepared {
  method: Method;
  path: string;
  params: PveParams;
}

/**
 * The request exactly as it will be sent: canonical path (see lib/policy/normalize.ts canonicalApiPath),
 * and a query string in the path merged into the parameters. A name given both ways is refused rather
 * than guessed, because Proxmox would read only one of them.
 */
function prepare(input: { method: Method; path: string; params?: Record<string, unknown> }): Prepared {
  const { path, queryParams } = canonicalApiPath(input.path);
  const params: Record<string, unknown> = { ...(input.params ?? {}) };
  for (const [key, value] of Object.entries(queryParams)) {
    if (key in params) {
      throw new ToolError('invalid_input', `Parameter "${key}" is given both in the path's query string and in params; give it once, in params.`);
    }
    params[key] = value;
  }
  return { method: input.method, path, params: params as PveParams };
}

function describe(prepared: Prepared): string {
  const shown = redactArgs(prepared.params) as Record<string, unknown>;
  const parts = Object.entries(shown).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  return `${prepared.method} /api2/json${prepared.path}${parts.length ? ` with ${parts.join(' ')}` : ''}`;
}

export default defineTool({
  name: 'proxmox_api',
  title: 'Call any Proxmox VE API endpoint',
  description: 'One Proxmox VE API request (/api2/json) for what no typed tool covers: GET reads, POST/PUT change, DELETE destroys, with the same protections.',
  input: z.object({
    method: z.enum(methods),
    path: z.string().min(1).max(2048).describe('Below /api2/json, e.g. /cluster/resources'),
    params: z.record(z.string(), paramValue).optional().describe('Query (GET) or body'),
    wait: z.boolean().default(true).describe('Wait for a task it starts'),
    timeout: z.coerce.number().int().min(1).max(3600).default(300).describe('Seconds to wait for the task'),
  }),
  output: z.object({
    method: z.enum(methods),
    path: z.string(),
    result: z.unknown(),
    upid: z.string().nullable(),
    task: z
      .object({ status: z.string(), exitstatus: z.string(), ok: z.boolean(), duration_ms: z.number() })
      .nullable(),
  }),
  effect: 'destructive',
  // A GET that hands out guest or backup contents (agent file-read, exec-status) is not a read.
  effectOf: (input) => (input.method === 'GET' && isSensitiveRead(input.path) ? 'write' : effectByMethod[input.method]),
  idempotent: false,
  async explain(input, ctx): Promise<Plan> {
    const prepared = prepare(input);
    // Judged now, before anyone is asked to confirm; the client guard judges it again when it is sent.
    await judgeRequest(ctx, prepared.method, prepared.path, prepared.params as Record<string, unknown>);
    const effect = effectByMethod[prepared.method];
    return {
      summary: `Send ${describe(prepared)} to Proxmox`,
      apiCalls: [`${prepared.method} ${prepared.path}`],
      cliEquivalent: `pvesh ${{ GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' }[prepared.method]} ${prepared.path}`,
      risk: effect === 'destructive' ? 'high' : effect === 'write' ? 'medium' : 'none',
      reversible: effect !== 'destructive',
      undo: effect === 'write' ? 'Depends on the endpoint: set the previous values again (read them first with GET).' : undefined,
      warnings:
        effect === 'destructive'
          ? [`DELETE ${prepared.path} removes something in Proxmox; it cannot be undone through this server.`]
          : effect === 'write'
            ? [`${prepared.method} ${prepared.path} changes the cluster; a raw API call is not checked beyond the policy, so read the endpoint's documentation first.`]
            : [],
    };
  },
  async run(input, ctx) {
    const prepared = prepare(input);
    const result = await ctx.pve.request<unknown>(prepared.method, prepared.path, prepared.params, { signal: ctx.signal });
    if (prepared.method !== 'GET') ctx.pve.invalidate();
    const node = /^\/nodes\/([^/]+)/.exec(prepared.path)?.[1];
    const vmidText = /^\/nodes\/[^/]+\/(?:qemu|lxc)\/(\d+)/.exec(prepared.path)?.[1];
    const target = { ...(node ? { node: decodeURIComponent(node) } : {}), ...(vmidText ? { vmid: Number(vmidText) } : {}) };
    if (!isUpid(result)) {
      return {
        data: { method: prepared.method, path: prepared.path, result, upid: null, task: null },
        summary: `${prepared.method} ${prepared.path}: ok`,
        ...target,
      };
    }
    if (!input.wait) {
      return {
        data: { method: prepared.method, path: prepared.path, result, upid: result, task: null },
        summary: `${prepared.method} ${prepared.path}: task started (${result})`,
        upids: [result],
        suggestions: ['Follow the task with proxmox_api GET /nodes/{node}/tasks/{upid}/status.'],
        ...target,
      };
    }
    const task = await ctx.pve.waitForTask(result, {
      signal: ctx.signal,
      timeoutMs: input.timeout * 1000,
      onProgress: (progress) => ctx.progress({ progress: Math.round(progress.elapsedMs / 1000), message: progress.lastLine ?? `task ${progress.status}` }),
    });
    return {
      data: {
        method: prepared.method,
        path: prepared.path,
        result,
        upid: result,
        task: { status: task.status, exitstatus: task.exitstatus, ok: task.ok, duration_ms: task.durationMs },
      },
      summary: `${prepared.method} ${prepared.path}: task ${task.exitstatus}`,
      upids: [result],
      ...(task.exitstatus.startsWith('WARNINGS') ? { warnings: [`The task finished with ${task.exitstatus}; see its log.`] } : {}),
      ...target,
    };
  },
});

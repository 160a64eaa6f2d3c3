/**
 * What every resource shares: a Proxmox view that only reads and passes the caller's guard, JSON
 * contents, and errors a person can act on.
 *
 * Resources are reads. The view below refuses any method but GET before the request leaves the client,
 * and then applies the same guard a read tool gets (runtime.guardFor(caller, 'read')), so protections
 * and modes hold here exactly as they do for tools.
 */
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError, type ReadResourceResult, type ServerContext } from '@modelcontextprotocol/server';
import { ToolError, toToolError } from '../errors.ts';
import type { PveClient, PveRequestGuard } from '../pve/types.ts';
import type { Caller } from '../tool.ts';
import type { Runtime } from '../runtime/runtime.ts';

const getOnly: PveRequestGuard = (request) => {
  if (request.method !== 'GET') {
    throw new ToolError('forbidden', `Resources only read: ${request.method} ${request.path} was not sent. Use the tools to change anything.`);
  }
};

/** The Proxmox client a resource read uses for this caller: GET only, then the caller's read guard. */
export function readerFor(runtime: Runtime, caller: Caller): PveClient {
  const reading = runtime.pve.withGuard(getOnly);
  return runtime.guardFor ? reading.withGuard(runtime.guardFor(caller, 'read')) : reading;
}

/** The same, for completions: they only list node names and guest ids, which every client may see. */
export function lister(runtime: Runtime): PveClient {
  return runtime.pve.withGuard(getOnly);
}

/** The caller of a request: the one the door resolved, or the one the SDK hands the handler. */
export function callerOf(ctx: ServerContext, fallback: Caller | undefined): Caller {
  const withAuth = ctx as { http?: { authInfo?: { extra?: { caller?: Caller } } } };
  const caller = fallback ?? withAuth.http?.authInfo?.extra?.caller;
  if (!caller) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'Not authenticated: send a client token (Authorization: Bearer ...).');
  return caller;
}

export function jsonResource(uri: URL | string, data: unknown): ReadResourceResult {
  return { contents: [{ uri: String(uri), mimeType: 'application/json', text: JSON.stringify(data) }] };
}

export function markdownResource(uri: URL | string, text: string): ReadResourceResult {
  return { contents: [{ uri: String(uri), mimeType: 'text/markdown', text }] };
}

/**
 * A failed read as the protocol error a client shows: not found stays "resource not found" (with our
 * message, which names what is missing and what exists), anything else carries our code and message.
 */
export function asProtocolError(uri: URL | string, thrown: unknown): Error {
  if (thrown instanceof ProtocolError) return thrown;
  const error = toToolError(thrown);
  if (error.code === 'not_found') return new ResourceNotFoundError(String(uri), error.message);
  const code =
    error.code === 'invalid_input'
      ? ProtocolErrorCode.InvalidParams
      : ['forbidden', 'protected', 'mode_denied', 'unauthenticated'].includes(error.code)
        ? ProtocolErrorCode.InvalidRequest
        : ProtocolErrorCode.InternalError;
  return new ProtocolError(code, `${error.code}: ${error.message}`, { uri: String(uri), code: error.code });
}

/** Runs a read and turns whatever it throws into a protocol error. */
export async function reading(uri: URL | string, read: () => Promise<ReadResourceResult>): Promise<ReadResourceResult> {
  try {
    return await read();
  } catch (thrown) {
    throw asProtocolError(uri, thrown);
  }
}

/** Names of the nodes, from the cached /cluster/resources. */
export async function nodeNames(pve: PveClient): Promise<string[]> {
  const nodes = await pve.clusterResources('node');
  return nodes.map((row) => String(row.node ?? row.id.replace(/^node\//, ''))).sort();
}

/** Percent with one decimal, or undefined when the total is unknown. */
export function percent(used: unknown, total: unknown): number | undefined {
  const u = Number(used);
  const t = Number(total);
  if (!Number.isFinite(u) || !Number.isFinite(t) || t <= 0) return undefined;
  return Math.round((u / t) * 1000) / 10;
}

/** Bytes as GiB with one decimal. */
export function gib(bytes: unknown): number | undefined {
  const b = Number(bytes);
  return Number.isFinite(b) ? Math.round((b / 1024 ** 3) * 10) / 10 : undefined;
}

/** Drops undefined fields so the JSON stays compact. */
export function compact<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined && value !== null && value !== '')) as Partial<T>;
}

/**
 * One HTTP exchange with Proxmox: encode the parameters the way pveproxy reads them, authenticate with
 * the API token, apply the timeout and the caller's signal, retry only what is safe to retry (GET on
 * network errors, 502, 503, 595 and timeouts), unwrap `{data}`, and map every failure to a ToolError.
 */
import { raceAbort, sleep } from '../abort.ts';
import { ofetch, type $Fetch } from 'ofetch';
import { ToolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { htmlError, invalidJsonError, isRetryableNetworkError, mapHttpError, mapNetworkError, type RequestDescription } from './errors.ts';
import { looksLikeHtml, num } from './parse.ts';
import type { HttpMethod, PveParams, PveRequestOptions } from './types.ts';

export interface TransportOptions {
  baseUrl: string;
  tokenId: string;
  tokenSecret: string;
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  timeoutMs: number;
  /** Extra tries for GET after the first (default 2, i.e. 3 tries). */
  retries: number;
  log?: Logger;
  /** Delay before retry n (0-based); default 100, 300, 900... ms. */
  retryDelayMs?: (attempt: number) => number;
}

export interface Envelope<T> {
  data: T;
  /** `total` that some list calls add (task lists, task logs). */
  total?: number;
  /** `changes` that the network list adds: the diff to the staged /etc/network/interfaces.new. */
  changes?: string;
}

export interface Transport {
  readonly baseUrl: string;
  readonly tokenId: string;
  send<T>(method: HttpMethod, path: string, params: PveParams | undefined, options?: PveRequestOptions): Promise<Envelope<T>>;
}

/** `https://h:8006/`, `https://h:8006/api2/json` -> `https://h:8006`. */
export function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.trim().replace(/\/+$/, '').replace(/\/api2\/json$/i, '').replace(/\/+$/, '');
}

/** Parameters as pveproxy reads them: booleans 0/1, arrays as repeated keys, undefined/null left out. */
export function encodeParams(params: PveParams | undefined): URLSearchParams {
  const search = new URLSearchParams();
  if (!params) return search;
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (item === undefined || item === null) continue;
      search.append(key, typeof item === 'boolean' ? (item ? '1' : '0') : String(item));
    }
  }
  return search;
}

/**
 * Check and tidy an API path. Dot segments are refused because URL parsing would resolve them after a
 * guard saw the path (`/nodes/../access/users` would reach `/access/users`).
 */
export function normalizePath(path: string): string {
  let out = path.trim();
  if (/^\/?api2\/json(\/|$)/i.test(out)) out = out.replace(/^\/?api2\/json/i, '');
  if (!out.startsWith('/')) out = `/${out}`;
  if (/[?#\\\s\x00-\x1f\x7f]/.test(out)) {
    throw new ToolError('invalid_input', `Invalid Proxmox API path "${path}": no query string, fragment, backslash or whitespace allowed; pass parameters separately.`);
  }
  const segments = out.split('/').slice(1);
  for (const segment of segments) {
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new ToolError('invalid_input', `Invalid Proxmox API path "${path}": bad percent-encoding in "${segment}".`);
    }
    if (decoded === '.' || decoded === '..') {
      throw new ToolError('invalid_input', `Invalid Proxmox API path "${path}": "." and ".." segments are not allowed.`);
    }
  }
  out = out.replace(/\/{2,}/g, '/');
  if (out.length > 1) out = out.replace(/\/+$/, '');
  return out;
}

class AttemptFailure extends Error {
  constructor(
    readonly toolError: ToolError,
    readonly retryable: boolean,
  ) {
    super(toolError.message);
  }
}

const retryableStatuses = new Set([502, 503, 595]);

/** Settle with `promise`, or reject as soon as `signal` aborts (for fetch functions that ignore it). */

export function createTransport(options: TransportOptions): Transport {
  const baseUrl = normalizeBaseUrl(options.baseUrl);
  const tokenId = options.tokenId;
  const authorization = `PVEAPIToken=${options.tokenId}=${options.tokenSecret}`;
  const retryDelay = options.retryDelayMs ?? ((attempt: number) => 100 * 3 ** attempt);
  const $fetch: $Fetch = ofetch.create(
    { retry: false, ignoreResponseError: true, responseType: 'text', redirect: 'manual' },
    { fetch: options.fetch as typeof globalThis.fetch },
  );

  async function attempt<T>(method: HttpMethod, path: string, query: string, body: string | undefined, requestOptions: PveRequestOptions): Promise<Envelope<T>> {
    const description: RequestDescription = { method, path, baseUrl, tokenId };
    const timeoutMs = requestOptions.timeoutMs ?? options.timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const callerSignal = requestOptions.signal;
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout.signal]) : timeout.signal;
    const url = `${baseUrl}/api2/json${path}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const started = Date.now();
    let response: Response & { _data?: unknown };
    try {
      response = await raceAbort($fetch.raw(url, { method, headers, body, signal }), signal);
    } catch (error) {
      if (callerSignal?.aborted) {
        throw new AttemptFailure(
          new ToolError(
            'timeout',
            `The call was cancelled while waiting for Proxmox to answer ${method} ${path}.` +
              (method === 'GET' ? '' : ' The change may or may not have been made on Proxmox; check before trying again.'),
            { details: { method, path, cancelled: true } },
          ),
          false,
        );
      }
      if (timeout.signal.aborted) {
        throw new AttemptFailure(
          new ToolError(
            'timeout',
            `Proxmox at ${baseUrl} did not answer ${method} ${path} within ${timeoutMs} ms.` +
              (method === 'GET' ? ' It may be overloaded or a node may hang; try again or raise PROXMOX_TIMEOUT_MS.' : ' The change may still happen on Proxmox; check before trying again.'),
            { details: { method, path, timeoutMs } },
          ),
          true,
        );
      }
      const mapped = mapNetworkError(error, description);
      throw new AttemptFailure(mapped, isRetryableNetworkError(error));
    } finally {
      clearTimeout(timer);
    }
    const text = typeof response._data === 'string' ? response._data : '';
    const contentType = response.headers.get('content-type');
    options.log?.debug('proxmox request', { method, path, status: response.status, ms: Date.now() - started });
    if (response.status < 200 || response.status >= 300) {
      const mapped = mapHttpError({ ...description, status: response.status, statusText: response.statusText, bodyText: text, contentType });
      throw new AttemptFailure(mapped, retryableStatuses.has(response.status));
    }
    if (looksLikeHtml(text, contentType)) throw new AttemptFailure(htmlError({ ...description, status: response.status }), false);
    if (text.trim() === '') return { data: null as T };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AttemptFailure(invalidJsonError({ ...description, status: response.status, bodyText: text }), false);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('data' in parsed)) {
      throw new AttemptFailure(
        new ToolError('upstream', `Proxmox at ${baseUrl} answered ${method} ${path} without the {data} envelope; is PROXMOX_URL pointing at pveproxy (port 8006)?`, {
          details: { method, path, status: response.status },
        }),
        false,
      );
    }
    const envelope = parsed as { data: T; total?: unknown; changes?: unknown };
    const total = num(envelope.total);
    return {
      data: envelope.data,
      ...(total === undefined ? {} : { total }),
      ...(typeof envelope.changes === 'string' ? { changes: envelope.changes } : {}),
    };
  }

  async function send<T>(method: HttpMethod, rawPath: string, params: PveParams | undefined, requestOptions: PveRequestOptions = {}): Promise<Envelope<T>> {
    const path = normalizePath(rawPath);
    const encoded = encodeParams(params).toString();
    const inQuery = method === 'GET' || method === 'DELETE';
    const query = inQuery ? encoded : '';
    const body = inQuery || encoded === '' ? undefined : encoded;
    const maxRetries = method === 'GET' ? Math.max(0, options.retries) : 0;
    for (let tryIndex = 0; ; tryIndex++) {
      try {
        return await attempt<T>(method, path, query, body, requestOptions);
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        if (!error.retryable || tryIndex >= maxRetries) throw error.toolError;
        const delay = retryDelay(tryIndex);
        options.log?.warn('proxmox request failed, retrying', { method, path, attempt: tryIndex + 1, delayMs: delay, reason: error.toolError.message });
        try {
          await sleep(delay, requestOptions.signal);
        } catch {
          throw new ToolError('timeout', `The call was cancelled while retrying ${method} ${path}.`, { details: { method, path, cancelled: true } });
        }
      }
    }
  }

  return { baseUrl, tokenId, send };
}

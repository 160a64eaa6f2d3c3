/**
 * The Proxmox VE client every handler uses through ctx.pve (interface: types.ts). It talks to pveproxy
 * over HTTPS (with pinning, see tls.ts) or to the simulator through an injected fetch, and adds what
 * callers should not each redo: task waiting, a short shared cache of /cluster/resources, and finding
 * the node a guest is on.
 */
import { raceAbort } from '../abort.ts';
import type { Config } from '../config.ts';
import { ToolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { parseClusterResources } from './parse.ts';
import { readTaskLogTail, requireUpid, waitForTask, type EnvelopeRequester } from './tasks.ts';
import { createNodeFetch, type FetchLike, type TlsOptions } from './tls.ts';
import { createTransport, normalizeBaseUrl, type Envelope, type Transport } from './transport.ts';
import type {
  ClusterResource,
  GuestLocation,
  GuestType,
  HttpMethod,
  PveClient,
  PveParams,
  PveRequestGuard,
  PveRequestOptions,
  PveVersionInfo,
  TaskResult,
  WaitOptions,
} from './types.ts';

export interface PveClientOptions {
  /** `https://host:8006` (a trailing `/api2/json` is accepted), or any URL when `fetch` is given. */
  baseUrl: string;
  /** `user@realm!tokenid`. */
  tokenId: string;
  tokenSecret: string;
  /** A fetch to use instead of the network (the in-process simulator); takes a Request. */
  fetch?: FetchLike;
  tls?: TlsOptions;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /** Extra tries for GET on network errors, 502, 503, 595 and timeouts; default 2 (3 tries in all). */
  retries?: number;
  log?: Logger;
  /** How long /cluster/resources answers are reused; default 2 s. */
  cacheTtlMs?: number;
  /** Delay before GET retry n (0-based); default 100 ms, 300 ms, 900 ms... */
  retryDelayMs?: (attempt: number) => number;
}

/** A PveClient that owns connections: close() ends idle keep-alive sockets (views share them). */
export interface OwnedPveClient extends PveClient {
  close(): void;
}

interface CacheEntry {
  promise: Promise<ClusterResource[]>;
  /** Undefined while the request is in flight. */
  expiresAt?: number;
}

interface Core {
  transport: Transport;
  cacheTtlMs: number;
  cache: Map<string, CacheEntry>;
  /** GET /version, once it answered. */
  version?: Promise<PveVersionInfo>;
}

function parseVersion(data: unknown): PveVersionInfo {
  const row = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const version = String(row.version ?? '');
  const release = String(row.release ?? (version.split('.').slice(0, 2).join('.') || ''));
  const major = Number.parseInt(release || version, 10);
  if (!Number.isFinite(major)) throw new ToolError('upstream', `Proxmox answered GET /version without a version (${JSON.stringify(data).slice(0, 200)}).`);
  return { version, release, ...(row.repoid !== undefined ? { repoid: String(row.repoid) } : {}), major };
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  return raceAbort(promise, signal, () => new ToolError('timeout', `The call was cancelled while waiting for ${what}.`, { details: { cancelled: true } }));
}

function guestLabel(type: GuestType | undefined): string {
  return type === 'lxc' ? 'CT' : 'VM';
}

function makeView(core: Core, guards: PveRequestGuard[]): PveClient {
  const { transport } = core;

  const runGuards = async (method: HttpMethod, path: string, params: PveParams | undefined) => {
    for (const guard of guards) await guard({ method, path, params });
  };

  const requestEnvelope: EnvelopeRequester = async <T>(method: HttpMethod, path: string, params: PveParams | undefined, options?: PveRequestOptions): Promise<Envelope<T>> => {
    await runGuards(method, path, params);
    return transport.send<T>(method, path, params, options);
  };

  const request = async <T = unknown>(method: HttpMethod, path: string, params?: PveParams, options?: PveRequestOptions): Promise<T> =>
    (await requestEnvelope<T>(method, path, params, options)).data;

  async function clusterResources(type?: 'vm' | 'node' | 'storage', options: PveRequestOptions & { fresh?: boolean } = {}): Promise<ClusterResource[]> {
    const key = type ?? '';
    const usable = () => {
      const cached = core.cache.get(key);
      return !options.fresh && cached && (cached.expiresAt === undefined || cached.expiresAt > Date.now()) ? cached : undefined;
    };
    const params: PveParams = type ? { type } : {};
    let cached = usable();
    if (!cached && guards.length > 0) {
      await runGuards('GET', '/cluster/resources', params);
      cached = usable(); // someone may have started the request while the guards ran
    }
    if (cached) return raceSignal(cached.promise, options.signal, 'the cluster resource list');
    // One shared request for everyone who asks meanwhile; it does not take any one caller's signal.
    const entry: CacheEntry = {
      promise: transport.send<unknown>('GET', '/cluster/resources', params, { timeoutMs: options.timeoutMs }).then((envelope) => parseClusterResources(envelope.data)),
    };
    core.cache.set(key, entry);
    entry.promise.then(
      () => {
        entry.expiresAt = Date.now() + core.cacheTtlMs;
      },
      () => {
        if (core.cache.get(key) === entry) core.cache.delete(key);
      },
    );
    return raceSignal(entry.promise, options.signal, 'the cluster resource list');
  }

  async function locateGuest(vmid: number, options: PveRequestOptions & { type?: GuestType; fresh?: boolean } = {}): Promise<GuestLocation> {
    if (!Number.isInteger(vmid) || vmid < 1) {
      throw new ToolError('invalid_input', `"${String(vmid)}" is not a VMID (a whole number, 100 or more).`);
    }
    const matches = (rows: ClusterResource[]) => rows.find((row) => (row.type === 'qemu' || row.type === 'lxc') && row.vmid === vmid);
    let found = matches(await clusterResources('vm', options));
    if (!found && !options.fresh) found = matches(await clusterResources('vm', { ...options, fresh: true }));
    if (found && found.node && (!options.type || found.type === options.type)) {
      return {
        vmid,
        type: found.type as GuestType,
        node: found.node,
        name: typeof found.name === 'string' ? found.name : undefined,
        status: typeof found.status === 'string' ? found.status : undefined,
        template: found.template === true,
      };
    }
    if (found && options.type && found.type !== options.type) {
      throw new ToolError(
        'not_found',
        `${guestLabel(options.type)} ${vmid} does not exist: ${vmid} is a ${found.type === 'lxc' ? 'container (lxc)' : 'VM (qemu)'} on node ${String(found.node)}.`,
        { details: { vmid, actualType: found.type, node: found.node } },
      );
    }
    let nodes: ClusterResource[] = [];
    try {
      nodes = await clusterResources('node', options);
    } catch {
      // the guest is missing either way; the node count is only a detail
    }
    const nodeNames = nodes.map((row) => String(row.node ?? row.id.replace(/^node\//, '')));
    const offline = nodes.filter((row) => row.status !== 'online').map((row) => String(row.node ?? row.id.replace(/^node\//, '')));
    const label = guestLabel(options.type);
    let message = `${label} ${vmid} does not exist on any node`;
    if (nodes.length > 0) {
      message += ` (checked ${nodes.length} node${nodes.length === 1 ? '' : 's'}`;
      message += offline.length > 0 ? `; ${offline.length} offline: ${offline.join(', ')})` : ')';
    }
    message += '.';
    if (offline.length > 0) {
      message += ` It might be on ${offline.length === 1 ? offline[0] : `one of ${offline.join(', ')}`}, which ${offline.length === 1 ? 'is' : 'are'} offline; bring ${offline.length === 1 ? 'it' : 'them'} back and try again.`;
    } else {
      message += ' List the guests to find the right VMID.';
    }
    throw new ToolError('not_found', message, { details: { vmid, nodes: nodeNames, offlineNodes: offline } });
  }

  const view: PveClient = {
    tokenId: transport.tokenId,
    baseUrl: transport.baseUrl,
    request,
    get: (path, params, options) => request('GET', path, params, options),
    post: (path, params, options) => request('POST', path, params, options),
    put: (path, params, options) => request('PUT', path, params, options),
    delete: (path, params, options) => request('DELETE', path, params, options),
    getEnvelope: (path, params, options) => requestEnvelope('GET', path, params, options),
    waitForTask: (upid: string, options?: WaitOptions): Promise<TaskResult> => waitForTask(requestEnvelope, upid, options),
    taskLogTail: async (upid: string, lines = 20, options?: PveRequestOptions) => (await readTaskLogTail(requestEnvelope, requireUpid(upid), lines, options)).lines,
    clusterResources,
    locateGuest,
    invalidate: () => core.cache.clear(),
    version: (options?: PveRequestOptions) => {
      if (!core.version) {
        const pending = request<unknown>('GET', '/version', undefined, options).then(parseVersion);
        core.version = pending;
        pending.catch(() => {
          if (core.version === pending) core.version = undefined;
        });
      }
      return raceSignal(core.version, options?.signal, 'the Proxmox version');
    },
    withGuard: (guard) => makeView(core, [...guards, guard]),
  };
  return view;
}

export function createPveClient(options: PveClientOptions): OwnedPveClient {
  if (!options.tokenId || !options.tokenSecret) {
    throw new ToolError('unauthenticated', 'No Proxmox API token configured: set PROXMOX_TOKEN_ID (user@realm!tokenid) and PROXMOX_TOKEN_SECRET.');
  }
  const injected = options.fetch;
  const nodeFetch = injected ? undefined : createNodeFetch({ tls: options.tls, log: options.log });
  const fetchImpl = injected
    ? (input: string | URL | Request, init?: RequestInit) => injected(input instanceof Request && init === undefined ? input : new Request(input, init))
    : nodeFetch!.fetch;
  const transport = createTransport({
    baseUrl: normalizeBaseUrl(options.baseUrl),
    tokenId: options.tokenId,
    tokenSecret: options.tokenSecret,
    fetch: fetchImpl,
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 2,
    log: options.log,
    retryDelayMs: options.retryDelayMs,
  });
  const core: Core = { transport, cacheTtlMs: options.cacheTtlMs ?? 2000, cache: new Map() };
  const view = makeView(core, []);
  return { ...view, close: () => nodeFetch?.close() };
}

/**
 * The client for the configured Proxmox. `overrides` can supply what the config lacks (the simulator's
 * fetch and token in demo mode) or replace any option (tests).
 */
export function createPveClientFromConfig(config: Config, overrides: Partial<PveClientOptions> = {}): OwnedPveClient {
  const proxmox = config.proxmox;
  const baseUrl = overrides.baseUrl ?? proxmox.url ?? (overrides.fetch ? 'http://simulator' : undefined);
  if (!baseUrl) {
    throw new ToolError('unavailable', 'PROXMOX_URL is not set: set it to https://<host>:8006 (or run ./setup.sh), or use the built-in simulator.');
  }
  return createPveClient({
    baseUrl,
    tokenId: overrides.tokenId ?? proxmox.tokenId ?? '',
    tokenSecret: overrides.tokenSecret ?? proxmox.tokenSecret ?? '',
    tls: overrides.tls ?? { fingerprint: proxmox.tlsFingerprint, caFile: proxmox.caFile, insecure: proxmox.tlsInsecure },
    timeoutMs: overrides.timeoutMs ?? proxmox.timeoutMs,
    fetch: overrides.fetch,
    retries: overrides.retries,
    log: overrides.log,
    cacheTtlMs: overrides.cacheTtlMs,
    retryDelayMs: overrides.retryDelayMs,
  });
}

/**
 * A stateful, in-memory Proxmox VE cluster that answers HTTP like pveproxy: `/api2/json` paths, the
 * `{"data": ...}` envelope, reason phrases, API-token auth, ACL permissions, schema validation against
 * lib/pve/api-contract.json, UPIDs and task lifecycles, plus fault injection for tests and benchmarks.
 * See README.md beside this file.
 */
import { sleep } from '../abort.ts';
import { endpointsFor, isPveVersion, RouteTable, splitKey, validateParams, type Params, type PveVersion } from './contract.ts';
import { Reply, SimCore, type Handler, type HandlerContext } from './core.ts';
import { PveError } from './errors.ts';
import { Faults, type FaultControl, type FaultRule } from './faults.ts';
import { AccessControl, splitTokenId, type AuthInfo } from './rbac.ts';
import { bytesToBinary, decodeUrlencoded } from './urlencoded.ts';
import { AUDITOR_TOKEN, generateState, type SimState } from './state.ts';
import { accessHandlers } from './handlers/access.ts';
import { clusterHandlers } from './handlers/cluster.ts';
import { guestHandlers } from './handlers/guests.ts';
import { haResourceHandlers } from './handlers/ha-resources.ts';
import { rrdHandlers } from './handlers/rrd.ts';
import { firewallHandlers } from './handlers/firewall.ts';
import { addPbsStorage, backupVolumeHandlers } from './handlers/backup-volumes.ts';
import { addInfra, infraHandlers } from './handlers/infra.ts';
import { networkHandlers } from './handlers/network.ts';
import { storageHandlers } from './handlers/storage.ts';

export type { FaultControl, FaultKind, FaultMatch, FaultOptions, FaultRule } from './faults.ts';
export type { SimState, SimGuest, SimNode, SimStorage, SimUser, SimVolume } from './state.ts';
export type { SimTask } from './tasks.ts';
export { AUDITOR_TOKEN } from './state.ts';
export { PVE_VERSIONS, isPveVersion, type PveVersion } from './contract.ts';
export { splitList } from './lists.ts';

export interface SimulatorOptions {
  /** Cluster size; nodes are pve1..pveN, pve1 is the main (local) node. Default 3. */
  nodes?: number;
  /** Total guests, mixed QEMU/LXC. Default 10. */
  guests?: number;
  seed?: number;
  /** Default `proxmox-mcp@pve!mcp`. */
  tokenId?: string;
  /** Default `sim-secret-not-for-production`. */
  tokenSecret?: string;
  /** How long tasks stay `running` (ms). Default 30; 0 finishes them inside the call. */
  taskDurationMs?: number;
  /**
   * Delay every 401 like pveproxy does (about 3000 ms; `npm run sim` uses 3000). Default 0 here, so tests stay
   * fast; set it to exercise the delay.
   */
  authFailureDelayMs?: number;
  /**
   * Which Proxmox VE to be: `'8.4'` or `'9.1'`. It picks GET /version, the privileges and built-in roles,
   * the schema requests are validated against (parameters, permissions, which endpoints exist), HA groups
   * or rules, and the answers that differ. Default: the env var SIM_PVE_VERSION when it names one (so a
   * whole test run can switch), else '9.1'.
   */
  pveVersion?: PveVersion;
  /** Add a Proxmox Backup Server storage, `pbs-store`, with verified, encrypted and protected snapshots. */
  pbs?: boolean;
  /** Add a Ceph cluster (an OSD down), SDN zones/vnets/subnets with pending changes, replication jobs (one failing). */
  ceph?: boolean;
  sdn?: boolean;
  replication?: boolean;
}

export interface SimStats {
  requests: number;
  /** By endpoint template, e.g. `GET /nodes/{node}/qemu`; unknown paths by their raw path. */
  byEndpoint: Map<string, number>;
  reset(): void;
}

export interface Simulator {
  fetch(request: Request): Promise<Response>;
  faults: FaultControl;
  stats: SimStats;
  state: SimState;
  defaultToken: { tokenId: string; secret: string };
  /** The Proxmox VE version this simulator speaks. */
  pveVersion: PveVersion;
  close(): void;
}

export const DEFAULT_TOKEN_ID = 'proxmox-mcp@pve!mcp';
export const DEFAULT_TOKEN_SECRET = 'sim-secret-not-for-production';

/** Every handler, for both versions; a version serves those its schema has (see endpointsFor). */
const HANDLERS: Record<string, Handler> = {
  ...clusterHandlers,
  ...guestHandlers,
  ...storageHandlers,
  ...networkHandlers,
  ...accessHandlers,
  ...haResourceHandlers,
  ...rrdHandlers,
  ...firewallHandlers,
  ...backupVolumeHandlers,
  ...infraHandlers,
};

/** Every route the simulator serves in some version (each one is in the endpoint contract). */
export const SIMULATOR_ROUTES: readonly string[] = Object.keys(HANDLERS);

const routeTables = new Map<PveVersion, RouteTable>();

function routesFor(version: PveVersion): RouteTable {
  let table = routeTables.get(version);
  if (!table) {
    table = new RouteTable(Object.fromEntries(Object.entries(endpointsFor(version)).filter(([k]) => k in HANDLERS)));
    routeTables.set(version, table);
  }
  return table;
}

/** The routes one version serves: its schema's endpoints that the simulator has a handler for. */
export function simulatorRoutes(version: PveVersion): string[] {
  return Object.keys(endpointsFor(version)).filter((k) => k in HANDLERS);
}

function defaultVersion(): PveVersion {
  let env: string | undefined;
  try {
    env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SIM_PVE_VERSION;
  } catch {
    env = undefined; // a runtime without env access (Deno without --allow-env)
  }
  return isPveVersion(env) ? env : '9.1';
}

const JSON_TYPE = 'application/json;charset=UTF-8';

const ROOT_ONLY_PARAMS = ['skiplock', 'keepActive', 'migratedfrom'] as const;

function reply(status: number, message: string, body: unknown): Response {
  const reason = message.split('\n')[0].replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return new Response(JSON.stringify(body), { status, statusText: reason, headers: { 'content-type': JSON_TYPE } });
}

/**
 * pveproxy's 401: auth_handler dies with a plain string and only the html format has a login formatter, so
 * the body is empty, there is no JSON content type, and the text is only in the reason phrase.
 */
function unauthorized(err: PveError): Response {
  const reason = err.message.split('\n')[0];
  return new Response(null, { status: 401, statusText: reason });
}

function errorResponse(err: PveError): Response {
  const body: Record<string, unknown> = { data: null, message: err.message };
  if (err.errors) body.errors = err.errors;
  return reply(err.status, err.message, body);
}

/**
 * AnyEvent.pm extract_params for POST/PUT: a JSON body when the content type says so (decode_json dies on
 * bad JSON, and anything but an object fails right after: both are 500s), else decode_urlencoded.
 */
async function readBody(request: Request): Promise<Record<string, unknown> | undefined> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (!bytes.length) return undefined;
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new PveError(500, 'malformed JSON string, neither tag, array, object, number, string or atom\n');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PveError(500, 'Not a HASH reference\n');
    return parsed as Record<string, unknown>;
  }
  return decodeUrlencoded(bytesToBinary(bytes));
}

function timingSafeEqualStr(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const pveVersion = options.pveVersion ?? defaultVersion();
  if (!isPveVersion(pveVersion)) throw new Error(`pveVersion '${String(pveVersion)}' is not one the simulator speaks (8.4 or 9.1)`);
  const routes = routesFor(pveVersion);
  const tokenId = options.tokenId ?? DEFAULT_TOKEN_ID;
  const secret = options.tokenSecret ?? DEFAULT_TOKEN_SECRET;
  if (!/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/.test(tokenId)) throw new Error(`tokenId '${tokenId}' is not user@realm!tokenid`);
  const state = generateState({
    nodes: options.nodes ?? 3,
    guests: options.guests ?? 10,
    seed: options.seed ?? 1,
    tokenId,
    tokenSecret: secret,
    now: Date.now(),
    pveVersion,
  });
  if (options.pbs) addPbsStorage(state, Math.floor(Date.now() / 1000));
  addInfra(state, { ceph: options.ceph, sdn: options.sdn, replication: options.replication }, Math.floor(Date.now() / 1000));
  const access = new AccessControl(state);
  const core = new SimCore(state, access, options.taskDurationMs ?? 30);
  const hanging = new Set<() => void>();
  const offlineBefore = new Set<string>();

  const faults = new Faults(
    (node, online) => {
      const n = state.nodes.get(node);
      if (!n) throw new Error(`no node '${node}' in the simulated cluster`);
      n.online = online;
      if (!online) offlineBefore.add(node);
    },
    () => {
      for (const node of offlineBefore) {
        const n = state.nodes.get(node);
        if (n) n.online = true;
      }
      offlineBefore.clear();
    },
  );

  const stats: SimStats = {
    requests: 0,
    byEndpoint: new Map(),
    reset() {
      this.requests = 0;
      this.byEndpoint.clear();
    },
  };

  function authenticate(request: Request): AuthInfo | PveError {
    const header = request.headers.get('authorization') ?? '';
    const m = /^PVEAPIToken[=\s](.+)$/.exec(header.trim());
    if (!m) return new PveError(401, 'No ticket');
    const value = m[1];
    const eq = value.lastIndexOf('=');
    if (eq < 0) return new PveError(401, 'Authentication failed!');
    const authid = value.slice(0, eq);
    const given = value.slice(eq + 1);
    const { user, token } = splitTokenId(authid);
    const u = state.users.get(user);
    const t = token ? u?.tokens.get(token) : undefined;
    const nowSec = Math.floor(Date.now() / 1000);
    if (!u || !t || !timingSafeEqualStr(t.secret, given) || !u.enable || (u.expire && u.expire <= nowSec) || (t.expire && t.expire <= nowSec)) {
      return new PveError(401, 'Authentication failed!');
    }
    return { authid, user, tokenid: token };
  }

  function faultResponse(rule: FaultRule, request: Request, real?: () => Promise<Response>): Promise<Response> | Response {
    switch (rule.kind) {
      case '500':
        return reply(rule.status ?? 500, rule.message ?? 'Internal Server Error', { data: null, message: `${rule.message ?? 'Internal Server Error'}\n` });
      case '595':
        return reply(595, rule.message ?? 'No route to host', { data: null, message: `${rule.message ?? 'No route to host'}\n` });
      case '596':
        return reply(596, rule.message ?? 'tls_process_server_certificate: certificate verify failed', { data: null, message: `${rule.message ?? 'tls_process_server_certificate: certificate verify failed'}\n` });
      case 'html': {
        const status = rule.status ?? 502;
        const title = rule.message ?? (status === 502 ? '502 Bad Gateway' : 'Sign in to continue');
        const html = `<!DOCTYPE html>\n<html>\n<head><title>${title}</title></head>\n<body>\n<center><h1>${title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n`;
        return new Response(html, { status, statusText: status === 502 ? 'Bad Gateway' : 'OK', headers: { 'content-type': 'text/html' } });
      }
      case 'badJson':
        return (async () => {
          const full = real ? await (await real()).text() : '{"data":[{"vmid":100,"name":"web01"}]}';
          const cut = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
          return new Response(cut, { status: 200, statusText: 'OK', headers: { 'content-type': JSON_TYPE } });
        })();
      case 'hang':
        return new Promise<Response>((_resolve, reject) => {
          const signal = request.signal;
          const abort = () => {
            hanging.delete(abort);
            reject(signal?.reason ?? new DOMException('The operation was aborted.', 'AbortError'));
          };
          if (signal?.aborted) return abort();
          hanging.add(abort);
          signal?.addEventListener('abort', abort, { once: true });
        });
    }
  }

  async function handle(request: Request, rel: string, segments: string[], routeKey: string | undefined): Promise<Response> {
    const method = request.method.toUpperCase();
    const auth = authenticate(request);
    if (auth instanceof PveError) {
      if (options.authFailureDelayMs) await sleep(options.authFailureDelayMs, request.signal);
      return unauthorized(auth);
    }
    const match = routeKey ? routes.match(method, segments) : undefined;
    if (!match) return reply(501, `Method '${method} ${rel}' not implemented`, { data: null, message: `Method '${method} ${rel}' not implemented` });

    let body: Record<string, unknown> | undefined;
    if (method === 'POST' || method === 'PUT') {
      try {
        body = await readBody(request);
      } catch (err) {
        if (err instanceof PveError) return errorResponse(err);
        throw err;
      }
    } else if (request.body && (await request.text()).length) {
      return reply(501, 'Unexpected content for method', { data: null, message: 'Unexpected content for method' });
    }

    // proxyto node: an offline or unknown node cannot answer
    if (match.template.startsWith('/nodes/{node}')) {
      const name = match.pathParams.node;
      const n = state.nodes.get(name);
      if (n && !n.online) return reply(595, 'No route to host', { data: null, message: 'No route to host\n' });
      if (!n && /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(name)) {
        return errorResponse(new PveError(500, `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known\n`));
      }
    }

    const raw: Record<string, unknown> = { ...match.pathParams };
    const conflicts: Record<string, string> = {};
    const query = decodeUrlencoded(new URL(request.url).search.slice(1));
    const given: Record<string, unknown> = { ...body, ...query };
    delete given._dc; // handle_api2_request drops ExtJS's cache buster before anything looks at the parameters
    for (const [k, v] of Object.entries(given)) {
      if (k in match.pathParams) {
        if (v !== undefined && String(v) !== match.pathParams[k]) conflicts[k] = 'duplicate parameter (already defined in URI) with conflicting values!';
      } else raw[k] = v;
    }
    if (Object.keys(conflicts).length) return errorResponse(new PveError(400, 'Parameter verification failed.\n', conflicts));

    if (match.spec.allowtoken === 0) {
      return errorResponse(new PveError(403, `Permission check failed (URI '${rel}' not available with API token, need proper ticket.)\n`));
    }
    const now = Date.now();
    state.tasks.tick(now);
    try {
      access.checkApi(match.spec.permissions as { check?: unknown[]; user?: string } | null, auth, raw as Params);
      const { params, errors } = validateParams(match.spec, raw);
      if (Object.keys(errors).length) throw new PveError(400, 'Parameter verification failed.\n', errors);
      // qemu-server and pve-container: raise_param_exc({ skiplock => "Only root may use this option." }), and
      // the same for keepActive and migratedfrom
      if (auth.authid !== 'root@pam') {
        const rootOnly = ROOT_ONLY_PARAMS.filter((k) => params[k] !== undefined && params[k] !== 0 && params[k] !== '');
        if (rootOnly.length) throw new PveError(400, 'Parameter verification failed.\n', Object.fromEntries(rootOnly.map((k) => [k, 'Only root may use this option.'])));
      }
      const ctx: HandlerContext = { core, params, auth, now };
      const result = await HANDLERS[match.key](ctx);
      // Formatter/Standard.pm copies a result attribute such as `total` only when it is true (non-zero).
      const extra = result instanceof Reply ? Object.fromEntries(Object.entries(result.extra).filter(([, v]) => !!v)) : {};
      const envelope = result instanceof Reply ? { data: result.data ?? null, ...extra } : { data: result ?? null };
      return new Response(JSON.stringify(envelope), { status: 200, statusText: 'OK', headers: { 'content-type': JSON_TYPE } });
    } catch (err) {
      if (err instanceof PveError) return errorResponse(err);
      const message = `${err instanceof Error ? err.message : String(err)}\n`;
      return errorResponse(new PveError(500, message));
    }
  }

  async function simFetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const m = /^\/api2\/json(\/.*)?$/.exec(url.pathname.replace(/\/{2,}/g, '/'));
    const rel = m ? (m[1] ?? '/').replace(/\/+$/, '') || '/' : url.pathname;
    stats.requests++;
    let segments: string[] = [];
    let routeKey: string | undefined;
    if (m) {
      try {
        segments = rel.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
      } catch {
        segments = rel.split('/').filter(Boolean);
      }
      routeKey = routes.match(method, segments)?.key;
    }
    const statKey = routeKey ?? `${method} ${rel}`;
    stats.byEndpoint.set(statKey, (stats.byEndpoint.get(statKey) ?? 0) + 1);

    if (faults.latencyMs) await sleep(faults.latencyMs, request.signal);
    const rule = faults.take(method, rel);
    if (rule) return faultResponse(rule, request, () => (m ? handle(request, rel, segments, routeKey) : Promise.resolve(reply(501, 'no such uri', { data: null }))));
    if (!m) return reply(501, 'no such uri', { data: null, message: 'no such uri' });
    return handle(request, rel, segments, routeKey);
  }

  return {
    fetch: simFetch,
    faults,
    stats,
    state,
    defaultToken: { tokenId, secret },
    pveVersion,
    close() {
      state.tasks.close();
      for (const abort of [...hanging]) abort();
    },
  };
}

/** The low-privilege token every simulator has (PVEAuditor on /). */
export const auditorToken = { tokenId: AUDITOR_TOKEN.tokenId, secret: AUDITOR_TOKEN.secret };
export { splitKey };

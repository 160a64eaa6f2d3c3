/**
 * What the rest of the server sees of Proxmox: a small client interface. The real client (client.ts)
 * talks HTTPS to pveproxy; tests and demo mode point the same client at the simulator. Handlers only
 * ever get a PveClient through their ctx, never construct one.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Parameter values as a caller gives them; the client sends booleans as 0/1 and arrays as repeated keys. */
export type PveParamValue = string | number | boolean | string[] | number[] | undefined | null;
export type PveParams = Record<string, PveParamValue>;

export interface PveRequest {
  method: HttpMethod;
  /** Path below /api2/json, starting with a slash, e.g. `/nodes/pve1/qemu/100/status/start`. */
  path: string;
  params?: PveParams;
}

export interface PveRequestOptions {
  signal?: AbortSignal;
  /** Per-request timeout; the client has a default. */
  timeoutMs?: number;
}

/** Called before every request leaves the client; throwing stops the request (the policy layer uses it). */
export type PveRequestGuard = (request: PveRequest) => void | Promise<void>;

export interface TaskProgress {
  upid: string;
  status: 'running' | 'stopped';
  elapsedMs: number;
  /** The last line of the task log, when known. */
  lastLine?: string;
}

export interface WaitOptions extends PveRequestOptions {
  /** Give up after this long (the task keeps running on Proxmox). Default 5 minutes. */
  timeoutMs?: number;
  onProgress?: (progress: TaskProgress) => void;
}

export interface TaskResult {
  upid: string;
  node: string;
  type: string;
  id: string;
  status: 'stopped';
  /** `OK`, `WARNINGS: n`, or the error text. */
  exitstatus: string;
  ok: boolean;
  durationMs: number;
}

export type GuestType = 'qemu' | 'lxc';

/** One row of GET /cluster/resources, numbers parsed. Only the fields we use are typed. */
export interface ClusterResource {
  id: string;
  type: 'qemu' | 'lxc' | 'node' | 'storage' | 'pool' | 'sdn' | string;
  node?: string;
  vmid?: number;
  name?: string;
  status?: string;
  template?: boolean;
  uptime?: number;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
  disk?: number;
  maxdisk?: number;
  netin?: number;
  netout?: number;
  pool?: string;
  tags?: string;
  lock?: string;
  hastate?: string;
  storage?: string;
  plugintype?: string;
  content?: string;
  shared?: boolean;
  [key: string]: unknown;
}

export interface GuestLocation {
  vmid: number;
  type: GuestType;
  node: string;
  name?: string;
  status?: string;
  template: boolean;
}

/** GET /version as the client keeps it; `major` is the number before the first dot of `release`. */
export interface PveVersionInfo {
  version: string;
  release: string;
  repoid?: string;
  major: number;
}

export interface PveClient {
  /** The `user@realm!tokenid` this client authenticates as (never the secret). */
  readonly tokenId: string;
  /** Where it points, e.g. `https://10.0.0.5:8006` or `simulator`. */
  readonly baseUrl: string;

  request<T = unknown>(method: HttpMethod, path: string, params?: PveParams, options?: PveRequestOptions): Promise<T>;
  get<T = unknown>(path: string, params?: PveParams, options?: PveRequestOptions): Promise<T>;
  post<T = unknown>(path: string, params?: PveParams, options?: PveRequestOptions): Promise<T>;
  put<T = unknown>(path: string, params?: PveParams, options?: PveRequestOptions): Promise<T>;
  delete<T = unknown>(path: string, params?: PveParams, options?: PveRequestOptions): Promise<T>;

  /** A GET with the whole envelope: `data` plus the `total` or `changes` some lists add beside it. */
  getEnvelope<T = unknown>(path: string, params?: PveParams, options?: PveRequestOptions): Promise<{ data: T; total?: number; changes?: string }>;

  /** Poll a task until it stops; throws ToolError('task_failed') with the log tail when it failed. */
  waitForTask(upid: string, options?: WaitOptions): Promise<TaskResult>;
  /** The last `lines` lines of a task's log. */
  taskLogTail(upid: string, lines?: number, options?: PveRequestOptions): Promise<string[]>;

  /** GET /cluster/resources, parsed; cached for a few seconds unless `fresh`. */
  clusterResources(type?: 'vm' | 'node' | 'storage', options?: PveRequestOptions & { fresh?: boolean }): Promise<ClusterResource[]>;
  /** Which node a guest is on, from /cluster/resources; ToolError('not_found') naming the id otherwise. */
  locateGuest(vmid: number, options?: PveRequestOptions & { type?: GuestType }): Promise<GuestLocation>;
  /** Forget cached cluster state (after a change that moves or creates guests). */
  invalidate(): void;

  /**
   * GET /version, asked once per client and kept: which Proxmox VE the cluster runs, for callers whose
   * requests differ by version (HA groups on 8, HA rules on 9, VM.Monitor vs VM.GuestAgent.*).
   */
  version(options?: PveRequestOptions): Promise<PveVersionInfo>;

  /** A view of this client whose requests also pass `guard` first (shares connection and caches). */
  withGuard(guard: PveRequestGuard): PveClient;
}

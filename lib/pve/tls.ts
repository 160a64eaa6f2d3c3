/**
 * A fetch-compatible function on node:http/node:https, because the global fetch cannot pin a
 * certificate. Modes for https://:
 *  - pinned (fingerprint): chain checks off, the SHA-256 fingerprint is compared on the socket in the
 *    agent's createConnection, so the request is only written after the certificate has matched;
 *  - CA file: normal verification against that CA;
 *  - system: normal verification against Node's CA store;
 *  - insecure: no verification at all (asked for by name; warned about once).
 * Plain http:// (the simulator) goes through a keep-alive http.Agent.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ToolError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface TlsOptions {
  /** SHA-256 fingerprint as Proxmox shows it (AA:BB:...), compared case-insensitively, colons ignored. */
  fingerprint?: string;
  /** A PEM file with the CA that signed the Proxmox certificate (e.g. /etc/pve/pve-root-ca.pem). */
  caFile?: string;
  /** Skip verification entirely. Only when asked for by name. */
  insecure?: boolean;
}

/** What the client needs from a fetch: the global fetch, ours, or the simulator's fetch(Request). */
export type FetchLike = (input: Request) => Promise<Response>;

export interface NodeFetch {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Close idle keep-alive connections. */
  close(): void;
}

/** `aa:bb:cc` / `AABBCC` -> `AABBCC`. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[:\s]/g, '').toUpperCase();
}

/** `AABBCC` or `aa:bb:cc` -> `AA:BB:CC` (the form Proxmox shows). */
export function formatFingerprint(fingerprint: string): string {
  return (
    normalizeFingerprint(fingerprint)
      .match(/.{1,2}/g)
      ?.join(':') ?? ''
  );
}

export function fingerprintsEqual(a: string, b: string): boolean {
  return normalizeFingerprint(a) === normalizeFingerprint(b);
}

type TlsMode = 'pinned' | 'ca' | 'system' | 'insecure';

function tlsMode(options: TlsOptions): TlsMode {
  if (options.fingerprint) return 'pinned';
  if (options.caFile) return 'ca';
  if (options.insecure) return 'insecure';
  return 'system';
}

function hostPort(options: { host?: string | null; hostname?: string | null; port?: number | string | null }): string {
  const host = options.hostname ?? options.host ?? 'localhost';
  const shown = net.isIPv6(host) ? `[${host}]` : host;
  return `${shown}:${options.port ?? 443}`;
}

/** Connect without verification just to read the certificate's fingerprint (for error messages). */
export function probeFingerprint(host: string, port: number, servername?: string, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: string | undefined) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(value);
    };
    const socket = tls.connect({ host, port, servername: servername || undefined, rejectUnauthorized: false }, () => {
      finish(socket.getPeerCertificate()?.fingerprint256 || undefined);
    });
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.on('error', () => finish(undefined));
  });
}

const untrustedCodes = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

const whereProxmoxShowsIt =
  'Proxmox shows it in the web UI under <node> > System > Certificates (pveproxy-ssl.pem, or pve-ssl.pem when there is no custom certificate) and with `pvenode cert info` on the host';

async function untrustedCertificateError(
  error: NodeJS.ErrnoException,
  target: { host: string; port: number; servername?: string },
  mode: TlsMode,
  caFile: string | undefined,
): Promise<ToolError> {
  const where = hostPort(target);
  const code = error.code ?? 'TLS error';
  const seen = await probeFingerprint(target.host, target.port, target.servername);
  const seenText = seen ? ` The server presented a certificate with SHA-256 fingerprint ${seen}; compare it with the one Proxmox shows before you trust it.` : '';
  const details = { host: where, code, seenFingerprint: seen };
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new ToolError(
      'unavailable',
      `The TLS certificate of Proxmox at ${where} is not valid now (${code}). Renew it (\`pvecm updatecerts\` or \`pvenode cert set\`), or pin it with PROXMOX_TLS_FINGERPRINT.${seenText}`,
      { details, cause: error },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ToolError(
      'unavailable',
      `The TLS certificate of Proxmox at ${where} does not name ${target.host} (${code}). Use the host name the certificate was issued for in PROXMOX_URL, or pin the certificate with PROXMOX_TLS_FINGERPRINT (${whereProxmoxShowsIt}).${seenText}`,
      { details, cause: error },
    );
  }
  const trustedBy = mode === 'ca' ? `the CA in PROXMOX_CA_FILE (${caFile})` : 'the system CA store';
  const selfSigned = untrustedCodes.has(code) ? ' Proxmox uses a self-signed certificate unless you installed one.' : '';
  return new ToolError(
    'unavailable',
    `The TLS certificate of Proxmox at ${where} is not trusted by ${trustedBy} (${code}).${selfSigned} ` +
      `Pin it: set PROXMOX_TLS_FINGERPRINT to its SHA-256 fingerprint (AA:BB:...); ${whereProxmoxShowsIt}. ` +
      `Or set PROXMOX_CA_FILE to the cluster CA (/etc/pve/pve-root-ca.pem).${seenText}`,
    { details, cause: error, suggestions: ['Set PROXMOX_TLS_FINGERPRINT (re-run setup to do it for you).'] },
  );
}

function mismatchError(where: string, seen: string, expected: string): ToolError {
  return new ToolError(
    'unavailable',
    `TLS fingerprint mismatch for ${where}: the server presented ${formatFingerprint(seen)}, but PROXMOX_TLS_FINGERPRINT is ${formatFingerprint(expected)}. ` +
      `If the Proxmox certificate was renewed, re-run setup or update PROXMOX_TLS_FINGERPRINT to the new fingerprint (check it with \`pvenode cert info\` on the host); ` +
      `otherwise something between this server and Proxmox is intercepting the connection. Nothing was sent.`,
    {
      details: { host: where, seenFingerprint: formatFingerprint(seen), expectedFingerprint: formatFingerprint(expected) },
      suggestions: ['Re-run setup, or update PROXMOX_TLS_FINGERPRINT if the certificate was renewed.'],
    },
  );
}

/**
 * An https.Agent that hands a socket to a request only after its certificate was checked the way the
 * mode says. http.Agent#createSocket accepts an asynchronous createConnection (callback form), so the
 * request's first byte is written only once we called back with the verified socket.
 */
class VerifyingAgent extends https.Agent {
  private readonly mode: TlsMode;
  private readonly expected?: string;
  private readonly caFile?: string;

  constructor(mode: TlsMode, tlsOptions: TlsOptions, agentOptions: https.AgentOptions) {
    super({ ...agentOptions, maxCachedSessions: 0 });
    this.mode = mode;
    this.expected = tlsOptions.fingerprint ? normalizeFingerprint(tlsOptions.fingerprint) : undefined;
    this.caFile = tlsOptions.caFile;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port ?? 443);
    const servername = typeof options.servername === 'string' && options.servername !== '' ? options.servername : undefined;
    const target = { host, port, servername };
    const where = hostPort({ host, port });
    const verifyChain = this.mode === 'ca' || this.mode === 'system';
    // Only the connection facts: the request options also carry the HTTP `path`, which tls.connect
    // would take for a Unix socket path.
    const connectOptions: tls.ConnectionOptions = {
      host,
      port,
      servername,
      rejectUnauthorized: verifyChain,
      ca: verifyChain ? (options.ca as tls.ConnectionOptions['ca']) : undefined,
    };
    let settled = false;
    const settle = (error: Error | null, socket: Duplex) => {
      if (settled) return;
      settled = true;
      callback?.(error, socket);
    };
    const socket = tls.connect(connectOptions);
    const onError = (error: NodeJS.ErrnoException) => {
      socket.removeListener('secureConnect', onSecure);
      const code = error.code ?? '';
      if (verifyChain && (untrustedCodes.has(code) || /CERT|ALTNAME/.test(code))) {
        void untrustedCertificateError(error, target, this.mode, this.caFile).then((mapped) => settle(mapped, socket));
      } else {
        settle(error, socket);
      }
    };
    const onSecure = () => {
      socket.removeListener('error', onError);
      if (this.mode === 'pinned') {
        const seen = socket.getPeerCertificate()?.fingerprint256 ?? '';
        if (!seen || normalizeFingerprint(seen) !== this.expected) {
          const error = mismatchError(where, seen || 'no certificate', this.expected ?? '');
          socket.destroy();
          settle(error, socket);
          return;
        }
      }
      settle(null, socket);
    };
    socket.once('error', onError);
    socket.once('secureConnect', onSecure);
    return undefined;
  }
}

function readCa(caFile: string): Buffer {
  try {
    return readFileSync(caFile);
  } catch (error) {
    throw new ToolError('unavailable', `Cannot read PROXMOX_CA_FILE ${caFile}: ${(error as Error).message}. Point it at a PEM file (e.g. a copy of /etc/pve/pve-root-ca.pem).`, {
      cause: error,
    });
  }
}

const agentDefaults = { keepAlive: true, maxSockets: 16, maxFreeSockets: 8, timeout: 4000, scheduling: 'lifo' as const };

/** Build the fetch used for a real Proxmox (https) or a simulator served over http. */
export function createNodeFetch(options: { tls?: TlsOptions; log?: Logger } = {}): NodeFetch {
  const tlsOptions = options.tls ?? {};
  const mode = tlsMode(tlsOptions);
  if (mode === 'insecure') {
    options.log?.warn(
      'PROXMOX_TLS_INSECURE is set: the Proxmox certificate is NOT verified, so anyone on the network path can read and change this traffic, including the API token. Pin the certificate with PROXMOX_TLS_FINGERPRINT instead.',
    );
  }
  const httpAgent = new http.Agent(agentDefaults);
  let httpsAgent: VerifyingAgent | undefined;
  const getHttpsAgent = () => {
    httpsAgent ??= new VerifyingAgent(mode, tlsOptions, { ...agentDefaults, ca: mode === 'ca' && tlsOptions.caFile ? readCa(tlsOptions.caFile) : undefined });
    return httpsAgent;
  };

  const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : String(input));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers ?? request?.headers);
    const signal = init.signal ?? request?.signal ?? undefined;
    const body = await bodyBuffer(init.body ?? (request && method !== 'GET' && method !== 'HEAD' ? await request.arrayBuffer() : undefined));
    const agent = url.protocol === 'https:' ? getHttpsAgent() : httpAgent;
    try {
      return await send(url, method, headers, body, signal, agent);
    } catch (error) {
      // A keep-alive socket the server had already closed: nothing was processed, send once more.
      if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        return send(url, method, headers, body, signal, agent);
      }
      throw error;
    }
  };

  return {
    fetch: fetchImpl,
    close() {
      httpAgent.destroy();
      httpsAgent?.destroy();
    },
  };
}

async function bodyBuffer(body: unknown): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8');
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  throw new TypeError('unsupported request body type');
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

function send(url: URL, method: string, headers: Headers, body: Buffer | undefined, signal: AbortSignal | undefined, agent: http.Agent): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const outgoing: Record<string, string> = {};
    headers.forEach((value, key) => {
      outgoing[key] = value;
    });
    if (body) outgoing['content-length'] = String(body.length);
    const transport = url.protocol === 'https:' ? https : http;
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    let finished = false;
    const onAbort = () => {
      const reason = abortReason(signal!);
      req.destroy(reason);
      fail(reason);
    };
    const cleanup = () => signal?.removeEventListener('abort', onAbort);
    const fail = (error: Error) => {
      if (finished) return;
      finished = true;
      cleanup();
      reject(error);
    };
    const req = transport.request(
      { protocol: url.protocol, hostname, port: url.port || undefined, path: url.pathname + url.search, method, headers: outgoing, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('aborted', () => fail(Object.assign(new Error('connection closed before the response was complete'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          if (finished) return;
          finished = true;
          cleanup();
          try {
            resolve(toResponse(res, Buffer.concat(chunks)));
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (req.reusedSocket) Object.assign(error, { reusedSocket: true });
      fail(error);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

function toResponse(res: http.IncomingMessage, body: Buffer): Response {
  const headers = new Headers();
  for (const [key, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    try {
      if (Array.isArray(value)) for (const item of value) headers.append(key, item);
      else headers.set(key, value);
    } catch {
      // a header value fetch does not accept; we do not need it
    }
  }
  const status = res.statusCode ?? 502;
  const statusText = (res.statusMessage ?? '').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
  const safeStatus = status >= 200 && status <= 599 ? status : 502;
  return new Response(nullBodyStatuses.has(safeStatus) || body.length === 0 ? null : new Uint8Array(body), { status: safeStatus, statusText, headers });
}

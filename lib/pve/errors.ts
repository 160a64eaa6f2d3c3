/**
 * Turns what went wrong talking to Proxmox into a ToolError a person can act on. Messages name the
 * object (node, guest, path, URL) and the next step; they never contain the token secret or the
 * Authorization header (only the token id, which is not a secret).
 */
import { ToolError, type ErrorCode } from '../errors.ts';
import { looksLikeHtml } from './parse.ts';
import type { HttpMethod } from './types.ts';

export interface RequestDescription {
  method: HttpMethod;
  path: string;
  baseUrl: string;
  tokenId: string;
}

export interface HttpFailure extends RequestDescription {
  status: number;
  statusText: string;
  bodyText: string;
  contentType?: string | null;
}

/** The node named in an API path (`/nodes/pve3/...`), if any. */
export function nodeFromPath(path: string): string | undefined {
  return /^\/nodes\/([^/]+)/.exec(path)?.[1];
}

function describeCall(request: RequestDescription): string {
  return `${request.method} ${request.path}`;
}

function parseErrorBody(text: string): { message?: string; errors?: Record<string, string> } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') return {};
    const body = parsed as Record<string, unknown>;
    const out: { message?: string; errors?: Record<string, string> } = {};
    if (typeof body.message === 'string' && body.message.trim() !== '') out.message = body.message.trim();
    if (body.errors && typeof body.errors === 'object' && !Array.isArray(body.errors)) {
      const errors: Record<string, string> = {};
      for (const [key, value] of Object.entries(body.errors as Record<string, unknown>)) {
        errors[key] = typeof value === 'string' ? value.trim() : JSON.stringify(value);
      }
      if (Object.keys(errors).length > 0) out.errors = errors;
    }
    return out;
  } catch {
    return {};
  }
}

/** Proxmox's own words: the body's `message` (PVE >= 8.3) or the reason phrase (older servers). */
export function proxmoxMessage(failure: Pick<HttpFailure, 'bodyText' | 'statusText'>): string {
  const fromBody = parseErrorBody(failure.bodyText).message;
  return (fromBody ?? failure.statusText ?? '').trim();
}

const notFoundPattern = /does not exist|\bno such\b|\bnot found\b|\bunknown (vm|ct|container|node|storage|user|group|role|pool)\b/i;
const conflictPattern = /already exists|already running|\bnot running\b|\bis running\b|\bis locked\b|\blocked\b \(|can't lock file|got timeout while waiting on lock|\bVM is locked/i;

/** A role that grants a privilege, for the pveum hint (falls back to naming the privilege). */
function roleHint(privilege: string): string {
  const table: Array<[RegExp, string]> = [
    // VM.Monitor (PVE 8) and VM.GuestAgent.Unrestricted (PVE 9) are admin privileges: PVEVMAdmin, below
    [/^VM\.(PowerMgmt|Console|Audit|Backup|Config\.CDROM|Config\.Cloudinit|GuestAgent\.(Audit|FileRead|FileWrite|FileSystemMgmt))$/, 'PVEVMUser'],
    [/^VM\./, 'PVEVMAdmin'],
    [/^Datastore\.(AllocateSpace|Audit)$/, 'PVEDatastoreUser'],
    [/^Datastore\./, 'PVEDatastoreAdmin'],
    [/^Sys\.Audit$/, 'PVEAuditor'],
    [/^Sys\./, 'PVESysAdmin'],
    [/^(User|Group|Realm)\./, 'PVEUserAdmin'],
    [/^Pool\./, 'PVEPoolAdmin'],
    [/^SDN\./, 'PVESDNAdmin'],
    [/^Permissions\.Modify$/, 'PVEAdmin'],
  ];
  for (const [pattern, role] of table) if (pattern.test(privilege)) return role;
  return 'PVEAdmin';
}

function forbiddenError(failure: HttpFailure, message: string): ToolError {
  const call = describeCall(failure);
  if (/not available with API token/i.test(message)) {
    return new ToolError(
      'forbidden',
      `Proxmox does not allow API tokens to call ${call} (${message}); this endpoint needs a password login, so it cannot be done through this server.`,
      { details: { status: 403, proxmoxMessage: message } },
    );
  }
  const match = /Permission check failed \(([^,)]+),\s*([^)]+)\)/i.exec(message);
  const tokenId = failure.tokenId;
  if (match) {
    const aclPath = match[1].trim();
    const privileges = match[2].split(/[|,\s]+/).filter(Boolean);
    const privilege = privileges.join(' or ');
    const role = roleHint(privileges[0] ?? '');
    return new ToolError(
      'forbidden',
      `The Proxmox token ${tokenId} lacks ${privilege} on ${aclPath} (needed for ${call}). ` +
        `Grant it, e.g. \`pveum acl modify ${aclPath} --tokens '${tokenId}' --roles ${role}\`. ` +
        `A token with privilege separation (privsep=1, the default) needs its own ACL entry, and its user must hold the privilege too.`,
      {
        details: { status: 403, path: aclPath, privileges, proxmoxMessage: message },
        suggestions: [`pveum acl modify ${aclPath} --tokens '${tokenId}' --roles ${role}`],
      },
    );
  }
  return new ToolError(
    'forbidden',
    `Proxmox refused ${call} for token ${tokenId}: ${message || 'permission denied'}. ` +
      `Check the token's ACL (\`pveum user token permissions ${tokenId.split('!')[0]} ${tokenId.split('!')[1] ?? ''}\`); a privilege-separated token needs its own ACL entries.`,
    { details: { status: 403, proxmoxMessage: message } },
  );
}

/** Map a non-2xx HTTP answer from Proxmox (or something in front of it) to a ToolError. */
export function mapHttpError(failure: HttpFailure): ToolError {
  const { status } = failure;
  const call = describeCall(failure);
  const body = parseErrorBody(failure.bodyText);
  const message = (body.message ?? failure.statusText ?? '').trim();
  const node = nodeFromPath(failure.path);
  const baseDetails = { status, proxmoxMessage: message || undefined, method: failure.method, path: failure.path };

  if (looksLikeHtml(failure.bodyText, failure.contentType) && status !== 401 && status !== 403) {
    return htmlError(failure);
  }
  if (status >= 300 && status < 400) {
    return new ToolError(
      'upstream',
      `Proxmox at ${failure.baseUrl} answered ${call} with a redirect (${status} ${failure.statusText}). ` +
        `Proxmox serves its API over HTTPS on port 8006: set PROXMOX_URL to https://<host>:8006.`,
      { details: baseDetails },
    );
  }
  if (status === 400) {
    if (body.errors) {
      const list = Object.entries(body.errors).map(([param, reason]) => `${param}: ${reason}`);
      const code: ErrorCode = Object.values(body.errors).some((reason) => /already exists/i.test(reason)) ? 'conflict' : 'invalid_input';
      return new ToolError(code, `Proxmox rejected the parameters of ${call}: ${list.join('; ')}`, {
        details: { ...baseDetails, errors: body.errors },
      });
    }
    return new ToolError('invalid_input', `Proxmox rejected ${call}: ${message || 'bad request'}`, { details: baseDetails });
  }
  if (status === 401) {
    return new ToolError(
      'unauthenticated',
      `Proxmox did not accept the API token ${failure.tokenId} (401 ${message || 'authentication failed'}). ` +
        `Check that PROXMOX_TOKEN_ID has the form user@realm!tokenid and that PROXMOX_TOKEN_SECRET is that token's secret; ` +
        `the token may have expired or been deleted, or its user disabled (see \`pveum user token list <user>\`).`,
      { details: baseDetails, suggestions: ['Re-run setup to create a new token, or fix PROXMOX_TOKEN_ID / PROXMOX_TOKEN_SECRET.'] },
    );
  }
  if (status === 403) return forbiddenError(failure, message);
  if (status === 404) {
    return new ToolError('not_found', `Proxmox has nothing at ${call}${message ? `: ${message}` : ''}.`, { details: baseDetails });
  }
  if (status === 501) {
    return new ToolError(
      'upstream',
      `This Proxmox version has no such endpoint: ${call}${message ? ` (Proxmox said: ${message})` : ''}. Check the Proxmox VE version (GET /version).`,
      { details: baseDetails },
    );
  }
  if (status === 595) {
    const where = node ? `node ${node}` : 'the target node';
    return new ToolError(
      'unavailable',
      `Proxmox could not reach ${where} for ${call} (595 ${message || 'no route to host'}): ` +
        `the node is offline or unreachable from the node at ${failure.baseUrl}. Check it with \`pvecm status\` and that it is powered on and networked.`,
      { details: { ...baseDetails, node } },
    );
  }
  if (status === 596) {
    const where = node ? ` to node ${node}` : '';
    return new ToolError(
      'unavailable',
      `The TLS connection between cluster nodes${where} failed (596 ${message || 'TLS error'}) during ${call}. ` +
        `Run \`pvecm updatecerts\` on the nodes (then \`systemctl restart pveproxy\`).`,
      { details: { ...baseDetails, node } },
    );
  }
  if (status === 502 || status === 503 || status === 504) {
    return new ToolError(
      'unavailable',
      `Proxmox at ${failure.baseUrl} is not available for ${call} (${status} ${message}). pveproxy may be restarting, or a proxy in front of it failed; try again shortly.`,
      { details: baseDetails },
    );
  }
  if (status === 500) {
    if (notFoundPattern.test(message)) {
      return new ToolError('not_found', `${message} (${call}).`, { details: baseDetails });
    }
    if (conflictPattern.test(message)) {
      return new ToolError('conflict', `${message} (${call}).`, { details: baseDetails });
    }
    return new ToolError('upstream', `Proxmox failed ${call}: ${message || 'internal server error'}`, { details: baseDetails });
  }
  return new ToolError('upstream', `Proxmox answered ${call} with ${status} ${message}`.trim(), { details: baseDetails });
}

export function htmlError(failure: Pick<HttpFailure, 'method' | 'path' | 'baseUrl' | 'status'>): ToolError {
  return new ToolError(
    'upstream',
    `Got an HTML page instead of JSON from ${failure.baseUrl} for ${failure.method} ${failure.path} (HTTP ${failure.status}): ` +
      `a proxy or a wrong PROXMOX_URL (it should be https://<host>:8006, without a path).`,
    { details: { status: failure.status, method: failure.method, path: failure.path } },
  );
}

export function invalidJsonError(failure: Pick<HttpFailure, 'method' | 'path' | 'baseUrl' | 'status' | 'bodyText'>): ToolError {
  const preview = failure.bodyText.slice(0, 120).replace(/\s+/g, ' ');
  return new ToolError(
    'upstream',
    `Proxmox at ${failure.baseUrl} answered ${failure.method} ${failure.path} with something that is not valid JSON (HTTP ${failure.status}; starts with "${preview}"). Check PROXMOX_URL and any proxy in between.`,
    { details: { status: failure.status, method: failure.method, path: failure.path } },
  );
}

const networkCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  ECONNABORTED: 'connection aborted',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS there; check http:// versus https:// in PROXMOX_URL',
  EPROTO: 'TLS protocol error; check http:// versus https:// in PROXMOX_URL',
};

/** Walk an error's cause chain (fetch wraps network errors in TypeError('fetch failed')). */
export function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function findToolError(error: unknown): ToolError | undefined {
  return errorChain(error).find((item): item is ToolError => item instanceof ToolError);
}

export function networkErrorCode(error: unknown): string | undefined {
  for (const item of errorChain(error)) {
    const code = (item as { code?: unknown })?.code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return undefined;
}

/** A connection-level failure (no HTTP answer): unavailable, naming the URL and the next step. */
export function mapNetworkError(error: unknown, request: RequestDescription): ToolError {
  const existing = findToolError(error);
  if (existing) return existing;
  const code = networkErrorCode(error);
  const reason = code ? `${code}: ${networkCodes[code] ?? 'network error'}` : errorChain(error).map((e) => (e instanceof Error ? e.message : String(e))).join(': ');
  return new ToolError(
    'unavailable',
    `Cannot reach Proxmox at ${request.baseUrl} (${reason}) for ${describeCall(request)}. ` +
      `Check PROXMOX_URL, that pveproxy runs on the host (\`systemctl status pveproxy\`) and that port 8006 is reachable from this server.`,
    { details: { code, method: request.method, path: request.path }, cause: error },
  );
}

export function isRetryableNetworkError(error: unknown): boolean {
  if (findToolError(error)) return false;
  const code = networkErrorCode(error);
  if (code === undefined) return true;
  if (/CERT|SSL|TLS|SELF_SIGNED|ALTNAME|UNABLE_TO|ERR_INVALID/.test(code)) return false;
  return true;
}

/**
 * The Origin check and CORS for browser-based MCP clients, driven by one setting: MCP_ALLOWED_ORIGINS
 * (plus localhost, always).
 *
 * Matching is by origin, not only by host name, so `https://console.example.com` does not also let in
 * `http://console.example.com` (a page any network attacker can inject into) or another port:
 * - a full origin (`https://console.example.com`, `https://tools.example.com:8443`): exactly that
 *   scheme, host and port;
 * - a bare host name (`console.example.com`): that host over http or https, any port;
 * - `scheme://*` (`vscode-webview://*`): any origin of that non-web scheme (editor webviews, apps);
 * - localhost, 127.0.0.1 and [::1]: any port, http or https (local tools such as the MCP Inspector).
 * A request without an Origin header is not a browser's cross-origin request and passes. An origin that
 * is not allowed is refused with 403 before anything else runs; an allowed one is echoed back exactly,
 * never as `*`, with credentials, and `Vary: Origin` so no cache hands one origin's answer to another.
 */
const localHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface OriginPolicy {
  /** Exact origins (`https://host[:port]`), as URL.origin spells them. */
  origins: Set<string>;
  /** Host names allowed over http/https on any port. */
  hosts: Set<string>;
  /** Non-web schemes allowed entirely (`vscode-webview:`). */
  schemes: Set<string>;
  /** Entries that could not be understood (reported at start-up by whoever builds the policy). */
  invalid: string[];
}

export function originPolicy(allowed: readonly string[]): OriginPolicy {
  const policy: OriginPolicy = { origins: new Set(), hosts: new Set(localHosts), schemes: new Set(), invalid: [] };
  for (const raw of allowed) {
    const entry = raw.trim();
    if (!entry) continue;
    const wildcard = /^([a-z][a-z0-9+.-]*):\/\/\*$/i.exec(entry);
    if (wildcard) {
      const scheme = `${wildcard[1].toLowerCase()}:`;
      if (scheme === 'http:' || scheme === 'https:') policy.invalid.push(entry);
      else policy.schemes.add(scheme);
      continue;
    }
    if (entry.includes('://')) {
      try {
        const url = new URL(entry);
        if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin !== 'null') policy.origins.add(url.origin);
        else policy.invalid.push(entry);
      } catch {
        policy.invalid.push(entry);
      }
      continue;
    }
    if (/^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/i.test(entry)) policy.hosts.add(entry.toLowerCase());
    else policy.invalid.push(entry);
  }
  return policy;
}

export type OriginVerdict = { ok: true; origin?: string } | { ok: false; message: string };

/** Whether a request's Origin may talk to this server; `origin` is what to echo back (absent: no CORS). */
export function checkOrigin(header: string | undefined | null, policy: OriginPolicy): OriginVerdict {
  if (header === undefined || header === null || header === '') return { ok: true };
  const refuse = { ok: false as const, message: `Origin '${header.slice(0, 200)}' is not allowed. Add it to MCP_ALLOWED_ORIGINS (e.g. https://console.example.com) to let that web client in.` };
  let url: URL;
  try {
    url = new URL(header);
  } catch {
    return refuse;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.origin === 'null' || url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return refuse;
    const host = url.hostname.toLowerCase();
    if (policy.origins.has(url.origin) || policy.hosts.has(host)) return { ok: true, origin: header };
    return refuse;
  }
  return policy.schemes.has(url.protocol) ? { ok: true, origin: header } : refuse;
}

const allowedHeaders = [
  'authorization',
  'content-type',
  'accept',
  'mcp-protocol-version',
  'mcp-session-id',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'x-request-id',
  'x-confirmation-id',
];
const allowedHeaderSet = new Set(allowedHeaders);
/** The 2026-07-28 revision mirrors declared tool arguments into `Mcp-Param-<name>` headers. */
const paramHeader = /^mcp-param-[a-z0-9_-]{1,64}$/;

const exposedHeaders = ['mcp-session-id', 'mcp-protocol-version', 'www-authenticate', 'x-request-id'].join(', ');

export function isPreflight(request: Request): boolean {
  return request.method === 'OPTIONS' && request.headers.has('access-control-request-method');
}

/** Our header list, plus the Mcp-Param-* headers this preflight asks for (and nothing else it asks for). */
function headersFor(requested: string | null | undefined): string {
  const extra = (requested ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => paramHeader.test(name) && !allowedHeaderSet.has(name));
  return [...allowedHeaders, ...new Set(extra)].join(', ');
}

/**
 * Headers for a response to an allowed origin. For a preflight, pass the request so the answer can
 * cover the Mcp-Param-* headers it announces and Chrome's private-network access question.
 */
export function corsHeaders(origin: string, preflight: boolean, request?: Request): Record<string, string> {
  const headers: Record<string, string> = {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': exposedHeaders,
    vary: 'Origin',
  };
  if (preflight) {
    headers['access-control-allow-methods'] = 'GET, POST, DELETE, OPTIONS';
    headers['access-control-allow-headers'] = headersFor(request?.headers.get('access-control-request-headers'));
    headers['access-control-max-age'] = '600';
    headers.vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
    if (request?.headers.get('access-control-request-private-network') === 'true') headers['access-control-allow-private-network'] = 'true';
  }
  return headers;
}

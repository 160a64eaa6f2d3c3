/**
 * CORS for browser-based MCP clients. The Origin check in app.ts has already refused origins that are
 * not allowed (MCP_ALLOWED_ORIGINS, plus localhost), so whatever reaches here is echoed back exactly,
 * never as `*`, and only with the headers MCP clients need.
 */
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
].join(', ');

const exposedHeaders = ['mcp-session-id', 'mcp-protocol-version', 'www-authenticate', 'x-request-id'].join(', ');

export function isPreflight(request: Request): boolean {
  return request.method === 'OPTIONS' && request.headers.has('access-control-request-method');
}

export function corsHeaders(origin: string, preflight: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': exposedHeaders,
    vary: 'Origin',
  };
  if (preflight) {
    headers['access-control-allow-methods'] = 'GET, POST, DELETE, OPTIONS';
    headers['access-control-allow-headers'] = allowedHeaders;
    headers['access-control-max-age'] = '600';
  }
  return headers;
}

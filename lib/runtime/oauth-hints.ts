/**
 * Answers for the OAuth discovery a client starts after a 401. This server does not speak OAuth: it takes
 * a client token in the Authorization header. An MCP client that got a 401 without a token (Claude Code
 * added without --header) asks, per the MCP authorization spec (RFC 9728, RFC 8414, RFC 7591):
 *   GET /.well-known/oauth-protected-resource[/mcp]   -> 404: no protected resource metadata,
 *   GET /.well-known/oauth-authorization-server[...]   -> 404: no authorization server,
 *   GET /.well-known/openid-configuration[...]        -> 404,
 *   POST /register (dynamic client registration)       -> 400 invalid_client_metadata.
 * The client falls through the 404s (they mean "not implemented", which is true) to the registration,
 * whose error body it shows the person ("Dynamic Client Registration rejected (HTTP 400): ..."). Every
 * answer therefore carries, as an OAuth error (`error`, `error_description`), the one thing to do: add the
 * Authorization header with a token, and how an admin makes one. The 401 itself names no
 * resource_metadata, so no client is sent to a document that does not exist.
 */
import type { Hono } from 'hono';
import { createTokenHint } from '../auth/authenticate.ts';

export function tokenHelp(mcpUrl: string): string {
  return (
    'This server does not use OAuth; it takes a proxmox-mcp client token in the Authorization header. ' +
    `Add it to the client, e.g. claude mcp add --transport http proxmox ${mcpUrl} --header "Authorization: Bearer <token>" ` +
    `(or remove the server and add it again with that --header). ${createTokenHint}`
  );
}

function oauthError(status: number, error: string, description: string): Response {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** The MCP endpoint as the client reached this server (Host was validated before this runs). */
function mcpUrlOf(requestUrl: string): string {
  const url = new URL(requestUrl);
  return `${url.protocol}//${url.host}/mcp`;
}

export function mountOAuthHints(app: Hono): void {
  for (const wellKnown of ['oauth-protected-resource', 'oauth-authorization-server', 'openid-configuration']) {
    const handler = (c: { req: { url: string } }) => oauthError(404, 'not_found', `No ${wellKnown} metadata: ${tokenHelp(mcpUrlOf(c.req.url))}`);
    app.get(`/.well-known/${wellKnown}`, handler);
    app.get(`/.well-known/${wellKnown}/*`, handler);
  }
  // RFC 8414 also allows the well-known part after the path (/mcp/.well-known/openid-configuration).
  app.get('/mcp/.well-known/*', (c) => oauthError(404, 'not_found', tokenHelp(mcpUrlOf(c.req.url))));
  // Dynamic client registration: the body is not read (no token here, so nothing is).
  app.post('/register', (c) => oauthError(400, 'invalid_client_metadata', `Client registration is not available: ${tokenHelp(mcpUrlOf(c.req.url))}`));
  app.post('/token', (c) => oauthError(400, 'invalid_request', `No OAuth tokens are issued here: ${tokenHelp(mcpUrlOf(c.req.url))}`));
  app.get('/authorize', (c) =>
    new Response(`proxmox-mcp does not use OAuth sign-in.\n\n${tokenHelp(mcpUrlOf(c.req.url))}\n`, {
      status: 400,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    }),
  );
}

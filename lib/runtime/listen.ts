/**
 * Listening: Deno.serve under Deno, @hono/node-server under Node. Resolves once the port accepts.
 *
 * Bearer tokens travel in every request, so the server serves plain HTTP only on loopback. Beyond loopback
 * (a LAN address, 0.0.0.0, ::) it serves HTTPS with MCP_TLS_CERT/MCP_TLS_KEY (setup.sh provides them), and
 * refuses to start in plain HTTP unless MCP_ALLOW_PLAIN_HTTP=1 says so explicitly.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../config.ts';
import type { Server } from './start.ts';

export interface Listening {
  port: number;
  host: string;
  /** 'https' when MCP_TLS_CERT/MCP_TLS_KEY are set. */
  protocol: 'http' | 'https';
  close(): Promise<void>;
}

interface DenoLike {
  serve(
    options: { port: number; hostname: string; cert?: string; key?: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z), and the name localhost: nothing beyond this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.split('.')[0] === '127';
  if (isIP(bare) === 6) {
    // The URL parser spells an IPv6 address one canonical way: ::1, and ::ffff:7fXX:XXXX for a mapped 127.x.
    const canonical = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
    return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canonical);
  }
  return false;
}

export class PlainHttpRefused extends Error {
  constructor(host: string) {
    super(
      `Refusing to serve plain HTTP on ${host}: beyond loopback every bearer token would cross the network in clear. ` +
        'Set MCP_TLS_CERT and MCP_TLS_KEY (PEM files; ./setup.sh --listen ADDRESS makes them), or MCP_HOST=127.0.0.1, ' +
        'or (only behind your own TLS proxy) MCP_ALLOW_PLAIN_HTTP=1.',
    );
    this.name = 'PlainHttpRefused';
  }
}

/** What to serve on `host`: the TLS material, nothing (plain on loopback / explicitly allowed), or a refusal. */
export function tlsFor(config: Pick<Config, 'tls' | 'allowPlainHttp'>, host: string): { cert: string; key: string } | undefined {
  if (config.tls) {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(config.tls.certFile, 'utf8');
      key = readFileSync(config.tls.keyFile, 'utf8');
    } catch (error) {
      throw new Error(`Cannot read the TLS certificate or key (MCP_TLS_CERT/MCP_TLS_KEY): ${(error as Error).message}`);
    }
    if (!/-----BEGIN CERTIFICATE-----/.test(cert)) throw new Error(`MCP_TLS_CERT (${config.tls.certFile}) is not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error(`MCP_TLS_KEY (${config.tls.keyFile}) is not a PEM private key`);
    return { cert, key };
  }
  if (isLoopback(host) || config.allowPlainHttp) return undefined;
  throw new PlainHttpRefused(host);
}

export async function listen(server: Server, port = server.config.port, host = server.config.host): Promise<Listening> {
  const tls = tlsFor(server.config, host);
  const protocol = tls ? 'https' : 'http';
  if (!tls && !isLoopback(host)) server.log.warn('Serving plain HTTP beyond loopback because MCP_ALLOW_PLAIN_HTTP is set: tokens cross the network in clear', { host });
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    const handle = deno.serve({ port, hostname: host, ...(tls ?? {}), onListen: () => undefined }, (request, info) => server.fetch(request, info));
    return { port: handle.addr.port, host, protocol, close: () => handle.shutdown() };
  }
  const { serve } = await import('@hono/node-server');
  const https = tls ? await import('node:https') : undefined;
  return new Promise((resolve, reject) => {
    const options = https && tls ? { fetch: server.fetch, port, hostname: host, createServer: https.createServer, serverOptions: { cert: tls.cert, key: tls.key } } : { fetch: server.fetch, port, hostname: host };
    const nodeServer = serve(options, (info) => {
      resolve({
        port: info.port,
        host,
        protocol,
        close: () => new Promise<void>((done) => {
          (nodeServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          nodeServer.close(() => done());
        }),
      });
    });
    nodeServer.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`Port ${port} on ${host} is already in use. Stop what uses it (\`ss -ltnp | grep :${port}\`) or set MCP_PORT.`) : error);
    });
  });
}

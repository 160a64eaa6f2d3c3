/**
 * Serve a simulator over real HTTP(S) on 127.0.0.1, for the standalone `npm run sim`, end-to-end tests and
 * benchmarks. With `https`, a throw-away self-signed certificate is made with the `openssl` CLI; its SHA-256
 * fingerprint comes back in the `AA:BB:...` form Proxmox shows, for fingerprint pinning.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulator } from './index.ts';

export interface ServeOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  https?: boolean;
}

export interface ServedSimulator {
  url: string;
  port: number;
  fingerprint?: string;
  caPem?: string;
  close(): Promise<void>;
}

export function makeSelfSignedCert(host: string): { key: string; cert: string; fingerprint: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pve-sim-tls-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const san = /^[\d.]+$/.test(host) ? `IP:${host},DNS:localhost` : `DNS:${host},IP:127.0.0.1`;
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '7', '-subj', '/CN=pve-simulator/O=proxmox-mcp simulator',
      '-addext', `subjectAltName=${san}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cert = readFileSync(certFile, 'utf8');
    return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function serveSimulator(sim: Simulator, opts: ServeOptions = {}): Promise<ServedSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const tls = opts.https ? makeSelfSignedCert(host) : undefined;
  const scheme = tls ? 'https' : 'http';

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const controller = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) controller.abort(new DOMException('client went away', 'AbortError'));
      });
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) for (const x of v) headers.append(k, x);
        else if (v !== undefined) headers.set(k, v);
      }
      const body = chunks.length && req.method !== 'GET' && req.method !== 'HEAD' ? Buffer.concat(chunks) : undefined;
      const request = new Request(`${scheme}://${req.headers.host ?? host}${req.url ?? '/'}`, { method: req.method, headers, body, signal: controller.signal });
      sim.fetch(request).then(
        async (response) => {
          const buf = Buffer.from(await response.arrayBuffer());
          const out: Record<string, string> = {};
          response.headers.forEach((v, k) => (out[k] = v));
          out['content-length'] = String(buf.length);
          res.writeHead(response.status, response.statusText || undefined, out);
          res.end(buf);
        },
        () => {
          if (!res.headersSent && !res.destroyed) {
            res.writeHead(500, 'Internal Server Error');
            res.end();
          }
        },
      );
    });
  };

  const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${scheme}://${urlHost}:${port}`,
    port,
    ...(tls ? { fingerprint: tls.fingerprint, caPem: tls.cert } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

/**
 * The client over real sockets on 127.0.0.1: HTTPS with a pinned fingerprint, a CA file, the system
 * store and insecure mode (certificates made by the openssl CLI in a temp dir), plus plain HTTP for
 * timeouts, cancellation, refused connections and keep-alive.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { createPveClient, type OwnedPveClient, type PveClientOptions } from '../lib/pve/client.ts';
import { formatFingerprint } from '../lib/pve/tls.ts';

const SECRET = 'aaaabbbb-cccc-dddd-eeee-ffff00001111';
const TOKEN = 'mcp@pve!agent';

let dir: string;
let caPem: string;
let signed: { key: string; cert: string; fingerprint: string };
let selfSigned: { key: string; cert: string; fingerprint: string };

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function read(name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

interface TestServer {
  url: string;
  port: number;
  requests: { method?: string; url?: string; authorization?: string }[];
  connections: () => number;
  close(): Promise<void>;
}

const handler: http.RequestListener = (req, res) => {
  if (req.url?.startsWith('/api2/json/hang')) return; // never answers
  const body = JSON.stringify({ data: { version: '8.4.1', release: '8.4', repoid: 'abc' } });
  res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
  res.end(body);
};

async function listen(server: http.Server | https.Server, protocol: 'http' | 'https'): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  let connections = 0;
  server.on('request', (req: http.IncomingMessage) => requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization }));
  server.on(protocol === 'https' ? 'secureConnection' : 'connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${protocol}://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function startHttps(identity: { key: string; cert: string }): Promise<TestServer> {
  return listen(https.createServer({ key: identity.key, cert: identity.cert }, handler), 'https');
}

function startHttp(): Promise<TestServer> {
  return listen(http.createServer(handler), 'http');
}

function memoryLogger() {
  const warnings: string[] = [];
  const make = (): Logger => ({ debug() {}, info() {}, warn: (message) => warnings.push(message), error() {}, child: () => make() });
  return { log: make(), warnings };
}

const clients: OwnedPveClient[] = [];
function client(url: string, extra: Partial<PveClientOptions> = {}): OwnedPveClient {
  const pve = createPveClient({ baseUrl: url, tokenId: TOKEN, tokenSecret: SECRET, retryDelayMs: () => 1, timeoutMs: 5000, ...extra });
  clients.push(pve);
  return pve;
}

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).message).not.toContain(SECRET);
    return error as ToolError;
  }
  throw new Error('expected the call to fail');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pve-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test Proxmox CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=pve1.test']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem', '-days', '2', '-extfile', 'ext.cnf']);
  openssl(['req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=pve-self', '-addext', 'subjectAltName=IP:127.0.0.1']);
  caPem = join(dir, 'ca.pem');
  signed = { key: read('node.key'), cert: read('node.pem'), fingerprint: new X509Certificate(read('node.pem')).fingerprint256 };
  selfSigned = { key: read('self.key'), cert: read('self.pem'), fingerprint: new X509Certificate(read('self.pem')).fingerprint256 };
});

afterAll(() => {
  for (const pve of clients) pve.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS with a pinned fingerprint', () => {
  it('connects when the fingerprint matches, in any case and with or without colons', async () => {
    const server = await startHttps(selfSigned);
    try {
      const pve = client(server.url, { tls: { fingerprint: selfSigned.fingerprint } });
      expect(await pve.get('/version')).toMatchObject({ version: '8.4.1' });
      const relaxed = client(server.url, { tls: { fingerprint: selfSigned.fingerprint.replace(/:/g, '').toLowerCase() } });
      expect(await relaxed.get('/version')).toMatchObject({ version: '8.4.1' });
      expect(server.requests[0].authorization).toBe(`PVEAPIToken=${TOKEN}=${SECRET}`);
    } finally {
      await server.close();
    }
  });

  it('refuses a different certificate before sending anything, naming host:port, seen and expected', async () => {
    const server = await startHttps(selfSigned);
    try {
      const expected = formatFingerprint('ab'.repeat(32));
      const pve = client(server.url, { tls: { fingerprint: expected } });
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain(`127.0.0.1:${server.port}`);
      expect(error.message).toContain(selfSigned.fingerprint);
      expect(error.message).toContain(expected);
      expect(error.message).toMatch(/re-run setup or update PROXMOX_TLS_FINGERPRINT/);
      expect(server.requests).toHaveLength(0); // the token never left
    } finally {
      await server.close();
    }
  });

  it('reuses the verified connection (keep-alive)', async () => {
    const server = await startHttps(selfSigned);
    try {
      const pve = client(server.url, { tls: { fingerprint: selfSigned.fingerprint } });
      for (let index = 0; index < 5; index++) await pve.get('/version');
      expect(server.requests).toHaveLength(5);
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('HTTPS with a CA file, the system store, or insecure', () => {
  it('verifies against PROXMOX_CA_FILE', async () => {
    const server = await startHttps(signed);
    try {
      const pve = client(server.url, { tls: { caFile: caPem } });
      expect(await pve.get('/version')).toMatchObject({ version: '8.4.1' });
    } finally {
      await server.close();
    }
  });

  it('a certificate the CA did not sign is refused with how to pin it', async () => {
    const server = await startHttps(selfSigned);
    try {
      const pve = client(server.url, { tls: { caFile: caPem } });
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('PROXMOX_CA_FILE');
      expect(error.message).toContain('PROXMOX_TLS_FINGERPRINT');
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('a self-signed certificate without pinning: says how to pin it and where Proxmox shows it', async () => {
    const server = await startHttps(selfSigned);
    try {
      const pve = client(server.url);
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('PROXMOX_TLS_FINGERPRINT');
      expect(error.message).toMatch(/System > Certificates|pvenode cert info/);
      expect(error.message).toContain(`127.0.0.1:${server.port}`);
      expect(error.message).toContain(selfSigned.fingerprint); // what was seen, to compare
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('a missing CA file is reported by name', async () => {
    const server = await startHttps(signed);
    try {
      const pve = client(server.url, { tls: { caFile: join(dir, 'missing.pem') } });
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('PROXMOX_CA_FILE');
    } finally {
      await server.close();
    }
  });

  it('insecure mode connects without verification and warns loudly, once', async () => {
    const server = await startHttps(selfSigned);
    try {
      const { log, warnings } = memoryLogger();
      const pve = client(server.url, { tls: { insecure: true }, log });
      await pve.get('/version');
      await pve.get('/version');
      expect(warnings.filter((line) => /NOT verified/.test(line))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('plain HTTP: timeouts, cancellation, refused connections', () => {
  it('times out a hanging server', async () => {
    const server = await startHttp();
    try {
      const pve = client(server.url, { timeoutMs: 100, retries: 0 });
      const error = await failure(pve.get('/hang'));
      expect(error.code).toBe('timeout');
      expect(error.message).toContain('100 ms');
    } finally {
      await server.close();
    }
  });

  it('retries a hanging GET but sends a hanging POST once', async () => {
    const server = await startHttp();
    try {
      const pve = client(server.url, { timeoutMs: 80, retries: 2 });
      await failure(pve.get('/hang'));
      expect(server.requests.filter((request) => request.method === 'GET')).toHaveLength(3);
      await failure(pve.post('/hang', { a: 1 }));
      expect(server.requests.filter((request) => request.method === 'POST')).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("cancels on the caller's signal", async () => {
    const server = await startHttp();
    try {
      const pve = client(server.url, { timeoutMs: 10_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const error = await failure(pve.get('/hang', undefined, { signal: controller.signal }));
      expect(error.code).toBe('timeout');
      expect(error.message).toMatch(/cancelled/);
    } finally {
      await server.close();
    }
  });

  it('https:// pointed at a plain-HTTP port says to check http versus https, without retrying', async () => {
    const server = await startHttp();
    try {
      const pve = client(server.url.replace('http:', 'https:'), { tls: { fingerprint: selfSigned.fingerprint } });
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toMatch(/http:\/\/ versus https:\/\//);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it('a refused connection is unavailable, naming the URL', async () => {
    const server = await startHttp();
    const url = server.url;
    await server.close();
    const pve = client(url, { retries: 1 });
    const error = await failure(pve.get('/version'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain(url);
    expect(error.message).toContain('ECONNREFUSED');
  });
});

/**
 * Issue 18, the network: plain HTTP only on loopback; beyond loopback the server serves HTTPS with
 * MCP_TLS_CERT/MCP_TLS_KEY or refuses to start, unless MCP_ALLOW_PLAIN_HTTP says so explicitly.
 * Everything binds 127.0.0.1 only: a refusal happens before anything binds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/log.ts';
import { isLoopback, listen, PlainHttpRefused, tlsFor } from '../lib/runtime/listen.ts';
import { buildServer, type Server } from '../lib/runtime/start.ts';

const dir = mkdtempSync(join(tmpdir(), 'pmcp-listen-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');

beforeAll(() => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=proxmox-mcp-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function server(env: Record<string, string>): Promise<Server> {
  const config = loadConfig({ MCP_DATA_DIR: join(dir, `data-${Math.random().toString(16).slice(2)}`), MCP_IN_CONTAINER: '0', ...env }, { envFile: null });
  return buildServer({ config, log: silentLogger });
}

describe('where plain HTTP may be served', () => {
  it('knows loopback in every spelling, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '127.1', '0177.0.0.1', 'localhost.evil.example', 'pve1', '']) expect(isLoopback(host), host).toBe(false);
  });

  it('listens on 127.0.0.1 by default (MCP_HOST unset)', () => {
    expect(loadConfig({}, { envFile: null }).host).toBe('127.0.0.1');
  });

  it('refuses plain HTTP beyond loopback unless MCP_ALLOW_PLAIN_HTTP says so', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.2']) {
      expect(() => tlsFor({ allowPlainHttp: false }, host)).toThrow(PlainHttpRefused);
      expect(tlsFor({ allowPlainHttp: true }, host)).toBeUndefined();
    }
    expect(tlsFor({ allowPlainHttp: false }, '127.0.0.1')).toBeUndefined();
    expect(loadConfig({ MCP_ALLOW_PLAIN_HTTP: '1' }, { envFile: null }).allowPlainHttp).toBe(true);
    expect(loadConfig({}, { envFile: null }).allowPlainHttp).toBe(false);
  });

  it('the real server refuses to bind 0.0.0.0 in plain HTTP (before anything binds)', async () => {
    const s = await server({ MCP_HOST: '0.0.0.0' });
    try {
      await expect(listen(s, 0)).rejects.toThrow(/Refusing to serve plain HTTP on 0\.0\.0\.0.*MCP_TLS_CERT/);
    } finally {
      await s.close();
    }
  });

  it('needs both MCP_TLS_CERT and MCP_TLS_KEY, and PEM files', () => {
    expect(() => loadConfig({ MCP_TLS_CERT: cert }, { envFile: null })).toThrow(ConfigError);
    expect(() => loadConfig({ MCP_TLS_KEY: key }, { envFile: null })).toThrow(/MCP_TLS_CERT and MCP_TLS_KEY go together/);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(() => tlsFor({ allowPlainHttp: false, tls: { certFile: notPem, keyFile: key } }, '0.0.0.0')).toThrow(/not a PEM certificate/);
    expect(() => tlsFor({ allowPlainHttp: false, tls: { certFile: cert, keyFile: notPem } }, '0.0.0.0')).toThrow(/not a PEM private key/);
    expect(() => tlsFor({ allowPlainHttp: false, tls: { certFile: join(dir, 'missing.pem'), keyFile: key } }, '0.0.0.0')).toThrow(/Cannot read the TLS certificate/);
  });

  it('serves HTTPS with the certificate from MCP_TLS_CERT/MCP_TLS_KEY (and nothing in plain HTTP)', async () => {
    const s = await server({ MCP_TLS_CERT: cert, MCP_TLS_KEY: key });
    const listening = await listen(s, 0, '127.0.0.1');
    try {
      expect(listening.protocol).toBe('https');
      const { readFileSync } = await import('node:fs');
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: listening.port, path: '/health', ca: readFileSync(cert), servername: undefined, checkServerIdentity: () => undefined }, (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toMatchObject({ status: expect.any(String), name: 'proxmox-mcp' });
      // A plain HTTP request to the TLS port gets no answer from the app.
      const plain = await fetch(`http://127.0.0.1:${listening.port}/health`).then((r) => r.status, () => 'refused');
      expect(plain).not.toBe(200);
    } finally {
      await listening.close();
      await s.close();
    }
  });
});

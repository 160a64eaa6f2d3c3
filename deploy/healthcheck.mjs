// Container health probe (Dockerfile HEALTHCHECK): exit 0 when GET /health answers 2xx within the timeout.
// Uses node's own fetch (or node:https when the server serves TLS), so the image needs no curl. It asks the
// address the server listens on, with loopback standing in for a wildcard bind (0.0.0.0 / ::). With
// MCP_TLS_CERT set the server speaks HTTPS; the probe trusts exactly that certificate and only checks that
// /health answers (the certificate may name the host's LAN address, not loopback).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const port = process.env.MCP_PORT || '3001';
const bind = (process.env.MCP_HOST || '127.0.0.1').trim();
const host = bind === '0.0.0.0' || bind === '' ? '127.0.0.1' : bind === '::' || bind === '[::]' ? '[::1]' : bind;
const address = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
const fail = (message) => {
  console.error(`health: ${message}`);
  process.exit(1);
};
try {
  if (process.env.MCP_TLS_CERT) {
    const ca = readFileSync(process.env.MCP_TLS_CERT);
    const status = await new Promise((resolve, reject) => {
      const req = request({ host: address.replace(/^\[|\]$/g, ''), port: Number(port), path: '/health', ca, checkServerIdentity: () => undefined, timeout: 4000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
    if (status < 200 || status > 299) fail(`HTTPS ${status}`);
    process.exit(0);
  }
  const response = await fetch(`http://${address}:${port}/health`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) fail(`HTTP ${response.status}`);
  process.exit(0);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

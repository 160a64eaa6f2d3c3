import { request as httpsRequest } from 'node:https';
import { afterEach, describe, expect, test } from 'vitest';
import { createSimulator, type Simulator } from '../lib/simulator/index.ts';
import { serveSimulator, type ServedSimulator } from '../lib/simulator/serve.ts';

let sim: Simulator | undefined;
let served: ServedSimulator | undefined;
afterEach(async () => {
  await served?.close();
  sim?.close();
  served = undefined;
  sim = undefined;
});

function httpsGet(url: string, ca: string, headers: Record<string, string>): Promise<{ status: number; reason: string; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, reason: res.statusMessage!, body: Buffer.concat(chunks).toString(), fingerprint: cert.fingerprint256 }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('standalone simulator', () => {
  test('HTTP on 127.0.0.1 with a random port, reason phrases preserved', async () => {
    sim = createSimulator({ taskDurationMs: 0 });
    served = await serveSimulator(sim, { port: 0 });
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const auth = { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}` };
    const ok = await fetch(`${served.url}/api2/json/nodes/pve1/qemu`, { headers: auth });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
    const post = await fetch(`${served.url}/api2/json/nodes/pve1/qemu/105/status/start`, { method: 'POST', headers: auth });
    expect(((await post.json()) as { data: string }).data).toMatch(/^UPID:pve1:/);
    expect(sim.state.guests.get(105)!.status).toBe('running');
    const missing = await fetch(`${served.url}/api2/json/nodes/pve1/qemu/999/status/current`, { headers: auth });
    expect(missing.status).toBe(500);
    expect(missing.statusText).toBe("Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
    const denied = await fetch(`${served.url}/api2/json/version`);
    expect(denied.status).toBe(401);
    // over the wire too: the text only in the reason phrase, an empty body, no JSON content type
    expect(denied.statusText).toBe('No ticket');
    expect(await denied.text()).toBe('');
    expect(denied.headers.get('content-type')).toBeNull();
  });

  test('HTTPS with a self-signed certificate and its SHA-256 fingerprint', async () => {
    sim = createSimulator();
    served = await serveSimulator(sim, { https: true });
    expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(served.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const r = await httpsGet(`${served.url}/api2/json/version`, served.caPem!, { authorization: `PVEAPIToken=${sim.defaultToken.tokenId}=${sim.defaultToken.secret}` });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).data.release).toBe(sim.pveVersion);
    expect(r.fingerprint).toBe(served.fingerprint);
  });
});

/** Time plain GETs against the simulator, the way the server's Proxmox client would send them. */
import { Agent, request } from 'node:http';
import { simTokenId, simTokenSecret } from './sim.ts';

export async function timeDirect(simUrl: string, path: string, calls: number, durationMs: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(`${simUrl}/api2/json${path}`);
  const samples: number[] = [];
  const deadline = performance.now() + durationMs;
  try {
    for (let i = 0; i < calls && performance.now() < deadline; i++) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET', agent, headers: { authorization: `PVEAPIToken=${simTokenId}=${simTokenSecret}` } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              JSON.parse(Buffer.concat(chunks).toString('utf8'));
              resolve(res.statusCode ?? 0);
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
      if (status !== 200) throw new Error(`simulator answered ${status} to GET ${path}`);
      samples.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return samples;
}

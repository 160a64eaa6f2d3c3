/**
 * A standalone simulated Proxmox cluster for the benchmarks, in its own process (forked by sim.ts) so
 * that neither the server nor the load generator pays for it. Over IPC it reports what it served:
 * request counts by endpoint, the most requests it had in flight at once, and its own time per request.
 */
import { createSimulator } from '../../lib/simulator/index.ts';
import { serveSimulator } from '../../lib/simulator/serve.ts';

export interface SimWorkerOptions {
  nodes: number;
  guests: number;
  latencyMs: number;
}

export type SimWorkerMessage =
  | { type: 'stats'; id: number }
  | { type: 'reset'; id: number }
  | { type: 'latency'; id: number; ms: number }
  | { type: 'stop'; id: number };

export interface SimWorkerStats {
  requests: number;
  byEndpoint: Record<string, number>;
  /** Most requests being answered at the same time since the last reset. */
  maxInFlight: number;
  /** Time inside the simulator's fetch, summed (ms), including injected latency. */
  busyMs: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as SimWorkerOptions;
const sim = createSimulator({ nodes: options.nodes, guests: options.guests, taskDurationMs: 0 });
sim.faults.latency(options.latencyMs);

let inFlight = 0;
let maxInFlight = 0;
let busyMs = 0;
const innerFetch = sim.fetch.bind(sim);
sim.fetch = async (request: Request) => {
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  const started = performance.now();
  try {
    return await innerFetch(request);
  } finally {
    busyMs += performance.now() - started;
    inFlight--;
  }
};

const served = await serveSimulator(sim, { port: 0, host: '127.0.0.1' });

process.on('message', (message: SimWorkerMessage) => {
  const reply = (body: unknown) => process.send?.({ id: message.id, body });
  switch (message.type) {
    case 'stats':
      reply({ requests: sim.stats.requests, byEndpoint: Object.fromEntries(sim.stats.byEndpoint), maxInFlight, busyMs } satisfies SimWorkerStats);
      break;
    case 'reset':
      sim.stats.reset();
      maxInFlight = 0;
      busyMs = 0;
      reply(true);
      break;
    case 'latency':
      sim.faults.latency(message.ms);
      reply(true);
      break;
    case 'stop':
      reply(true);
      sim.close();
      void served.close().then(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: served.url, guests: sim.state.guests.size, nodes: sim.state.nodes.size });

/**
 * Run the Proxmox VE simulator standalone:
 *   npm run sim -- --port 8006 --nodes 3 --guests 12 [--https] [--latency 20] [--seed 1] [--task-ms 30]
 * The API token comes from PVE_SIM_TOKEN_ID / PVE_SIM_TOKEN_SECRET, or the documented defaults.
 */
import { parseArgs } from 'node:util';
import { createSimulator, DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET, auditorToken } from '../lib/simulator/index.ts';
import { serveSimulator } from '../lib/simulator/serve.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8006' },
    host: { type: 'string', default: '127.0.0.1' },
    nodes: { type: 'string', default: '3' },
    guests: { type: 'string', default: '12' },
    seed: { type: 'string', default: '1' },
    latency: { type: 'string', default: '0' },
    'task-ms': { type: 'string', default: '30' },
    https: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run sim -- [--port 8006] [--host 127.0.0.1] [--nodes 3] [--guests 12] [--seed 1] [--latency ms] [--task-ms ms] [--https]');
  process.exit(0);
}

const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
};

const tokenId = process.env.PVE_SIM_TOKEN_ID || DEFAULT_TOKEN_ID;
const tokenSecret = process.env.PVE_SIM_TOKEN_SECRET || DEFAULT_TOKEN_SECRET;
const sim = createSimulator({
  nodes: Math.max(1, int('nodes', values.nodes)),
  guests: int('guests', values.guests),
  seed: int('seed', values.seed),
  taskDurationMs: int('task-ms', values['task-ms']),
  tokenId,
  tokenSecret,
});
sim.faults.latency(int('latency', values.latency));
const served = await serveSimulator(sim, { port: int('port', values.port), host: values.host, https: values.https });

console.log(`Proxmox VE simulator listening on ${served.url}/api2/json`);
console.log(`  nodes ${sim.state.nodes.size}, guests ${sim.state.guests.size}`);
console.log(`  API token: ${tokenId}`);
console.log(`  secret:    ${process.env.PVE_SIM_TOKEN_SECRET ? 'from PVE_SIM_TOKEN_SECRET' : `the built-in default (see lib/simulator/README.md)`}`);
console.log(`  read-only token: ${auditorToken.tokenId} (PVEAuditor on /)`);
if (served.fingerprint) console.log(`  TLS fingerprint (SHA-256): ${served.fingerprint}`);
if (!process.env.PVE_SIM_TOKEN_SECRET && tokenSecret !== DEFAULT_TOKEN_SECRET) console.log('  (custom secret)');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the simulator`);
  sim.close();
  served.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

/**
 * Run the Proxmox VE simulator standalone: `npm run sim -- --help` lists every option.
 * The API token comes from PVE_SIM_TOKEN_ID / PVE_SIM_TOKEN_SECRET, or the documented defaults.
 */
import { cliFail, cliInteger, parseCli, type CliSpec } from '../lib/cli.ts';
import { createSimulator, DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET, auditorToken, isPveVersion } from '../lib/simulator/index.ts';
import { serveSimulator } from '../lib/simulator/serve.ts';

const spec = {
  command: 'npm run sim --',
  summary: 'Serve the built-in simulated Proxmox VE cluster on its own, over HTTP(S), as /api2/json.',
  options: {
    port: { type: 'string', value: 'PORT', default: '8006', description: 'TCP port (0: any free port)' },
    host: { type: 'string', value: 'ADDRESS', default: '127.0.0.1', description: 'address to listen on' },
    nodes: { type: 'string', value: 'N', default: '3', description: 'cluster nodes (at least 1)' },
    guests: { type: 'string', value: 'N', default: '12', description: 'VMs and containers, mixed' },
    seed: { type: 'string', value: 'N', default: '1', description: 'seed of the generated cluster (same seed, same cluster)' },
    latency: { type: 'string', value: 'MS', default: '0', description: 'delay added to every answer, in milliseconds' },
    'task-ms': { type: 'string', value: 'MS', default: '30', description: 'how long each background task runs' },
    'pve-version': { type: 'string', value: 'VERSION', default: '9.1', description: 'which Proxmox VE to be: 8.4 or 9.1 (schema, privileges, HA groups or rules)' },
    'auth-delay': { type: 'string', value: 'MS', default: '3000', description: 'delay of every 401, like pveproxy (about 3 s)' },
    https: { type: 'boolean', default: false, description: 'serve HTTPS with a fresh self-signed certificate (prints its fingerprint)' },
    extras: { type: 'boolean', default: false, description: 'add a Proxmox Backup Server storage, Ceph, SDN and replication jobs' },
  },
  details: [
    'API tokens it accepts (Authorization: PVEAPIToken=ID=SECRET):',
    `  ${DEFAULT_TOKEN_ID}=${DEFAULT_TOKEN_SECRET}   full rights (PVE_SIM_TOKEN_ID / PVE_SIM_TOKEN_SECRET change it)`,
    `  ${auditorToken.tokenId}=${auditorToken.secret}   read-only (PVEAuditor)`,
    'Point the server at it: PROXMOX_URL=http://127.0.0.1:8006 PROXMOX_TOKEN_ID=... PROXMOX_TOKEN_SECRET=... npm start',
    'More: lib/simulator/README.md',
  ],
  examples: ['npm run sim -- --port 8006 --nodes 3 --guests 12', 'npm run sim -- --https --latency 20'],
} satisfies CliSpec;

const { values } = parseCli(spec);
const int = (name: string, value: string, min = 0, max?: number): number => cliInteger(spec, name, value, { min, ...(max === undefined ? {} : { max }) });
const port = int('port', values.port, 0, 65535);
const nodes = int('nodes', values.nodes, 1, 64);
const guests = int('guests', values.guests, 0, 100000);
const seed = int('seed', values.seed);
const latency = int('latency', values.latency, 0, 600000);
const taskMs = int('task-ms', values['task-ms'], 0, 3600000);
const authDelay = int('auth-delay', values['auth-delay'], 0, 60000);
const pveVersion = values['pve-version'];
if (!isPveVersion(pveVersion)) cliFail(spec, `--pve-version must be 8.4 or 9.1, not '${pveVersion}'`);

const tokenId = process.env.PVE_SIM_TOKEN_ID || DEFAULT_TOKEN_ID;
const tokenSecret = process.env.PVE_SIM_TOKEN_SECRET || DEFAULT_TOKEN_SECRET;
const sim = createSimulator({
  pveVersion,
  authFailureDelayMs: authDelay,
  nodes,
  guests,
  seed,
  taskDurationMs: taskMs,
  tokenId,
  tokenSecret,
  ...(values.extras ? { pbs: true, ceph: true, sdn: true, replication: true } : {}),
});
sim.faults.latency(latency);
const served = await serveSimulator(sim, { port, host: values.host, https: values.https });

console.log(`Proxmox VE ${sim.state.version.version} simulator listening on ${served.url}/api2/json`);
console.log(`  nodes ${sim.state.nodes.size}, guests ${sim.state.guests.size}`);
console.log(`  API token: ${tokenId}`);
// The built-in default secret is public (README, --help) and only ever accepted by this simulator, so it is
// shown; a secret from PVE_SIM_TOKEN_SECRET never is.
console.log(`  secret:    ${process.env.PVE_SIM_TOKEN_SECRET ? 'from PVE_SIM_TOKEN_SECRET' : `${DEFAULT_TOKEN_SECRET} (the built-in default; not for production)`}`);
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

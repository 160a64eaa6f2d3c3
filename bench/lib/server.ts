/**
 * The server under test, in its own process: `node dist/server.js` with a fresh data directory, an admin
 * token from MCP_ADMIN_TOKEN, bound to 127.0.0.1 on a free port, with the node flags of `npm start`. Set BENCH_CPU_PROF=<dir> to have every
 * spawned server write a V8 CPU profile there when it stops, and BENCH_SERVER_ENTRY=<file.js> to start
 * another entry point instead (an experiment in a scratch copy, say).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectPath } from '../../lib/paths.ts';
import { simTokenId, simTokenSecret } from './sim.ts';

export const benchAdminToken = 'pmcp_bench-admin-token-0123456789abcdefghijklmnop';

/** dist/ when this runs compiled (dist/bench/lib/server.js -> dist/server.js). */
export const serverEntry = fileURLToPath(new URL('../../server.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** GET a URL over a fresh connection; resolves with the status, or rejects when nothing answers. */
export function getStatus(url: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export interface ServerProcess {
  url: string;
  mcpUrl: string;
  port: number;
  pid: number;
  dataDir: string;
  child: ChildProcess;
  /** ms from spawn to the first 200 from /health. */
  startupMs: number;
  /** performance.now() in this process when the server was spawned (its own clocks count from about there). */
  spawnedAt: number;
  /** Resident set size of the server process, in MB (from /proc). */
  rssMb(): number;
  /** CPU time the server process has used so far (ms). */
  cpuMs(): number;
  output(): string;
  /** SIGTERM (the server flushes history and closes the store), then wait for the exit. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface ServerOptions {
  /** Standalone simulator URL; absent = demo mode (the built-in simulated cluster in-process). */
  proxmoxUrl?: string;
  /** Reuse a data directory (e.g. a database that already holds history). */
  dataDir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Poll /health this often while waiting (ms). */
  pollMs?: number;
}

/**
 * The node flags production runs the server with, read from the `start` script in package.json
 * (`node --max-semi-space-size=4 ... dist/server.js`; the Dockerfile uses the same), so the bench
 * measures what is deployed. BENCH_NODE_FLAGS overrides them ("" for none).
 */
export function productionNodeFlags(): string[] {
  if (process.env.BENCH_NODE_FLAGS !== undefined) return process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);
  try {
    const pkg = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { scripts?: Record<string, string> };
    const match = /\bnode\s+((?:--\S+\s+)*)dist\/server\.js/.exec(pkg.scripts?.start ?? '');
    return match ? match[1].split(/\s+/).filter(Boolean) : [];
  } catch {
    return [];
  }
}

export function rssMbOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** CPU time (user + system) a process has used so far, in ms (from /proc; 10 ms resolution). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] and [12] are utime and stime (fields 14 and 15 of proc(5)), in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pmcp-bench-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    MCP_PORT: String(port),
    MCP_HOST: '127.0.0.1',
    MCP_DATA_DIR: dataDir,
    MCP_ADMIN_TOKEN: benchAdminToken,
    MCP_LOG_LEVEL: 'warn',
    PROXMOX_URL: options.proxmoxUrl ?? '',
    ...(options.proxmoxUrl ? { PROXMOX_TOKEN_ID: simTokenId, PROXMOX_TOKEN_SECRET: simTokenSecret } : {}),
    ...options.env,
  };
  const nodeArgs = [...productionNodeFlags(), ...(options.nodeArgs ?? [])];
  if (process.env.BENCH_CPU_PROF) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`);
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, process.env.BENCH_SERVER_ENTRY ?? serverEntry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = started + 30_000;
  const pollMs = options.pollMs ?? 5;
  let startupMs = Number.NaN;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited early (${child.exitCode}):\n${output}`);
    try {
      if ((await getStatus(`${url}/health`, 1_000)) === 200) {
        startupMs = performance.now() - started;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not serve /health within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return {
    url,
    mcpUrl: `${url}/mcp`,
    port,
    pid: child.pid ?? -1,
    dataDir,
    child,
    startupMs,
    spawnedAt: started,
    rssMb: () => rssMbOf(child.pid ?? -1),
    cpuMs: () => cpuMsOf(child.pid ?? -1),
    output: () => output,
    async stop(stopOptions = {}) {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(kill);
      }
      if (!stopOptions.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Child processes for tests: run to completion, or start a server and wait until it answers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.ts';
import { freePort } from '../../lib/free-port.ts';
export { freePort };

export const denoBin = join(projectRoot, 'node_modules', '.bin', 'deno');


export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd ?? projectRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Start a long-running process and wait until `url` answers (any HTTP status). */
export async function startAndWait(command: string, args: string[], url: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: projectRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited early (${child.exitCode}):\n${output}`);
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${command} did not answer at ${url} in time:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export interface DenoServer extends Started {
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  dataDir: string;
}

/** server.ts under Deno 2 on a free loopback port with its own data directory (removed by stop()), no Proxmox. */
export async function startDenoServer(adminToken: string, dataDirPrefix: string): Promise<DenoServer> {
  const dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let started: Started;
  try {
    started = await startAndWait(denoBin, ['run', '-A', 'server.ts'], `${base}/health`, {
      env: { MCP_PORT: String(port), MCP_HOST: '127.0.0.1', MCP_DATA_DIR: dataDir, MCP_ADMIN_TOKEN: adminToken, PROXMOX_URL: '' },
      timeoutMs: 90_000,
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...started,
    port,
    base,
    dataDir,
    stop: async () => {
      await started.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

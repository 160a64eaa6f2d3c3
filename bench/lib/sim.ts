/** Parent side of sim-worker.ts: start a simulated cluster in its own process and ask it for counts. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimWorkerOptions, SimWorkerStats } from './sim-worker.ts';

export const simTokenId = 'proxmox-mcp@pve!mcp';
export const simTokenSecret = 'sim-secret-not-for-production';

export interface SimProcess {
  url: string;
  pid: number;
  nodes: number;
  guests: number;
  stats(): Promise<SimWorkerStats>;
  reset(): Promise<void>;
  latency(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSim(options: Partial<SimWorkerOptions> = {}): Promise<SimProcess> {
  const full: SimWorkerOptions = { nodes: options.nodes ?? 3, guests: options.guests ?? 12, latencyMs: options.latencyMs ?? 0 };
  const child: ChildProcess = fork(fileURLToPath(new URL('./sim-worker.js', import.meta.url)), [JSON.stringify(full)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (body: unknown) => void>();
  let nextId = 1;
  const ready = await new Promise<{ ready: string; nodes: number; guests: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the simulator process did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the simulator process exited (${code})`)));
    child.on('message', (message: { ready?: string; id?: number; body?: unknown; nodes?: number; guests?: number }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve(message as { ready: string; nodes: number; guests: number });
      } else if (message.id !== undefined) {
        pending.get(message.id)?.(message.body);
        pending.delete(message.id);
      }
    });
  });
  const ask = <T>(message: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`simulator did not answer ${String(message.type)}`)), 10_000);
      pending.set(id, (body) => {
        clearTimeout(timer);
        resolve(body as T);
      });
      child.send({ ...message, id });
    });
  return {
    url: ready.ready,
    pid: child.pid ?? -1,
    nodes: ready.nodes,
    guests: ready.guests,
    stats: () => ask<SimWorkerStats>({ type: 'stats' }),
    reset: () => ask<boolean>({ type: 'reset' }).then(() => undefined),
    latency: (ms) => ask<boolean>({ type: 'latency', ms }).then(() => undefined),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await ask({ type: 'stop' }).catch(() => undefined);
      const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(kill);
    },
  };
}

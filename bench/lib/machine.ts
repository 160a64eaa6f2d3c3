/** What the numbers were measured on: they mean little without it. */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Machine {
  date: string;
  node: string;
  cpuModel: string;
  nproc: number;
  memTotalGiB: number;
  memFreeGiB: number;
  load: [number, number, number];
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function machine(): Machine {
  const gib = (bytes: number) => Math.round((bytes / 1024 ** 3) * 10) / 10;
  const [a, b, c] = loadavg();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpuModel(),
    nproc: availableParallelism(),
    memTotalGiB: gib(totalmem()),
    memFreeGiB: gib(freemem()),
    load: [Math.round(a * 100) / 100, Math.round(b * 100) / 100, Math.round(c * 100) / 100],
  };
}

export function loadNow(): string {
  return loadavg().map((v) => v.toFixed(2)).join(' ');
}

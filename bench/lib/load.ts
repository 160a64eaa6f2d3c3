/**
 * Closed-loop load: `concurrency` workers, each sending its next call as soon as the previous one is
 * answered, until `calls` calls were sent or `durationMs` passed, whichever comes first (every loop in
 * the bench is bounded in count and in time).
 */
import type { McpLoadClient } from './mcp.ts';

export interface CallSpec {
  tool: string;
  args?: Record<string, unknown>;
}

export interface LoadResult {
  calls: number;
  ok: number;
  errors: number;
  /** A few distinct error messages, for the report. */
  errorSamples: string[];
  elapsedMs: number;
  callsPerSec: number;
  latencies: Float64Array;
}

export async function runLoad(client: McpLoadClient, specs: CallSpec[], options: { concurrency: number; calls: number; durationMs: number; onProgress?: (done: number) => void; progressEvery?: number }): Promise<LoadResult> {
  const latencies = new Float64Array(options.calls);
  let sent = 0;
  let done = 0;
  let ok = 0;
  let errors = 0;
  const errorSamples = new Set<string>();
  const started = performance.now();
  const deadline = started + options.durationMs;
  const every = options.progressEvery ?? 0;

  async function worker(): Promise<void> {
    while (sent < options.calls && performance.now() < deadline) {
      const index = sent++;
      const spec = specs[index % specs.length];
      const outcome = await client.call(spec.tool, spec.args ?? {});
      latencies[index] = outcome.ms;
      done++;
      if (outcome.ok) ok++;
      else {
        errors++;
        if (errorSamples.size < 5) errorSamples.add(`${spec.tool}: ${outcome.error}`);
      }
      if (every && done % every === 0) options.onProgress?.(done);
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  const elapsedMs = performance.now() - started;
  return { calls: done, ok, errors, errorSamples: [...errorSamples], elapsedMs, callsPerSec: (done / elapsedMs) * 1000, latencies: latencies.subarray(0, sent) };
}

/** Sequential calls, one at a time, for latency distributions. */
export async function runSequential(client: McpLoadClient, spec: CallSpec, options: { calls: number; durationMs: number }): Promise<LoadResult> {
  return runLoad(client, [spec], { concurrency: 1, ...options });
}

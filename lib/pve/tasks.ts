/**
 * Waiting for Proxmox tasks (UPIDs): poll the status with a growing interval, report progress with the
 * last log line, stop waiting (not the task) on timeout or cancel, and on failure report the exit status
 * with the tail of the task log.
 */
import { sleep } from '../abort.ts';
import { ToolError } from '../errors.ts';
import { num } from './parse.ts';
import type { Envelope } from './transport.ts';
import { parseUpid, type Upid } from './upid.ts';
import type { HttpMethod, PveParams, PveRequestOptions, TaskResult, WaitOptions } from './types.ts';

export type EnvelopeRequester = <T>(method: HttpMethod, path: string, params: PveParams | undefined, options?: PveRequestOptions) => Promise<Envelope<T>>;

export const defaultTaskTimeoutMs = 5 * 60_000;
const logTailLines = 20;

/** `OK` and `WARNINGS: n` are success; anything else (the error text, "unexpected status") is failure. */
export function isTaskSuccess(exitstatus: string | undefined): boolean {
  if (exitstatus === undefined) return false;
  return exitstatus === 'OK' || /^WARNINGS: \d+$/.test(exitstatus);
}

export function requireUpid(upid: string): Upid {
  const parsed = typeof upid === 'string' ? parseUpid(upid) : undefined;
  if (!parsed) {
    throw new ToolError('invalid_input', `"${String(upid)}" is not a Proxmox task id (UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:).`);
  }
  return parsed;
}

function taskPath(task: Upid, suffix: string): string {
  return `/nodes/${encodeURIComponent(task.node)}/tasks/${encodeURIComponent(task.upid)}/${suffix}`;
}

interface LogLine {
  n?: unknown;
  t?: unknown;
}

/**
 * The last `lines` lines of a task log. Reads `total` from a first page and, when the log is longer,
 * fetches the tail page; `knownTotal` lets a caller that polls skip the first page.
 */
export async function readTaskLogTail(
  request: EnvelopeRequester,
  task: Upid,
  lines: number,
  options: PveRequestOptions = {},
  knownTotal?: number,
): Promise<{ lines: string[]; total: number }> {
  const limit = Math.max(1, Math.floor(lines));
  const read = async (start: number) => {
    const envelope = await request<LogLine[]>('GET', taskPath(task, 'log'), { start, limit }, options);
    const rows = Array.isArray(envelope.data) ? envelope.data : [];
    return { rows, total: envelope.total };
  };
  const toText = (rows: LogLine[]) => rows.map((row) => (typeof row.t === 'string' ? row.t : String(row.t ?? '')));
  const firstStart = knownTotal !== undefined ? Math.max(0, knownTotal - limit) : 0;
  const first = await read(firstStart);
  const total = first.total ?? firstStart + first.rows.length;
  if (firstStart + first.rows.length >= total) return { lines: toText(first.rows.slice(-limit)), total };
  const tail = await read(Math.max(0, total - limit));
  return { lines: toText(tail.rows.slice(-limit)), total: tail.total ?? total };
}

interface TaskStatus {
  status?: unknown;
  exitstatus?: unknown;
  type?: unknown;
  id?: unknown;
}

/** Poll GET /nodes/{node}/tasks/{upid}/status until the task stops. */
export async function waitForTask(request: EnvelopeRequester, upid: string, options: WaitOptions = {}): Promise<TaskResult> {
  const task = requireUpid(upid);
  const waitLimitMs = options.timeoutMs ?? defaultTaskTimeoutMs;
  const started = Date.now();
  const deadline = new AbortController();
  const deadlineTimer = setTimeout(() => deadline.abort(new DOMException('task wait timed out', 'TimeoutError')), waitLimitMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
  const label = `${task.type}${task.id ? ` ${task.id}` : ''} on ${task.node}`;

  const stopWaiting = (): ToolError => {
    if (options.signal?.aborted) {
      return new ToolError(
        'timeout',
        `Stopped waiting for task ${label}: the call was cancelled. The task keeps running on Proxmox (UPID ${task.upid}); check it in the task log.`,
        { details: { upid: task.upid, node: task.node, cancelled: true } },
      );
    }
    return new ToolError(
      'timeout',
      `Task ${label} is still running on Proxmox after ${Math.round((Date.now() - started) / 1000)} s; stopped waiting (the task was not cancelled). ` +
        `UPID ${task.upid}: follow it in the task log or with GET /nodes/${task.node}/tasks/{upid}/status.`,
      { details: { upid: task.upid, node: task.node, waitedMs: Date.now() - started } },
    );
  };

  let interval = 50;
  let lastLine: string | undefined;
  let logTotal: number | undefined;
  let lastLogRead = 0;
  try {
    for (;;) {
      if (signal.aborted) throw stopWaiting();
      let status: TaskStatus;
      try {
        const envelope = await request<TaskStatus>('GET', taskPath(task, 'status'), undefined, { signal });
        status = envelope.data ?? {};
      } catch (error) {
        if (signal.aborted) throw stopWaiting();
        if (error instanceof ToolError && error.code === 'invalid_input' && /no such task/i.test(error.message)) {
          throw new ToolError('not_found', `Proxmox has no task ${task.upid} on node ${task.node} (it may have been rotated out of the task list).`, {
            details: { upid: task.upid, node: task.node },
          });
        }
        throw error;
      }
      const elapsedMs = Date.now() - started;
      if (status.status === 'stopped') {
        const exitstatus = typeof status.exitstatus === 'string' ? status.exitstatus : String(status.exitstatus ?? 'unexpected status');
        const ok = isTaskSuccess(exitstatus);
        options.onProgress?.({ upid: task.upid, status: 'stopped', elapsedMs, lastLine });
        if (!ok) {
          let logTail: string[] = [];
          try {
            logTail = (await readTaskLogTail(request, task, logTailLines, { signal: options.signal })).lines;
          } catch {
            // the failure itself matters more than its log
          }
          throw new ToolError('task_failed', `Proxmox task ${label} failed: ${exitstatus}`, {
            details: { upid: task.upid, node: task.node, type: task.type, id: task.id, exitstatus, logTail },
          });
        }
        return {
          upid: task.upid,
          node: task.node,
          type: typeof status.type === 'string' ? status.type : task.type,
          id: typeof status.id === 'string' ? status.id : num(status.id) !== undefined ? String(status.id) : task.id,
          status: 'stopped',
          exitstatus,
          ok,
          durationMs: elapsedMs,
        };
      }
      if (options.onProgress) {
        // The last log line, at most about once a second (it costs a request).
        if (Date.now() - lastLogRead >= 1000 || lastLine === undefined) {
          lastLogRead = Date.now();
          try {
            const tail = await readTaskLogTail(request, task, 1, { signal }, logTotal);
            lastLine = tail.lines[tail.lines.length - 1] ?? lastLine;
            logTotal = tail.total;
          } catch {
            if (signal.aborted) throw stopWaiting();
          }
        }
        options.onProgress({ upid: task.upid, status: 'running', elapsedMs: Date.now() - started, lastLine });
      }
      // an abort ends the wait early; the loop then stops with its own error
      await sleep(interval, signal).catch(() => undefined);
      interval = Math.min(interval * 2, 1000);
    }
  } finally {
    clearTimeout(deadlineTimer);
  }
}

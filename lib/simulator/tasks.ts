/**
 * Worker tasks like pve-common's fork_worker: a UPID, a log, `running` until the work is done, then
 * `stopped` with an exit status taken from the last log line. Completion is lazy (checked whenever the
 * simulator is asked something) plus one unref'd timer for the next due task, so state changes land even
 * when nobody polls, and nothing keeps the process alive.
 */
import { parseUpid, type Upid } from '../pve/upid.ts';

export interface SimTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  /** `user@realm` or `user@realm!tokenid`, as in the UPID. */
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  log: string[];
  finishAt: number;
  work?: () => string[] | void;
}

export interface StartTask {
  node: string;
  type: string;
  id?: string;
  user: string;
  /** Lines logged right away. */
  lines?: string[];
  /** Runs when the task finishes; may return more log lines; throwing an Error fails the task with its message. */
  work?: () => string[] | void;
  durationMs: number;
  now: number;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');

export function encodeUpid(t: Pick<SimTask, 'node' | 'pid' | 'pstart' | 'starttime' | 'type' | 'id' | 'user'>): string {
  return `UPID:${t.node}:${hex8(t.pid)}:${hex8(t.pstart)}:${hex8(t.starttime)}:${t.type}:${t.id}:${t.user}:`;
}

/** The parts of a UPID exactly as given (Proxmox does not trim), with the client's parser. */
export function decodeUpid(upid: string): Omit<Upid, 'upid'> | undefined {
  if (upid !== upid.trim()) return undefined;
  const parsed = parseUpid(upid);
  if (!parsed) return undefined;
  const { upid: _whole, ...parts } = parsed;
  return parts;
}

export function exitStatusOf(log: string[]): string {
  const last = log[log.length - 1] ?? '';
  if (last === 'TASK OK') return 'OK';
  let m = /^TASK WARNINGS: (\d+)$/.exec(last);
  if (m) return `WARNINGS: ${m[1]}`;
  m = /^TASK ERROR: (.*)$/.exec(last);
  if (m) return m[1];
  return 'unexpected status';
}

export class TaskStore {
  readonly all: SimTask[] = [];
  readonly byUpid = new Map<string, SimTask>();
  private running: SimTask[] = [];
  private nextPid = 0x2a3f1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Called after any task finished (lets the simulator react, e.g. apply pending config). */
  onFinish: ((task: SimTask) => void) | undefined;

  start(spec: StartTask): SimTask {
    const starttime = Math.floor(spec.now / 1000);
    const pid = this.nextPid;
    this.nextPid += 1 + (pid % 7);
    const task: SimTask = {
      upid: '',
      node: spec.node,
      pid,
      pstart: 0x1b2c3d4 + (pid % 0x10000) * 100,
      starttime,
      type: spec.type,
      id: spec.id ?? '',
      user: spec.user,
      status: 'running',
      log: [...(spec.lines ?? [])],
      finishAt: spec.now + Math.max(0, spec.durationMs),
      work: spec.work,
    };
    task.upid = encodeUpid(task);
    this.all.push(task);
    this.byUpid.set(task.upid, task);
    if (spec.durationMs <= 0) this.finish(task, spec.now);
    else {
      this.running.push(task);
      this.schedule();
    }
    return task;
  }

  /** Finish every task that is due. */
  tick(now: number): void {
    if (!this.running.length) return;
    const due = this.running.filter((t) => t.finishAt <= now).sort((a, b) => a.finishAt - b.finishAt);
    if (!due.length) return;
    this.running = this.running.filter((t) => t.finishAt > now);
    for (const t of due) this.finish(t, now);
    this.schedule();
  }

  /** DELETE /nodes/{node}/tasks/{upid}: the worker gets a signal and the task fails. */
  stop(task: SimTask, now: number): void {
    if (task.status !== 'running') return;
    this.running = this.running.filter((t) => t !== task);
    task.log.push('received interrupt', 'TASK ERROR: received interrupt');
    task.status = 'stopped';
    task.exitstatus = exitStatusOf(task.log);
    task.endtime = Math.floor(now / 1000);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private finish(task: SimTask, now: number): void {
    try {
      const more = task.work?.();
      if (more) task.log.push(...more);
      const warnings = task.log.filter((l) => l.startsWith('WARN: ')).length;
      task.log.push(warnings ? `TASK WARNINGS: ${warnings}` : 'TASK OK');
    } catch (err) {
      const extra = (err as { lines?: unknown }).lines;
      if (Array.isArray(extra)) task.log.push(...extra.map(String));
      const msg = (err instanceof Error ? err.message : String(err)).replace(/\n+$/, '');
      task.log.push(`TASK ERROR: ${msg}`);
    }
    task.status = 'stopped';
    task.exitstatus = exitStatusOf(task.log);
    task.endtime = Math.max(task.starttime, Math.floor(Math.max(now, task.finishAt) / 1000));
    task.work = undefined;
    this.onFinish?.(task);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || !this.running.length) return;
    const next = Math.min(...this.running.map((t) => t.finishAt));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick(Date.now());
    }, Math.max(0, next - Date.now()) + 1);
    (this.timer as { unref?: () => void }).unref?.();
  }
}

/**
 * Fault injection: what can go wrong between a client and pveproxy, on demand. Rules are checked in order;
 * a one-shot rule (failNext) is used up as it fires, a persistent rule (fail) stays until removed or clear().
 */
export type FaultKind = '500' | '595' | '596' | 'html' | 'badJson' | 'hang';

export interface FaultMatch {
  /** HTTP method, e.g. 'POST'. */
  method?: string;
  /** Tested against the path below /api2/json, e.g. /nodes/pve1/qemu/100/status/start. */
  path?: RegExp | string;
}

export interface FaultOptions {
  /** Error text (500, 595, 596) or page title (html). */
  message?: string;
  /** HTTP status for `html` (200 or 502, default 502) or `500` (any 5xx, default 500). */
  status?: number;
}

export interface FaultRule extends FaultOptions {
  kind: FaultKind;
  match?: FaultMatch;
  /** Remaining firings for a one-shot rule; undefined = persistent. */
  remaining?: number;
}

export interface FaultControl {
  /** Add this delay (ms) before every answer; 0 turns it off. */
  latency(ms: number): void;
  /** The next `n` matching requests fail with `kind`. */
  failNext(n: number, kind: FaultKind, match?: FaultMatch | RegExp, options?: FaultOptions): void;
  /** Every matching request fails with `kind` until the returned function is called (or clear()). */
  fail(kind: FaultKind, match?: FaultMatch | RegExp, options?: FaultOptions): () => void;
  /** Take a node off the network (or back): its endpoints answer 595, /cluster/resources shows it offline. */
  setNodeOnline(node: string, online: boolean): void;
  /** Remove every rule and the latency, and bring every node back online. */
  clear(): void;
  readonly rules: readonly FaultRule[];
  readonly latencyMs: number;
}

function normalize(match?: FaultMatch | RegExp): FaultMatch | undefined {
  return match instanceof RegExp ? { path: match } : match;
}

export class Faults implements FaultControl {
  rules: FaultRule[] = [];
  latencyMs = 0;

  constructor(private readonly setOnline: (node: string, online: boolean) => void, private readonly allOnline: () => void) {}

  latency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  failNext(n: number, kind: FaultKind, match?: FaultMatch | RegExp, options: FaultOptions = {}): void {
    if (n > 0) this.rules.push({ kind, match: normalize(match), remaining: n, ...options });
  }

  fail(kind: FaultKind, match?: FaultMatch | RegExp, options: FaultOptions = {}): () => void {
    const rule: FaultRule = { kind, match: normalize(match), ...options };
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  setNodeOnline(node: string, online: boolean): void {
    this.setOnline(node, online);
  }

  clear(): void {
    this.rules = [];
    this.latencyMs = 0;
    this.allOnline();
  }

  /** The rule that fires for this request, if any (a one-shot rule is consumed). */
  take(method: string, path: string): FaultRule | undefined {
    for (const rule of this.rules) {
      const m = rule.match;
      if (m?.method && m.method.toUpperCase() !== method) continue;
      if (m?.path !== undefined) {
        const ok = typeof m.path === 'string' ? path === m.path || path.startsWith(m.path) : m.path.test(path);
        if (!ok) continue;
      }
      if (rule.remaining !== undefined) {
        rule.remaining--;
        if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      }
      return rule;
    }
    return undefined;
  }
}

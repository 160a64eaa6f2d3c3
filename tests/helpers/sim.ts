/** The simulator in tests: simulators closed after each test, and one call through its fetch as a client would make it. */
import { afterEach } from 'vitest';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.ts';

export type SimToken = { tokenId: string; secret: string };

export interface SimAnswer {
  status: number;
  reason: string;
  /** The parsed body, or undefined where the body is not JSON. */
  json: any;
  text: string;
  headers: Headers;
}

/**
 * Registers an afterEach that closes every simulator made since the last test, and returns the maker:
 * `createSimulator` with tasks finishing at once (taskDurationMs 0) unless `defaults` or the call says otherwise.
 */
export function simulatorsClosedAfterEach(defaults: SimulatorOptions = {}): (opts?: SimulatorOptions) => Simulator {
  let sims: Simulator[] = [];
  afterEach(() => {
    for (const s of sims) s.close();
    sims = [];
  });
  return (opts = {}) => {
    const s = createSimulator({ taskDurationMs: 0, ...defaults, ...opts });
    sims.push(s);
    return s;
  };
}

/**
 * One request to the simulator as pveproxy receives it: under /api2/json, with an API token (none when null),
 * params in the query string for GET and DELETE and as a form body otherwise (a list repeats its key),
 * or a JSON body when `init.json` is given.
 */
export async function simCall(
  sim: Simulator,
  method: string,
  path: string,
  params?: Record<string, string | string[]>,
  token: SimToken | null = sim.defaultToken,
  init: { json?: unknown; signal?: AbortSignal } = {},
): Promise<SimAnswer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `PVEAPIToken=${token.tokenId}=${token.secret}`;
  let url = `https://pve.test:8006/api2/json${path}`;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (params) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) sp.append(k, x);
    if (method === 'GET' || method === 'DELETE') url += `?${sp}`;
    else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = sp.toString();
    }
  }
  const res = await sim.fetch(new Request(url, { method, headers, body, signal: init.signal }));
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, reason: res.statusText, json, text, headers: res.headers };
}

import { describe, expect, it, vi } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { createPveClient, createPveClientFromConfig, type PveClientOptions } from '../lib/pve/client.ts';
import { num, bool, parseClusterResources } from '../lib/pve/parse.ts';
import { createPermissionChecker, hasPrivilege, missingPrivileges, missingPrivilegesMessage } from '../lib/pve/permissions.ts';
import { encodeParams, normalizePath } from '../lib/pve/transport.ts';
import { isTaskSuccess } from '../lib/pve/tasks.ts';
import { parseUpid } from '../lib/pve/upid.ts';
import { loadConfig } from '../lib/config.ts';

const SECRET = '1f2e3d4c-aaaa-bbbb-cccc-0123456789ab';
const TOKEN = 'mcp@pve!agent';

type Handler = (request: Request, url: URL) => Response | Promise<Response>;

function json(body: unknown, status = 200, statusText = ''): Response {
  return new Response(JSON.stringify(body), { status, statusText, headers: { 'content-type': 'application/json;charset=UTF-8' } });
}

function pveError(status: number, message: string, errors?: Record<string, string>): Response {
  return json({ data: null, message: `${message}\n`, ...(errors ? { errors } : {}) }, status, message);
}

/** A tiny fake Proxmox: routes "METHOD /path" (path below /api2/json) to handlers, records every request. */
function fakePve(routes: Record<string, Handler>) {
  const requests: { method: string; path: string; url: URL; headers: Headers; body: string }[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/api2\/json/, '');
    const body = request.method === 'GET' ? '' : await request.text();
    requests.push({ method: request.method, path, url, headers: request.headers, body });
    const handler = routes[`${request.method} ${decodeURIComponent(path)}`] ?? routes[`${request.method} *`];
    if (!handler) return json({ data: null, message: `Method '${request.method} ${path}' not implemented\n` }, 501, `Method '${request.method} ${path}' not implemented`);
    return handler(request, url);
  };
  return { fetch, requests };
}

function client(routes: Record<string, Handler>, extra: Partial<PveClientOptions> = {}) {
  const fake = fakePve(routes);
  const pve = createPveClient({
    baseUrl: 'https://pve.example:8006',
    tokenId: TOKEN,
    tokenSecret: SECRET,
    fetch: fake.fetch,
    retryDelayMs: () => 1,
    ...extra,
  });
  return { pve, ...fake };
}

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    const toolError = error as ToolError;
    expect(toolError.message).not.toContain(SECRET);
    expect(JSON.stringify(toolError.details ?? {})).not.toContain(SECRET);
    return toolError;
  }
  throw new Error('expected the call to fail');
}

function memoryLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields }),
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { log: make(), lines };
}

const UPID = 'UPID:pve2:0002A3F1:01B2C3D4:6650A1B2:qmstart:101:mcp@pve!agent:';

describe('request encoding and the envelope', () => {
  it('sends GET parameters in the query string with booleans as 0/1, arrays repeated, null dropped', async () => {
    const { pve, requests } = client({ 'GET /nodes/pve1/qemu': () => json({ data: [{ vmid: 100 }] }) });
    const data = await pve.get('/nodes/pve1/qemu', { full: true, skip: undefined, other: null, list: ['a', 'b'], n: 5, off: false });
    expect(data).toEqual([{ vmid: 100 }]);
    const sent = requests[0];
    expect(sent.url.searchParams.get('full')).toBe('1');
    expect(sent.url.searchParams.get('off')).toBe('0');
    expect(sent.url.searchParams.getAll('list')).toEqual(['a', 'b']);
    expect(sent.url.searchParams.get('n')).toBe('5');
    expect(sent.url.searchParams.has('skip')).toBe(false);
    expect(sent.url.searchParams.has('other')).toBe(false);
    expect(sent.url.pathname).toBe('/api2/json/nodes/pve1/qemu');
    expect(sent.headers.get('authorization')).toBe(`PVEAPIToken=${TOKEN}=${SECRET}`);
  });

  it('sends POST and PUT parameters as a form body, DELETE parameters in the query', async () => {
    const { pve, requests } = client({
      'POST /nodes/pve1/qemu/100/agent/exec': () => json({ data: { pid: 7 } }),
      'PUT /nodes/pve1/qemu/100/config': () => json({ data: null }),
      'DELETE /nodes/pve1/qemu/100': () => json({ data: UPID }),
    });
    expect(await pve.post('/nodes/pve1/qemu/100/agent/exec', { command: ['ls', '-l /tmp'], 'input-data': 'a&b=c' })).toEqual({ pid: 7 });
    expect(await pve.put('/nodes/pve1/qemu/100/config', { onboot: true, name: 'web 1' })).toBeNull();
    expect(await pve.delete('/nodes/pve1/qemu/100', { purge: true })).toBe(UPID);
    const [exec, put, del] = requests;
    expect(exec.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(exec.body);
    expect(form.getAll('command')).toEqual(['ls', '-l /tmp']);
    expect(form.get('input-data')).toBe('a&b=c');
    expect(new URLSearchParams(put.body).get('onboot')).toBe('1');
    expect(new URLSearchParams(put.body).get('name')).toBe('web 1');
    expect(del.body).toBe('');
    expect(del.url.searchParams.get('purge')).toBe('1');
  });

  it('accepts a base URL with /api2/json and trailing slashes', async () => {
    const { pve, requests } = client({ 'GET /version': () => json({ data: { version: '8.4.1' } }) }, { baseUrl: 'https://pve.example:8006/api2/json/' });
    expect(pve.baseUrl).toBe('https://pve.example:8006');
    await pve.get('/version');
    expect(requests[0].url.href).toBe('https://pve.example:8006/api2/json/version');
  });

  it('refuses paths with dot segments, query strings or whitespace before sending anything', async () => {
    const { pve, requests } = client({});
    for (const path of ['/nodes/../access/users', '/nodes/%2e%2e/access', '/version?x=1', '/a b']) {
      const error = await failure(pve.get(path));
      expect(error.code).toBe('invalid_input');
    }
    expect(requests).toHaveLength(0);
    expect(normalizePath('api2/json/nodes//pve1/')).toBe('/nodes/pve1');
  });

  it('encodes parameters the way pveproxy reads them', () => {
    expect(encodeParams({ a: true, b: 0, c: ['x', 'y'], d: undefined, e: null, f: 'a b' }).toString()).toBe('a=1&b=0&c=x&c=y&f=a+b');
  });
});

describe('error mapping', () => {
  it('401: unauthenticated, names the token id format, never the secret', async () => {
    const { pve } = client({ 'GET /version': () => json({ data: null, message: 'authentication failure\n' }, 401, 'authentication failure') });
    const error = await failure(pve.get('/version'));
    expect(error.code).toBe('unauthenticated');
    expect(error.message).toContain('user@realm!tokenid');
    expect(error.message).toContain('PROXMOX_TOKEN_SECRET');
    expect(error.message).toMatch(/expired/);
    expect(error.message).toContain(TOKEN);
  });

  it('403: forbidden, naming privilege and path with the privilege-separation hint', async () => {
    const { pve } = client({ 'POST /nodes/pve1/qemu/101/status/start': () => pveError(403, 'Permission check failed (/vms/101, VM.PowerMgmt)') });
    const error = await failure(pve.post('/nodes/pve1/qemu/101/status/start'));
    expect(error.code).toBe('forbidden');
    expect(error.message).toContain('VM.PowerMgmt');
    expect(error.message).toContain('/vms/101');
    expect(error.message).toContain(`pveum acl modify /vms/101 --tokens '${TOKEN}' --roles PVEVMUser`);
    expect(error.message).toMatch(/privilege separation/);
    expect(error.details).toMatchObject({ path: '/vms/101', privileges: ['VM.PowerMgmt'] });
  });

  it('403 for a ticket-only endpoint says tokens cannot call it', async () => {
    const { pve } = client({ 'PUT /access/password': () => pveError(403, "Permission check failed (URI '/access/password' not available with API token, need proper ticket.)") });
    const error = await failure(pve.put('/access/password', { userid: 'x@pve', password: 'y' }));
    expect(error.code).toBe('forbidden');
    expect(error.message).toMatch(/does not allow API tokens/);
  });

  it('400 with errors: invalid_input listing each parameter and reason', async () => {
    const { pve } = client({
      'POST /nodes/pve1/qemu': () =>
        pveError(400, 'Parameter verification failed.', { vmid: 'property is missing and it is not optional', memory: "type check ('integer') failed - got 'abc'" }),
    });
    const error = await failure(pve.post('/nodes/pve1/qemu', { memory: 'abc' }));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain('vmid: property is missing and it is not optional');
    expect(error.message).toContain("memory: type check ('integer') failed - got 'abc'");
    expect(error.details?.errors).toMatchObject({ vmid: 'property is missing and it is not optional' });
  });

  it('400 "already exists" is a conflict', async () => {
    const { pve } = client({ 'GET /cluster/nextid': () => pveError(400, 'Parameter verification failed.', { vmid: 'VM 100 already exists' }) });
    expect((await failure(pve.get('/cluster/nextid', { vmid: 100 }))).code).toBe('conflict');
  });

  it('500 "does not exist" is not_found and keeps Proxmox text', async () => {
    const message = "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist";
    const { pve } = client({ 'GET /nodes/pve1/qemu/999/config': () => pveError(500, message) });
    const error = await failure(pve.get('/nodes/pve1/qemu/999/config'));
    expect(error.code).toBe('not_found');
    expect(error.message).toContain(message);
  });

  it('500 for a guest in the wrong state is a conflict; other 500s are upstream with the message', async () => {
    const { pve } = client({
      'POST /nodes/pve1/qemu/100/status/reboot': () => pveError(500, 'VM 100 not running'),
      'POST /nodes/pve1/qemu/100/status/start': () => pveError(500, 'start failed: QEMU exited with code 1'),
    });
    expect((await failure(pve.post('/nodes/pve1/qemu/100/status/reboot'))).code).toBe('conflict');
    const error = await failure(pve.post('/nodes/pve1/qemu/100/status/start'));
    expect(error.code).toBe('upstream');
    expect(error.message).toContain('start failed: QEMU exited with code 1');
  });

  it('uses the reason phrase when the body has no message (older servers)', async () => {
    const { pve } = client({
      'GET /nodes/pve1/qemu/5/status/current': () => new Response(JSON.stringify({ data: null }), { status: 500, statusText: 'VM 5 does not exist' }),
    });
    const error = await failure(pve.get('/nodes/pve1/qemu/5/status/current'));
    expect(error.code).toBe('not_found');
    expect(error.message).toContain('VM 5 does not exist');
  });

  it('501: upstream, "no such endpoint"', async () => {
    const { pve } = client({});
    const error = await failure(pve.get('/nodes/pve1/frobnicate'));
    expect(error.code).toBe('upstream');
    expect(error.message).toMatch(/this Proxmox version has no such endpoint/i);
  });

  it('595: unavailable naming the node; 596: unavailable with pvecm updatecerts', async () => {
    const { pve } = client(
      {
        'GET /nodes/pve3/status': () => json({ data: null }, 595, 'Connection refused'),
        'GET /nodes/pve2/status': () => json({ data: null }, 596, 'tls_process_server_certificate: certificate verify failed'),
      },
      { retries: 0 },
    );
    const offline = await failure(pve.get('/nodes/pve3/status'));
    expect(offline.code).toBe('unavailable');
    expect(offline.message).toContain('node pve3');
    expect(offline.message).toMatch(/offline/);
    const tls = await failure(pve.get('/nodes/pve2/status'));
    expect(tls.code).toBe('unavailable');
    expect(tls.message).toContain('pvecm updatecerts');
  });

  it('an HTML page instead of JSON is upstream naming a proxy or a wrong PROXMOX_URL', async () => {
    const html = '<!DOCTYPE html><html><body>Login</body></html>';
    const { pve } = client(
      {
        'GET /version': () => new Response(html, { status: 200, headers: { 'content-type': 'text/html' } }),
        'GET /nodes': () => new Response(html, { status: 502, statusText: 'Bad Gateway' }),
      },
      { retries: 0 },
    );
    for (const path of ['/version', '/nodes']) {
      const error = await failure(pve.get(path));
      expect(error.code).toBe('upstream');
      expect(error.message).toMatch(/HTML page instead of JSON/);
      expect(error.message).toContain('PROXMOX_URL');
    }
  });

  it('invalid JSON and a missing envelope are upstream', async () => {
    const { pve } = client({
      'GET /version': () => new Response('{"data": {"version":', { status: 200, headers: { 'content-type': 'application/json' } }),
      'GET /nodes': () => json({ nodes: [] }),
    });
    const broken = await failure(pve.get('/version'));
    expect(broken.code).toBe('upstream');
    expect(broken.message).toMatch(/not valid JSON/);
    expect((await failure(pve.get('/nodes'))).code).toBe('upstream');
  });

  it('network errors become unavailable naming the URL (fetch wraps them in "fetch failed")', async () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH']) {
      const pve = createPveClient({
        baseUrl: 'https://pve.example:8006',
        tokenId: TOKEN,
        tokenSecret: SECRET,
        retries: 0,
        fetch: async () => {
          throw new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });
        },
      });
      const error = await failure(pve.get('/version'));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('https://pve.example:8006');
      expect(error.message).toContain(code);
    }
  });
});

describe('timeouts, cancellation and retries', () => {
  const hanging = () => new Promise<Response>(() => {});

  it('a request that never answers times out (even if the fetch ignores the signal)', async () => {
    const pve = createPveClient({ baseUrl: 'http://sim', tokenId: TOKEN, tokenSecret: SECRET, fetch: hanging, timeoutMs: 50, retries: 0 });
    const started = Date.now();
    const error = await failure(pve.post('/nodes/pve1/qemu/100/status/start'));
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('50 ms');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("the caller's signal cancels the request", async () => {
    const pve = createPveClient({ baseUrl: 'http://sim', tokenId: TOKEN, tokenSecret: SECRET, fetch: hanging, timeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const error = await failure(pve.get('/version', undefined, { signal: controller.signal }));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/cancelled/);
  });

  it('retries GET on 502, 503 and 595 and succeeds', async () => {
    let calls = 0;
    const statuses = [503, 502, 200];
    const { pve } = client({
      'GET /cluster/status': () => {
        const status = statuses[calls++];
        return status === 200 ? json({ data: [] }) : json({ data: null }, status, 'busy');
      },
    });
    expect(await pve.get('/cluster/status')).toEqual([]);
    expect(calls).toBe(3);
  });

  it('retries GET on timeouts and network errors, up to the limit', async () => {
    let calls = 0;
    const pve = createPveClient({
      baseUrl: 'http://sim',
      tokenId: TOKEN,
      tokenSecret: SECRET,
      timeoutMs: 30,
      retries: 2,
      retryDelayMs: () => 1,
      fetch: async () => {
        calls++;
        if (calls === 1) return new Promise<Response>(() => {});
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });
      },
    });
    const error = await failure(pve.get('/version'));
    expect(error.code).toBe('unavailable');
    expect(calls).toBe(3);
  });

  it('never retries POST, PUT or DELETE, nor a GET that failed for a lasting reason', async () => {
    const counts: Record<string, number> = {};
    const count = (key: string, response: () => Response) => () => {
      counts[key] = (counts[key] ?? 0) + 1;
      return response();
    };
    const { pve } = client({
      'POST /nodes/pve1/qemu/100/status/start': count('post', () => json({ data: null }, 503, 'busy')),
      'PUT /nodes/pve1/qemu/100/config': count('put', () => json({ data: null }, 595, 'no route')),
      'DELETE /nodes/pve1/qemu/100': count('delete', () => json({ data: null }, 502, 'bad gateway')),
      'GET /nodes/pve1/qemu/100/config': count('get500', () => pveError(500, 'something broke')),
    });
    await failure(pve.post('/nodes/pve1/qemu/100/status/start'));
    await failure(pve.put('/nodes/pve1/qemu/100/config', { name: 'x' }));
    await failure(pve.delete('/nodes/pve1/qemu/100'));
    await failure(pve.get('/nodes/pve1/qemu/100/config'));
    expect(counts).toEqual({ post: 1, put: 1, delete: 1, get500: 1 });
  });

  it('does not retry POST on a timeout', async () => {
    let calls = 0;
    const pve = createPveClient({
      baseUrl: 'http://sim',
      tokenId: TOKEN,
      tokenSecret: SECRET,
      timeoutMs: 20,
      fetch: () => {
        calls++;
        return new Promise<Response>(() => {});
      },
    });
    const error = await failure(pve.post('/nodes/pve1/qemu/100/status/stop'));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/may still happen/);
    expect(calls).toBe(1);
  });
});

function taskRoutes(options: { polls: number; exitstatus: string; logLines: number; node?: string }) {
  const node = options.node ?? 'pve2';
  let polls = 0;
  const log = Array.from({ length: options.logLines }, (_, index) => ({ n: index + 1, t: `line ${index + 1}` }));
  const statusPath = `GET /nodes/${node}/tasks/${UPID}/status`;
  const logPath = `GET /nodes/${node}/tasks/${UPID}/log`;
  const logRequests: { start: number; limit: number }[] = [];
  const routes: Record<string, Handler> = {
    [statusPath]: () => {
      polls++;
      const done = polls > options.polls;
      return json({ data: { upid: UPID, node, type: 'qmstart', id: '101', user: 'mcp@pve', status: done ? 'stopped' : 'running', ...(done ? { exitstatus: options.exitstatus } : {}) } });
    },
    [logPath]: (_request, url) => {
      const start = Number(url.searchParams.get('start') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      logRequests.push({ start, limit });
      return json({ data: log.slice(start, start + limit), total: log.length });
    },
  };
  return { routes, pollCount: () => polls, logRequests };
}

describe('tasks', () => {
  it('parses UPIDs (FACTS §5) and rejects what is not one', () => {
    expect(parseUpid(UPID)).toEqual({
      upid: UPID,
      node: 'pve2',
      pid: 0x2a3f1,
      pstart: 0x1b2c3d4,
      starttime: 0x6650a1b2,
      type: 'qmstart',
      id: '101',
      user: 'mcp@pve!agent',
    });
    expect(parseUpid('UPID:pve1:0000ABCD:123456789:6650A1B2:aptupdate::root@pam:')?.id).toBe('');
    expect(parseUpid('UPID:pve1:0002A3F1:01B2C3D4:6650A1B2:qmstart:100:root@pam')).toBeUndefined();
    expect(parseUpid('not a upid')).toBeUndefined();
    expect(isTaskSuccess('OK')).toBe(true);
    expect(isTaskSuccess('WARNINGS: 2')).toBe(true);
    expect(isTaskSuccess('unexpected status')).toBe(false);
    expect(isTaskSuccess('command failed')).toBe(false);
  });

  it('waits for a task that ends OK and reports progress with the last log line', async () => {
    const task = taskRoutes({ polls: 2, exitstatus: 'OK', logLines: 3 });
    const { pve, requests } = client(task.routes);
    const progress: { status: string; lastLine?: string; elapsedMs: number }[] = [];
    const result = await pve.waitForTask(UPID, { onProgress: (update) => progress.push(update) });
    expect(result).toMatchObject({ upid: UPID, node: 'pve2', type: 'qmstart', id: '101', status: 'stopped', exitstatus: 'OK', ok: true });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(task.pollCount()).toBe(3);
    expect(progress.some((update) => update.status === 'running' && update.lastLine === 'line 3')).toBe(true);
    expect(progress.at(-1)?.status).toBe('stopped');
    // the UPID travels percent-encoded in the path
    expect(requests[0].url.pathname).toBe(`/api2/json/nodes/pve2/tasks/${encodeURIComponent(UPID)}/status`);
  });

  it('treats WARNINGS: n as success', async () => {
    const task = taskRoutes({ polls: 0, exitstatus: 'WARNINGS: 1', logLines: 2 });
    const { pve } = client(task.routes);
    expect((await pve.waitForTask(UPID)).ok).toBe(true);
  });

  it('a failed task throws task_failed with the exit status and the last 20 log lines', async () => {
    const task = taskRoutes({ polls: 1, exitstatus: "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", logLines: 45 });
    const { pve } = client(task.routes);
    const error = await failure(pve.waitForTask(UPID));
    expect(error.code).toBe('task_failed');
    expect(error.message).toContain("can't lock file");
    expect(error.details).toMatchObject({ upid: UPID, exitstatus: "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout" });
    const tail = error.details?.logTail as string[];
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('line 26');
    expect(tail.at(-1)).toBe('line 45');
  });

  it('taskLogTail reads the total first and then the tail page', async () => {
    const task = taskRoutes({ polls: 0, exitstatus: 'OK', logLines: 120 });
    const { pve } = client(task.routes);
    expect(await pve.taskLogTail(UPID, 5)).toEqual(['line 116', 'line 117', 'line 118', 'line 119', 'line 120']);
    expect(task.logRequests).toEqual([
      { start: 0, limit: 5 },
      { start: 115, limit: 5 },
    ]);
    const short = taskRoutes({ polls: 0, exitstatus: 'OK', logLines: 3 });
    expect(await client(short.routes).pve.taskLogTail(UPID)).toEqual(['line 1', 'line 2', 'line 3']);
  });

  it('stops waiting cleanly on timeout, saying the task still runs and its UPID', async () => {
    const task = taskRoutes({ polls: Number.POSITIVE_INFINITY, exitstatus: 'OK', logLines: 1 });
    const { pve } = client(task.routes);
    const error = await failure(pve.waitForTask(UPID, { timeoutMs: 200 }));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/still running on Proxmox/);
    expect(error.message).toContain(UPID);
    expect(task.pollCount()).toBeGreaterThan(1);
    expect(task.pollCount()).toBeLessThan(10); // backoff, not a busy loop
  });

  it('stops waiting when the caller cancels', async () => {
    const task = taskRoutes({ polls: Number.POSITIVE_INFINITY, exitstatus: 'OK', logLines: 1 });
    const { pve } = client(task.routes);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 80);
    const error = await failure(pve.waitForTask(UPID, { signal: controller.signal }));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/cancelled/);
  });

  it('rejects something that is not a UPID, and maps "no such task" to not_found', async () => {
    const { pve } = client({ [`GET /nodes/pve2/tasks/${UPID}/status`]: () => pveError(400, 'Parameter verification failed.', { upid: 'no such task' }) });
    expect((await failure(pve.waitForTask('UPID:bogus'))).code).toBe('invalid_input');
    expect((await failure(pve.waitForTask(UPID))).code).toBe('not_found');
  });
});

const resources = [
  { id: 'node/pve1', type: 'node', node: 'pve1', status: 'online', cpu: '0.05', maxcpu: '8', mem: '1000', maxmem: 8000, uptime: '1234' },
  { id: 'node/pve2', type: 'node', node: 'pve2', status: 'online' },
  { id: 'node/pve3', type: 'node', node: 'pve3', status: 'offline' },
  { id: 'qemu/100', type: 'qemu', vmid: '100', node: 'pve1', name: 'web', status: 'running', template: 0, cpu: '0.5', mem: '2048', maxmem: '4096' },
  { id: 'lxc/200', type: 'lxc', vmid: 200, node: 'pve2', name: 'dns', status: 'stopped', template: '1' },
];

function resourceRoutes(rows: () => unknown[], delayMs = 0) {
  let calls = 0;
  const handler: Handler = async (_request, url) => {
    calls++;
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const type = url.searchParams.get('type');
    const all = rows() as { type: string }[];
    const filtered = type === 'vm' ? all.filter((row) => row.type === 'qemu' || row.type === 'lxc') : type ? all.filter((row) => row.type === type) : all;
    return json({ data: filtered });
  };
  return { routes: { 'GET /cluster/resources': handler }, calls: () => calls };
}

describe('cluster resources and node resolution', () => {
  it('parses numbers Proxmox sends as strings', async () => {
    const source = resourceRoutes(() => resources);
    const { pve } = client(source.routes);
    const vms = await pve.clusterResources('vm');
    expect(vms).toHaveLength(2);
    expect(vms[0]).toMatchObject({ vmid: 100, cpu: 0.5, mem: 2048, maxmem: 4096, template: false });
    expect(vms[1]).toMatchObject({ vmid: 200, template: true });
    const nodes = await pve.clusterResources('node');
    expect(nodes[0]).toMatchObject({ cpu: 0.05, maxcpu: 8, mem: 1000, uptime: 1234 });
  });

  it('shares one in-flight request between concurrent callers and caches briefly', async () => {
    const source = resourceRoutes(() => resources, 30);
    const { pve } = client(source.routes, { cacheTtlMs: 100 });
    const results = await Promise.all(Array.from({ length: 10 }, () => pve.clusterResources('vm')));
    expect(source.calls()).toBe(1);
    expect(results.every((rows) => rows.length === 2)).toBe(true);
    await pve.clusterResources('vm');
    expect(source.calls()).toBe(1);
    await pve.clusterResources('vm', { fresh: true });
    expect(source.calls()).toBe(2);
    pve.invalidate();
    await pve.clusterResources('vm');
    expect(source.calls()).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await pve.clusterResources('vm');
    expect(source.calls()).toBe(4);
  });

  it('does not cache failures, and one caller cancelling does not fail the others', async () => {
    let fail = true;
    const source = resourceRoutes(() => {
      if (fail) throw new Error('boom');
      return resources;
    }, 30);
    const wrapped: Handler = async (request, url) => {
      try {
        return await source.routes['GET /cluster/resources'](request, url);
      } catch {
        return pveError(500, 'cluster filesystem not ready');
      }
    };
    const { pve } = client({ 'GET /cluster/resources': wrapped });
    expect((await failure(pve.clusterResources('vm'))).code).toBe('upstream');
    fail = false;
    const controller = new AbortController();
    const cancelled = pve.clusterResources('vm', { signal: controller.signal });
    const other = pve.clusterResources('vm');
    controller.abort();
    expect((await failure(cancelled)).code).toBe('timeout');
    expect(await other).toHaveLength(2);
  });

  it('locates a guest without assuming a node name', async () => {
    const { pve } = client(resourceRoutes(() => resources).routes);
    expect(await pve.locateGuest(200)).toEqual({ vmid: 200, type: 'lxc', node: 'pve2', name: 'dns', status: 'stopped', template: true });
    expect(await pve.locateGuest(100, { type: 'qemu' })).toMatchObject({ node: 'pve1', type: 'qemu' });
  });

  it('a missing guest: not_found naming the nodes checked and the offline one it might be on', async () => {
    const source = resourceRoutes(() => resources);
    const { pve } = client(source.routes);
    const error = await failure(pve.locateGuest(999));
    expect(error.code).toBe('not_found');
    expect(error.message).toContain('VM 999 does not exist on any node (checked 3 nodes; 1 offline: pve3)');
    expect(error.message).toMatch(/might be on pve3/);
    expect(error.details).toMatchObject({ vmid: 999, offlineNodes: ['pve3'] });
  });

  it('a guest of the other type is not_found, saying what it is', async () => {
    const { pve } = client(resourceRoutes(() => resources).routes);
    const error = await failure(pve.locateGuest(100, { type: 'lxc' }));
    expect(error.code).toBe('not_found');
    expect(error.message).toMatch(/CT 100 does not exist: 100 is a VM \(qemu\) on node pve1/);
  });

  it('a guest created since the cache was filled is found by a fresh read', async () => {
    let rows: Record<string, unknown>[] = resources.slice();
    const source = resourceRoutes(() => rows);
    const { pve } = client(source.routes, { cacheTtlMs: 60_000 });
    await pve.clusterResources('vm');
    rows = [...rows, { id: 'qemu/101', type: 'qemu', vmid: 101, node: 'pve2', name: 'new', status: 'stopped', template: 0 }];
    expect(await pve.locateGuest(101)).toMatchObject({ node: 'pve2' });
  });
});

describe('withGuard', () => {
  it('runs the guard before every request of the view and can stop it; views share the cache', async () => {
    const source = resourceRoutes(() => resources);
    const { pve, requests } = client({ ...source.routes, 'POST /nodes/pve1/qemu/100/status/stop': () => json({ data: UPID }) });
    const seen: unknown[] = [];
    const guarded = pve.withGuard((request) => {
      seen.push(request);
      if (request.method !== 'GET') throw new ToolError('mode_denied', 'read-only mode');
    });
    expect(guarded.tokenId).toBe(TOKEN);
    const error = await failure(guarded.post('/nodes/pve1/qemu/100/status/stop', { timeout: 10 }));
    expect(error.code).toBe('mode_denied');
    expect(requests).toHaveLength(0);
    expect(seen).toEqual([{ method: 'POST', path: '/nodes/pve1/qemu/100/status/stop', params: { timeout: 10 } }]);
    await guarded.clusterResources('vm');
    expect(seen.at(-1)).toMatchObject({ method: 'GET', path: '/cluster/resources', params: { type: 'vm' } });
    await pve.clusterResources('vm');
    expect(source.calls()).toBe(1);
    // nested guards all run
    const order: string[] = [];
    const twice = pve.withGuard(() => void order.push('a')).withGuard(() => void order.push('b'));
    await twice.get('/cluster/resources');
    expect(order).toEqual(['a', 'b']);
  });
});

describe('parsing helpers', () => {
  it('num and bool are lenient', () => {
    expect(num('100')).toBe(100);
    expect(num(' 0.25 ')).toBe(0.25);
    expect(num(7)).toBe(7);
    expect(num('abc')).toBeUndefined();
    expect(num('')).toBeUndefined();
    expect(num(null, 0)).toBe(0);
    expect(num(Number.NaN)).toBeUndefined();
    expect(bool('1')).toBe(true);
    expect(bool(0)).toBe(false);
    expect(bool('maybe')).toBeUndefined();
    expect(parseClusterResources([{ type: 'qemu', vmid: '5', node: 'a' }, 'junk'])).toEqual([{ id: 'qemu/5', type: 'qemu', vmid: 5, node: 'a' }]);
  });
});

describe('permissions', () => {
  const map = {
    '/': { 'Sys.Audit': 1, 'VM.Audit': 1 },
    '/vms': { 'Sys.Audit': 1, 'VM.Audit': 1, 'VM.PowerMgmt': 1, 'VM.Console': 0 },
    '/vms/105': { 'Sys.Audit': 1, 'VM.Audit': 1, 'VM.PowerMgmt': 1, 'VM.Console': 1, 'VM.Allocate': 0 },
    '/storage': { 'Sys.Audit': 1, 'VM.Audit': 1 },
  };

  it('follows Proxmox path inheritance and the propagate flag', () => {
    expect(hasPrivilege(map, '/vms/101', 'VM.PowerMgmt')).toBe(true); // propagated from /vms
    expect(hasPrivilege(map, '/vms/101', 'VM.Console')).toBe(false); // on /vms without propagate
    expect(hasPrivilege(map, '/vms', 'VM.Console')).toBe(true); // but on /vms itself
    expect(hasPrivilege(map, '/vms/105', 'VM.Allocate')).toBe(true);
    expect(hasPrivilege(map, '/nodes/pve1', 'Sys.Audit')).toBe(true); // from /
    expect(hasPrivilege(map, '/nodes/pve1', 'Sys.Modify')).toBe(false);
    expect(hasPrivilege(map, '/storage/local/', 'VM.Audit')).toBe(true);
    expect(missingPrivileges(map, [{ path: '/vms/101', privileges: ['VM.Allocate', 'VM.PowerMgmt'], any: true }])).toEqual([]);
  });

  it('checks needs through the client, caching the map', async () => {
    let calls = 0;
    const { pve } = client({
      'GET /access/permissions': () => {
        calls++;
        return json({ data: map });
      },
    });
    const checker = createPermissionChecker(pve, 60_000);
    expect(await checker.check([{ path: '/vms/101', privileges: ['VM.PowerMgmt'] }])).toEqual({ ok: true });
    const result = await checker.check([{ path: '/vms/101', privileges: ['VM.PowerMgmt', 'VM.Allocate'] }, { path: '/nodes/pve1', privileges: ['Sys.Modify'] }]);
    expect(result).toEqual({
      ok: false,
      missing: [
        { path: '/vms/101', privilege: 'VM.Allocate' },
        { path: '/nodes/pve1', privilege: 'Sys.Modify' },
      ],
    });
    expect(calls).toBe(1);
    if (!result.ok) expect(missingPrivilegesMessage(result.missing)).toBe('this token lacks VM.Allocate on /vms/101; this token lacks Sys.Modify on /nodes/pve1');
    expect(missingPrivilegesMessage([{ path: '/vms/101', privilege: 'VM.PowerMgmt' }])).toBe('this token lacks VM.PowerMgmt on /vms/101');
    checker.invalidate();
    await checker.check([]);
    expect(calls).toBe(2);
  });
});

describe('createPveClientFromConfig', () => {
  it('builds a client from the config, pointing at the configured URL', async () => {
    const config = loadConfig(
      { PROXMOX_URL: 'https://10.0.0.5:8006', PROXMOX_TOKEN_ID: TOKEN, PROXMOX_TOKEN_SECRET: SECRET, PROXMOX_TIMEOUT_MS: '1000' },
      { envFile: null },
    );
    const fake = fakePve({ 'GET /version': () => json({ data: { version: '8.4.1' } }) });
    const pve = createPveClientFromConfig(config, { fetch: fake.fetch });
    expect(pve.baseUrl).toBe('https://10.0.0.5:8006');
    expect(pve.tokenId).toBe(TOKEN);
    expect(await pve.get('/version')).toEqual({ version: '8.4.1' });
    expect(fake.requests[0].url.host).toBe('10.0.0.5:8006');
    pve.close();
  });

  it('says what to set when there is no URL', () => {
    const config = loadConfig({}, { envFile: null });
    expect(() => createPveClientFromConfig(config)).toThrow(/PROXMOX_URL/);
  });

  it('logs nothing that contains the secret', async () => {
    const { log, lines } = memoryLogger();
    const { pve } = client({ 'GET /version': () => json({ data: null }, 503, 'busy') }, { log });
    await failure(pve.get('/version'));
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });
});

vi.setConfig({ testTimeout: 10_000 });

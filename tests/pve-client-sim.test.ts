/**
 * The client against the built-in simulator: in-process through its fetch, and standalone over HTTP and
 * HTTPS on 127.0.0.1 (pinned fingerprint and CA file). Checks that what the client sends is what the
 * simulator (and so Proxmox) accepts, and that the simulator's faults map to the right ToolErrors.
 * Runs once per Proxmox VE version the simulator speaks (8.4 and 9.1).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import { createPveClient, type OwnedPveClient, type PveClientOptions } from '../lib/pve/client.ts';
import { createPermissionChecker } from '../lib/pve/permissions.ts';
import { parseUpid } from '../lib/pve/upid.ts';
import type { ClusterResource } from '../lib/pve/types.ts';
import { AUDITOR_TOKEN, createSimulator, PVE_VERSIONS } from '../lib/simulator/index.ts';
import { serveSimulator } from '../lib/simulator/serve.ts';

type Simulator = ReturnType<typeof createSimulator>;

let sim: Simulator;
const clients: OwnedPveClient[] = [];

function inProcess(extra: Partial<PveClientOptions> = {}): OwnedPveClient {
  const pve = createPveClient({
    baseUrl: 'http://simulator',
    tokenId: sim.defaultToken.tokenId,
    tokenSecret: sim.defaultToken.secret,
    fetch: (request) => sim.fetch(request),
    retryDelayMs: () => 1,
    ...extra,
  });
  clients.push(pve);
  return pve;
}

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).message).not.toContain(sim.defaultToken.secret);
    return error as ToolError;
  }
  throw new Error('expected the call to fail');
}

function guestPath(guest: ClusterResource): string {
  return `/nodes/${guest.node}/${guest.type}/${guest.vmid}`;
}

afterEach(() => {
  sim.faults.clear();
});

afterAll(async () => {
  for (const pve of clients) pve.close();
});

describe.each(PVE_VERSIONS)('PVE %s', (pveVersion) => {
  beforeAll(() => {
    sim = createSimulator({ pveVersion });
  });

  afterAll(() => {
    sim.close();
  });

  describe('in-process simulator', () => {
    it('answers the version and the cluster resources with numbers parsed', async () => {
      const pve = inProcess();
      expect(await pve.get<{ version: string }>('/version')).toHaveProperty('version');
      expect(await pve.version()).toMatchObject({ release: pveVersion, major: Number(pveVersion.split('.')[0]) });
      const vms = await pve.clusterResources('vm');
      expect(vms.length).toBeGreaterThan(0);
      for (const vm of vms) {
        expect(typeof vm.vmid).toBe('number');
        expect(typeof vm.node).toBe('string');
        expect(['qemu', 'lxc']).toContain(vm.type);
      }
      const nodes = await pve.clusterResources('node');
      expect(nodes.length).toBeGreaterThan(0);
      const first = vms[0];
      expect(await pve.locateGuest(first.vmid!)).toMatchObject({ vmid: first.vmid, node: first.node, type: first.type });
    });

    it('starts a stopped guest and waits for its task', async () => {
      const pve = inProcess();
      const stopped = (await pve.clusterResources('vm', { fresh: true })).find((vm) => vm.status === 'stopped' && !vm.template && vm.type === 'qemu');
      expect(stopped).toBeDefined();
      const upid = await pve.post<string>(`${guestPath(stopped!)}/status/start`);
      expect(parseUpid(upid)).toMatchObject({ node: stopped!.node, type: 'qmstart', id: String(stopped!.vmid) });
      const progress: string[] = [];
      const result = await pve.waitForTask(upid, { timeoutMs: 30_000, onProgress: (update) => progress.push(update.status) });
      expect(result).toMatchObject({ ok: true, exitstatus: 'OK', node: stopped!.node });
      expect(progress.at(-1)).toBe('stopped');
      const status = await pve.get<{ status: string }>(`${guestPath(stopped!)}/status/current`);
      expect(status.status).toBe('running');
      expect((await pve.taskLogTail(upid)).length).toBeGreaterThan(0);
    });

    it('maps a missing guest, a bad parameter and a wrong secret', async () => {
      const pve = inProcess();
      const missing = await failure(pve.locateGuest(999_999));
      expect(missing.code).toBe('not_found');
      expect(missing.message).toMatch(/VM 999999 does not exist on any node \(checked \d+ node/);
      const node = (await pve.clusterResources('node'))[0].node!;
      const config = await failure(pve.get(`/nodes/${node}/qemu/999999/config`));
      expect(config.code).toBe('not_found');
      const vm = (await pve.clusterResources('vm')).find((row) => row.type === 'qemu')!;
      const bad = await failure(pve.post(`${guestPath(vm)}/status/start`, { bogus: 1 }));
      expect(bad.code).toBe('invalid_input');
      expect(bad.message).toContain('bogus');
      const wrong = inProcess({ tokenSecret: 'not-the-secret' });
      expect((await failure(wrong.get('/version'))).code).toBe('unauthenticated');
    });

    it('an offline node: 595 on its endpoints, and a guest lookup that says it might be there', async () => {
      const pve = inProcess({ retries: 0 });
      const vms = await pve.clusterResources('vm', { fresh: true });
      const node = vms[0].node!;
      sim.faults.setNodeOnline(node, false);
      const offline = await failure(pve.get(`/nodes/${node}/status`));
      expect(offline.code).toBe('unavailable');
      expect(offline.message).toContain(`node ${node}`);
      pve.invalidate();
      const missing = await failure(pve.locateGuest(999_998));
      expect(missing.message).toContain(`offline: ${node}`);
      expect(missing.message).toMatch(/might be on/);
    });

    it('a task that fails reports its exit status and log tail', async () => {
      const pve = inProcess();
      const running = (await pve.clusterResources('vm', { fresh: true })).find(
        (vm) => vm.type === 'qemu' && vm.status === 'running' && !sim.state.ha.has(`vm:${vm.vmid}`),
      );
      expect(running).toBeDefined();
      const upid = await pve.post<string>(`${guestPath(running!)}/status/start`);
      const error = await failure(pve.waitForTask(upid, { timeoutMs: 30_000 }));
      expect(error.code).toBe('task_failed');
      expect(error.message).toContain('already running');
      expect(error.details).toMatchObject({ upid });
      expect(String(error.details?.exitstatus)).toContain('already running');
      const tail = error.details?.logTail as string[];
      expect(tail.length).toBeGreaterThan(0);
      expect(tail.some((line) => line.includes('TASK ERROR'))).toBe(true);
    });

    it('a read-only token: 403 naming the privilege and path, and the permission check agrees', async () => {
      const auditor = inProcess({ tokenId: AUDITOR_TOKEN.tokenId, tokenSecret: AUDITOR_TOKEN.secret });
      const vm = (await auditor.clusterResources('vm')).find((row) => row.type === 'qemu')!;
      const error = await failure(auditor.post(`${guestPath(vm)}/status/start`));
      expect(error.code).toBe('forbidden');
      expect(error.message).toContain('VM.PowerMgmt');
      expect(error.message).toContain(`/vms/${vm.vmid}`);
      expect(error.message).toContain(`--tokens '${AUDITOR_TOKEN.tokenId}'`);
      const checker = createPermissionChecker(auditor, 1000);
      expect(await checker.check([{ path: `/vms/${vm.vmid}`, privileges: ['VM.PowerMgmt'] }])).toEqual({
        ok: false,
        missing: [{ path: `/vms/${vm.vmid}`, privilege: 'VM.PowerMgmt' }],
      });
    });

    it('retries GETs through transient faults but not POSTs', async () => {
      const pve = inProcess();
      sim.stats.reset();
      sim.faults.failNext(2, '595', { method: 'GET', path: /^\/version$/ });
      expect(await pve.get('/version')).toHaveProperty('version');
      expect(sim.stats.byEndpoint.get('GET /version')).toBe(3);
      const vm = (await pve.clusterResources('vm', { fresh: true })).find((row) => row.type === 'qemu' && row.status === 'running')!;
      sim.faults.failNext(1, '500', { method: 'POST' }, { status: 503, message: 'busy' });
      expect((await failure(pve.post(`${guestPath(vm)}/status/suspend`))).code).toBe('unavailable');
    });

    it('HTML, broken JSON and a hang map to upstream, upstream and timeout', async () => {
      const pve = inProcess({ retries: 0, timeoutMs: 200 });
      sim.faults.failNext(1, 'html', /^\/version$/, { status: 200 });
      expect((await failure(pve.get('/version'))).message).toMatch(/HTML page instead of JSON/);
      sim.faults.failNext(1, 'badJson', /^\/version$/);
      expect((await failure(pve.get('/version'))).code).toBe('upstream');
      sim.faults.failNext(1, 'hang', /^\/version$/);
      expect((await failure(pve.get('/version'))).code).toBe('timeout');
    });

    it('reads the token permissions', async () => {
      const pve = inProcess();
      const vm = (await pve.clusterResources('vm'))[0];
      const checker = createPermissionChecker(pve, 1000);
      expect(await checker.check([{ path: `/vms/${vm.vmid}`, privileges: ['VM.Audit'] }])).toEqual({ ok: true });
    });
  });

  describe('standalone simulator over the network', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'pve-sim-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('over HTTP', async () => {
      const served = await serveSimulator(sim, { port: 0, host: '127.0.0.1' });
      try {
        const pve = createPveClient({ baseUrl: served.url, tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret });
        clients.push(pve);
        expect(await pve.get('/version')).toHaveProperty('version');
        const vm = (await pve.clusterResources('vm')).find((row) => row.type === 'qemu' && row.status === 'running')!;
        const upid = await pve.post<string>(`${guestPath(vm)}/status/reboot`);
        expect((await pve.waitForTask(upid, { timeoutMs: 30_000 })).ok).toBe(true);
      } finally {
        await served.close();
      }
    });

    it('over HTTPS with the pinned fingerprint, a CA file, and a wrong pin', async () => {
      const served = await serveSimulator(sim, { port: 0, host: '127.0.0.1', https: true });
      try {
        expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+/);
        expect(served.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
        const base = { baseUrl: served.url, tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret };
        const pinned = createPveClient({ ...base, tls: { fingerprint: served.fingerprint } });
        clients.push(pinned);
        expect(await pinned.get('/version')).toHaveProperty('version');
        expect(served.caPem).toBeDefined();
        const caFile = join(dir, 'ca.pem');
        writeFileSync(caFile, served.caPem!);
        const viaCa = createPveClient({ ...base, tls: { caFile } });
        clients.push(viaCa);
        expect(await viaCa.get('/version')).toHaveProperty('version');
        const wrong = createPveClient({ ...base, tls: { fingerprint: 'AB:'.repeat(31) + 'AB' } });
        clients.push(wrong);
        const error = await failure(wrong.get('/version'));
        expect(error.code).toBe('unavailable');
        expect(error.message).toContain(served.fingerprint!);
        const unpinned = createPveClient(base);
        clients.push(unpinned);
        expect((await failure(unpinned.get('/version'))).message).toContain('PROXMOX_TLS_FINGERPRINT');
      } finally {
        await served.close();
      }
    });
  });
});

/**
 * What differs between the PVE 8.4 and 9.1 simulators: GET /version, request validation against each
 * version's schema, HA groups (8.4) and HA rules (9.x), the 9.x answer differences, how the version is chosen
 * (option, SIM_PVE_VERSION), and the client's cached version().
 */
import { describe, expect, test } from 'vitest';
import { createPveClient } from '../lib/pve/client.ts';
import { createSimulator, PVE_VERSIONS, type PveVersion, type Simulator, type SimulatorOptions } from '../lib/simulator/index.ts';
import { simCall as call, simulatorsClosedAfterEach } from './helpers/sim.ts';

const simulator = simulatorsClosedAfterEach();

function make(pveVersion: PveVersion, opts: SimulatorOptions = {}): Simulator {
  return simulator({ pveVersion, ...opts });
}

describe('choosing the version', () => {
  test('the option, SIM_PVE_VERSION as the default, and 9.1 otherwise; anything else is refused', () => {
    const before = process.env.SIM_PVE_VERSION;
    try {
      delete process.env.SIM_PVE_VERSION;
      expect(make('8.4').pveVersion).toBe('8.4');
      const plain = simulator();
      expect(plain.pveVersion).toBe('9.1');
      process.env.SIM_PVE_VERSION = '8.4';
      const fromEnv = simulator();
      expect(fromEnv.pveVersion).toBe('8.4');
      process.env.SIM_PVE_VERSION = '7.4';
      const ignored = simulator();
      expect(ignored.pveVersion).toBe('9.1');
      expect(() => createSimulator({ pveVersion: '9' as PveVersion })).toThrow(/8\.4 or 9\.1/);
    } finally {
      if (before === undefined) delete process.env.SIM_PVE_VERSION;
      else process.env.SIM_PVE_VERSION = before;
    }
  });
});

describe.each(PVE_VERSIONS)('PVE %s', (version) => {
  test('GET /version and the node status name this version', async () => {
    const sim = make(version);
    const v = (await call(sim, 'GET', '/version')).json.data;
    expect(v.release).toBe(version);
    expect(v.version).toMatch(new RegExp(`^${version.replace('.', '\\.')}\\.\\d+$`));
    expect(v.repoid).toMatch(/^[0-9a-f]{16}$/);
    const status = (await call(sim, 'GET', '/nodes/pve1/status')).json.data;
    expect(status.pveversion).toBe(`pve-manager/${v.version}/${v.repoid}`);
    expect(status['current-kernel'].release).toMatch(version === '8.4' ? /^6\.8\./ : /^6\.14\./);
  });

  test("requests are validated against this version's schema", async () => {
    const sim = make(version);
    const old = await call(sim, 'POST', '/nodes/pve1/vzdump', { vmid: '105', storage: 'nfs-backup', 'notification-policy': 'never' });
    const added = await call(sim, 'POST', '/nodes/pve1/qemu', { vmid: '990', 'ha-managed': '1' });
    const fabric = await call(sim, 'GET', '/nodes/pve1/network', { type: 'fabric' });
    const notDefined = 'property is not defined in schema and the schema does not allow additional properties';
    if (version === '8.4') {
      expect(old.status).toBe(200);
      expect(added.json.errors).toEqual({ 'ha-managed': notDefined });
      expect(fabric.json.errors.type).toMatch(/^value 'fabric' does not have a value in the enumeration/);
    } else {
      expect(old.json.errors).toEqual({ 'notification-policy': notDefined });
      expect(added.status).toBe(200);
      expect(fabric.status).toBe(200);
    }
  });

  test('HA: groups on 8.4, rules on 9.x, resources and status on both', async () => {
    const sim = make(version);
    const resources = (await call(sim, 'GET', '/cluster/ha/resources')).json.data;
    const status = (await call(sim, 'GET', '/cluster/ha/status/current')).json.data;
    expect(status.find((s: any) => s.sid === 'vm:101')).toMatchObject({ type: 'service', state: 'started' });
    expect(status.find((s: any) => s.type === 'quorum')).toMatchObject({ quorate: 1 });
    const fencing = status.find((s: any) => s.type === 'fencing');
    if (version === '8.4') expect(fencing).toBeUndefined();
    else expect(fencing).toMatchObject({ id: 'fencing', 'armed-state': 'armed' });
    expect((await call(sim, 'GET', '/cluster/ha/resources', { type: 'ct' })).json.data).toEqual([]);
    const groups = await call(sim, 'GET', '/cluster/ha/groups');
    const rules = await call(sim, 'GET', '/cluster/ha/rules');
    if (version === '8.4') {
      expect(resources).toEqual([expect.objectContaining({ sid: 'vm:101', group: 'prefer-fast' })]);
      expect(resources[0].failback).toBeUndefined();
      expect(groups.json.data).toEqual([{ group: 'prefer-fast', type: 'group', nodes: 'pve1:2,pve2:1', digest: expect.any(String), comment: 'database nodes' }]);
      expect(rules.status).toBe(501);
      expect(rules.reason).toBe("Method 'GET /cluster/ha/rules' not implemented");
      expect((await call(sim, 'POST', '/cluster/ha/groups', { group: 'edge', nodes: 'pve3' })).status).toBe(200);
      expect((await call(sim, 'GET', '/cluster/ha/groups/edge')).json.data).toMatchObject({ group: 'edge', nodes: 'pve3' });
      expect((await call(sim, 'POST', '/cluster/ha/groups', { group: 'edge', nodes: 'pve3' })).reason).toBe("create ha group failed: ha group ID 'edge' already defined");
      expect((await call(sim, 'POST', '/cluster/ha/groups', { group: 'far', nodes: 'pve9' })).reason).toBe('create ha group failed: cannot use non-existent node(s) pve9.');
      expect((await call(sim, 'DELETE', '/cluster/ha/groups/prefer-fast')).reason).toBe("delete ha group failed: ha group is used by service 'vm:101'");
      expect((await call(sim, 'DELETE', '/cluster/ha/groups/edge')).status).toBe(200);
      expect((await call(sim, 'GET', '/cluster/ha/groups/edge')).reason).toBe("no such ha group 'edge'");
    } else {
      expect(resources).toEqual([expect.objectContaining({ sid: 'vm:101' })]);
      expect(resources[0].group).toBeUndefined(); // dropped once groups are migrated
      expect(resources[0].failback).toBeUndefined(); // the default (1) is not in the raw config
      expect(groups.status).toBe(500);
      expect(groups.reason).toBe('cannot index groups: ha groups have been migrated to rules');
      expect((await call(sim, 'POST', '/cluster/ha/groups', { group: 'edge', nodes: 'pve3' })).reason).toBe('cannot create group: ha groups have been migrated to rules');
      expect(rules.json.data).toEqual([
        { rule: 'ha-group-prefer-fast', type: 'node-affinity', resources: 'vm:101', nodes: 'pve1:2,pve2:1', strict: 0, order: 1, digest: expect.any(String), comment: 'database nodes' },
      ]);
      expect((await call(sim, 'POST', '/cluster/ha/rules', { rule: 'apart', type: 'resource-affinity', resources: 'vm:101,vm:100', affinity: 'negative' })).reason).toBe(
        'create ha rule failed: cannot use unmanaged resource(s) vm:100.',
      );
      expect((await call(sim, 'POST', '/cluster/ha/rules', { rule: 'pin', type: 'node-affinity', resources: 'vm:101', nodes: 'pve3', strict: '1' })).status).toBe(200);
      expect((await call(sim, 'GET', '/cluster/ha/rules/pin')).json.data).toMatchObject({ rule: 'pin', nodes: 'pve3', strict: 1, order: 2 });
      expect((await call(sim, 'GET', '/cluster/ha/rules', { type: 'resource-affinity' })).json.data).toEqual([]);
      expect((await call(sim, 'DELETE', '/cluster/ha/rules/pin')).status).toBe(200);
      expect((await call(sim, 'GET', '/cluster/ha/rules/pin')).reason).toBe("no such ha rule 'pin'");
    }
  });

  test('migrate precondition: has-dbus-vmstate (and dependent HA resources) only on 9.x', async () => {
    const sim = make(version);
    const plain = (await call(sim, 'GET', '/nodes/pve1/qemu/100/migrate')).json.data;
    const ha = (await call(sim, 'GET', '/nodes/pve2/qemu/101/migrate')).json.data;
    if (version === '8.4') {
      expect(plain['has-dbus-vmstate']).toBeUndefined();
      expect(ha['dependent-ha-resources']).toBeUndefined();
    } else {
      expect(plain['has-dbus-vmstate']).toBe(1);
      expect(plain['dependent-ha-resources']).toBeUndefined();
      expect(ha['dependent-ha-resources']).toEqual([]);
    }
    sim.state.guests.get(100)!.lock = 'backup';
    expect((await call(sim, 'GET', '/nodes/pve1/qemu/100/migrate')).reason).toBe('VM 100 is locked (backup)');
  });

  test('guest status: pressure stall averages (and memhost for VMs) only on 9.x, only while running', async () => {
    const sim = make(version);
    const vm = (await call(sim, 'GET', '/nodes/pve1/qemu/100/status/current')).json.data;
    const ct = (await call(sim, 'GET', '/nodes/pve3/lxc')).json.data.find((g: any) => g.vmid === 103);
    const stopped = (await call(sim, 'GET', '/nodes/pve1/qemu/105/status/current')).json.data;
    const resource = (await call(sim, 'GET', '/cluster/resources', { type: 'vm' })).json.data.find((g: any) => g.vmid === 100);
    expect(resource.memhost).toBe(version === '8.4' ? undefined : resource.mem);
    expect(stopped.pressurecpusome).toBeUndefined();
    if (version === '8.4') {
      expect(vm.pressurecpusome).toBeUndefined();
      expect(vm.memhost).toBeUndefined();
      expect(ct.pressurecpusome).toBeUndefined();
    } else {
      expect(typeof vm.pressurecpusome).toBe('number');
      expect(vm.memhost).toBe(vm.mem);
      expect(typeof ct.pressurememorysome).toBe('number');
      expect(ct.pressurecpufull).toBeUndefined(); // not in the container schema
    }
  });

  test('backup jobs: prune-backups is a string on 8.4 and an object on 9.x', async () => {
    const sim = make(version);
    const [job] = (await call(sim, 'GET', '/cluster/backup')).json.data;
    expect(job['prune-backups']).toEqual(version === '8.4' ? 'keep-daily=7,keep-weekly=4' : { 'keep-daily': 7, 'keep-weekly': 4 });
    const next = new Date(job['next-run'] * 1000);
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([21, 0]);
    expect(job['next-run'] * 1000 - Date.now()).toBeGreaterThan(-1000);
    expect(job['next-run'] * 1000 - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  test('the client asks GET /version once and keeps the answer', async () => {
    const sim = make(version);
    const pve = createPveClient({ baseUrl: 'http://simulator', tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret, fetch: sim.fetch, retries: 0 });
    try {
      sim.stats.reset();
      const [a, b] = await Promise.all([pve.version(), pve.version()]);
      const c = await pve.withGuard(() => undefined).version();
      expect(a).toEqual({ ...sim.state.version, major: Number(version.split('.')[0]) });
      expect(b).toBe(a);
      expect(c).toBe(a);
      expect(sim.stats.byEndpoint.get('GET /version')).toBe(1);
    } finally {
      pve.close();
    }
  });
});

test('a failed GET /version is not kept', async () => {
  const sim = make('8.4');
  const pve = createPveClient({ baseUrl: 'http://simulator', tokenId: sim.defaultToken.tokenId, tokenSecret: sim.defaultToken.secret, fetch: sim.fetch, retries: 0 });
  try {
    sim.faults.failNext(1, '500', /^\/version$/);
    await expect(pve.version()).rejects.toThrow();
    expect((await pve.version()).major).toBe(8);
  } finally {
    pve.close();
  }
});

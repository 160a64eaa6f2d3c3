/**
 * best_practices: the topics from knowledge/, and each topic's checks run against the simulated cluster,
 * with what they found in words and the objects concerned, calling only GET endpoints of the contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { checkIdsWithRunners, knownCheckIds } from '../lib/best-practice-checks.ts';
import { addBackupVolume } from '../lib/simulator/state.ts';
import { loadKnowledge } from '../lib/knowledge.ts';
import contract from '../lib/pve/api-contract.json' with { type: 'json' };

let ts: SafetyServer;
let viewer: string;

beforeAll(async () => {
  ts = await startSafetyServer();
  viewer = await ts.createToken({ role: 'viewer', mode: 'read-only', ceiling: 'read-only' });
});
afterAll(async () => {
  await ts?.close();
});

const ask = async (args: Record<string, unknown>) => {
  const response = await callRest(ts.url, viewer, 'best_practices', args);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
};

describe('topics', () => {
  it('lists every topic with its checks', async () => {
    const body = await ask({});
    const ids = body.data.topics.map((topic: { id: string }) => topic.id);
    for (const id of ['backups', 'storage', 'zfs', 'ceph', 'networking', 'security', 'api-tokens', 'ha-quorum', 'updates', 'vm-performance', 'containers-vs-vms', 'templates-cloud-init', 'monitoring']) expect(ids).toContain(id);
  });

  it('returns the guidance alone when asked not to check', async () => {
    const body = await ask({ topic: 'zfs', check: false });
    expect(body.data.topic.practices.length).toBeGreaterThan(0);
    expect(body.data.topic.mistakes.length).toBeGreaterThan(0);
    expect(body.data.checks).toEqual([]);
  });

  it('refuses a topic that does not exist', async () => {
    const response = await callRest(ts.url, viewer, 'best_practices', { topic: 'gardening' });
    expect(response.status).toBe(400);
  });

  it('has a runner for every check the knowledge base may name', () => {
    expect([...checkIdsWithRunners].sort()).toEqual([...knownCheckIds].sort());
  });
});

describe('checks against the cluster', () => {
  it('counts guests without a recent backup and names them', async () => {
    const state = ts.sim.state;
    const guests = [...state.guests.values()].filter((guest) => !guest.config.template);
    const storage = [...state.storages.values()].find((s) => s.content.includes('backup'))!;
    const nowSec = Math.floor(Date.now() / 1000);
    const newestBackups = () => {
      const newest = new Map<number, number>();
      for (const volumes of state.volumes.values()) {
        for (const volume of volumes.values()) if (volume.content === 'backup' && volume.vmid !== undefined) newest.set(volume.vmid, Math.max(newest.get(volume.vmid) ?? 0, volume.ctime));
      }
      return newest;
    };
    const before = newestBackups();
    const stale = guests.filter((guest) => (before.get(guest.vmid) ?? 0) < nowSec - 7 * 86400);
    // one stale guest gets a fresh backup, another only an old one
    addBackupVolume(state, storage, stale[0].node, stale[0], nowSec - 3600);
    addBackupVolume(state, storage, stale[1].node, stale[1], nowSec - 30 * 86400);
    const newest = newestBackups();
    const expected = guests.filter((guest) => (newest.get(guest.vmid) ?? 0) < nowSec - 7 * 86400).map((guest) => guest.vmid).sort((a, b) => a - b);

    const body = await ask({ topic: 'backups' });
    const age = body.data.checks.find((check: { id: string }) => check.id === 'guest_backup_age');
    expect(age.items.map(Number).sort((a: number, b: number) => a - b)).toEqual(expected);
    expect(expected).not.toContain(stale[0].vmid);
    expect(expected).toContain(stale[1].vmid);
    expect(age.summary).toContain(`${expected.length} of ${guests.length} guests have no backup in the last 7 days: ${expected.join(', ')}`);
    expect(age.status).toBe('fail');
    expect(body.data.findings).toContain(age.summary);
    for (const check of body.data.checks) expect(['pass', 'warn', 'fail']).toContain(check.status);
  });

  it('finds tokens without privilege separation', async () => {
    const body = await ask({ topic: 'api-tokens' });
    const privsep = body.data.checks.find((check: { id: string }) => check.id === 'token_privsep');
    const expected = [...ts.sim.state.users.values()].flatMap((user) => [...user.tokens.values()].filter((token) => !token.privsep).map((token) => `${user.userid}!${token.tokenid}`));
    expect(privsep.items.sort()).toEqual(expected.sort());
    expect(privsep.status).toBe(expected.length ? 'fail' : 'pass');
  });

  it('says which checks need endpoints it does not call instead of guessing', async () => {
    const body = await ask({ topic: 'zfs' });
    const health = body.data.checks.find((check: { id: string }) => check.id === 'zfs_pool_health');
    expect(health.status).toBe('not_checked');
    expect(health.summary).toMatch(/disks\/zfs/);
  });

  it('runs every topic with only GET requests to endpoints of the contract, and works over MCP', async () => {
    ts.sim.stats.reset();
    const topics = loadKnowledge().topics();
    const client = await connectClient(ts.mcpUrl, viewer, 'modern');
    try {
      for (const topic of topics) {
        const result = await client.callTool({ name: 'best_practices', arguments: { topic: topic.id } });
        expect(result.isError, `${topic.id}: ${JSON.stringify(result.structuredContent)}`).toBeFalsy();
        const checks = (result.structuredContent as any).data.checks as { status: string; summary: string }[];
        expect(checks.length).toBe(topic.checks.length);
        for (const check of checks) expect(check.status, check.summary).not.toBe('error');
      }
    } finally {
      await client.close();
    }
    const endpoints = new Set(Object.keys((contract as { endpoints: Record<string, unknown> }).endpoints));
    const called = [...ts.sim.stats.byEndpoint.keys()];
    expect(called.length).toBeGreaterThan(5);
    for (const key of called) {
      expect(endpoints.has(key), key).toBe(true);
      expect(key.startsWith('GET '), key).toBe(true);
    }
  });
});

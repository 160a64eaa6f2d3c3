/**
 * Issue 12, the API policy's open items, through every door (proxmox_api over REST, MCP 2026-07-28 and
 * MCP 2025, the typed tools, pvesh lines): a protected guest's backups are its data (delete, prune, a
 * backup run or job that prunes with its own retention); realm-sync of the server's realm; node-wide
 * stopall/migrateall/suspendall (judged: they act on guests, not on the host this server runs on); and a
 * typed tool's refusal comes before anyone is asked to confirm (Plan.requests judged by the runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { clusterSnapshot, type SafetyServer } from './helpers/safety.ts';
import { api, closeDoors, describeRefusedThroughEveryDoor, sh, startDoors, stoppedProtectedContainer, stoppedProtectedGuest, type DoorCase, type DoorServer } from './helpers/policy-doors.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { addBackupVolume } from '../lib/simulator/state.ts';
import { checkProtections } from '../lib/policy/protections.ts';

let ts: SafetyServer;
let admin: string;
let operator: string;
let safeOperator: string;
let doors: DoorServer;
let vmid = 0;
let node = '';
let ctid = 0;
let backup = '';
let ctBackup = '';
let otherBackup = '';
let otherVmid = 0;

beforeAll(async () => {
  const sim = createSimulator({ taskDurationMs: 5 });
  const guest = stoppedProtectedGuest(sim);
  vmid = guest.vmid;
  node = guest.node;
  const local = sim.state.storages.get('local')!;
  backup = addBackupVolume(sim.state, local, node, guest, 1_700_000_000).volid;
  // A protected container too, with a backup of its own.
  const ct = stoppedProtectedContainer(sim);
  ctid = ct.vmid;
  ctBackup = addBackupVolume(sim.state, local, ct.node, ct, 1_700_000_000).volid;
  // An unprotected guest's backup: deleting it stays possible.
  const other = [...sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.protection && !g.config.template)!;
  otherVmid = other.vmid;
  otherBackup = addBackupVolume(sim.state, local, other.node, other, 1_700_000_000).volid;
  doors = await startDoors(sim, { admin: 'follow-admin', operator: 'follow-operator' });
  ts = doors.ts;
  admin = doors.tokens.admin!;
  operator = doors.tokens.operator!;
  safeOperator = await ts.createToken({ name: 'follow-safe', role: 'operator', mode: 'safe', ceiling: 'normal' });
}, 60_000);

afterAll(async () => {
  await closeDoors(doors);
});

type Case = DoorCase<'admin' | 'operator'>;
const content = (volid: string, storage = volid.split(':')[0]) => `/nodes/${node}/storage/${storage}/content/${volid}`;

const cases: Case[] = [
  // 1. a protected guest's backups
  api('delete a vzdump backup of the protected VM', 'DELETE', () => content(backup)),
  api('delete it, operator', 'DELETE', () => content(backup), undefined, { who: 'operator' }),
  api('delete it, volume id percent-encoded', 'DELETE', () => content(encodeURIComponent(backup), 'local')),
  api('delete it, double-encoded', 'DELETE', () => content(encodeURIComponent(encodeURIComponent(backup)), 'local')),
  api('delete it, volume name without the storage', 'DELETE', () => content(backup.split(':')[1], 'local')),
  api('delete it, vmid with leading zeros', 'DELETE', () => content(backup.replace(`-${vmid}-`, `-00${vmid}-`))),
  api('delete the protected container\'s backup', 'DELETE', () => content(ctBackup)),
  api('delete a PBS snapshot of the protected VM', 'DELETE', () => `/nodes/${node}/storage/pbs/content/pbs:backup/vm/${vmid}/2024-01-01T00:00:00Z`),
  api('delete a PBS snapshot of the protected container, encoded', 'DELETE', () => `/nodes/${node}/storage/pbs/content/${encodeURIComponent(`pbs:backup/ct/${ctid}/2024-01-01T00:00:00Z`)}`),
  api('prune the protected VM\'s backups', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups`, () => ({ vmid, 'prune-backups': 'keep-last=1' })),
  api('prune, vmid with leading zero and in the query', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups?vmid=0${vmid}`),
  api('prune every guest (no vmid)', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups`, () => ({ 'prune-backups': 'keep-last=1' })),
  api('prune every container (type lxc, no vmid)', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups`, () => ({ type: 'lxc' })),
  api('prune with a vmid that is no id', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups`, () => ({ vmid: `${otherVmid}\0x` })),
  api('backup run that prunes the protected VM with keep-last=1', 'POST', () => `/nodes/${node}/vzdump`, () => ({ vmid: `${otherVmid},${vmid}`, storage: 'local', 'prune-backups': 'keep-last=1' })),
  api('backup run of all guests but one protected, with a shorter retention', 'POST', () => `/nodes/${node}/vzdump`, () => ({ all: 1, exclude: String(vmid), storage: 'local', 'prune-backups': 'keep-last=1' })),
  api('backup run of all guests with maxfiles=1', 'POST', () => `/nodes/${node}/vzdump`, () => ({ all: 1, storage: 'local', maxfiles: 1, remove: 'yes' })),
  api('backup job over all guests that prunes', 'POST', () => '/cluster/backup', () => ({ all: 1, schedule: 'daily', storage: 'local', 'prune-backups': 'keep-last=1' })),
  api('backup job change with a NUL-hidden vmid', 'PUT', () => '/cluster/backup/job1', () => ({ vmid: `${otherVmid}\0${vmid}`, 'prune-backups': 'keep-daily=1' })),
  { label: 'typed: storage_change deletes the protected VM\'s backup', tool: 'storage_change', args: () => ({ action: 'delete_volume', node, storage: 'local', volume: backup }) },
  sh('pvesh deletes the protected VM\'s backup', () => `pvesh delete ${content(backup)}`),
  sh('pvesh prunes the protected VM\'s backups', () => `pvesh delete /nodes/${node}/storage/local/prunebackups --vmid ${vmid}`),

  // 4. realm-sync on the server's realm (pve) or root@pam's (pam)
  api('realm-sync job for the server\'s realm with remove-vanished', 'POST', () => '/cluster/jobs/realm-sync/evil', () => ({ realm: 'pve', schedule: 'daily', 'remove-vanished': 'acl;entry;properties' })),
  api('realm-sync job, realm in other case and in the query', 'POST', () => '/cluster/jobs/realm-sync/evil?realm=PVE', () => ({ schedule: 'daily' })),
  api('realm-sync job for pam', 'POST', () => '/cluster/jobs/realm-sync/evil', () => ({ realm: 'pam', schedule: 'daily', 'remove-vanished': 'entry' })),
  api('change a realm-sync job whose realm cannot be read', 'PUT', () => '/cluster/jobs/realm-sync/unknown', () => ({ 'remove-vanished': 'entry', schedule: 'daily' })),
  api('sync the server\'s realm now', 'POST', () => '/access/domains/pve/sync', () => ({ 'remove-vanished': 'entry' })),
  api('operator creates a realm-sync job for another realm', 'POST', () => '/cluster/jobs/realm-sync/corp', () => ({ realm: 'corp', schedule: 'daily' }), { who: 'operator', codes: ['forbidden'] }),
];

describeRefusedThroughEveryDoor('refused through %s', () => doors, cases);

describe('ordinary work still passes', () => {
  /** Sends through REST as admin and returns the changing requests that reached the simulator. */
  async function reached(args: Record<string, unknown>): Promise<string[]> {
    const sentBefore = ts.changesSent.length;
    const response = await callRest(ts.url, admin, 'proxmox_api', args);
    expect(response.body.error?.code, JSON.stringify(response.body)).not.toBe('protected');
    return ts.changesSent.slice(sentBefore);
  }

  it('deletes an unprotected guest\'s backup', async () => {
    expect(await reached({ method: 'DELETE', path: content(otherBackup) })).toEqual([`DELETE ${content(otherBackup)}`]);
    expect(ts.sim.state.volumes.get(`local@${node}`)?.has(otherBackup) ?? false).toBe(false);
  });

  it('prunes another guest\'s backups and backs up a protected guest with the storage\'s retention', async () => {
    expect(await reached({ method: 'DELETE', path: `/nodes/${node}/storage/local/prunebackups`, params: { vmid: otherVmid } })).toEqual([`DELETE /nodes/${node}/storage/local/prunebackups`]);
    expect(await reached({ method: 'POST', path: `/nodes/${node}/vzdump`, params: { vmid, storage: 'local' } })).toEqual([`POST /nodes/${node}/vzdump`]);
    expect(await reached({ method: 'POST', path: `/nodes/${node}/vzdump`, params: { vmid, storage: 'local', 'prune-backups': 'keep-all=1' } })).toEqual([`POST /nodes/${node}/vzdump`]);
    expect(await reached({ method: 'POST', path: `/nodes/${node}/vzdump`, params: { vmid, storage: 'local', 'prune-backups': 'keep-last=1', remove: 0 } })).toEqual([`POST /nodes/${node}/vzdump`]);
    // every guest but the protected ones, with a shorter retention: their backups are not touched
    expect(await reached({ method: 'POST', path: `/nodes/${node}/vzdump`, params: { all: 1, exclude: `${vmid},${ctid}`, storage: 'local', 'prune-backups': 'keep-last=1' } })).toEqual([`POST /nodes/${node}/vzdump`]);
  });

  it('lets an admin set up realm-sync for a directory realm', async () => {
    expect(await reached({ method: 'POST', path: '/cluster/jobs/realm-sync/corp', params: { realm: 'corp', schedule: 'daily', 'remove-vanished': 'entry' } })).toEqual(['POST /cluster/jobs/realm-sync/corp']);
  });

  // 2. stopall/migrateall/suspendall act on the node's guests (pve-manager Nodes.pm): the host and this
  // server (a container on the host, not a guest) keep running, so the main node is not special here.
  it.each(['stopall', 'suspendall', 'migrateall'])('sends %s for the main node (it stops or moves guests, not the host)', async (action) => {
    const params = action === 'migrateall' ? { target: 'pve2' } : {};
    expect(await reached({ method: 'POST', path: `/nodes/pve1/${action}`, params })).toEqual([`POST /nodes/pve1/${action}`]);
  });
});

describe('a typed tool\'s refusal comes before anyone is asked (safe mode)', () => {
  const typedCases: [string, string, () => Record<string, unknown>][] = [
    ['vm_action delete of the protected VM', 'vm_action', () => ({ action: 'delete', vmid })],
    ['container_action delete of the protected container', 'container_action', () => ({ action: 'delete', vmid: ctid })],
    ['guest_snapshot rollback to a snapshot without the flag', 'guest_snapshot', () => ({ action: 'rollback', vmid, snapname: 'before_protection' })],
    ['guest_config deletes protection', 'guest_config', () => ({ vmid, delete: ['protection'] })],
    ['storage_change deletes the protected VM\'s backup', 'storage_change', () => ({ action: 'delete_volume', node, storage: 'local', volume: backup })],
    ['guest_backup restores over the protected VM (force)', 'guest_backup', () => ({ action: 'restore', volume: backup, vmid, force: true })],
    ['guest_backup restores over the protected container (force)', 'guest_backup', () => ({ action: 'restore', volume: ctBackup, vmid: ctid, force: true })],
    ['execute_command frees the protected VM\'s backup (pvesm free)', 'execute_command', () => ({ node: 'pve1', command: `pvesm free ${backup}` })],
    ['proxmox_api prunes the protected VM\'s backups', 'proxmox_api', () => ({ method: 'DELETE', path: `/nodes/${node}/storage/local/prunebackups`, params: { vmid } })],
    ['network_change removes the main node\'s management bridge (force)', 'network_change', () => ({ action: 'delete', node: 'pve1', iface: 'vmbr0', force: true })],
    ['network_change re-addresses the main node\'s management bridge', 'network_change', () => ({ action: 'update', node: 'pve1', iface: 'vmbr0', cidr: '10.99.0.1/24' })],
  ];

  it.each(typedCases)('REST: %s', async (_label, tool, args) => {
    const before = clusterSnapshot(ts.sim);
    const response = await callRest(ts.url, safeOperator, tool, args());
    expect(response.body.error?.code, JSON.stringify(response.body)).toBe('protected');
    expect(response.body.error?.details?.confirmation_id).toBeUndefined();
    expect(clusterSnapshot(ts.sim)).toBe(before);
  });

  it.each(typedCases)('MCP with elicitation (2026-07-28 and 2025): %s, nobody is asked', async (_label, tool, args) => {
    for (const era of ['modern', 'legacy'] as const) {
      const asked: string[] = [];
      const client = await connectClient(ts.mcpUrl, safeOperator, era, { elicitation: { form: {} } });
      client.setRequestHandler('elicitation/create', async (request) => {
        asked.push(String((request.params as { message?: string }).message));
        return { action: 'accept', content: { confirm: true } };
      });
      try {
        const before = clusterSnapshot(ts.sim);
        const result = await client.callTool({ name: tool, arguments: args() });
        expect(result.isError, `${era}: ${JSON.stringify(result.structuredContent)}`).toBe(true);
        expect((result.structuredContent as { error?: { code?: string } }).error?.code, era).toBe('protected');
        expect(asked, era).toEqual([]);
        expect(clusterSnapshot(ts.sim)).toBe(before);
      } finally {
        await client.close().catch(() => undefined);
      }
    }
  });

  it('still asks for an ordinary change (the early check lets it through)', async () => {
    const response = await callRest(ts.url, safeOperator, 'guest_config', { vmid: otherVmid, description: 'checked early' });
    expect(['confirmation_required', 'approval_required'], JSON.stringify(response.body)).toContain(response.body.error?.code);
  });
});

describe('realm-sync job changes read the job\'s realm (PUT carries none)', () => {
  const context = (jobRealm: string | Error, groups: string[] = []) => ({
    mainNode: async () => 'pve1',
    serviceTokenId: 'proxmox-mcp@pve!mcp',
    caller: { role: 'admin' as const, name: 'unit' },
    identity: async () => ({ user: 'proxmox-mcp@pve', tokenId: 'proxmox-mcp@pve!mcp', roles: new Set(['proxmoxmcp']), groups: new Set(groups), grantPaths: new Set(['/']), complete: true, gaps: [] }),
    pve: {
      tokenId: 'proxmox-mcp@pve!mcp',
      async get(path: string) {
        if (jobRealm instanceof Error) throw jobRealm;
        if (path.startsWith('/cluster/jobs/realm-sync/')) return { id: 'j', realm: jobRealm };
        throw new Error(`unexpected ${path}`);
      },
    } as never,
  });
  const put = (ctx: ReturnType<typeof context>) => checkProtections('PUT', '/cluster/jobs/realm-sync/j', { 'remove-vanished': 'entry', schedule: 'daily' }, ctx);

  it('refuses when the job syncs the server\'s realm, or pam', async () => {
    await expect(put(context('pve'))).rejects.toMatchObject({ code: 'protected' });
    await expect(put(context('PAM'))).rejects.toMatchObject({ code: 'protected' });
  });
  it('refuses when the job cannot be read', async () => {
    await expect(put(context(new Error('503')))).rejects.toMatchObject({ code: 'protected' });
  });
  it('refuses when the server is in a group that realm manages', async () => {
    await expect(put(context('corp', ['ops-corp']))).rejects.toMatchObject({ code: 'protected' });
  });
  it('lets another realm\'s job change', async () => {
    await expect(put(context('corp', ['mcpgroup']))).resolves.toBeUndefined();
  });
});

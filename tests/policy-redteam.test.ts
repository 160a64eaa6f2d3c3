/**
 * Red team of issue 12's rules: what a client holding an admin, operator or viewer token tried, through
 * proxmox_api over REST, MCP 2026-07-28 and MCP 2025, typed tools and translated CLI lines, to get around
 * the protections (the server's identity, root@pam, protected guests and their data, the main node,
 * roles). Each try must be refused with the expected code, nothing may reach Proxmox, and the cluster
 * must be unchanged. The tries that got through before were fixed in lib/policy/rules/ (marked "hole").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest } from './helpers/server.ts';
import { clusterSnapshot, startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { api, closeDoors, describeRefusedThroughEveryDoor, mcpToken, mcpUser, serverUserInOwnGroup, sh as doorSh, startDoors, stoppedProtectedContainer, stoppedProtectedGuest, type DoorCase, type DoorServer } from './helpers/policy-doors.ts';
import { createSimulator } from '../lib/simulator/index.ts';
import { addBackupVolume } from '../lib/simulator/state.ts';

let ts: SafetyServer;
const tokens: Record<string, string> = {};
let doors: DoorServer;
let vmid = 0;
let node = '';
let ctid = 0;
let ctNode = '';
let disk = '';
let backup = '';
let ctBackup = '';

beforeAll(async () => {
  const sim = createSimulator({ taskDurationMs: 5 });
  const guest = stoppedProtectedGuest(sim);
  vmid = guest.vmid;
  node = guest.node;
  disk = String(guest.config.scsi0 ?? guest.config.rootfs).split(',')[0];
  const local = sim.state.storages.get('local')!;
  backup = addBackupVolume(sim.state, local, node, guest, 1_700_000_000).volid;
  const ct = stoppedProtectedContainer(sim);
  ctid = ct.vmid;
  ctNode = ct.node;
  ctBackup = addBackupVolume(sim.state, local, ct.node, ct, 1_700_000_000).volid;
  // The server's user is in a group of its own, and holds rights through a pool and a storage too.
  serverUserInOwnGroup(sim);
  // ...and in a group a directory realm's sync manages (synced groups are named <name>-<realm>)
  sim.state.groups.set('ops-corp', { comment: 'synced from corp' });
  sim.state.users.get(mcpUser)!.groups.add('ops-corp');
  // A role with Sys.Audit: Proxmox shows the server an ACL entry only where it has Sys.Audit (a hidden
  // entry makes its identity incomplete, and the rules then refuse what depends on it).
  sim.state.acl.push({ path: '/storage', type: 'group', ugid: 'mcpgroup', roleid: 'PVEAdmin', propagate: 1 });
  // (roles with Sys.Audit: Proxmox shows an ACL entry only to a caller with Sys.Audit on its path)
  sim.state.pools.set('mcp-pool', { comment: 'guests this server manages' });
  sim.state.acl.push({ path: '/pool/mcp-pool', type: 'group', ugid: 'mcpgroup', roleid: 'PVEAdmin', propagate: 1 });
  sim.state.acl.push({ path: '/storage/nfs-backup', type: 'group', ugid: 'mcpgroup', roleid: 'PVEAuditor', propagate: 1 });
  doors = await startDoors(sim, { admin: 'red-admin', operator: 'red-operator', viewer: 'red-viewer' });
  ts = doors.ts;
  Object.assign(tokens, doors.tokens);
}, 60_000);

afterAll(async () => {
  await closeDoors(doors);
});

type Try = DoorCase<'admin' | 'operator' | 'viewer'>;
const sh = (label: string, command: string | (() => string), extra: Partial<Try> = {}): Try =>
  // execute_command folds every reason a line will not run into one refusal
  doorSh(label, command, { codes: ['protected', 'forbidden'], ...extra });
const config = () => `/nodes/${node}/qemu/${vmid}/config`;
const content = (volid: string) => `/nodes/${node}/storage/${volid.split(':')[0]}/content/${volid}`;

const tries: Try[] = [
  // The server's own identity: user, tokens, groups, roles, ACLs, and objects whose deletion drops its ACLs
  api('server user into a group, groups as an array', 'PUT', `/access/users/${mcpUser}`, { groups: ['admins'], append: true }),
  api('disable the server user, upper case', 'PUT', '/access/users/PROXMOX-MCP@PVE', { enable: 0 }),
  api('expire the server user, double-encoded @', 'PUT', '/access/users/proxmox-mcp%2540pve', { expire: 1 }),
  api('privsep given twice (1 then 0)', 'POST', `/access/users/${mcpUser}/token/x`, { privsep: ['1', '0'] }),
  api('delete the server token', 'DELETE', `/access/users/${mcpUser}/token/mcp`),
  api('second factor for the server user', 'POST', `/access/tfa/${mcpUser}`, { type: 'recovery' }),
  api('password of the server user hidden after a NUL', 'PUT', '/access/password', { userid: `bob@pve\0${mcpUser}`, password: 'x' }),
  api('NoAccess on / for a group the server is in', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', groups: 'mcpgroup' }),
  api('remove the group grant, path with a trailing slash', 'PUT', '/access/acl', { path: '/storage/', roles: 'PVEAdmin', groups: 'MCPGroup', delete: 1 }),
  api('users as an array with the server user', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', users: ['bob@pve', mcpUser] }),
  api('propagate=no on /./ for someone else', 'PUT', '/access/acl', { path: '/./', roles: 'PVEAuditor', users: 'bob@pve', propagate: 'no' }),
  api('server token in the query string', 'PUT', `/access/acl?tokens=${encodeURIComponent(mcpToken)}`, { path: '/vms', roles: 'NoAccess' }),
  api('server token after a line separator', 'PUT', '/access/acl', { path: '/vms', roles: 'NoAccess', tokens: `bob@pve!t\u2028${mcpToken}` }),
  api('edit the server role, upper case', 'PUT', '/access/roles/PROXMOXMCP', { privs: 'VM.Audit' }),
  api('delete the server role, encoded trailing space', 'DELETE', '/access/roles/ProxmoxMCP%20'),
  api('delete the server group, upper case', 'DELETE', '/access/groups/MCPGROUP'),
  api('sync the server realm', 'POST', '/access/domains/pve/sync', { 'remove-vanished': 'acl;entry;properties' }),
  api('sync the realm whose group the server is in (hole)', 'POST', '/access/domains/corp/sync', { scope: 'groups', 'remove-vanished': 'entry' }),
  api('realm-sync job for the realm whose group the server is in (hole)', 'POST', '/cluster/jobs/realm-sync/corp', { realm: 'CORP', schedule: 'daily', scope: 'both' }),
  api('realm-sync job for the server realm (hole)', 'POST', '/cluster/jobs/realm-sync/evil', { realm: 'pve', schedule: 'daily', 'remove-vanished': 'entry' }),
  api('delete the pool the server holds rights through (hole)', 'DELETE', '/pools/mcp-pool'),
  api('delete that pool, PVE 8.2 style (hole)', 'DELETE', '/pools', { poolid: 'mcp-pool' }),
  api('take a guest out of that pool (hole)', 'PUT', '/pools/mcp-pool', () => ({ vms: String(vmid), delete: 1 })),
  api('delete the storage the server holds rights on (hole)', 'DELETE', '/storage/nfs-backup'),
  { label: 'typed: user_change puts the server user in a group', tool: 'user_change', args: () => ({ kind: 'user', action: 'update', userid: mcpUser, groups: ['admins'] }) },
  sh('pveum: server user into a group', `pveum user modify ${mcpUser} --groups admins`),
  sh('pvesh: realm-sync job for the server realm (hole)', 'pvesh create /cluster/jobs/realm-sync/evil --realm pve --schedule daily --remove-vanished entry'),

  // root@pam
  api('disable root, encoded', 'PUT', '/access/users/root%40pam', { enable: 0 }),
  api('token for ROOT@PAM', 'POST', '/access/users/ROOT@PAM/token/x', { privsep: 0 }),
  api('root hidden after a paragraph separator', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'bob@pve\u2029root@pam' }),
  api('root password', 'PUT', '/access/password', { userid: 'root@pam', password: 'x' }),

  // Protected guests: the flag and the data
  api('protection given twice, 1 then 0', 'PUT', config, { protection: ['1', '0'] }),
  api('protection as an empty string', 'PUT', config, { protection: '' }),
  api('protection in the query, other spelling in the body', 'PUT', () => `${config()}?protection=0`, { description: 'x' }),
  api('delete list with a comma, POST (pending)', 'POST', config, { delete: 'description,protection' }),
  api('revert the pending flag', 'POST', config, { revert: 'protection' }),
  api('destroy an unused volume of the protected guest, NUL list (the simulator has no check here)', 'PUT', config, { delete: 'description\0unused0' }),
  api('the container\'s flag off', 'PUT', () => `/nodes/${ctNode}/lxc/${ctid}/config`, { protection: 'off' }),
  api('destroy through another node and a leading zero', 'DELETE', () => `/nodes/pve9/qemu/0${vmid}`),
  api('forced VM restore over it', 'POST', () => `/nodes/${node}/qemu`, () => ({ vmid, archive: backup, force: true })),
  api('forced container restore over it', 'POST', () => `/nodes/${ctNode}/lxc`, () => ({ vmid: ctid, ostemplate: ctBackup, restore: 1, force: 1 })),
  api('rollback, snapshot name percent-encoded', 'POST', () => `/nodes/${node}/qemu/${vmid}/snapshot/before%5Fprotection/rollback`),
  api('move the disk to another guest', 'POST', () => `/nodes/${node}/qemu/${vmid}/move_disk`, { disk: 'scsi0', 'target-vmid': 999, 'target-disk': 'scsi1' }),
  api('delete its disk', 'DELETE', () => content(disk)),
  api('delete its backup', 'DELETE', () => content(backup)),
  api('delete its backup, JSON-style boolean params irrelevant, upper-case path', 'DELETE', () => content(backup).replace('/nodes/', '/NODES/')),
  api('prune its backups (hole)', 'DELETE', () => `/nodes/${node}/storage/local/prunebackups`, () => ({ vmid })),
  api('shorter retention on the storage that keeps its backups (hole)', 'PUT', '/storage/local', { 'prune-backups': 'keep-last=1' }),
  api('maxfiles on that storage (hole)', 'PUT', '/storage/local', { maxfiles: 1 }),
  api('a backup job over all guests that prunes (hole)', 'POST', '/cluster/backup', { all: 1, schedule: 'daily', storage: 'local', 'prune-backups': 'keep-last=1' }),
  api('remove the LVM-thin pool under the guests (hole)', 'DELETE', '/nodes/pve1/disks/lvmthin/data', { 'volume-group': 'pve' }),
  api('destroy a ZFS pool with its disks (hole)', 'DELETE', '/nodes/pve2/disks/zfs/tank', { 'cleanup-disks': 1 }),
  api('destroy a Ceph pool (hole)', 'DELETE', '/nodes/pve2/ceph/pool/rbd', { remove_storages: 1 }),
  api('destroy an OSD and wipe its disk (hole)', 'DELETE', '/nodes/pve2/ceph/osd/0', { cleanup: 'yes' }),
  { label: 'typed: storage_change deletes its backup', tool: 'storage_change', args: () => ({ action: 'delete_volume', node, storage: 'local', volume: backup }) },
  { label: 'typed: guest_config deletes protection', tool: 'guest_config', args: () => ({ vmid, delete: ['protection'] }) },
  { label: 'typed: vm_action delete', tool: 'vm_action', args: () => ({ action: 'delete', vmid }) },
  sh('pvesm free its backup (hole)', () => `pvesm free ${backup}`),
  sh('pvesm prune-backups for it (hole)', () => `pvesm prune-backups local --vmid ${vmid}`),
  sh('vzdump with a shorter retention (hole)', () => `vzdump ${vmid} --storage local --prune-backups keep-last=1`),
  sh('pvesm set a shorter retention (hole)', 'pvesm set local --prune-backups keep-last=1'),
  sh('vzdump --all with a shorter retention (hole)', 'vzdump --all --storage local --prune-backups keep-last=1'),
  sh('pvesh sets maxfiles on the storage (hole)', 'pvesh set /storage/local --maxfiles 1'),
  sh('pct restore over the protected container', () => `pct restore ${ctid} ${ctBackup} --force 1`),
  sh('qmrestore over the protected VM, option prefix', () => `qmrestore ${backup} ${vmid} --forc 1`),
  sh('pvesh removes the LVM-thin pool (hole)', 'pvesh delete /nodes/pve1/disks/lvmthin/data --volume-group pve'),

  // The main node and host shells
  api('shut down the main node, command as a list', 'POST', '/nodes/PVE1/status', { command: ['shutdown'] }),
  api('stop pveproxy on the main node (hole)', 'POST', '/nodes/pve1/services/pveproxy/stop'),
  api('stop the cluster file system on localhost (hole)', 'POST', '/nodes/localhost/services/pve-cluster/stop'),
  api('open a host console (hole)', 'POST', '/nodes/pve1/termproxy'),
  api('open a VNC host shell on another node (hole)', 'POST', '/nodes/pve2/vncshell', { cmd: 'upgrade' }),
  sh('pvesh stops pveproxy on the main node (hole)', 'pvesh create /nodes/pve1/services/pveproxy/stop'),
  api('remove the main node\'s management bridge (hole)', 'DELETE', '/nodes/pve1/network/vmbr0'),
  api('remove the port under it, upper case (hole)', 'DELETE', '/nodes/PVE1/network/ENO1'),
  api('re-address the management bridge (hole)', 'PUT', '/nodes/pve1/network/vmbr0', { type: 'bridge', cidr: '10.99.0.1/24' }),
  api('drop its bridge ports through a delete list (hole)', 'PUT', '/nodes/localhost/network/vmbr0', { type: 'bridge', delete: 'comments\0bridge_ports' }),
  api('autostart off for the port under it (hole)', 'PUT', '/nodes/pve1/network/eno1', { type: 'eth', autostart: 'no' }),
  { label: 'typed: network_change deletes the main node\'s management bridge with force (hole)', tool: 'network_change', args: () => ({ action: 'delete', node: 'pve1', iface: 'vmbr0', force: true }) },
  sh('pvesh removes the main node\'s management bridge (hole)', 'pvesh delete /nodes/pve1/network/vmbr0'),
  api('replace the main node\'s API certificate (hole)', 'POST', '/nodes/pve1/certificates/custom', { certificates: '-----BEGIN CERTIFICATE-----', force: 1, restart: 1 }),
  api('remove the main node\'s custom certificate (hole)', 'DELETE', '/nodes/localhost/certificates/custom', { restart: 1 }),
  api('renew the main node\'s ACME certificate (hole)', 'PUT', '/nodes/pve1/certificates/acme/certificate', { force: 1 }),

  // Roles, whatever tool sends it
  api('operator: realm-sync job for another realm (hole)', 'POST', '/cluster/jobs/realm-sync/ldap2', { realm: 'ldap2', schedule: 'daily' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator: grant through an encoded /access path', 'PUT', '/%2561ccess/acl', { path: '/', roles: 'Administrator', users: 'bob@pve' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator: ticket for another user', 'POST', '/access/ticket', { username: 'bob@pve', password: 'x' }, { who: 'operator', codes: ['forbidden'] }),
  { label: 'typed: operator user_change grants Administrator', tool: 'user_change', args: () => ({ kind: 'acl', action: 'create', path: '/', roles: ['Administrator'], users: ['bob@pve'] }), who: 'operator', codes: ['forbidden', 'tool_hidden'] },
  { label: 'typed: viewer changes a guest\'s description', tool: 'guest_config', args: () => ({ vmid: 100, description: 'x' }), who: 'viewer', codes: ['forbidden', 'mode_denied'] },
  { label: 'typed: viewer stops a guest', tool: 'vm_action', args: () => ({ action: 'stop', vmid: 100 }), who: 'viewer', codes: ['forbidden', 'mode_denied', 'tool_hidden'] },
  sh('viewer: qm stop', 'qm stop 100', { who: 'viewer', codes: ['forbidden', 'protected', 'mode_denied'] }),
  api('viewer: stop a guest', 'POST', '/nodes/pve1/qemu/100/status/stop', undefined, { who: 'viewer', codes: ['forbidden'] }),
  api('viewer: delete a protected guest\'s backup', 'DELETE', () => content(backup), undefined, { who: 'viewer', codes: ['forbidden', 'protected'] }),
  api('viewer: download a file from a backup', 'GET', '/nodes/pve1/storage/local/file-restore/download', { volume: 'x', filepath: 'Lw==' }, { who: 'viewer', codes: ['forbidden'] }),
  api('viewer: guest agent exec status', 'GET', () => `/nodes/${node}/qemu/${vmid}/agent/exec-status?pid=1`, undefined, { who: 'viewer', codes: ['forbidden'] }),
];

describeRefusedThroughEveryDoor('refused through %s', () => doors, tries);

describe('the new rules leave ordinary work alone', () => {
  async function reached(args: Record<string, unknown>): Promise<string[]> {
    const sentBefore = ts.changesSent.length;
    const response = await callRest(ts.url, tokens.admin, 'proxmox_api', args);
    expect(response.body.error?.code, JSON.stringify(response.body)).not.toBe('protected');
    return ts.changesSent.slice(sentBefore);
  }

  it('restarts pveproxy on the main node and stops it on another node', async () => {
    expect(await reached({ method: 'POST', path: '/nodes/pve1/services/pveproxy/restart' })).toEqual(['POST /nodes/pve1/services/pveproxy/restart']);
    expect(await reached({ method: 'POST', path: '/nodes/pve2/services/pveproxy/stop' })).toEqual(['POST /nodes/pve2/services/pveproxy/stop']);
  });

  it('changes a pool and a storage the server holds no rights through', async () => {
    expect(await reached({ method: 'PUT', path: '/pools/dev', params: { comment: 'dev' } })).toEqual(['PUT /pools/dev']);
    expect(await reached({ method: 'PUT', path: '/storage/local', params: { 'prune-backups': 'keep-all=1' } })).toEqual(['PUT /storage/local']);
  });

  it('changes the main node\'s management bridge\'s MTU, and another node\'s bridge', async () => {
    expect(await reached({ method: 'PUT', path: '/nodes/pve1/network/vmbr0', params: { type: 'bridge', mtu: 9000 } })).toEqual(['PUT /nodes/pve1/network/vmbr0']);
    expect(await reached({ method: 'PUT', path: '/nodes/pve2/network/vmbr0', params: { type: 'bridge', cidr: '192.168.100.12/24' } })).toEqual(['PUT /nodes/pve2/network/vmbr0']);
  });

  it('renews another node\'s certificate', async () => {
    expect(await reached({ method: 'PUT', path: '/nodes/pve2/certificates/acme/certificate' })).toEqual(['PUT /nodes/pve2/certificates/acme/certificate']);
  });

  it('destroys an OSD without wiping its disk', async () => {
    expect(await reached({ method: 'DELETE', path: '/nodes/pve2/ceph/osd/0' })).toEqual(['DELETE /nodes/pve2/ceph/osd/0']);
  });
});

describe('entries Proxmox hides from the server count as unknown (fail closed)', () => {
  it('refuses to edit a role the server may hold where it has no Sys.Audit, and says why', async () => {
    const sim = createSimulator({ taskDurationMs: 5 });
    // The server's group holds a custom role on a pool, without Sys.Audit there: GET /access/acl does not
    // show this entry to the server, so it cannot know it holds HiddenRole.
    sim.state.roles.set('HiddenRole', { privs: new Set(['VM.Audit', 'VM.PowerMgmt']), special: 0 });
    serverUserInOwnGroup(sim);
    sim.state.pools.set('hidden', { comment: 'x' });
    sim.state.acl.push({ path: '/pool/hidden', type: 'group', ugid: 'mcpgroup', roleid: 'HiddenRole', propagate: 1 });
    const server = await startSafetyServer({ simulator: sim, env: { MCP_MAIN_NODE: 'pve1' } });
    try {
      const adminToken = await server.createToken({ name: 'hidden-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
      const before = clusterSnapshot(server.sim);
      const sentBefore = server.changesSent.length;
      for (const args of [
        { method: 'PUT', path: '/access/roles/HiddenRole', params: { privs: 'VM.Audit' } },
        { method: 'DELETE', path: '/access/roles/HiddenRole' },
        { method: 'PUT', path: '/pools/hidden', params: { vms: '100', delete: 1 } },
      ]) {
        const response = await callRest(server.url, adminToken, 'proxmox_api', args);
        expect(response.body.error?.code, JSON.stringify(response.body)).toBe('protected');
        expect(response.body.error?.message).toContain('hidden from this server');
      }
      expect(server.changesSent.slice(sentBefore)).toEqual([]);
      expect(clusterSnapshot(server.sim)).toBe(before);
    } finally {
      await server.close();
    }
  });
});

describe('side doors Proxmox itself closes (checked, so a change in the simulator or Proxmox shows here)', () => {
  it('a clone over the protected guest\'s id is refused and changes nothing', async () => {
    const template = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && g.config.template)!;
    expect(template, 'the simulator has a VM template').toBeDefined();
    const before = clusterSnapshot(ts.sim);
    const response = await callRest(ts.url, tokens.admin, 'proxmox_api', { method: 'POST', path: `/nodes/${template.node}/qemu/${template.vmid}/clone`, params: { newid: vmid, full: 1 } });
    expect(response.status, JSON.stringify(response.body)).toBeGreaterThanOrEqual(400);
    expect(clusterSnapshot(ts.sim)).toBe(before);
    expect(ts.sim.state.guests.get(vmid)!.config.protection).toBe(1);
  });
});

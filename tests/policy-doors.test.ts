/**
 * The API policy through every door: each case of issue 12 (and variants: NUL, `;` and whitespace list
 * separators, arrays, query strings, encodings, case) is sent through proxmox_api (and the typed tool or
 * a translated CLI line where one exists) over REST, MCP 2026-07-28 and MCP 2025. Each must be refused
 * with the expected code, no changing request may reach the simulated Proxmox, and the cluster must be
 * exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest } from './helpers/server.ts';
import type { SafetyServer } from './helpers/safety.ts';
import { api, closeDoors, describeRefusedThroughEveryDoor, mcpToken, mcpUser, serverUserInOwnGroup, sh, startDoors, stoppedProtectedGuest, typed, type DoorCase, type DoorServer } from './helpers/policy-doors.ts';
import { createSimulator } from '../lib/simulator/index.ts';

let ts: SafetyServer;
let admin: string;
let operator: string;
let doors: DoorServer;

let vmid = 0;
let node = '';
let diskVolume = '';

beforeAll(async () => {
  const sim = createSimulator({ taskDurationMs: 5 });
  // A snapshot taken before the flag was set, and one taken with it.
  const guest = stoppedProtectedGuest(sim);
  vmid = guest.vmid;
  node = guest.node;
  diskVolume = String(guest.config.scsi0 ?? guest.config.rootfs).split(',')[0];
  guest.snapshots.set('with_protection', { name: 'with_protection', snaptime: 1_700_000_100, description: '', parent: 'before_protection', config: { ...guest.config } });
  serverUserInOwnGroup(sim);
  // A role with Sys.Audit: Proxmox shows the server an ACL entry only where it has Sys.Audit (a hidden
  // entry makes its identity incomplete, and the rules then refuse what depends on it).
  sim.state.acl.push({ path: '/storage', type: 'group', ugid: 'mcpgroup', roleid: 'PVEAuditor', propagate: 1 });
  doors = await startDoors(sim, { admin: 'doors-admin', operator: 'doors-operator' });
  ts = doors.ts;
  admin = doors.tokens.admin!;
  operator = doors.tokens.operator!;
}, 60_000);

afterAll(async () => {
  await closeDoors(doors);
});

type Case = DoorCase<'admin' | 'operator'>;

const config = () => `/nodes/${node}/qemu/${vmid}/config`;

const cases: Case[] = [
  // 4. lists parsed as Proxmox parses them
  api('root@pam after a NUL in users', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve\0root@pam' }),
  api('root@pam after a NUL, percent-encoded in the value', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve%00root@pam' }),
  api('root@pam after a NUL in the query string', 'PUT', '/access/acl?users=alice%40pve%00root%40pam', { path: '/', roles: 'NoAccess' }),
  api('root@pam after ";"', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve;root@pam' }),
  api('root@pam after a space', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve root@pam' }),
  api('root@pam after a tab and newline', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve\t\nroot@pam' }),
  api('root@pam in an array', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: ['alice@pve', 'root@pam'] }),
  api('root@pam, other case, leading space', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve\0 Root@PAM' }),
  api('root@pam token after a NUL', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', tokens: 'alice@pve!x\0root@pam!y' }),
  api('delete=description\\0protection', 'PUT', config, { delete: 'description\0protection' }),
  api('delete list with ";"', 'PUT', config, { delete: 'description;protection' }),
  api('delete list with spaces', 'POST', config, { delete: ' description  protection ' }),
  api('delete list with a NEL (Perl\'s \\s, not JavaScript\'s)', 'PUT', config, { delete: 'description\u0085protection' }),
  api('users list with a NEL', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve\u0085root@pam' }),
  api('users list with a no-break space', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve\u00a0root@pam' }),
  api('delete list as an array', 'PUT', config, { delete: ['description', 'protection'] }),
  api('delete list, upper case', 'PUT', config, { delete: 'PROTECTION' }),
  api('delete list, NUL in the query string', 'PUT', () => `${config()}?delete=description%00protection`),
  api('revert list with a NUL', 'PUT', config, { revert: 'cores\0protection' }),
  api('protection set to "0" with a NUL', 'PUT', config, { protection: '1\0' + '0' }),

  // 2. the server's own identity
  api('privsep=0 token for the server user', 'POST', `/access/users/${mcpUser}/token/evil`, { privsep: 0 }),
  api('token for the server user, case and encoding', 'POST', '/access/users/Proxmox-MCP%40PVE/token/evil', { privsep: 'false' }),
  api('change the server user\'s groups', 'PUT', `/access/users/${mcpUser}`, { groups: 'ops', append: 1 }),
  api('change the server user\'s e-mail', 'PUT', `/access/users/${mcpUser}`, { email: 'x@example.invalid' }),
  api('re-create the server user', 'POST', '/access/users', { userid: `bob@pve\0${mcpUser}` }),
  api('propagate=0 on / for the server token', 'PUT', '/access/acl', { path: '/', roles: 'ProxmoxMCP', tokens: mcpToken, propagate: 0 }),
  api('propagate=false on / for the server user', 'PUT', '/access/acl', { path: '/', roles: 'ProxmoxMCP', users: mcpUser, propagate: 'false' }),
  api('propagate=0 on / for someone else', 'PUT', '/access/acl', { path: '//', roles: 'PVEAuditor', users: 'bob@pve', propagate: 'off' }),
  api('weaker role for the server token on /vms', 'PUT', '/access/acl', { path: '/vms', roles: 'PVEAuditor', tokens: mcpToken }),
  api('server token hidden after a NUL', 'PUT', '/access/acl', { path: '/vms', roles: 'NoAccess', tokens: `alice@pve!x\0${mcpToken}` }),
  api('another token of the server user', 'PUT', '/access/acl', { path: '/', roles: 'Administrator', tokens: `${mcpUser}!other` }),
  api('edit the server role', 'PUT', '/access/roles/ProxmoxMCP', { privs: 'VM.Audit' }),
  api('edit the server role, other case', 'PUT', '/access/roles/proxmoxmcp', { privs: 'VM.Audit' }),
  api('delete the server role', 'DELETE', '/access/roles/ProxmoxMCP'),
  api('NoAccess for the server\'s group', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', groups: 'mcpgroup' }),
  api('NoAccess for the server\'s group after a NUL', 'PUT', '/access/acl', { path: '/', roles: 'NoAccess', groups: 'ops\0MCPGROUP' }),
  api('delete the server\'s group', 'DELETE', '/access/groups/mcpgroup'),
  api('delete the server\'s realm', 'DELETE', '/access/domains/pve'),
  typed('user_change edit the server role', 'user_change', () => ({ kind: 'role', action: 'update', roleid: 'ProxmoxMCP', privs: ['VM.Audit'] })),
  typed('user_change delete the server role', 'user_change', () => ({ kind: 'role', action: 'delete', roleid: 'ProxmoxMCP' })),
  typed('user_change token for the server user', 'user_change', () => ({ kind: 'token', action: 'create', userid: mcpUser, tokenid: 'evil', privsep: false })),
  typed('user_change weaker role for the server token', 'user_change', () => ({ kind: 'acl', action: 'create', path: '/vms', roles: ['PVEAuditor'], tokens: [mcpToken] })),
  typed('user_change server user into a group', 'user_change', () => ({ kind: 'user', action: 'update', userid: mcpUser, groups: ['ops'], append_groups: true })),
  typed('user_change NoAccess for the server\'s group', 'user_change', () => ({ kind: 'acl', action: 'create', path: '/', roles: ['NoAccess'], groups: ['mcpgroup'] })),
  sh('pveum: root@pam after a NEL (U+0085) in --users', "pveum acl modify / --users 'alice@pve\u0085root@pam' --roles NoAccess"),
  sh('pveum: the server token after a NEL in --tokens', `pveum acl modify /vms --tokens 'alice@pve!x\u0085${mcpToken}' --roles NoAccess`),
  sh('pvesh: weaker role for the server token', `pvesh set /access/acl --path /vms --tokens '${mcpToken}' --roles PVEAuditor`),
  sh('pvesh: token for the server user', `pvesh create /access/users/${mcpUser}/token/evil --privsep 0`),
  sh('pvesh: delete the server role', 'pvesh delete /access/roles/ProxmoxMCP'),

  // 3. protected guests
  api('rollback to a snapshot without protection', 'POST', () => `/nodes/${node}/qemu/${vmid}/snapshot/before_protection/rollback`),
  api('rollback, wrong node and upper-case path', 'POST', () => `/NODES/pve9/qemu/${vmid}/snapshot/before_protection/rollback`),
  api('rollback to a snapshot that does not exist', 'POST', () => `/nodes/${node}/qemu/${vmid}/snapshot/nosuch/rollback`),
  typed('guest_snapshot rollback to a snapshot without protection', 'guest_snapshot', () => ({ action: 'rollback', vmid, snapname: 'before_protection' })),
  api('delete the protected guest\'s disk', 'DELETE', () => `/nodes/${node}/storage/${diskVolume.split(':')[0]}/content/${diskVolume}`),
  api('delete the disk, encoded volume id', 'DELETE', () => `/nodes/${node}/storage/${diskVolume.split(':')[0]}/content/${encodeURIComponent(diskVolume)}`),
  api('delete the disk, volume name only', 'DELETE', () => `/nodes/${node}/storage/${diskVolume.split(':')[0]}/content/${diskVolume.split(':')[1]}`),
  typed('storage_operations delete the protected guest\'s disk', 'storage_operations', () => ({ action: 'delete_volume', node, storage: diskVolume.split(':')[0], volume: diskVolume }), { codes: ['protected', 'conflict', 'invalid_input'] }),
  sh('pvesh: delete the protected guest\'s disk', () => `pvesh delete /nodes/${node}/storage/${diskVolume.split(':')[0]}/content/${diskVolume}`),
  api('move disk with delete', 'POST', () => `/nodes/${node}/qemu/${vmid}/move_disk`, { disk: 'scsi0', storage: 'tank', delete: 1 }),
  api('unlink with force', 'PUT', () => `/nodes/${node}/qemu/${vmid}/unlink`, { idlist: 'scsi0', force: 'yes' }),
  api('remote migrate with delete', 'POST', () => `/nodes/${node}/qemu/${vmid}/remote_migrate`, { 'target-endpoint': 'host=x,apitoken=y', 'target-storage': 'x', 'target-bridge': 'x', delete: 1 }),
  api('forced restore, vmid with a leading zero', 'POST', () => `/nodes/${node}/qemu`, () => ({ vmid: `0${vmid}`, archive: 'local:backup/vzdump-qemu-1.vma.zst', force: 'on' })),

  // 7. the main node and disks
  api('reboot the main node', 'POST', '/nodes/pve1/status', { command: 'reboot' }),
  api('shut down the main node, upper case', 'POST', '/nodes/PVE1/status', { command: 'SHUTDOWN' }),
  api('reboot the main node, query string', 'POST', '/nodes/pve1/status?command=reboot'),
  api('wipe a disk', 'PUT', '/nodes/pve2/disks/wipedisk', { disk: '/dev/sdb' }),
  api('a batch of API calls', 'POST', '/nodes/pve1/execute', { commands: JSON.stringify([{ method: 'DELETE', path: '/access/users/root@pam' }]) }),
  sh('pvesh: reboot the main node', 'pvesh create /nodes/pve1/status --command reboot'),

  // 5. roles on the raw API
  api('operator creates a user', 'POST', '/access/users', { userid: 'eve@pve' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator grants Administrator', 'PUT', '/access/acl', { path: '/', roles: 'Administrator', users: 'bob@pve' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator creates a token', 'POST', '/access/users/bob@pve/token/t', { privsep: 0 }, { who: 'operator', codes: ['forbidden'] }),
  api('operator edits a role', 'PUT', '/access/roles/PVEVMUser', { privs: 'Sys.Modify' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator, encoded /access path', 'POST', '/%61ccess/users', { userid: 'eve@pve' }, { who: 'operator', codes: ['forbidden'] }),
  api('operator, dot segments', 'POST', '/nodes/../access/users', { userid: 'eve@pve' }, { who: 'operator', codes: ['forbidden'] }),
  // execute_command folds every reason a line will not run into one refusal (code protected); the message names the role.
  sh('operator: pvesh create a user', 'pvesh create /access/users --userid eve@pve', { who: 'operator', codes: ['forbidden', 'protected'] }),
  typed('operator: user_change create', 'user_change', () => ({ kind: 'user', action: 'create', userid: 'eve@pve' }), { who: 'operator', codes: ['forbidden', 'tool_hidden'] }),
];

describeRefusedThroughEveryDoor('through %s', () => doors, cases);

describe('the policy leaves ordinary work alone', () => {
  it('lets an admin grant and revoke another user, edit another role and group', async () => {
    const steps: [string, Record<string, unknown>][] = [
      ['grant', { method: 'PUT', path: '/access/acl', params: { path: '/vms', roles: 'PVEAuditor', users: 'bob@pve' } }],
      ['revoke', { method: 'PUT', path: '/access/acl', params: { path: '/vms', roles: 'PVEAuditor', users: 'bob@pve', delete: 1 } }],
      ['group', { method: 'PUT', path: '/access/groups/ops', params: { comment: 'operators' } }],
      ['user', { method: 'PUT', path: '/access/users/bob@pve', params: { groups: 'ops', append: 1 } }],
    ];
    for (const [label, args] of steps) {
      const response = await callRest(ts.url, admin, 'proxmox_api', args);
      expect(response.status, `${label}: ${JSON.stringify(response.body)}`).toBe(200);
    }
  });

  it('lets an operator read /access', async () => {
    const response = await callRest(ts.url, operator, 'proxmox_api', { method: 'GET', path: '/access/users' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  });

  it('lets a protected guest roll back to a snapshot that keeps the flag', async () => {
    const response = await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: `/nodes/${node}/qemu/${vmid}/snapshot/with_protection/rollback` });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(ts.sim.state.guests.get(vmid)!.config.protection).toBe(1);
  });

  it('lets the main node be looked at and another node be rebooted', async () => {
    const status = await callRest(ts.url, admin, 'proxmox_api', { method: 'GET', path: '/nodes/pve1/status' });
    expect(status.status, JSON.stringify(status.body)).toBe(200);
    const sentBefore = ts.changesSent.length;
    // The simulator does not implement node power; what matters is that the request was sent.
    await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: '/nodes/pve2/status', params: { command: 'reboot' } });
    expect(ts.changesSent.slice(sentBefore)).toEqual(['POST /nodes/pve2/status']);
  });
});

describe('the /access rule knows the caller through every door', () => {
  it.each([
    ['proxmox_api', { method: 'POST', path: '/access/users', params: { userid: 'eve@pve' } }],
    ['execute_command', { node: 'pve1', command: 'pvesh create /access/users --userid eve@pve' }],
  ] as const)('names the operator role for %s', async (tool, args) => {
    const response = await callRest(ts.url, operator, tool, args);
    expect(response.status).toBe(403);
    expect(response.body.error.message).toContain('needs an admin client token; this one (doors-operator) is operator');
  });

  it('lets an admin create a user through execute_command as far as the policy goes', async () => {
    // No SSH in this test server: the call gets past the policy and stops at the missing executor.
    const response = await callRest(ts.url, admin, 'execute_command', { node: 'pve1', command: 'pvesh create /access/users --userid eve@pve' });
    expect(response.body.error?.code, JSON.stringify(response.body)).not.toBe('forbidden');
    expect(response.body.error?.code).not.toBe('protected');
  });
});

describe('a refusal comes before any confirmation', () => {
  it.each([
    ['proxmox_api', () => ({ method: 'PUT', path: '/access/roles/ProxmoxMCP', params: { privs: 'VM.Audit' } })],
    ['proxmox_api', () => ({ method: 'POST', path: `/nodes/${node}/qemu/${vmid}/snapshot/before_protection/rollback` })],
    ['user_change', () => ({ kind: 'token', action: 'create', userid: mcpUser, tokenid: 'evil', privsep: false })],
  ] as const)('%s in safe mode: %#', async (tool, makeArgs) => {
    const safe = await ts.createToken({ name: `doors-safe-${Math.random().toString(36).slice(2, 8)}`, role: 'admin', mode: 'safe', ceiling: 'normal' });
    const response = await callRest(ts.url, safe, tool, makeArgs());
    expect(response.body.error?.code, JSON.stringify(response.body)).toBe('protected');
    expect(response.body.error?.details?.confirmation_id).toBeUndefined();
  });
});

describe('viewers only read, and a guest-file read is not a read', () => {
  it('refuses a viewer\'s change and a viewer\'s agent file-read through proxmox_api', async () => {
    const viewer = await ts.createToken({ name: 'doors-viewer', role: 'viewer', mode: 'normal', ceiling: 'normal' });
    const sentBefore = ts.changesSent.length;
    const start = await callRest(ts.url, viewer, 'proxmox_api', { method: 'POST', path: '/nodes/pve1/qemu/102/status/start' });
    expect(start.body.error?.code, JSON.stringify(start.body)).toBe('forbidden');
    const read = await callRest(ts.url, viewer, 'proxmox_api', { method: 'GET', path: `/nodes/${node}/qemu/${vmid}/agent/file-read`, params: { file: '/etc/shadow' } });
    expect(read.body.error?.code, JSON.stringify(read.body)).toBe('forbidden');
    expect(ts.changesSent.slice(sentBefore)).toEqual([]);
  });

  it('refuses an agent file-read in read-only mode', async () => {
    const readOnly = await ts.createToken({ name: 'doors-readonly', role: 'admin', mode: 'read-only', ceiling: 'normal' });
    const read = await callRest(ts.url, readOnly, 'proxmox_api', { method: 'GET', path: `/nodes/${node}/qemu/${vmid}/agent/file-read?file=/etc/shadow` });
    expect(read.body.error?.code, JSON.stringify(read.body)).toBe('mode_denied');
  });
});

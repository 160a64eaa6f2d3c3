/**
 * The bypass corpus: for each protection no mode lifts, attempts to get around it through every door a
 * client has (proxmox_api with every spelling of the path and parameters, execute_command with every
 * shell trick, and the typed tools where they exist), each over MCP and over REST, with a normal-mode
 * admin token so that only the protections stand in the way. Every attempt must be refused with code
 * `protected`, and the simulated cluster must be exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { callRest, connectClient } from './helpers/server.ts';
import { clusterSnapshot, protectedGuest, startSafetyServer, type SafetyServer } from './helpers/safety.ts';

let ts: SafetyServer;
let admin: string;
let client: Client;
let legacyClient: Client;

beforeAll(async () => {
  ts = await startSafetyServer({ env: { MCP_MAIN_NODE: 'pve1' } });
  admin = await ts.createToken({ name: 'bypass-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
  // Stopped, so that vm_action/container_action go as far as sending the DELETE (a running guest is
  // refused earlier, as a conflict) and only the protection stands in the way.
  const container = [...ts.sim.state.guests.values()].find((g) => g.type === 'lxc')!;
  container.config.protection = 1;
  container.status = 'stopped';
  protectedGuest(ts.sim).status = 'stopped';
  client = await connectClient(ts.mcpUrl, admin, 'modern');
  legacyClient = await connectClient(ts.mcpUrl, admin, 'legacy');
});
afterAll(async () => {
  await client?.close();
  await legacyClient?.close();
  await ts?.close();
});

type Attempt = [label: string, tool: string, args: () => Record<string, unknown>];

const guest = () => protectedGuest(ts.sim);
/** A container with the protection flag (the simulator ships a protected VM; one container is made protected here). */
const protectedContainer = () => [...ts.sim.state.guests.values()].find((g) => g.type === 'lxc' && g.config.protection === 1)!;
const api = (method: string, path: string | (() => string), params?: Record<string, unknown> | (() => Record<string, unknown>)) => () => ({
  method,
  path: typeof path === 'function' ? path() : path,
  ...(params ? { params: typeof params === 'function' ? params() : params } : {}),
});
const sh = (command: string | (() => string)) => () => ({ node: 'pve1', command: typeof command === 'function' ? command() : command });

const rootPaths = [
  '/access/users/root@pam',
  '/access/users/root%40pam',
  '/access/users/root%2540pam',
  '/access/users/ROOT@PAM',
  '/Access/Users/Root@Pam',
  '/access/users/root@pam/',
  '//access//users//root@pam',
  '/access/./users/root@pam',
  '/access/x/../users/root@pam',
  '/access/users/x/%2e%2e/root@pam',
  '/access%2Fusers%2Froot@pam',
  '/access%252Fusers%252Froot%2540pam',
  '/api2/json/access/users/root@pam',
  '/access/users/root@pam%00',
  '/access/users/root@pam;x',
  '/access/users/root@pam?x=1',
];

const attempts: Attempt[] = [
  // root@pam through the raw API, every spelling
  ...rootPaths.map((path): Attempt => [`api: delete ${path}`, 'proxmox_api', api('DELETE', path)]),
  ...rootPaths.slice(0, 8).map((path): Attempt => [`api: disable ${path}`, 'proxmox_api', api('PUT', path, { enable: 0 })]),
  ['api: modify root@pam email', 'proxmox_api', api('PUT', '/access/users/root@pam', { email: 'evil@example.invalid' })],
  ['api: root password in body', 'proxmox_api', api('PUT', '/access/password', { userid: 'root@pam', password: 'Evil-pass-123' })],
  ['api: root password in the query string', 'proxmox_api', api('PUT', '/access/password?userid=root%40pam', { password: 'Evil-pass-123' })],
  ['api: root password, upper case', 'proxmox_api', api('PUT', '/access/password', { userid: 'ROOT@PAM', password: 'Evil-pass-123' })],
  ['api: root password, encoded', 'proxmox_api', api('PUT', '/access/password', { userid: 'root%40pam', password: 'Evil-pass-123' })],
  ['api: new root token', 'proxmox_api', api('POST', '/access/users/root@pam/token/evil')],
  ['api: new root token, encoded path', 'proxmox_api', api('POST', '/access/users/root%40pam/token/evil')],
  ['api: root ACL, NoAccess', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'root@pam' })],
  ['api: root ACL in a list', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'NoAccess', users: 'alice@pve,root@pam' })],
  ['api: root ACL in the query string', 'proxmox_api', api('PUT', '/access/acl?users=ROOT%40PAM', { path: '/', roles: 'NoAccess' })],
  ['api: root token ACL', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'NoAccess', tokens: 'root@pam!x' })],
  // the main node
  ...['/cluster/config/nodes/pve1', '/cluster/config/nodes/PVE1', '/cluster/config/nodes/%70ve1', '/cluster/config/nodes/pve1/', '/cluster//config/./nodes/pve1', '/api2/json/cluster/config/nodes/pve1'].map(
    (path): Attempt => [`api: remove main node ${path}`, 'proxmox_api', api('DELETE', path)],
  ),
  // this server's own user and token
  ['api: delete own user', 'proxmox_api', api('DELETE', '/access/users/proxmox-mcp@pve')],
  ['api: delete own user, encoded', 'proxmox_api', api('DELETE', '/access/users/proxmox-mcp%40pve/')],
  ['api: disable own user', 'proxmox_api', api('PUT', '/access/users/proxmox-mcp@pve', { enable: 'no' })],
  ['api: delete own token', 'proxmox_api', api('DELETE', '/access/users/proxmox-mcp@pve/token/mcp')],
  ['api: delete own token, case', 'proxmox_api', api('DELETE', '/ACCESS/users/Proxmox-MCP@pve/token/MCP')],
  ['api: strip own token ACL', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'ProxmoxMCP', tokens: 'proxmox-mcp@pve!mcp', delete: 1 })],
  ['api: strip own token ACL, query string', 'proxmox_api', api('PUT', '/access/acl?delete=1', { path: '/', roles: 'ProxmoxMCP', tokens: 'proxmox-mcp@pve!mcp' })],
  ['api: strip own user ACL', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'ProxmoxMCP', users: 'proxmox-mcp@pve', delete: true })],
  ['api: NoAccess for own token', 'proxmox_api', api('PUT', '/access/acl', { path: '/', roles: 'NoAccess', tokens: 'proxmox-mcp@pve!mcp' })],
  // protected guests
  ['api: destroy protected guest', 'proxmox_api', api('DELETE', () => `/nodes/${guest().node}/qemu/${guest().vmid}`)],
  ['api: destroy protected guest, purge', 'proxmox_api', api('DELETE', () => `/nodes/${guest().node}/qemu/${guest().vmid}`, { purge: 1, 'destroy-unreferenced-disks': 1 })],
  ['api: destroy protected guest, node upper case', 'proxmox_api', api('DELETE', () => `/nodes/${guest().node.toUpperCase()}/qemu/${guest().vmid}/`)],
  ['api: destroy protected guest, leading zero', 'proxmox_api', api('DELETE', () => `/nodes/${guest().node}/qemu/0${guest().vmid}`)],
  ['api: destroy protected guest, encoded', 'proxmox_api', api('DELETE', () => `/nodes%2F${guest().node}%2Fqemu%2F${guest().vmid}`)],
  ['api: destroy protected guest via dot segments', 'proxmox_api', api('DELETE', () => `/nodes/${guest().node}/lxc/../qemu/${guest().vmid}`)],
  ['api: clear protection flag', 'proxmox_api', api('PUT', () => `/nodes/${guest().node}/qemu/${guest().vmid}/config`, { protection: 0 })],
  ['api: clear protection flag, false', 'proxmox_api', api('POST', () => `/nodes/${guest().node}/qemu/${guest().vmid}/config`, { protection: false })],
  ['api: clear protection flag, "off"', 'proxmox_api', api('PUT', () => `/nodes/${guest().node}/qemu/${guest().vmid}/config`, { protection: 'off' })],
  ['api: delete protection key', 'proxmox_api', api('PUT', () => `/nodes/${guest().node}/qemu/${guest().vmid}/config`, { delete: 'description,protection' })],
  ['api: delete protection key, query string', 'proxmox_api', api('PUT', () => `/nodes/${guest().node}/qemu/${guest().vmid}/config?delete=protection`)],
  ['api: forced restore over protected guest', 'proxmox_api', api('POST', () => `/nodes/${guest().node}/qemu`, () => ({ vmid: guest().vmid, archive: 'local:backup/vzdump-qemu-1.vma.zst', force: 1 }))],

  // the same through host commands
  ['sh: pveum user delete', 'execute_command', sh('pveum user delete root@pam')],
  ['sh: pveum userdel (old form)', 'execute_command', sh('pveum userdel root@pam')],
  ['sh: disable root', 'execute_command', sh('pveum user modify root@pam --enable 0')],
  ['sh: root password', 'execute_command', sh('pveum passwd root@pam')],
  ['sh: root token', 'execute_command', sh('pveum user token add root@pam evil')],
  ['sh: root tfa', 'execute_command', sh('pveum user tfa delete root@pam')],
  ['sh: root ACL', 'execute_command', sh('pveum acl modify / --users root@pam --roles NoAccess')],
  ['sh: root ACL via aclmod', 'execute_command', sh('pveum aclmod / -users root@pam -roles NoAccess')],
  ['sh: pvesh delete', 'execute_command', sh('pvesh delete /access/users/root@pam')],
  ['sh: pvesh delete, encoded', 'execute_command', sh('pvesh delete /access/users/root%40pam')],
  ['sh: pvesh delete, relative path', 'execute_command', sh('pvesh delete access/users/root@pam')],
  ['sh: pvesh password', 'execute_command', sh('pvesh set /access/password --userid root@pam --password x')],
  ['sh: quoting', 'execute_command', sh(`'pve'um user delete 'root@pam'`)],
  ['sh: split quoting', 'execute_command', sh('pveum user delete "root"@pam')],
  ['sh: backslash', 'execute_command', sh('pveum user delete root\\@pam')],
  ['sh: sh -c', 'execute_command', sh(`sh -c 'pveum user delete root@pam'`)],
  ['sh: bash -c, nested quotes', 'execute_command', sh(`bash -c "pvesh delete /access/users/root@pam"`)],
  ['sh: command substitution', 'execute_command', sh('echo $(pveum user delete root@pam)')],
  ['sh: backticks', 'execute_command', sh('echo `pveum user delete root@pam`')],
  ['sh: env prefix', 'execute_command', sh('LANG=C pveum user delete root@pam')],
  ['sh: env wrapper', 'execute_command', sh('env -i PATH=/usr/sbin pveum user delete root@pam')],
  ['sh: absolute path', 'execute_command', sh('/usr/sbin/pveum user delete root@pam')],
  ['sh: sudo and absolute path', 'execute_command', sh('sudo /usr/bin/pvesh delete /access/users/root@pam')],
  ['sh: after a harmless command', 'execute_command', sh('true; pveum user delete root@pam')],
  ['sh: in a pipeline', 'execute_command', sh('yes | pveum user delete root@pam')],
  ['sh: variable user', 'execute_command', sh('U=root@pam; pveum user delete $U')],
  ['sh: variable program', 'execute_command', sh('P=pveum; $P user delete root@pam')],
  ['sh: eval', 'execute_command', sh(`eval 'pveum user delete root@pam'`)],
  ['sh: main node', 'execute_command', sh('pvecm delnode pve1')],
  ['sh: main node, quoted', 'execute_command', sh(`pvecm delnode "pve1"`)],
  ['sh: own user', 'execute_command', sh('pveum user delete proxmox-mcp@pve')],
  ['sh: own token', 'execute_command', sh('pveum user token remove proxmox-mcp@pve mcp')],
  ['sh: own token ACL', 'execute_command', sh(`pveum acl delete / --tokens 'proxmox-mcp@pve!mcp' --roles ProxmoxMCP`)],
  ['sh: destroy protected guest', 'execute_command', sh(() => `qm destroy ${guest().vmid}`)],
  ['sh: destroy protected guest, purge', 'execute_command', sh(() => `qm destroy ${guest().vmid} --purge 1`)],
  ['sh: destroy protected guest via pvesh', 'execute_command', sh(() => `pvesh delete /nodes/${guest().node}/qemu/${guest().vmid}`)],
  ['sh: clear protection', 'execute_command', sh(() => `qm set ${guest().vmid} --protection 0`)],
  ['sh: delete protection key', 'execute_command', sh(() => `qm set ${guest().vmid} --delete protection`)],
  ['sh: forced restore over protected guest', 'execute_command', sh(() => `qmrestore /var/lib/vz/dump/x.vma.zst ${guest().vmid} --force 1`)],

  // the typed tools
  ['typed: user_change delete root@pam', 'user_change', () => ({ kind: 'user', action: 'delete', userid: 'root@pam' })],
  ['typed: user_change disable root@pam', 'user_change', () => ({ kind: 'user', action: 'update', userid: 'root@pam', enable: false })],
  ['typed: user_change root@pam, other case', 'user_change', () => ({ kind: 'user', action: 'update', userid: 'ROOT@PAM', comment: 'x' })],
  ['typed: user_change root@pam token', 'user_change', () => ({ kind: 'token', action: 'create', userid: 'root@pam', tokenid: 'evil' })],
  ['typed: user_change root@pam ACL', 'user_change', () => ({ kind: 'acl', action: 'create', path: '/', roles: ['NoAccess'], users: ['root@pam'] })],
  ['typed: user_change delete own user', 'user_change', () => ({ kind: 'user', action: 'delete', userid: 'proxmox-mcp@pve' })],
  ['typed: user_change delete own token', 'user_change', () => ({ kind: 'token', action: 'delete', userid: 'proxmox-mcp@pve', tokenid: 'mcp' })],
  ['typed: user_change strip own token ACL', 'user_change', () => ({ kind: 'acl', action: 'delete', path: '/', roles: ['ProxmoxMCP'], tokens: ['proxmox-mcp@pve!mcp'] })],
  ['typed: vm_action delete protected VM', 'vm_action', () => ({ vmid: guest().vmid, action: 'delete' })],
  ['typed: vm_action delete protected VM, node given', 'vm_action', () => ({ vmid: guest().vmid, node: guest().node, action: 'delete' })],
  ['typed: container_action delete protected container', 'container_action', () => ({ vmid: protectedContainer().vmid, action: 'delete' })],
];

describe.each(['rest', 'mcp', 'mcp-legacy'] as const)('through %s', (door) => {
  it.each(attempts)('%s', async (_label, tool, makeArgs) => {
    const before = clusterSnapshot(ts.sim);
    const args = makeArgs();
    let code: string | undefined;
    let status: number | undefined;
    if (door === 'rest') {
      const response = await callRest(ts.url, admin, tool, args);
      status = response.status;
      code = response.body.error?.code;
    } else {
      const result = await (door === 'mcp' ? client : legacyClient).callTool({ name: tool, arguments: args });
      expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
      code = (result.structuredContent as { error?: { code?: string } }).error?.code;
    }
    expect(code, `${tool} ${JSON.stringify(args)}`).toBe('protected');
    if (status !== undefined) expect(status).toBe(403);
    expect(clusterSnapshot(ts.sim)).toBe(before);
  });
});

describe('the protections leave ordinary work alone', () => {
  it('allows changing another user and destroying an unprotected guest', async () => {
    const other = await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: '/access/users/bob@pve', params: { email: 'bob@example.invalid' } });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    const victim = [...ts.sim.state.guests.values()].find((g) => g.status === 'stopped' && !g.config.protection && !g.config.template && g.type === 'qemu')!;
    const destroyed = await callRest(ts.url, admin, 'proxmox_api', { method: 'DELETE', path: `/nodes/${victim.node}/qemu/${victim.vmid}` });
    expect(destroyed.status, JSON.stringify(destroyed.body)).toBe(200);
    expect(ts.sim.state.guests.has(victim.vmid)).toBe(false);
  });
});

/**
 * The API policy's parts on their own, table-driven: Proxmox's list splitting, the readings a rule
 * judges, volume owners, and each rule with a stub cluster, including failing closed when the server
 * cannot learn its own identity.
 */
import { describe, expect, it } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import { splitList, listItems } from '../lib/policy/split-list.ts';
import { normalizeRequest, paramItems, paramReadings } from '../lib/policy/normalize.ts';
import { checkProtections, type ProtectionContext } from '../lib/policy/protections.ts';
import { volumeOwners } from '../lib/policy/rules/protected-guest.ts';
import { vmidOf } from '../lib/policy/rules/common.ts';
import { apiRules } from '../lib/policy/rules/index.ts';
import type { ServiceIdentity } from '../lib/policy/identity.ts';
import type { ClusterResource, PveClient } from '../lib/pve/types.ts';
import { prng } from '../lib/random.ts';

describe('splitList (PVE::Tools::split_list)', () => {
  it.each([
    ['a,b;c d', ['a', 'b', 'c', 'd']],
    ['  a  ,, b ', ['a', 'b']],
    ['a\tb\nc', ['a', 'b', 'c']],
    ['alice@pve\0root@pam', ['alice@pve', 'root@pam']],
    ['a,b\0c', ['a,b', 'c']],
    // Perl's Unicode \s: NEL (which JavaScript's \s lacks), NBSP, LINE SEPARATOR
    ['description\u0085protection', ['description', 'protection']],
    ['description\u00a0protection', ['description', 'protection']],
    ['\u2028alice@pve\u3000root@pam', ['alice@pve', 'root@pam']],
    ['description\0 protection', ['description', ' protection']],
    ['', []],
  ])('%j', (value, expected) => {
    expect(splitList(value)).toEqual(expected);
  });

  it('joins repeated values with NUL, as pveproxy does, and also reads each alone', () => {
    expect(listItems(['a,b', 'c']).sort()).toEqual(['a', 'a,b', 'b', 'c'].sort());
  });
});

describe('the readings a rule judges', () => {
  const items = (params: Record<string, unknown>, name: string, path = '/x') => paramItems(normalizeRequest('PUT', path, params), name);

  it.each([
    [{ delete: 'description\0protection' }, 'protection'],
    [{ delete: 'description%00protection' }, 'protection'],
    [{ delete: 'description%2500protection' }, 'protection'],
    // Proxmox sees no NUL here and splits on the comma; the decoded reading alone would not find it.
    [{ delete: 'description%00x,protection' }, 'protection'],
    [{ delete: ['description', 'PROTECTION'] }, 'protection'],
    [{ DELETE: 'protection' }, 'protection'],
    [{ 'del%65te': 'protection' }, 'protection'],
  ])('%j lists %s', (params, item) => {
    expect(items(params, 'delete')).toContain(item);
  });

  it('reads query-string values too', () => {
    expect(items({}, 'users', '/access/acl?users=alice%40pve%00root%40pam')).toContain('root@pam');
  });

  it('keeps control characters (no cleaning before judging)', () => {
    expect(paramReadings(normalizeRequest('PUT', '/x', { protection: '1\x01' }), 'protection')).toEqual(['1\x01']);
  });
});

describe('volume owners', () => {
  it.each([
    ['local-lvm:vm-101-disk-0', [101]],
    ['local:110/vm-110-disk-0.qcow2', [110]],
    ['tank:base-101-disk-0', [101]],
    ['tank:base-101-disk-0/vm-102-disk-0', [101, 102]],
    ['tank:subvol-109-disk-0', [109]],
    ['VM-101-DISK-0', [101]],
    ['local:iso/debian.iso', []],
    // backups are the guest's data too (issue 12): vzdump archives and PBS snapshots
    ['nfs-backup:backup/vzdump-qemu-101-2026_01_01-00_00_00.vma.zst', [101]],
    ['local:backup/vzdump-lxc-0105-2026_01_01-00_00_00.tar.zst', [105]],
    ['local:backup/vzdump-openvz-106-2026_01_01-00_00_00.tar.gz', [106]],
    ['pbs:backup/vm/101/2024-01-01T00:00:00Z', [101]],
    ['pbs:backup/ct/105/2024-01-01T00:00:00Z', [105]],
    ['pbs:backup/host/pve1/2024-01-01T00:00:00Z', []],
    ['local:backup/vzdump-qemu-notanid.vma', []],
  ])('%s', (volume, owners) => {
    expect(volumeOwners(volume).sort()).toEqual(owners);
  });

  it.each([
    ['101', 101],
    ['0101', 101],
    ['+101', 101],
    [' 101 ', 101],
    ['abc', undefined],
    ['10a', undefined],
  ])('vmid %j', (text, vmid) => {
    expect(vmidOf(text)).toBe(vmid);
  });
});

interface Stub {
  identity?: Partial<ServiceIdentity> | 'fails';
  role?: 'admin' | 'operator' | 'viewer' | 'none';
  snapshotProtection?: number | 'fails';
  mainNode?: string;
}

function context(stub: Stub = {}): ProtectionContext {
  const guests = [{ vmid: 101, node: 'pve2', type: 'qemu', protection: 1 }, { vmid: 102, node: 'pve1', type: 'qemu', protection: 0 }];
  const pve = {
    tokenId: 'proxmox-mcp@pve!mcp',
    async clusterResources(): Promise<ClusterResource[]> {
      return guests.map((g) => ({ id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node }));
    },
    async get(path: string) {
      if (/\/snapshot\/[^/]+\/config$/.test(path)) {
        if (stub.snapshotProtection === 'fails') throw new Error('no such snapshot');
        return stub.snapshotProtection ? { protection: stub.snapshotProtection } : { cores: 2 };
      }
      const vmid = Number(/\/(\d+)\/config$/.exec(path)?.[1]);
      return { protection: guests.find((g) => g.vmid === vmid)?.protection ?? 0 };
    },
  } as unknown as PveClient;
  const identity = async (): Promise<ServiceIdentity> => {
    if (stub.identity === 'fails') throw new Error('403 Permission check failed');
    return { user: 'proxmox-mcp@pve', tokenId: 'proxmox-mcp@pve!mcp', roles: new Set(['proxmoxmcp']), groups: new Set(['mcpgroup']), grantPaths: new Set(['/', '/storage']), complete: true, gaps: [], ...stub.identity };
  };
  const role = stub.role ?? 'admin';
  return {
    mainNode: async () => ('mainNode' in stub ? stub.mainNode : 'pve1'),
    serviceTokenId: 'proxmox-mcp@pve!mcp',
    pve,
    identity,
    ...(role === 'none' ? {} : { caller: { role, name: `test-${role}` } }),
  };
}

async function verdict(method: string, path: string, params: Record<string, unknown> = {}, stub: Stub = {}): Promise<string> {
  try {
    await checkProtections(method, path, params, context(stub));
    return 'allowed';
  } catch (error) {
    return error instanceof ToolError ? error.code : `threw ${(error as Error).message}`;
  }
}

type Row = [label: string, method: string, path: string, params: Record<string, unknown>, stub: Stub, expected: string];

const corpus: Row[] = [
  // root@pam
  ['root token', 'POST', '/access/users/root@pam/token/x', {}, {}, 'protected'],
  ['root in a userid list', 'POST', '/access/users', { userid: 'x@pve;root@pam' }, {}, 'protected'],
  ['pam realm', 'PUT', '/access/domains/pam', { comment: 'x' }, {}, 'protected'],
  // the server's identity
  ['new token for the server user', 'POST', '/access/users/proxmox-mcp@pve/token/x', { privsep: 0 }, {}, 'protected'],
  ['server user, upper case', 'PUT', '/access/users/PROXMOX-MCP@PVE', { comment: 'x' }, {}, 'protected'],
  ['server user tfa', 'POST', '/access/tfa/proxmox-mcp@pve', { type: 'totp' }, {}, 'protected'],
  ['server token in a NUL list', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', tokens: 'a@pve!b\0proxmox-mcp@pve!mcp' }, {}, 'protected'],
  ['server role edit', 'PUT', '/access/roles/ProxmoxMCP', { privs: 'VM.Audit' }, {}, 'protected'],
  ['server group edit', 'PUT', '/access/groups/MCPGroup', { comment: 'x' }, {}, 'protected'],
  ['server group ACL', 'PUT', '/access/acl', { path: '/vms', roles: 'NoAccess', groups: 'mcpgroup' }, {}, 'protected'],
  ['propagate=0 on a granting path', 'PUT', '/access/acl', { path: '/storage/', roles: 'PVEAuditor', users: 'bob@pve', propagate: 'no' }, {}, 'protected'],
  ['propagate=0 elsewhere', 'PUT', '/access/acl', { path: '/pool/dev', roles: 'PVEAuditor', users: 'bob@pve', propagate: 0 }, {}, 'allowed'],
  ['propagate=1 on /', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', users: 'bob@pve', propagate: 1 }, {}, 'allowed'],
  ['another role edit', 'PUT', '/access/roles/PVEAuditor', { privs: 'VM.Audit' }, {}, 'allowed'],
  ['another group ACL', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', groups: 'ops' }, {}, 'allowed'],
  // failing closed on the identity
  ['role edit, identity unreadable', 'PUT', '/access/roles/PVEAuditor', { privs: 'VM.Audit' }, { identity: 'fails' }, 'protected'],
  ['group ACL, identity incomplete', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', groups: 'ops' }, { identity: { complete: false, gaps: ['no ACL visible'] } }, 'protected'],
  ['user ACL, identity unreadable (names nobody of ours)', 'PUT', '/access/acl', { path: '/', roles: 'PVEAuditor', users: 'bob@pve' }, { identity: 'fails' }, 'allowed'],
  // roles
  ['operator creates a user', 'POST', '/access/users', { userid: 'eve@pve' }, { role: 'operator' }, 'forbidden'],
  ['viewer changes an ACL', 'PUT', '/access/acl', { path: '/', roles: 'Administrator', users: 'eve@pve' }, { role: 'viewer' }, 'forbidden'],
  ['unknown caller changes an ACL', 'PUT', '/access/acl', { path: '/', roles: 'Administrator', users: 'eve@pve' }, { role: 'none' }, 'forbidden'],
  ['operator, /access via dot segments', 'DELETE', '/nodes/x/../../access/users/bob@pve', {}, { role: 'operator' }, 'forbidden'],
  ['operator reads nothing here (GET is never judged)', 'GET', '/access/users', {}, { role: 'operator' }, 'allowed'],
  ['operator touches a guest', 'POST', '/nodes/pve1/qemu/102/status/start', {}, { role: 'operator' }, 'allowed'],
  ['viewer starts a guest', 'POST', '/nodes/pve1/qemu/102/status/start', {}, { role: 'viewer' }, 'forbidden'],
  ['viewer reads a guest file through the agent', 'GET', '/nodes/pve1/qemu/102/agent/file-read', { file: '/etc/shadow' }, { role: 'viewer' }, 'forbidden'],
  ['viewer reads agent exec output, encoded', 'GET', '/nodes/pve1/qemu/102/agent/exec%2Dstatus', { pid: 1 }, { role: 'viewer' }, 'forbidden'],
  ['viewer reads the guest OS info', 'GET', '/nodes/pve1/qemu/102/agent/get-osinfo', {}, { role: 'viewer' }, 'allowed'],
  ['operator reads a guest file', 'GET', '/nodes/pve1/qemu/102/agent/file-read', { file: '/etc/hostname' }, { role: 'operator' }, 'allowed'],
  // protected guests
  ['rollback to a snapshot without the flag', 'POST', '/nodes/pve2/qemu/101/snapshot/s1/rollback', {}, {}, 'protected'],
  ['rollback, snapshot unreadable', 'POST', '/nodes/pve2/qemu/101/snapshot/s1/rollback', {}, { snapshotProtection: 'fails' }, 'protected'],
  ['rollback to a snapshot with the flag', 'POST', '/nodes/pve2/qemu/101/snapshot/s1/rollback', {}, { snapshotProtection: 1 }, 'allowed'],
  ['rollback of an unprotected guest', 'POST', '/nodes/pve1/qemu/102/snapshot/s1/rollback', {}, {}, 'allowed'],
  ['volume of a protected guest', 'DELETE', '/nodes/pve2/storage/local-lvm/content/local-lvm:vm-101-disk-0', {}, {}, 'protected'],
  ['volume, dir layout, encoded', 'DELETE', '/nodes/pve2/storage/local/content/local%3A101%2Fvm-101-disk-0.qcow2', {}, {}, 'protected'],
  ['volume of an unprotected guest', 'DELETE', '/nodes/pve1/storage/local-lvm/content/local-lvm:vm-102-disk-0', {}, {}, 'allowed'],
  ['move disk with delete', 'POST', '/nodes/pve2/qemu/101/move_disk', { disk: 'scsi0', storage: 'tank', delete: 'true' }, {}, 'protected'],
  ['move disk keeping the source', 'POST', '/nodes/pve2/qemu/101/move_disk', { disk: 'scsi0', storage: 'tank', delete: 0 }, {}, 'allowed'],
  ['move disk to another guest', 'POST', '/nodes/pve2/qemu/101/move_disk', { disk: 'scsi0', 'target-vmid': 102, 'target-disk': 'scsi1' }, {}, 'protected'],
  ['move disk of an unprotected guest to another', 'POST', '/nodes/pve1/qemu/102/move_disk', { disk: 'scsi0', 'target-vmid': 101, 'target-disk': 'scsi1' }, {}, 'allowed'],
  ['container move volume with delete', 'POST', '/nodes/pve2/lxc/101/move_volume', { volume: 'rootfs', storage: 'tank', delete: 1 }, {}, 'protected'],
  ['forced LXC restore over a protected guest', 'POST', '/nodes/pve1/lxc', { vmid: '101', ostemplate: 'x', restore: 1, force: 1 }, {}, 'protected'],
  ['config revert list', 'PUT', '/nodes/pve2/qemu/101/config', { revert: 'cores protection' }, {}, 'protected'],
  ['protection with a control character', 'PUT', '/nodes/pve2/qemu/101/config', { protection: '1\x01' }, {}, 'protected'],
  // main node and disks
  ['main node reboot', 'POST', '/nodes/pve1/status', { command: 'reboot' }, {}, 'protected'],
  ['other node reboot', 'POST', '/nodes/pve2/status', { command: 'reboot' }, {}, 'allowed'],
  ['localhost reboot', 'POST', '/nodes/localhost/status', { command: ['shutdown'] }, {}, 'protected'],
  ['propagate=0 on a granting path with dot segments', 'PUT', '/access/acl', { path: '/storage/./x/..', roles: 'PVEAuditor', users: 'bob@pve', propagate: 0 }, {}, 'protected'],
  ['reboot when the main node is unknown', 'POST', '/nodes/pve2/status', { command: 'reboot' }, { mainNode: undefined }, 'protected'],
  ['wipe disk', 'PUT', '/nodes/pve3/disks/wipedisk', { disk: '/dev/sdb' }, {}, 'protected'],
  ['batch execute', 'POST', '/nodes/pve3/execute', { commands: '[]' }, {}, 'protected'],
];

describe('the rules, one table', () => {
  it.each(corpus)('%s', async (_label, method, path, params, stub, expected) => {
    expect(await verdict(method, path, params, stub)).toBe(expected);
  });

  it('lists every rule once, by name', () => {
    const names = apiRules.map((rule) => rule.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['root@pam', 'service identity', 'access needs admin', 'main node and disks', 'protected guests', 'viewers only read']));
  });
});

describe('list parsing, property: every item Proxmox would read is judged', () => {
  // Perl's PVE::Tools::split_list, written out again independently of lib/policy/split-list.ts.
  // Perl's \s with Unicode rules, spelled out (not JavaScript's \s).
  const perlSpace = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
  const proxmoxReads = (value: string): string[] => {
    if (value.indexOf('\u0000') >= 0) return value.split('\u0000');
    const spaced = value.replace(/[,;]/g, ' ').replace(new RegExp(`^${perlSpace}+`), '');
    return spaced === '' ? [] : spaced.split(new RegExp(`${perlSpace}+`));
  };
  const random = prng(12);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const words = ['protection', 'description', 'cores', 'Protection', 'protection%00', 'x%2Cprotection', 'net0', ''];
  const separators = [',', ';', ' ', '\t', '\n', '\u0000', '%00', '%2C', ',,', ' ; ', '\u0085', '\u00a0', '\u2028', '\u3000', '\ufeff', '%C2%85'];

  it('holds for 3000 random delete values (strings and arrays)', () => {
    for (let i = 0; i < 3000; i++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(words));
      const text = parts.map((part, index) => (index === 0 ? part : pick(separators) + part)).join('');
      const value: string | string[] = random() < 0.25 ? [text, pick(words)] : text;
      // pveproxy joins repeated values with NUL before the API sees them.
      const sent = Array.isArray(value) ? value.join('\u0000') : value;
      const judged = paramItems(normalizeRequest('PUT', '/nodes/pve1/qemu/101/config', { delete: value }), 'delete');
      for (const item of proxmoxReads(sent)) {
        if (item.trim() === '' || item !== 'protection') continue;
        expect(judged, `${JSON.stringify(value)} -> ${JSON.stringify(item)}`).toContain('protection');
      }
    }
  });
});

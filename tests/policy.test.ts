/**
 * The policy layer on its own: path readings, the protections with a stub cluster (including failing
 * closed when the cluster cannot say whether a guest is protected), the guard's read-only rule, and the
 * command-line protections for Proxmox CLI tools, shell tricks and run-time values.
 */
import { describe, expect, it } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import { requestViews, normalizeRequest } from '../lib/policy/normalize.ts';
import { checkProtections, type ProtectionContext } from '../lib/policy/protections.ts';
import { commandProtectionFindings } from '../lib/policy/command-guard.ts';
import { createGuardFactory } from '../lib/policy/guard.ts';
import { redactText } from '../lib/policy/redact-text.ts';
import type { ClusterResource, PveClient } from '../lib/pve/types.ts';
import type { Caller } from '../lib/tool.ts';
import type { Config } from '../lib/config.ts';

interface StubOptions {
  guests?: { vmid: number; node: string; type: 'qemu' | 'lxc'; protection?: number }[];
  resourcesFail?: boolean;
  configFail?: boolean;
  mainNode?: string;
}

function stubContext(options: StubOptions = {}): ProtectionContext {
  const guests = options.guests ?? [{ vmid: 101, node: 'pve2', type: 'qemu', protection: 1 }, { vmid: 102, node: 'pve1', type: 'qemu' }];
  const pve = {
    tokenId: 'proxmox-mcp@pve!mcp',
    async clusterResources(): Promise<ClusterResource[]> {
      if (options.resourcesFail) throw new Error('cluster unreachable');
      return guests.map((g) => ({ id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node }));
    },
    async get(path: string) {
      if (options.configFail) throw new Error('node timed out');
      const vmid = Number(/\/(\d+)\/config$/.exec(path)?.[1]);
      const guest = guests.find((g) => g.vmid === vmid);
      return guest?.protection ? { protection: guest.protection } : {};
    },
  } as unknown as PveClient;
  const identity = async () => ({
    user: 'proxmox-mcp@pve',
    tokenId: 'proxmox-mcp@pve!mcp',
    roles: new Set(['proxmoxmcp']),
    groups: new Set<string>(),
    grantPaths: new Set(['/']),
    complete: true,
    gaps: [],
  });
  return { mainNode: async () => ('mainNode' in options ? options.mainNode : 'pve1'), serviceTokenId: 'proxmox-mcp@pve!mcp', pve, caller: { role: 'admin', name: 'test-admin' }, identity };
}

async function verdict(method: string, path: string, params?: Record<string, unknown>, options?: StubOptions): Promise<string> {
  try {
    await checkProtections(method, path, params, stubContext(options));
    return 'allowed';
  } catch (error) {
    return error instanceof ToolError ? error.code : 'threw';
  }
}

describe('path readings', () => {
  it('judges both the resolved and the literal reading of dot segments', () => {
    const views = requestViews('DELETE', '/access/users/root@pam%2F..');
    expect(views.map((view) => view.path)).toEqual(['/access/users', '/access/users/root@pam']);
  });

  it('merges query-string parameters with body parameters, decoded and lower-cased', () => {
    const request = normalizeRequest('put', '/access/acl?users=ROOT%2540PAM', { Roles: 'NoAccess', propagate: true });
    expect(request.params).toEqual({ users: ['root@pam'], roles: ['noaccess'], propagate: ['1'] });
  });
});

describe('protections', () => {
  it('never stands in the way of a read', async () => {
    expect(await verdict('GET', '/access/users/root@pam')).toBe('allowed');
    expect(await verdict('GET', '/nodes/pve2/qemu/101/config')).toBe('allowed');
  });

  it('leaves ordinary changes alone', async () => {
    expect(await verdict('DELETE', '/access/users/bob@pve')).toBe('allowed');
    expect(await verdict('PUT', '/access/acl', { path: '/', users: 'bob@pve', roles: 'PVEAuditor' })).toBe('allowed');
    expect(await verdict('PUT', '/access/acl', { path: '/vms', tokens: 'alice@pve!ci', roles: 'PVEVMAdmin' })).toBe('allowed');
    expect(await verdict('DELETE', '/nodes/pve1/qemu/102')).toBe('allowed');
    expect(await verdict('DELETE', '/nodes/pve1/qemu/999')).toBe('allowed');
    expect(await verdict('DELETE', '/cluster/config/nodes/pve3')).toBe('allowed');
    expect(await verdict('PUT', '/nodes/pve2/qemu/101/config', { protection: 1, description: 'x' })).toBe('allowed');
  });

  it('finds a protected guest by id whatever node the path names', async () => {
    expect(await verdict('DELETE', '/nodes/pve1/qemu/101')).toBe('protected');
    expect(await verdict('DELETE', '/nodes/PVE2/qemu/101')).toBe('protected');
  });

  it('refuses when the cluster cannot say whether a guest is protected', async () => {
    expect(await verdict('DELETE', '/nodes/pve1/qemu/102', {}, { resourcesFail: true })).toBe('protected');
    expect(await verdict('DELETE', '/nodes/pve1/qemu/102', {}, { configFail: true })).toBe('protected');
  });

  it('refuses removing any node when the main node is unknown', async () => {
    expect(await verdict('DELETE', '/cluster/config/nodes/pve3', {}, { mainNode: undefined })).toBe('protected');
  });

  it('refuses to change root@pam group membership, tfa, recreation', async () => {
    expect(await verdict('PUT', '/access/groups/admins', { users: 'root@pam' })).toBe('protected');
    expect(await verdict('DELETE', '/access/tfa/root@pam/x')).toBe('protected');
    expect(await verdict('POST', '/access/users', { userid: 'root@pam' })).toBe('protected');
  });
});

describe('the guard', () => {
  const config = { mainNode: 'pve1' } as Config;
  const caller = (mode: Caller['mode']): Caller => ({ tokenId: 't', name: 't', role: 'admin', mode, ceiling: 'normal', learning: false, door: 'internal', requestId: 'r', canElicit: false });
  it('sends no changing request in read-only mode, whatever the tool claims', async () => {
    const guard = createGuardFactory({ config, pve: stubContext().pve })(caller('read-only'), 'read');
    await expect(guard({ method: 'POST', path: '/nodes/pve1/qemu/102/status/start' })).rejects.toMatchObject({ code: 'mode_denied' });
    await expect(guard({ method: 'GET', path: '/nodes/pve1/qemu/102/status/current' })).resolves.toBeUndefined();
  });
});

describe('command-line protections', () => {
  const findings = (line: string, options?: StubOptions) => commandProtectionFindings(line, { ...stubContext(options), node: 'pve1' });

  it.each([
    'pveum user list',
    'pveum user permissions root@pam',
    'pvesh get /access/users/root@pam',
    'grep root@pam /etc/pve/user.cfg',
    'pveum user delete bob@pve',
    'qm destroy 102',
    'pvecm delnode pve3',
    'qm set 101 --memory 4096',
  ])('allows %s', async (line) => {
    expect(await findings(line)).toEqual([]);
  });

  it.each([
    'pveum user delete root@pam',
    'pveum user modify ROOT@PAM --enable 0',
    'pveum user delete $U',
    'qm destroy $ID',
    'qm destroy 101',
    'pct destroy 101',
    'qm set 101 --protection=0',
    'passwd root',
    'some-tool --target root@pam',
    'pvecm delnode pve1',
    'pveum acl delete / --users proxmox-mcp@pve --roles ProxmoxMCP',
    'pveum user token delete proxmox-mcp@pve mcp',
    'echo "unclosed',
  ])('refuses %s', async (line) => {
    expect((await findings(line)).length).toBeGreaterThan(0);
  });
});

describe('text redaction', () => {
  it('keeps ordinary text and removes secrets', () => {
    expect(redactText('qm start 101')).toBe('qm start 101');
    expect(redactText("pvesh create /access/users --userid x@pve --password 'a b c'")).not.toContain('a b c');
  });
});
